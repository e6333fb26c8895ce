/**
 * A CSV archive: rows are batched in memory and written when the batch is
 * full or the flush interval ticks, whichever comes first; one file per hour
 * (rotated on the `Clock`, so `TestClock` drives it), each starting with its
 * header. Only after a batch is written and synced are its records reported
 * through `onFlushed`: that is what lets the ledger count them as handled.
 *
 * Rows are written as bytes into the batch's buffer (`RowBuffer`), which goes
 * to the file as it is. A batch is also written once it reaches
 * `MAX_BATCH_BYTES` (16 MiB): with 9.5 MB records a batch of 1,000 rows would
 * otherwise hold gigabytes in memory until the flush interval.
 *
 * A full batch is written in the background, so that `append` (the poll loop)
 * does not wait for the disk while the next batch fills. Rows that pile up
 * behind a write are written together by the next one, with one sync (group
 * commit); `append` waits only when they reach `maxPendingBytes`: an fsync
 * stalled by the kernel's writeback (half a second is common under load) does
 * not stop the processing until that much is waiting.
 *
 * A failed write truncates the file back to its last whole row, reports the
 * error through `onFatal` once, and fails every later call: the pipeline then
 * stops without committing the rows that were not written.
 *
 * The parts: `RowBatch` holds the pending rows, `ArchiveFiles` the hour's
 * file, `ArchiveLifecycle` whether the archive is open, failed or closed; this
 * module moves batches from the one to the other, in the background.
 */
import { Clock, Effect, Exit, Fiber, Schedule, Scope, Semaphore } from "effect"
import * as ArchiveLifecycle from "../domain/ArchiveLifecycle.js"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { hourStart, nextHourStart } from "../domain/ArchiveFile.js"
import { ArchiveError } from "../domain/Errors.js"
import type { TopicPartition, TopicPartitionOffset } from "../domain/KafkaRecord.js"
import { partitionKey } from "../domain/KafkaRecord.js"
import { RowBatch } from "../domain/RowBatch.js"
import type { RowBuffer } from "../domain/RowBuffer.js"
import * as ArchiveFiles from "./ArchiveFiles.js"

export type { ArchiveKind }

export interface ArchiveSinkOptions {
  readonly kind: ArchiveKind
  readonly dir: string
  readonly header: ReadonlyArray<string>
  readonly batchSize: number
  readonly flushIntervalMs: number
  /** Row bytes that may wait behind a write on its way to disk before `append` waits for it (at least `MAX_BATCH_BYTES`). */
  readonly maxPendingBytes: number
  /** Each file opened (when the first rows of a run, or of an hour, are written). */
  readonly onOpened?: ((path: string) => void) | undefined
  /** The records whose rows are now on disk, in a file of the hour starting at `hourStart`. */
  readonly onFlushed: (records: ReadonlyArray<TopicPartitionOffset>, hourStart: number) => Effect.Effect<void>
  /** The archive's first failure, once: the sink does not log it (the run it stops does). */
  readonly onFatal: (error: ArchiveError) => Effect.Effect<void>
  /** At the start, then at each rotation with the file it closed (if any): compression's hook; returns at once. */
  readonly onRotated?: ((closed: string | undefined) => Effect.Effect<void>) | undefined
}

export interface ArchiveSink {
  /** Adds the row `writeRow` writes for `record`; writes the batch when it is full. */
  readonly append: <R extends TopicPartitionOffset>(
    record: R,
    writeRow: (out: RowBuffer, record: R) => void
  ) => Effect.Effect<void, ArchiveError>
  /** Adds a row for each of `records`, written by `writeRow`, writing each batch that fills up on the way. */
  readonly appendAll: <R extends TopicPartitionOffset>(
    records: ReadonlyArray<R>,
    writeRow: (out: RowBuffer, record: R) => void
  ) => Effect.Effect<void, ArchiveError>
  readonly flush: Effect.Effect<void, ArchiveError>
  /**
   * The member's partitions are now `assignment`: rows of other partitions not written yet are
   * dropped, and rows appended for them from now on are ignored (neither written nor reported).
   * Their records are the next owner's to archive; rows already on their way to disk cannot be
   * called back.
   */
  readonly retain: (assignment: ReadonlyArray<TopicPartition>) => void
  /** Flushes what is pending and closes the current file; later appends fail. */
  readonly close: Effect.Effect<void, ArchiveError>
  /** Every file this sink created, oldest first. */
  readonly files: () => ReadonlyArray<string>
  readonly rowsWritten: () => number
}

/** Pending row bytes that make `append` write the batch, whatever `batchSize`. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024

export const make = Effect.fn("ArchiveSink.make")(function*(options: ArchiveSinkOptions) {
  const files = yield* ArchiveFiles.make(options)
  const lock = yield* Semaphore.make(1)
  const batch = new RowBatch<TopicPartitionOffset>({ maxRows: options.batchSize, maxBytes: MAX_BATCH_BYTES })
  const lifecycle = makeLifecycle(options)
  const rotated = (closed: string | undefined) => options.onRotated?.(closed) ?? Effect.void
  const report = lifecycle.report
  let rowsWritten = 0

  /**
   * Writes the pending rows to the current file, then reports them. Without one, it opens the file
   * of the hour holding `at` (the Clock's, or the closing hour's for a rotation).
   */
  const writeBatch = Effect.fnUntraced(function*(at: number) {
    // Taken out first: rows appended while the file opens go to the next write.
    const taken = batch.take()
    const file = yield* files.current(at).pipe(Effect.catch(report))
    yield* files.write(file, taken.rows.contents).pipe(
      Effect.catchDefect((cause) => Effect.fail(new ArchiveError({ archive: options.kind, path: file.path, operation: "write", cause }))),
      Effect.catch(report)
    )
    batch.recycle(taken.rows)
    rowsWritten += taken.records.length
    yield* options.onFlushed(taken.records, file.hourStart)
  })

  // Uninterruptible: once the batch is taken out, it must reach the file and `onFlushed` (a
  // write and an fsync take bounded time), else its records are never reported and hold their
  // partitions' commits back; the appending fiber is interrupted on a rejoin or a stop.
  // A defect (a bug, in `onFlushed` say) fails the archive like a failed write: the background
  // writer, the interval flush and the rotation have nobody to join them, and a defect lost there
  // would leave the batch's records unreported, their partitions' commits stuck with no error.
  const writePendingAt = (at: Effect.Effect<number>) =>
    Effect.uninterruptible(Effect.suspend(() => {
      const failure = lifecycle.failure()
      if (failure !== undefined) return Effect.fail(failure)
      if (batch.size === 0) return Effect.void
      return Effect.flatMap(at, writeBatch).pipe(Effect.catchDefect((cause) =>
        report(new ArchiveError({ archive: options.kind, path: files.currentPath() ?? options.dir, operation: "write", cause }))
      ))
    }))
  const writePending = writePendingAt(Clock.currentTimeMillis)
  const flush = lock.withPermits(1)(writePending)

  // Each round writes the batch or fails the archive: the loop ends.
  const writeWhileFull: Effect.Effect<void, ArchiveError> = Effect.suspend(() =>
    batch.isFull ? Effect.andThen(flush, writeWhileFull) : Effect.void
  )
  const writer = backgroundWriter(yield* Effect.scope, writeWhileFull)
  const maxPendingBytes = Math.max(MAX_BATCH_BYTES, options.maxPendingBytes)

  // The ending hour's rows go to its file; the next rows open the next hour's.
  const rotate = lock.withPermits(1)(Effect.gen(function*() {
    if (lifecycle.state()._tag !== "Open") return
    yield* writePendingAt(Effect.map(Clock.currentTimeMillis, (now) => hourStart(now) - 1))
    const closing = files.currentPath()
    if (closing === undefined) return yield* rotated(undefined)
    yield* files.closeCurrent
    yield* rotated(closing)
    yield* Effect.annotateCurrentSpan("file", closing)
    yield* Effect.logDebug(`${options.kind} archive: closed ${closing} at the end of its hour`)
  })).pipe(Effect.withSpan("ArchiveSink.rotate", { root: true, attributes: { archive: options.kind } }))

  const close = lock.withPermits(1)(Effect.suspend(() => {
    if (lifecycle.state()._tag === "Closed") return Effect.void
    lifecycle.close()
    return writePending.pipe(Effect.ensuring(files.closeCurrent))
  }))

  const { isOwned, retain } = ownership(batch)

  const appendAll = appender({
    batch,
    isOwned,
    refusal: lifecycle.refusal,
    needsWriter: () => writer.isRunning() ? batch.byteLength >= maxPendingBytes : batch.isFull,
    onFull: writer.startOrJoin
  })

  yield* rotated(undefined)
  yield* Effect.addFinalizer(() => close.pipe(Effect.ignore))
  yield* startTimers(rotate, flush, options.flushIntervalMs)

  return {
    append: (record, writeRow) => appendAll([record], writeRow),
    appendAll,
    flush,
    retain,
    close,
    files: files.created,
    rowsWritten: () => rowsWritten
  } satisfies ArchiveSink
})

/** The archive's lifecycle: a failure is reported once, when it happens, and fails every later call. */
const makeLifecycle = (options: ArchiveSinkOptions) => {
  let state = ArchiveLifecycle.Open
  const failure = () => ArchiveLifecycle.failureOf(state)
  return {
    state: () => state,
    failure,
    close: () => {
      state = ArchiveLifecycle.transition(state, { _tag: "Closed" })
    },
    /** Fails with the archive's failure: `error`, reported through `onFatal` (which logs it), if it is the first. */
    report: (error: ArchiveError): Effect.Effect<never, ArchiveError> =>
      Effect.gen(function*() {
        const first = failure()
        if (first !== undefined) return yield* first
        state = ArchiveLifecycle.transition(state, { _tag: "Failed", error })
        yield* options.onFatal(error)
        return yield* error
      }),
    /** What an append fails with once the archive takes no more rows. */
    refusal: (): ArchiveError | undefined =>
      state._tag === "Open" ? undefined : failure() ??
        new ArchiveError({ archive: options.kind, path: options.dir, operation: "write", cause: "archive is closed" })
  }
}

/**
 * The background writer: runs `writeWhileFull` in a fiber of its own, one at a time, so that
 * `append` does not wait for the disk while the next batch fills. Each run writes all the rows
 * pending at once (those that piled up behind a write go to disk together, with one sync: under
 * load, fewer and larger writes).
 */
const backgroundWriter = (scope: Scope.Scope, writeWhileFull: Effect.Effect<void, ArchiveError>) => {
  let writing: Fiber.Fiber<Exit.Exit<void, ArchiveError>> | undefined
  /** Starts the writer; returns at once, unless the write is done at once (then with its outcome). */
  const start: Effect.Effect<void, ArchiveError> = Effect.exit(writeWhileFull).pipe(
    Effect.uninterruptible,
    Effect.forkIn(scope, { startImmediately: true }),
    Effect.flatMap((fiber) => {
      const done = fiber.pollUnsafe()
      if (done !== undefined) return Exit.isSuccess(done) ? done.value : done
      // A writer is started only when none is running: this one is still `writing` when it ends.
      writing = fiber
      fiber.addObserver(() => {
        writing = undefined
      })
      return Effect.void
    })
  )
  return {
    isRunning: () => writing !== undefined,
    /** Starts the writer, or, while it is writing, waits for it to catch up (and fails as it did). */
    startOrJoin: Effect.suspend((): Effect.Effect<void, ArchiveError> => {
      const running = writing
      return running === undefined ? start : Effect.flatMap(Fiber.join(running), (exit) => exit)
    })
  }
}

interface Appending {
  readonly batch: RowBatch<TopicPartitionOffset>
  /** Whether a record's partition is this member's: rows of others are ignored. */
  readonly isOwned: (record: TopicPartitionOffset) => boolean
  readonly refusal: () => ArchiveError | undefined
  /**
   * Whether the row just added calls for `onFull`: the pending rows make a full batch and no
   * writer is running, or one is and the rows pending behind it have reached `maxPendingBytes`.
   */
  readonly needsWriter: () => boolean
  readonly onFull: Effect.Effect<void, ArchiveError>
}

/** `appendAll`: no Effect per row, only per batch that fills up. */
const appender = (sink: Appending) => {
  const { batch, isOwned, needsWriter, onFull, refusal } = sink
  /** Adds rows from `start` on; a full batch goes to disk before the next row joins the following one. */
  const appendFrom = <R extends TopicPartitionOffset>(
    appended: ReadonlyArray<R>,
    writeRow: (out: RowBuffer, record: R) => void,
    start: number
  ): Effect.Effect<void, ArchiveError> => {
    const refused = refusal()
    if (refused !== undefined) return Effect.fail(refused)
    for (let index = start; index < appended.length;) {
      const record = appended[index++]!
      if (!isOwned(record)) continue
      try {
        // Only the record's place is kept: its bytes (and the fetched batch they share) are not
        // held until the row is on disk.
        batch.append(record, writeRow, { topic: record.topic, partition: record.partition, offset: record.offset })
      } catch (defect) {
        return Effect.die(defect)
      }
      if (needsWriter()) {
        return index < appended.length
          ? Effect.andThen(onFull, Effect.suspend(() => appendFrom(appended, writeRow, index)))
          : onFull
      }
    }
    return Effect.void
  }
  // Suspended: the rows are added when the effect runs (each time it runs), not when it is built.
  return <R extends TopicPartitionOffset>(
    appended: ReadonlyArray<R>,
    writeRow: (out: RowBuffer, record: R) => void
  ): Effect.Effect<void, ArchiveError> => Effect.suspend(() => appendFrom(appended, writeRow, 0))
}

/** Rotates at the start of each hour, and flushes every `flushIntervalMs`, in the sink's scope. */
const startTimers = (
  rotate: Effect.Effect<void, ArchiveError>,
  flush: Effect.Effect<void, ArchiveError>,
  flushIntervalMs: number
) =>
  Effect.gen(function*() {
    const untilNextHour = Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => Effect.sleep(nextHourStart(now) - now))
    )
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(untilNextHour, rotate)).pipe(Effect.ignore))
    yield* Effect.forkScoped(
      flush.pipe(Effect.repeat(Schedule.spaced(flushIntervalMs)), Effect.delay(flushIntervalMs), Effect.ignore)
    )
  })

/**
 * The partitions this member owns, which `retain` sets at each join (dropping the pending rows
 * of the others): rows of other partitions are ignored. Before the first join, all are taken.
 */
const ownership = (batch: RowBatch<TopicPartitionOffset>) => {
  let owned: ReadonlySet<string> | undefined
  // The last partition asked about: rows come in runs of one partition's records.
  let last: { topic: string; partition: number; owned: boolean } | undefined
  const isOwned = (record: TopicPartitionOffset) => {
    if (owned === undefined) return true
    if (last !== undefined && last.partition === record.partition && last.topic === record.topic) return last.owned
    last = { topic: record.topic, partition: record.partition, owned: owned.has(partitionKey(record.topic, record.partition)) }
    return last.owned
  }
  const retain = (assignment: ReadonlyArray<TopicPartition>) => {
    owned = new Set(assignment.map((p) => partitionKey(p.topic, p.partition)))
    last = undefined
    batch.retain(isOwned)
  }
  return { isOwned, retain }
}

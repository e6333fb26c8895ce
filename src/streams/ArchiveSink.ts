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
 */
import { Clock, Effect, Exit, Fiber, FileSystem, Option, Path, Schedule, Scope, Semaphore } from "effect"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { archiveFileName, nextHourStart } from "../domain/ArchiveFile.js"
import { encodeRow } from "../domain/Csv.js"
import { RowBuffer } from "../domain/RowBuffer.js"
import { ArchiveError } from "../domain/Errors.js"
import type { TopicPartitionOffset } from "../domain/KafkaRecord.js"

export type { ArchiveKind }

export interface ArchiveSinkOptions {
  readonly kind: ArchiveKind
  readonly dir: string
  readonly header: ReadonlyArray<string>
  readonly batchSize: number
  readonly flushIntervalMs: number
  /** Row bytes that may wait behind a write on its way to disk before `append` waits for it (at least `MAX_BATCH_BYTES`). */
  readonly maxPendingBytes: number
  /** Each file opened (at the start, then at each hourly rotation). */
  readonly onOpened?: ((path: string) => void) | undefined
  /** The records whose rows are now on disk. */
  readonly onFlushed: (records: ReadonlyArray<TopicPartitionOffset>) => Effect.Effect<void>
  readonly onFatal: (error: ArchiveError) => Effect.Effect<void>
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
  /** Flushes what is pending and closes the current file; later appends fail. */
  readonly close: Effect.Effect<void, ArchiveError>
  /** Every file this sink created, oldest first. */
  readonly files: () => ReadonlyArray<string>
  readonly rowsWritten: () => number
}

interface OpenFile {
  readonly path: string
  readonly handle: FileSystem.File
  readonly scope: Scope.Closeable
  size: number
}

const encoder = new TextEncoder()

/** Pending row bytes that make `append` write the batch, whatever `batchSize`. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024

/** A batch buffer starts at this size, and grows as its batches need. */
const MIN_BATCH_CAPACITY = 64 * 1024

/** A written batch's buffer larger than this (and than twice what it held) is not kept for the next batch. */
const MAX_KEPT_CAPACITY = 4 * 1024 * 1024

export const make = Effect.fn("ArchiveSink.make")(function*(options: ArchiveSinkOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const lock = yield* Semaphore.make(1)
  const maxPendingBytes = Math.max(MAX_BATCH_BYTES, options.maxPendingBytes)
  const files: Array<string> = []
  let rows = new RowBuffer(MIN_BATCH_CAPACITY)
  /**
   * The buffer of the last batch written, emptied, for the next batch: two buffers take turns
   * (one filling, one on its way to disk) instead of a new multi-megabyte one per batch, whose
   * allocation and release grow the process's RSS over a long run.
   */
  let spare: RowBuffer | undefined
  let records: Array<TopicPartitionOffset> = []
  let rowsWritten = 0
  let current: OpenFile | undefined
  let failure: ArchiveError | undefined
  let closed = false

  const fail = (operation: ArchiveError["operation"], filePath: string) => (cause: unknown) =>
    Effect.gen(function*() {
      const error = new ArchiveError({ archive: options.kind, path: filePath, operation, cause })
      if (failure === undefined) {
        failure = error
        yield* Effect.logError(error.message)
        yield* options.onFatal(error)
      }
      return yield* failure
    })

  // A restart within the same hour takes the next sequence number: it never
  // appends after a tail that a crash may have torn.
  const openFor = Effect.fnUntraced(function*(now: number, operation: "open" | "rotate") {
    for (let sequence = 0;; sequence++) {
      const filePath = path.join(options.dir, archiveFileName(options.kind, now, sequence))
      const scope = yield* Scope.make()
      const opened = yield* fs.open(filePath, { flag: "wx" }).pipe(
        Scope.provide(scope),
        Effect.flatMap((handle) => {
          const headerBytes = encoder.encode(encodeRow(options.header))
          return handle.writeAll(headerBytes).pipe(
            Effect.andThen(handle.sync),
            Effect.as({ path: filePath, handle, scope, size: headerBytes.byteLength })
          )
        }),
        Effect.onError(() => Scope.close(scope, Exit.void)),
        Effect.catchTag("PlatformError", (error) =>
          error.reason._tag === "AlreadyExists" ? Effect.succeed(undefined) : fail(operation, filePath)(error))
      )
      if (opened === undefined) continue
      files.push(filePath)
      options.onOpened?.(filePath)
      return opened as OpenFile
    }
  })

  const closeCurrent = Effect.gen(function*() {
    if (current === undefined) return
    const file = current
    current = undefined
    yield* Scope.close(file.scope, Exit.void)
  })

  /** Writes and syncs the pending rows to `file`, then reports them. */
  const writeBatch = Effect.fnUntraced(function*(file: OpenFile) {
    const written = rows
    const bytes = written.contents
    const batchRecords = records
    rows = spare ?? new RowBuffer(MIN_BATCH_CAPACITY)
    spare = undefined
    records = []
    yield* file.handle.writeAll(bytes).pipe(
      Effect.andThen(file.handle.sync),
      // Keep whole rows only: cut a partial write back to the last complete batch.
      Effect.onError(() => file.handle.truncate(file.size).pipe(Effect.ignore)),
      Effect.catch(fail("write", file.path))
    )
    // A file deleted while open (or its directory removed) still takes writes, into an inode
    // that is gone once closed: rows "on disk" only there must not count as archived.
    const info = yield* file.handle.stat.pipe(Effect.catch(fail("write", file.path)))
    if (Option.getOrUndefined(info.nlink) === 0n) {
      return yield* fail("write", file.path)("the file was deleted (or its directory removed) while open")
    }
    file.size += bytes.byteLength
    // Kept for the next batch unless a burst (large records) left it far larger than batches need.
    if (written.capacity <= Math.max(MAX_KEPT_CAPACITY, 2 * bytes.byteLength)) {
      written.clear()
      spare = written
    }
    rowsWritten += batchRecords.length
    yield* options.onFlushed(batchRecords)
  })

  // Uninterruptible: once the batch is taken out of `rows`, it must reach the file and
  // `onFlushed` (a write and an fsync take bounded time), else its records are never reported and
  // hold their partitions' commits back; the appending fiber is interrupted on a rejoin or a stop.
  // A defect (a bug, in `onFlushed` say) fails the archive like a failed write: the background
  // writer, the interval flush and the rotation have nobody to join them, and a defect lost there
  // would leave the batch's records unreported, their partitions' commits stuck with no error.
  const writePending = Effect.uninterruptible(Effect.suspend(() => {
    if (failure !== undefined) return Effect.fail(failure)
    if (records.length === 0 || current === undefined) return Effect.void
    const file = current
    return writeBatch(file).pipe(Effect.catchDefect(fail("write", file.path)))
  }))

  const flush = lock.withPermits(1)(writePending)

  // The background writer, if one is running: it writes the pending rows while they make a full
  // batch, all of them at once each time (rows that piled up behind a write go to disk together,
  // with one sync: under load, fewer and larger writes).
  const scope = yield* Effect.scope
  let writing: Fiber.Fiber<Exit.Exit<void, ArchiveError>> | undefined
  const isFull = () => records.length >= options.batchSize || rows.length >= MAX_BATCH_BYTES
  // Not without a file (a rotation cut short by a stop): `writePending` would write nothing, and
  // the loop would never end.
  const writeWhileFull: Effect.Effect<void, ArchiveError> = Effect.suspend(() =>
    isFull() && current !== undefined ? Effect.andThen(flush, writeWhileFull) : Effect.void
  )
  /** Starts the writer; returns at once, unless the write is done at once (then with its outcome). */
  const startWriting: Effect.Effect<void, ArchiveError> = Effect.exit(writeWhileFull).pipe(
    Effect.uninterruptible,
    Effect.forkIn(scope, { startImmediately: true }),
    Effect.flatMap((fiber) => {
      const done = fiber.pollUnsafe()
      if (done !== undefined) return Exit.isSuccess(done) ? done.value : done
      // `onFull` starts a writer only when none is running: this one is still `writing` when it ends.
      writing = fiber
      fiber.addObserver(() => {
        writing = undefined
      })
      return Effect.void
    })
  )
  /**
   * Called when the pending rows make a full batch: starts the writer, or, while it is writing
   * and the rows pending behind it have reached `maxPendingBytes`, waits for it to catch up.
   */
  const onFull: Effect.Effect<void, ArchiveError> = Effect.suspend(() => {
    const writer = writing
    if (writer === undefined) return startWriting
    return Effect.flatMap(Fiber.join(writer), (exit) => exit)
  })
  /** Whether the row just added calls for `onFull`. */
  const needsWriter = () => writing === undefined ? isFull() : rows.length >= maxPendingBytes

  const rotate = lock.withPermits(1)(Effect.gen(function*() {
    if (failure !== undefined || closed) return
    yield* writePending
    yield* closeCurrent
    current = yield* openFor(yield* Clock.currentTimeMillis, "rotate")
    yield* Effect.annotateCurrentSpan("file", current.path)
    yield* Effect.logDebug(`${options.kind} archive rotated to ${current.path}`)
  })).pipe(Effect.withSpan("ArchiveSink.rotate", { root: true, attributes: { archive: options.kind } }))

  const close = lock.withPermits(1)(Effect.gen(function*() {
    if (closed) return
    closed = true
    yield* writePending.pipe(Effect.ensuring(closeCurrent))
  }))

  /** Adds rows from `start` on; a full batch goes to disk before the next row joins the following one. */
  const appendFrom = <R extends TopicPartitionOffset>(
    appended: ReadonlyArray<R>,
    writeRow: (out: RowBuffer, record: R) => void,
    start: number
  ): Effect.Effect<void, ArchiveError> => {
    if (failure !== undefined) return Effect.fail(failure)
    if (closed) {
      return Effect.fail(
        new ArchiveError({ archive: options.kind, path: options.dir, operation: "write", cause: "archive is closed" })
      )
    }
    for (let index = start; index < appended.length;) {
      const record = appended[index]!
      const rowStart = rows.length
      try {
        writeRow(rows, record)
      } catch (defect) {
        // Rows stay whole: a row that could not be written to the end is cut off again.
        rows.truncate(rowStart)
        return Effect.die(defect)
      }
      records.push(record)
      index++
      if (needsWriter()) {
        return index < appended.length
          ? Effect.andThen(onFull, Effect.suspend(() => appendFrom(appended, writeRow, index)))
          : onFull
      }
    }
    return Effect.void
  }

  // Suspended: the rows are added when the effect runs (each time it runs), not when it is built.
  const appendAll = <R extends TopicPartitionOffset>(
    appended: ReadonlyArray<R>,
    writeRow: (out: RowBuffer, record: R) => void
  ): Effect.Effect<void, ArchiveError> => Effect.suspend(() => appendFrom(appended, writeRow, 0))

  current = yield* openFor(yield* Clock.currentTimeMillis, "open")
  yield* Effect.addFinalizer(() => close.pipe(Effect.ignore))

  const untilNextHour = Clock.currentTimeMillis.pipe(
    Effect.flatMap((now) => Effect.sleep(nextHourStart(now) - now))
  )
  yield* Effect.forkScoped(Effect.forever(Effect.andThen(untilNextHour, rotate)).pipe(Effect.ignore))
  yield* Effect.forkScoped(
    flush.pipe(Effect.repeat(Schedule.spaced(options.flushIntervalMs)), Effect.delay(options.flushIntervalMs), Effect.ignore)
  )

  return {
    append: (record, writeRow) => appendAll([record], writeRow),
    appendAll,
    flush,
    close,
    files: () => files,
    rowsWritten: () => rowsWritten
  } satisfies ArchiveSink
})

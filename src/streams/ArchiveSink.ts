/**
 * A CSV archive: rows are batched in memory and written when the batch is
 * full or the flush interval ticks, whichever comes first; one file per hour
 * (rotated on the `Clock`, so `TestClock` drives it), each starting with its
 * header. Only after a batch is written and synced are its records reported
 * through `onFlushed`: that is what lets the ledger count them as handled.
 *
 * A batch is also written once its rows reach `MAX_BATCH_CHARS` (8 Mi UTF-16
 * code units, 8–24 MiB as UTF-8): with 9.5 MB records a batch of 1,000 rows
 * would otherwise hold gigabytes in memory until the flush interval.
 *
 * A full batch is written in the background, so that `append` (the poll loop)
 * does not wait for the disk while the next batch fills; when that one is full
 * before the first is on disk, `append` writes it and waits: at most two
 * batches are ever pending.
 *
 * A failed write truncates the file back to its last whole row, reports the
 * error through `onFatal` once, and fails every later call: the pipeline then
 * stops without committing the rows that were not written.
 */
import type { PlatformError } from "effect"
import { Clock, Effect, Exit, Fiber, FileSystem, Option, Path, Schedule, Scope, Semaphore } from "effect"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { archiveFileName, nextHourStart } from "../domain/ArchiveFile.js"
import { encodeRow } from "../domain/Csv.js"
import { ArchiveError } from "../domain/Errors.js"
import type { TopicPartitionOffset } from "../domain/KafkaRecord.js"
import { Observability } from "../layers/Observability.js"

export type { ArchiveKind }

export interface ArchiveSinkOptions {
  readonly kind: ArchiveKind
  readonly dir: string
  readonly header: ReadonlyArray<string>
  readonly batchSize: number
  readonly flushIntervalMs: number
  /** The records whose rows are now on disk. */
  readonly onFlushed: (records: ReadonlyArray<TopicPartitionOffset>) => Effect.Effect<void>
  readonly onFatal: (error: ArchiveError) => Effect.Effect<void>
}

export interface ArchiveSink {
  /** Adds one encoded row (see `encodeRow`); writes the batch when it is full. */
  readonly append: (record: TopicPartitionOffset, row: string) => Effect.Effect<void, ArchiveError>
  /** Adds the rows of `records` (`rows[i]` is the row of `records[i]`), writing each batch that fills up on the way. */
  readonly appendAll: (
    records: ReadonlyArray<TopicPartitionOffset>,
    rows: ReadonlyArray<string>
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

/** Pending row text (in UTF-16 code units) that makes `append` write the batch, whatever `batchSize`. */
export const MAX_BATCH_CHARS = 8 * 1024 * 1024

export const make = Effect.fn("ArchiveSink.make")(function*(options: ArchiveSinkOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const observability = yield* Observability
  const lock = yield* Semaphore.make(1)
  const files: Array<string> = []
  let rows: Array<string> = []
  let rowsChars = 0
  let records: Array<TopicPartitionOffset> = []
  let rowsWritten = 0
  let current: OpenFile | undefined
  let failure: ArchiveError | undefined
  let closed = false

  const fail = (operation: ArchiveError["operation"], filePath: string) => (cause: PlatformError.PlatformError | string) =>
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
      return opened as OpenFile
    }
  })

  const closeCurrent = Effect.gen(function*() {
    if (current === undefined) return
    const file = current
    current = undefined
    yield* Scope.close(file.scope, Exit.void)
  })

  // Uninterruptible: once the batch is taken out of `rows`, it must reach the file and
  // `onFlushed` (a write and an fsync take bounded time), else its records are never reported and
  // hold their partitions' commits back; the appending fiber is interrupted on a rejoin or a stop.
  const writePending = Effect.uninterruptible(Effect.gen(function*() {
    if (failure !== undefined) return yield* failure
    if (rows.length === 0 || current === undefined) return
    const file = current
    const batchRows = rows
    const batchRecords = records
    rows = []
    rowsChars = 0
    records = []
    const bytes = encoder.encode(batchRows.join(""))
    yield* file.handle.writeAll(bytes).pipe(
      Effect.andThen(file.handle.sync),
      // Keep whole rows only: cut a partial write back to the last complete batch.
      Effect.tapError(() => file.handle.truncate(file.size).pipe(Effect.ignore)),
      Effect.catch(fail("write", file.path))
    )
    // A file deleted while open (or its directory removed) still takes writes, into an inode
    // that is gone once closed: rows "on disk" only there must not count as archived.
    const info = yield* file.handle.stat.pipe(Effect.catch(fail("write", file.path)))
    if (Option.getOrUndefined(info.nlink) === 0n) {
      return yield* fail("write", file.path)("the file was deleted (or its directory removed) while open")
    }
    file.size += bytes.byteLength
    rowsWritten += batchRows.length
    observability.archived(options.kind, batchRows.length)
    yield* options.onFlushed(batchRecords)
  }))

  const flush = lock.withPermits(1)(writePending)

  // The background write of a full batch, if one is on its way to disk.
  const scope = yield* Effect.scope
  let writing: Fiber.Fiber<Exit.Exit<void, ArchiveError>> | undefined
  const flushFull: Effect.Effect<void, ArchiveError> = Effect.suspend(() => {
    if (writing !== undefined) return flush
    return Effect.exit(flush).pipe(
      Effect.uninterruptible,
      Effect.forkIn(scope, { startImmediately: true }),
      Effect.flatMap((fiber) => {
        // Written at once (nothing to wait for): its outcome, as an inline write would give.
        const done = fiber.pollUnsafe()
        if (done !== undefined) return Exit.isSuccess(done) ? done.value : done
        writing = fiber
        fiber.addObserver(() => {
          if (writing === fiber) writing = undefined
        })
        return Effect.void
      })
    )
  })

  const rotate = lock.withPermits(1)(Effect.gen(function*() {
    if (failure !== undefined || closed) return
    yield* writePending
    yield* closeCurrent
    current = yield* openFor(yield* Clock.currentTimeMillis, "rotate")
    observability.rotated(options.kind)
    yield* Effect.annotateCurrentSpan("file", current.path)
    yield* Effect.logDebug(`${options.kind} archive rotated to ${current.path}`)
  })).pipe(Effect.withSpan("ArchiveSink.rotate", { root: true, attributes: { archive: options.kind } }))

  const close = lock.withPermits(1)(Effect.gen(function*() {
    if (closed) return
    closed = true
    yield* writePending.pipe(Effect.ensuring(closeCurrent))
  }))

  /** Adds rows from `start` on; a full batch goes to disk before the next row joins the following one. */
  const appendFrom = (
    appended: ReadonlyArray<TopicPartitionOffset>,
    appendedRows: ReadonlyArray<string>,
    start: number
  ): Effect.Effect<void, ArchiveError> => {
    if (failure !== undefined) return Effect.fail(failure)
    if (closed) {
      return Effect.fail(
        new ArchiveError({ archive: options.kind, path: options.dir, operation: "write", cause: "archive is closed" })
      )
    }
    for (let index = start; index < appendedRows.length;) {
      const row = appendedRows[index]!
      rows.push(row)
      records.push(appended[index]!)
      rowsChars += row.length
      index++
      if (rows.length >= options.batchSize || rowsChars >= MAX_BATCH_CHARS) {
        return index < appendedRows.length
          ? Effect.andThen(flushFull, Effect.suspend(() => appendFrom(appended, appendedRows, index)))
          : flushFull
      }
    }
    return Effect.void
  }

  // Suspended: the rows are added when the effect runs (each time it runs), not when it is built.
  const appendAll = (
    appended: ReadonlyArray<TopicPartitionOffset>,
    appendedRows: ReadonlyArray<string>
  ): Effect.Effect<void, ArchiveError> => Effect.suspend(() => appendFrom(appended, appendedRows, 0))

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
    append: (record, row) => appendAll([record], [row]),
    appendAll,
    flush,
    close,
    files: () => files,
    rowsWritten: () => rowsWritten
  } satisfies ArchiveSink
})

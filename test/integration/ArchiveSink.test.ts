/**
 * The batched hourly CSV archive (seed §5 test_csv_writers.py, integration §3
 * test_csv_rotation.py and §4 test_dlq_flow.py), over the in-memory FileSystem
 * with TestClock driving flushes and rotations. Files are read back with
 * csv-parse and compared field by field.
 *
 * The Python writer threads stopped the shared state on a fatal error; here
 * the sink reports it once through `onFatal` (which the pipeline turns into a
 * graceful shutdown, and logs), logs nothing itself and fails every later call.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, FileSystem, Latch, Layer, Path, References, Schema, Scope, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { backupHeader, backupRow, dlqHeader, writeBackupRow, writeDlqRow } from "../../src/domain/Csv.js"
import type { RowBuffer } from "../../src/domain/RowBuffer.js"
import { ArchiveError } from "../../src/domain/Errors.js"
import type { KafkaRecord, TopicPartitionOffset } from "../../src/domain/KafkaRecord.js"
import * as ArchiveSink from "../../src/streams/ArchiveSink.js"
import * as RecordHandler from "../../src/streams/RecordHandler.js"
import { captureLogs } from "../support/logs.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { recordingTracer } from "../support/tracing.js"

const at = (iso: string) => Date.parse(iso)
const encoder = new TextEncoder()
const DIR = "/archive"
const backupFile = (hour: string, sequence = "") => `${DIR}/backup-2026-11-22T${hour}${sequence}.csv`
const dlqFile = (hour: string) => `${DIR}/dlq-2026-11-22T${hour}.csv`

const record = (offset: number, value = `value ${offset}`, partition = 0): KafkaRecord => ({
  topic: "orders",
  partition,
  offset,
  timestamp: at("2026-11-22T09:00:00Z") + offset,
  key: encoder.encode(`key-${offset}`),
  value: encoder.encode(value),
  headers: [{ key: "trace", value: encoder.encode(`t${offset}`) }]
})

/** What the parser must read back for `record` (fields as written by `backupRow`, checked literally for the ones that matter). */
const expectBackupRow = (actual: ReadonlyArray<string> | undefined, expected: KafkaRecord) => {
  assert.isDefined(actual)
  assert.deepStrictEqual(actual, [...backupRow(expected)])
  assert.strictEqual(actual![2], String(expected.offset))
  assert.strictEqual(actual![6], new TextDecoder().decode(expected.value!))
}

const withArchive = <A, E, R>(effect: (logs: Array<string>) => Effect.Effect<A, E, R>) => {
  const logs = captureLogs()
  return effect(logs.lines).pipe(
    Effect.provide(Layer.mergeAll(MemoryFileSystem.layer, Path.layer, logs.layer))
  )
}

interface Harness {
  readonly sink: ArchiveSink.ArchiveSink
  /** Every `onFlushed` call, as the offsets it reported. */
  readonly flushed: Array<Array<number>>
  readonly fatal: Array<ArchiveError>
}

const makeSink = (options: Partial<ArchiveSink.ArchiveSinkOptions> = {}) =>
  Effect.gen(function*() {
    const flushed: Array<Array<number>> = []
    const fatal: Array<ArchiveError> = []
    const sink = yield* ArchiveSink.make({
      kind: "backup",
      dir: DIR,
      header: backupHeader,
      batchSize: 10,
      flushIntervalMs: 5_000,
      maxPendingBytes: ArchiveSink.MAX_BATCH_BYTES,
      onFlushed: (records: ReadonlyArray<TopicPartitionOffset>) =>
        Effect.sync(() => {
          flushed.push(records.map((r) => r.offset))
        }),
      onFatal: (error: ArchiveError) =>
        Effect.sync(() => {
          fatal.push(error)
        }),
      ...options
    })
    return { sink, flushed, fatal } satisfies Harness
  })

const appendBackup = (sink: ArchiveSink.ArchiveSink, records: ReadonlyArray<KafkaRecord>) =>
  Effect.forEach(records, (r) => sink.append(r, writeBackupRow), { discard: true })

/** A row given as its text (rows that are not a record's). */
const textRow = (text: string) => (out: RowBuffer) => out.utf8(text)

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => record(from + i))

const header = [...backupHeader]

describe("ArchiveSink", () => {
  describe("Backup CSV (seed §5 test_csv_writers.py)", () => {
    it.effect("Backup CSV - Initial Creation: no file until rows are written; then it is named by the UTC hour and starts with the header row", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink } = yield* makeSink()
          yield* sink.flush
          assert.deepStrictEqual(files.paths(), [], "nothing to write: no file holding only a header")
          assert.deepStrictEqual(sink.files(), [])
          yield* TestClock.adjust("20 minutes")
          yield* sink.append(record(7), writeBackupRow)
          yield* sink.flush
          assert.deepStrictEqual(files.paths(), [backupFile("10")])
          assert.deepStrictEqual(sink.files(), [backupFile("10")])
          assert.deepStrictEqual(files.rows(backupFile("10"))[0], [
            "topic",
            "partition",
            "offset",
            "timestamp",
            "key",
            "key_encoding",
            "value",
            "value_encoding",
            "headers"
          ])
          assert.isTrue(files.text(backupFile("10")).startsWith(`${backupHeader.join(",")}\r\n`))
          expectBackupRow(files.rows(backupFile("10"))[1], record(7))
          assert.deepStrictEqual(files.closed, [], "the file stays open for rows")
          assert.strictEqual(sink.rowsWritten(), 1)
        })
      ))

    it.effect("Backup CSV - Batch Writing: batchSize 10, 15 rows → 10 written and reported by onFlushed, 5 pending until the interval", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 10, flushIntervalMs: 5_000 })
          const records = range(100, 15)
          yield* appendBackup(sink, records)

          const rows = files.rows(backupFile("10"))
          assert.strictEqual(rows.length, 1 + 10, "header and the first full batch")
          assert.deepStrictEqual(rows[0], header)
          records.slice(0, 10).forEach((r, i) => expectBackupRow(rows[i + 1], r))
          assert.deepStrictEqual(flushed, [[100, 101, 102, 103, 104, 105, 106, 107, 108, 109]])
          assert.strictEqual(sink.rowsWritten(), 10)

          yield* TestClock.adjust(4_999)
          assert.strictEqual(files.rows(backupFile("10")).length, 11, "the 5 rest wait for the interval")
          assert.strictEqual(flushed.length, 1)

          yield* TestClock.adjust(1)
          const after = files.rows(backupFile("10"))
          assert.strictEqual(after.length, 1 + 15)
          records.forEach((r, i) => expectBackupRow(after[i + 1], r))
          assert.deepStrictEqual(flushed, [[100, 101, 102, 103, 104, 105, 106, 107, 108, 109], [110, 111, 112, 113, 114]])
          assert.strictEqual(sink.rowsWritten(), 15)
        })
      ))

    it.effect("Backup CSV - Batch Writing: a batch is written once its rows reach MAX_BATCH_BYTES, before batchSize (large records)", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 1000, flushIntervalMs: 5_000 })
          const big = "x".repeat(ArchiveSink.MAX_BATCH_BYTES / 2)
          yield* sink.append({ topic: "t", partition: 0, offset: 1 }, textRow(big))
          assert.deepStrictEqual(flushed, [], "half the limit: pending")
          yield* sink.append({ topic: "t", partition: 0, offset: 2 }, textRow(big))
          assert.deepStrictEqual(flushed, [[1, 2]], "the limit reached: written")
          assert.strictEqual(files.text(backupFile("10")).length, `${backupHeader.join(",")}\r\n`.length + big.length * 2)
          yield* sink.append({ topic: "t", partition: 0, offset: 3 }, textRow("small\r\n"))
          assert.deepStrictEqual(flushed, [[1, 2]], "the count starts again after a write")
        })
      ))

    it.effect("Backup CSV - Batch Writing: a full batch is written in the background; rows that pile up behind it go to disk together in the next write", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 5, flushIntervalMs: 60_000 })
          const disk = yield* Latch.make(false)
          files.writeGate = disk.await
          yield* appendBackup(sink, range(0, 5))
          assert.deepStrictEqual(flushed, [], "the first full batch is on its way, append did not wait")
          // Two more batches while the first is on its way: append does not wait for the disk.
          yield* appendBackup(sink, range(5, 10))
          assert.deepStrictEqual(flushed, [])
          yield* disk.open
          yield* sink.flush
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]], "one write for the rows that waited")
          assert.strictEqual(files.rows(backupFile("10")).length, 1 + 15)

          const slowDisk = yield* Latch.make(false)
          files.writeGate = slowDisk.await
          yield* appendBackup(sink, range(15, 5))
          const closing = yield* sink.close.pipe(Effect.forkChild)
          yield* Effect.yieldNow
          assert.isUndefined(closing.pollUnsafe(), "close waits for the batch on its way")
          yield* slowDisk.open
          yield* Fiber.join(closing)
          assert.deepStrictEqual(flushed[2], [15, 16, 17, 18, 19])
          assert.include(files.closed, backupFile("10"))
        })
      ))

    it.effect("Backup CSV - Batch Writing: append waits for the disk once the rows pending behind a write reach maxPendingBytes", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({
            batchSize: 1000,
            flushIntervalMs: 60_000,
            maxPendingBytes: 2 * ArchiveSink.MAX_BATCH_BYTES
          })
          const disk = yield* Latch.make(false)
          files.writeGate = disk.await
          const half = textRow("x".repeat(ArchiveSink.MAX_BATCH_BYTES / 2))
          const append = (offset: number) => sink.append({ topic: "t", partition: 0, offset }, half)
          yield* append(1)
          yield* append(2) // a full batch by bytes: on its way
          yield* append(3)
          yield* append(4)
          yield* append(5) // pending behind it: 1.5 × MAX_BATCH_BYTES, below the bound
          const waiting = yield* append(6).pipe(Effect.forkChild)
          yield* Effect.yieldNow
          assert.isUndefined(waiting.pollUnsafe(), "the bound reached behind a write in flight: append waits")
          assert.deepStrictEqual(flushed, [])
          yield* disk.open
          yield* Fiber.join(waiting)
          assert.deepStrictEqual(flushed, [[1, 2], [3, 4, 5, 6]])
          // Small rows after the large ones (in a fresh buffer: the large one is not kept).
          yield* sink.append({ topic: "t", partition: 0, offset: 7 }, textRow("small\r\n"))
          yield* sink.flush
          assert.deepStrictEqual(flushed, [[1, 2], [3, 4, 5, 6], [7]])
          assert.isTrue(files.text(backupFile("10")).endsWith("xsmall\r\n"))
        })
      ))

    it.effect("Backup CSV - Time-Based Flush: rows below the batch size are written when the 5 s interval ticks, and again on the next tick", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 100, flushIntervalMs: 5_000 })
          yield* appendBackup(sink, range(0, 5))
          yield* TestClock.adjust(4_999)
          assert.deepStrictEqual(files.paths(), [], "nothing written yet")
          assert.deepStrictEqual(flushed, [])

          yield* TestClock.adjust(1)
          assert.strictEqual(files.rows(backupFile("10")).length, 1 + 5)
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]])

          // An empty tick writes and reports nothing.
          yield* TestClock.adjust(5_000)
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]])

          yield* appendBackup(sink, range(5, 2))
          yield* TestClock.adjust(5_000)
          const rows = files.rows(backupFile("10"))
          assert.strictEqual(rows.length, 1 + 7)
          range(0, 7).forEach((r, i) => expectBackupRow(rows[i + 1], r))
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4], [5, 6]])
        })
      ))

    it.effect("Backup CSV - Hourly Rotation / CSV Rotation - Hour Boundary: 10:59:50 → 11:00:10 closes T10, opens T11 with its header, rows split by when they were appended", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:59:50Z"))
          // The interval is longer than the test window: only the rotation writes.
          const { sink, flushed } = yield* makeSink({ batchSize: 100, flushIntervalMs: 60_000 })
          yield* appendBackup(sink, range(0, 3))
          yield* TestClock.adjust(5_000) // 10:59:55
          yield* appendBackup(sink, range(3, 2))
          assert.deepStrictEqual(files.paths(), [], "nothing written before the hour ends")

          yield* TestClock.adjust(5_000) // 11:00:00: rotation
          assert.deepStrictEqual(files.closed, [backupFile("10")], "the old file is closed")
          assert.deepStrictEqual(files.paths(), [backupFile("10")], "the next hour's file waits for its first rows")
          assert.deepStrictEqual(sink.files(), [backupFile("10")])
          const old = files.rows(backupFile("10"))
          assert.strictEqual(old.length, 1 + 5, "rows appended before 11:00 went to the T10 file")
          range(0, 5).forEach((r, i) => expectBackupRow(old[i + 1], r))
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]], "rotation flushes and reports the old hour's rows")

          yield* TestClock.adjust(5_000) // 11:00:05
          yield* appendBackup(sink, range(5, 4))
          yield* TestClock.adjust(5_000) // 11:00:10
          yield* sink.close

          const next = files.rows(backupFile("11"))
          assert.deepStrictEqual(next[0], header)
          assert.strictEqual(next.length, 1 + 4, "rows appended after 11:00 went to the T11 file")
          range(5, 4).forEach((r, i) => expectBackupRow(next[i + 1], r))
          assert.strictEqual(files.rows(backupFile("10")).length, 1 + 5, "the old file was not touched again")
          assert.deepStrictEqual(files.closed, [backupFile("10"), backupFile("11")])
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4], [5, 6, 7, 8]])
        })
      ))

    it.effect("a rotation is a root span of its own, naming the archive and the file it closed, and logs the closing at debug level", () => {
      const { spans, tracer } = recordingTracer()
      return withArchive((logs) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(at("2026-11-22T10:59:50Z"))
          const { sink } = yield* makeSink({ kind: "dlq", dir: DIR, batchSize: 100, flushIntervalMs: 60_000 }).pipe(
            Effect.withSpan("the caller's span")
          )
          yield* sink.append(record(0), textRow("a row\r\n"))
          yield* TestClock.adjust(10_000) // 11:00:00: rotation
          const rotations = spans.filter((span) => span.name === "ArchiveSink.rotate")
          assert.strictEqual(rotations.length, 1)
          assert.strictEqual(rotations[0]!.parent._tag, "None", "not a child of the span the sink was made in")
          assert.strictEqual(rotations[0]!.attributes.get("archive"), "dlq")
          assert.strictEqual(rotations[0]!.attributes.get("file"), dlqFile("10"))
          assert.include(logs, `Debug: dlq archive: closed ${dlqFile("10")} at the end of its hour`)
        }).pipe(Effect.provideService(Tracer.Tracer, tracer), Effect.provideService(References.MinimumLogLevel, "All"))
      )
    })

    it.effect("an hour with no rows: its rotation closes nothing and logs nothing; the next hour's file is still closed at its end", () =>
      withArchive((logs) =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:59:50Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 100, flushIntervalMs: 60_000 })
          yield* TestClock.adjust(10_000) // 11:00:00: a rotation with no file open
          assert.deepStrictEqual(logs.filter((line) => line.includes("closed")), [])
          yield* TestClock.adjust("30 minutes")
          yield* appendBackup(sink, range(0, 2))
          yield* TestClock.adjust("30 minutes") // 12:00:00
          assert.deepStrictEqual(files.closed, [backupFile("11")], "the 11:00 file closed by the next rotation")
          assert.deepStrictEqual(flushed, [[0, 1]])
          assert.deepStrictEqual(logs.filter((line) => line.includes("closed")), [
            `Debug: backup archive: closed ${backupFile("11")} at the end of its hour`
          ])
        }).pipe(Effect.provideService(References.MinimumLogLevel, "All"))
      ))

    it.effect("a closed sink rotates no more: onRotated is not called again at the next hour", () =>
      withArchive(() =>
        Effect.gen(function*() {
          yield* TestClock.setTime(at("2026-11-22T10:59:50Z"))
          const rotations: Array<string | undefined> = []
          const { sink } = yield* makeSink({
            onRotated: (closed) =>
              Effect.sync(() => {
                rotations.push(closed)
              })
          })
          yield* sink.close
          yield* TestClock.adjust("2 hours")
          assert.deepStrictEqual(rotations, [undefined], "only the start's call")
        })
      ))

    it.effect("a file whose header cannot be written: onFatal(open), and its handle is closed", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, fatal } = yield* makeSink()
          files.failWrites = () => true
          yield* sink.append(record(0), writeBackupRow)
          const error = yield* Effect.flip(sink.flush)
          assert.deepStrictEqual(fatal, [error])
          assert.strictEqual(error.operation, "open")
          assert.strictEqual(error.path, backupFile("10"))
          assert.deepStrictEqual(files.closed, [backupFile("10")])
        })
      ))

    it.effect("after retain, rows of partitions not kept are ignored, told apart by topic and partition", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 100 })
          sink.retain([{ topic: "orders", partition: 0 }, { topic: "refunds", partition: 1 }])
          const other = (topic: string, partition: number, offset: number): KafkaRecord => ({ ...record(offset), topic, partition })
          yield* appendBackup(sink, [record(0), other("refunds", 0, 1), other("orders", 1, 2), other("refunds", 1, 3), record(4)])
          yield* sink.flush
          assert.deepStrictEqual(flushed, [[0, 3, 4]])
          assert.deepStrictEqual(files.rows(backupFile("10")).slice(1).map((row) => [row[0], row[1], row[2]]), [
            ["orders", "0", "0"],
            ["refunds", "1", "3"],
            ["orders", "0", "4"]
          ])
        })
      ))

    it.effect("Backup CSV - Rotation Failure Triggers Shutdown: the next hour's file cannot be created → onFatal(ArchiveError open), no log line of its own, later appends fail", () =>
      withArchive((logs) =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:59:50Z"))
          const { sink, flushed, fatal } = yield* makeSink({ batchSize: 100, flushIntervalMs: 60_000 })
          yield* appendBackup(sink, range(0, 2))
          files.failOpens = (path) => path === backupFile("11")

          yield* TestClock.adjust(20_000) // past 11:00:00
          assert.deepStrictEqual(fatal, [], "the rotation closes the old file; the next opens with its first rows")
          yield* appendBackup(sink, range(2, 1))
          const error = yield* Effect.flip(sink.flush)

          assert.deepStrictEqual(fatal, [error])
          assert.instanceOf(error, ArchiveError)
          assert.strictEqual(error.operation, "open")
          assert.strictEqual(error.archive, "backup")
          assert.strictEqual(error.path, backupFile("11"))
          assert.include(error.message, "EACCES")
          assert.include(error.message, "backup archive: cannot create /archive/backup-2026-11-22T11.csv")
          assert.deepStrictEqual(logs.filter((line) => line.startsWith("Error: ")), [], "the run it stops logs it")

          // The old hour's rows were flushed and its file closed before the open failed.
          assert.strictEqual(files.rows(backupFile("10")).length, 1 + 2)
          assert.deepStrictEqual(flushed, [[0, 1]])
          assert.deepStrictEqual(files.closed, [backupFile("10")])
          assert.deepStrictEqual(files.paths(), [backupFile("10")])

          const appended = yield* Effect.flip(sink.append(record(3), writeBackupRow))
          assert.strictEqual(appended, error, "later appends fail with the fatal error")
          assert.strictEqual(yield* Effect.flip(sink.flush), error)
          assert.strictEqual(fatal.length, 1, "onFatal is called once")

          // Dead: no rotation comes back to life in the next hour, even once opening would work again.
          files.failOpens = undefined
          yield* TestClock.adjust("1 hour")
          assert.deepStrictEqual(files.paths(), [backupFile("10")])
          assert.strictEqual(fatal.length, 1)
          assert.deepStrictEqual(flushed, [[0, 1]], "the rejected row is never reported as written")
        })
      ))

    it.effect("Backup CSV - Write Failure Triggers Shutdown: a failing batch write → onFatal(ArchiveError write), no log line of its own, nothing reported, later calls fail", () =>
      withArchive((logs) =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed, fatal } = yield* makeSink({ batchSize: 10 })
          // The header goes in (the file is created); the rows do not.
          files.failWrites = (path) => files.text(path).length > 0

          const records = range(0, 10)
          yield* appendBackup(sink, records.slice(0, 9))
          const failed = yield* Effect.flip(sink.append(records[9]!, writeBackupRow))

          assert.instanceOf(failed, ArchiveError)
          assert.strictEqual(failed.operation, "write")
          assert.strictEqual(failed.archive, "backup")
          assert.strictEqual(failed.path, backupFile("10"))
          assert.deepStrictEqual(fatal, [failed])
          assert.deepStrictEqual(logs.filter((line) => line.startsWith("Error: ")), [], "the run it stops logs it")
          assert.include(failed.message, "ENOSPC")
          assert.deepStrictEqual(flushed, [], "rows that are not on disk are never reported")
          assert.strictEqual(sink.rowsWritten(), 0)
          assert.deepStrictEqual(files.rows(backupFile("10")), [header])

          files.failWrites = undefined
          assert.strictEqual(yield* Effect.flip(sink.append(record(10), writeBackupRow)), failed)
          assert.strictEqual(yield* Effect.flip(sink.flush), failed)
          assert.strictEqual(yield* Effect.flip(sink.close), failed)
          yield* TestClock.adjust("1 hour")
          assert.deepStrictEqual(fatal, [failed], "onFatal is called once")
          assert.deepStrictEqual(files.rows(backupFile("10")), [header])
          assert.deepStrictEqual(flushed, [])
          assert.include(files.closed, backupFile("10"), "close still closes the file")
        })
      ))

    it.effect("Backup CSV - a defect in a batch written in the background (a bug in onFlushed) → onFatal(ArchiveError write), later calls fail, nothing hangs", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const bug = new Error("bug in onFlushed")
          const { sink, fatal } = yield* makeSink({ batchSize: 5, onFlushed: () => Effect.die(bug) })
          const disk = yield* Latch.make(false)
          files.writeGate = disk.await
          yield* appendBackup(sink, range(0, 5))
          assert.deepStrictEqual(fatal, [], "the batch is on its way; nobody waits for it")
          yield* disk.open
          const failed = yield* Effect.flip(sink.flush)
          assert.deepStrictEqual(fatal, [failed])
          assert.strictEqual(failed.operation, "write")
          assert.strictEqual(failed.cause, bug)
          assert.strictEqual(yield* Effect.flip(sink.append(record(5), writeBackupRow)), failed)
        })
      ))

    it.effect("Backup CSV - a defect in a batch written by the interval flush (nobody joins it either) → onFatal(ArchiveError write), later calls fail", () =>
      withArchive(() =>
        Effect.gen(function*() {
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const bug = new Error("bug in onFlushed")
          const { sink, fatal } = yield* makeSink({ batchSize: 100, onFlushed: () => Effect.die(bug) })
          yield* appendBackup(sink, range(0, 3))
          yield* TestClock.adjust("5 seconds")
          assert.strictEqual(fatal.length, 1, "the interval flush reported the defect")
          assert.strictEqual(fatal[0]!.operation, "write")
          assert.strictEqual(fatal[0]!.path, backupFile("10"))
          assert.strictEqual(fatal[0]!.cause, bug)
          assert.strictEqual(yield* Effect.flip(sink.append(record(3), writeBackupRow)), fatal[0])
        })
      ))

    it.effect("Backup CSV - the directory removed while its file is open: rows written into the unlinked file are not reported, onFatal(write)", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed, fatal } = yield* makeSink({ batchSize: 5 })
          yield* appendBackup(sink, range(0, 5))
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]])

          yield* fs.remove(DIR, { recursive: true })
          const failed = yield* Effect.flip(appendBackup(sink, range(5, 5)))
          assert.instanceOf(failed, ArchiveError)
          assert.strictEqual(failed.operation, "write")
          assert.include(failed.message, "deleted")
          assert.deepStrictEqual(fatal, [failed])
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]], "the rows in the unlinked file are never reported")
        })
      ))

    it.effect("Backup CSV - the same on the real file system: a removed directory's open file reports link count 0", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "archive-unlinked-" })
        yield* fs.makeDirectory(`${dir}/backup`)
        const { sink, flushed, fatal } = yield* makeSink({ dir: `${dir}/backup`, batchSize: 5 })
        // Real writes finish in the background: flush waits for them.
        yield* appendBackup(sink, range(0, 5))
        yield* sink.flush
        yield* fs.remove(`${dir}/backup`, { recursive: true })
        yield* appendBackup(sink, range(5, 5))
        const failed = yield* Effect.flip(sink.flush)
        assert.include(failed.message, "deleted")
        assert.deepStrictEqual(fatal, [failed])
        assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]])
      }).pipe(Effect.provide(Layer.mergeAll(NodeFileSystem.layer, Path.layer, captureLogs().layer))))

    it.effect("Backup CSV - an append interrupted while its batch is being written: the batch is still written and reported", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 3 })
          const disk = yield* Latch.make()
          files.writeGate = disk.await // a slow disk
          const appending = yield* Effect.forkChild(appendBackup(sink, range(0, 3)))
          yield* Effect.yieldNow
          // The pipeline interrupts the appending fiber (a rejoin, a stop) while the batch is written.
          const interrupting = yield* Effect.forkChild(Fiber.interrupt(appending))
          yield* Effect.yieldNow
          yield* disk.open
          yield* Fiber.join(interrupting)
          // A full batch is written in the background: `flush` waits for it (it takes the same lock) and,
          // had the interruption dropped the rows, would find nothing to write.
          yield* sink.flush
          files.writeGate = undefined
          assert.deepStrictEqual(flushed, [[0, 1, 2]], "rows on disk are reported, so their records can be committed")
          assert.strictEqual(sink.rowsWritten(), 3)
          assert.deepStrictEqual(files.rows(backupFile("10")).map((row) => row[2]), ["offset", "0", "1", "2"])
          yield* appendBackup(sink, range(3, 3))
          assert.deepStrictEqual(flushed, [[0, 1, 2], [3, 4, 5]])
        })
      ))

    it.effect("Backup CSV - Write Failure: a partial (torn) write is truncated back so the file still parses as whole rows", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed, fatal } = yield* makeSink({ batchSize: 5 })
          yield* appendBackup(sink, range(0, 5))
          const before = files.text(backupFile("10"))

          files.partialWriteBytes = 17
          const failed = yield* Effect.flip(appendBackup(sink, range(5, 5)))
          assert.strictEqual(failed.operation, "write")
          assert.deepStrictEqual(fatal, [failed])

          assert.strictEqual(files.text(backupFile("10")), before, "the torn tail is cut off")
          const rows = files.rows(backupFile("10"))
          assert.strictEqual(rows.length, 1 + 5)
          range(0, 5).forEach((r, i) => expectBackupRow(rows[i + 1], r))
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]])
        })
      ))

    it.effect("Backup CSV - Final Flush on Shutdown: close writes the 5 pending rows, reports them and closes the file; later appends fail", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed, fatal } = yield* makeSink({ batchSize: 10, flushIntervalMs: 5_000 })
          yield* appendBackup(sink, range(0, 5))
          assert.deepStrictEqual(files.paths(), [])

          yield* sink.close
          const rows = files.rows(backupFile("10"))
          assert.strictEqual(rows.length, 1 + 5)
          range(0, 5).forEach((r, i) => expectBackupRow(rows[i + 1], r))
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]])
          assert.deepStrictEqual(files.closed, [backupFile("10")])

          const refused = yield* Effect.flip(sink.append(record(5), writeBackupRow))
          assert.instanceOf(refused, ArchiveError)
          assert.strictEqual(refused.operation, "write")
          assert.strictEqual(refused.cause, "archive is closed")
          assert.deepStrictEqual(fatal, [], "appending after close is refused, not fatal")

          // Closing again, the flush timer and the next hour change nothing.
          yield* sink.close
          yield* TestClock.adjust("1 hour")
          assert.deepStrictEqual(files.paths(), [backupFile("10")])
          assert.strictEqual(files.rows(backupFile("10")).length, 1 + 5)
          assert.deepStrictEqual(files.closed, [backupFile("10")])
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3, 4]])
        })
      ))

    it.effect("Backup CSV - Final Flush on Shutdown (adapted: the running flag is the sink's scope): closing the scope flushes and closes", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const scope = yield* Scope.make()
          const { sink, flushed } = yield* makeSink({ batchSize: 10 }).pipe(Scope.provide(scope))
          yield* appendBackup(sink, range(0, 3))
          yield* Scope.close(scope, Exit.void)
          assert.strictEqual(files.rows(backupFile("10")).length, 1 + 3)
          assert.deepStrictEqual(flushed, [[0, 1, 2]])
          assert.deepStrictEqual(files.closed, [backupFile("10")])
        })
      ))

    it.effect("a row whose writing throws halfway is cut off: the append dies, the rows around it stay whole", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 100 })
          yield* sink.append(record(1), writeBackupRow)
          const broken = yield* Effect.exit(sink.append(record(2), (out) => {
            out.utf8("t,0,2,")
            throw new TypeError("detached buffer")
          }))
          assert.isTrue(Exit.hasDies(broken))
          yield* sink.append(record(3), writeBackupRow)
          yield* sink.close
          const rows = files.rows(backupFile("10"))
          assert.strictEqual(rows.length, 1 + 2)
          expectBackupRow(rows[1], record(1))
          expectBackupRow(rows[2], record(3))
          assert.deepStrictEqual(flushed, [[1, 3]])
        })
      ))

    it.effect("append is an Effect: building it adds nothing, each run adds the row once (so retry and repeat work)", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 3 })
          const appendOne = sink.append(record(1), writeBackupRow)
          yield* sink.flush
          assert.deepStrictEqual(flushed, [], "a built but unrun append left nothing pending")
          yield* Effect.repeat(appendOne, { times: 2 })
          assert.deepStrictEqual(flushed, [[1, 1, 1]])
          assert.strictEqual(files.rows(backupFile("10")).length, 1 + 3)
          // Built while open, run after close: refused, not silently buffered.
          const late = sink.append(record(2), writeBackupRow)
          yield* sink.close
          assert.strictEqual((yield* Effect.flip(late)).cause, "archive is closed")
        })
      ))

    it.effect("appendAll takes a fetched batch's rows at once: each batch that fills on the way is written, in order", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 4, flushIntervalMs: 60_000 })
          const records = range(0, 10)
          const appendAll = sink.appendAll(records, writeBackupRow)
          yield* appendAll
          // Two full batches on their way to disk (the second written before the third fills), two rows pending.
          yield* Effect.yieldNow
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3], [4, 5, 6, 7]])
          yield* sink.flush
          assert.deepStrictEqual(flushed, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
          const rows = files.rows(backupFile("10"))
          assert.deepStrictEqual(rows[0], header)
          rows.slice(1).forEach((row, i) => expectBackupRow(row, records[i]!))
          // Run again, it adds the rows again (a refetch does the same).
          yield* appendAll
          yield* sink.flush
          assert.strictEqual(files.rows(backupFile("10")).length, 1 + 20)
        })
      ))

    it.effect("Backup CSV - restart within the same hour: a second sink opens sequence .1 and never appends to the first file", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const first = yield* Scope.make()
          const one = yield* makeSink({ batchSize: 10 }).pipe(Scope.provide(first))
          yield* appendBackup(one.sink, range(0, 2))
          yield* Scope.close(first, Exit.void)
          const firstText = files.text(backupFile("10"))

          yield* TestClock.adjust("10 minutes")
          const two = yield* makeSink({ batchSize: 10 })
          yield* appendBackup(two.sink, range(2, 3))
          yield* two.sink.flush
          assert.deepStrictEqual(two.sink.files(), [backupFile("10", ".1")])
          yield* two.sink.close

          assert.strictEqual(files.text(backupFile("10")), firstText)
          const rows = files.rows(backupFile("10", ".1"))
          assert.deepStrictEqual(rows[0], header)
          assert.strictEqual(rows.length, 1 + 3)
          range(2, 3).forEach((r, i) => expectBackupRow(rows[i + 1], r))

          const three = yield* makeSink({ batchSize: 10 })
          yield* three.sink.close
          assert.deepStrictEqual(three.sink.files(), [], "a run that archives nothing leaves no file")
          const four = yield* makeSink({ batchSize: 10 })
          yield* appendBackup(four.sink, range(5, 1))
          yield* four.sink.flush
          assert.deepStrictEqual(four.sink.files(), [backupFile("10", ".2")])
          assert.sameMembers(files.paths(), [backupFile("10"), backupFile("10", ".1"), backupFile("10", ".2")])
        })
      ))
  })

  describe("DLQ CSV (seed §5 test_csv_writers.py)", () => {
    class ValueError extends Error {}

    const dlqSink = (options: Partial<ArchiveSink.ArchiveSinkOptions> = {}) =>
      makeSink({ kind: "dlq", header: dlqHeader, batchSize: 100, ...options })

    const failure = (offset: number) => {
      const error = new ValueError(`bad value at ${offset}`)
      return { errorType: "ValueError", message: error.message, detail: error.stack!, attempts: 4 }
    }

    it.effect("DLQ CSV - Normal Operation: rows carry the record, the error type, message, stack trace and attempts", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* dlqSink({ batchSize: 2 })
          const failedAt = at("2026-11-22T10:15:00.250Z")
          const records = [record(7, "a, \"quoted\"\nvalue"), record(8)]
          yield* Effect.forEach(records, (r) => sink.append(r, (out, x) => writeDlqRow(out, x, failure(x.offset), failedAt)), {
            discard: true
          })

          const rows = files.rows(dlqFile("10"))
          assert.deepStrictEqual(rows[0], [...backupHeader, "error_type", "error_message", "error_detail", "attempts", "failed_at"])
          assert.strictEqual(rows.length, 1 + 2)
          records.forEach((r, i) => {
            const row = rows[i + 1]!
            assert.strictEqual(row.length, dlqHeader.length)
            assert.deepStrictEqual(row.slice(0, backupHeader.length), [...backupRow(r)])
            assert.strictEqual(row[6], new TextDecoder().decode(r.value!), "the value survives commas, quotes and newlines")
            assert.strictEqual(row[9], "ValueError")
            assert.strictEqual(row[10], `bad value at ${r.offset}`)
            assert.match(row[11]!, new RegExp(`^Error: bad value at ${r.offset}\\n\\s+at `), "the stack trace, on its lines")
            assert.strictEqual(row[12], "4")
            assert.strictEqual(row[13], "2026-11-22T10:15:00.250Z")
          })
          assert.deepStrictEqual(flushed, [[7, 8]])
        })
      ))

    it.effect("DLQ CSV - Batch Writing: dlqBatchSize 100, 150 failures → 100 written at once, 50 on close", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed } = yield* dlqSink({ batchSize: 100 })
          const records = range(0, 150)
          yield* Effect.forEach(records, (r) => sink.append(r, (out, x) => writeDlqRow(out, x, failure(x.offset), 0)), {
            discard: true
          })

          assert.strictEqual(flushed.length, 1, "one write of the full batch")
          assert.deepStrictEqual(flushed[0], records.slice(0, 100).map((r) => r.offset))
          assert.strictEqual(files.rows(dlqFile("10")).length, 1 + 100)
          assert.strictEqual(sink.rowsWritten(), 100)

          yield* sink.close
          const rows = files.rows(dlqFile("10"))
          assert.strictEqual(rows.length, 1 + 150)
          assert.deepStrictEqual(rows.slice(1).map((row) => row[2]), records.map((r) => String(r.offset)))
          assert.deepStrictEqual(flushed[1], records.slice(100).map((r) => r.offset))
        })
      ))

    it.effect("DLQ CSV - Write Failure Triggers Shutdown: onFatal(ArchiveError dlq write), no log line of its own", () =>
      withArchive((logs) =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink, flushed, fatal } = yield* dlqSink({ batchSize: 100, flushIntervalMs: 5_000 })
          files.failWrites = (path) => path === dlqFile("10") && files.text(path).length > 0
          yield* sink.append(record(1), (out, x) => writeDlqRow(out, x, failure(1), 0))
          // The interval flush is the one that fails: the error reaches onFatal, not a caller.
          yield* TestClock.adjust(5_000)

          assert.strictEqual(fatal.length, 1)
          assert.strictEqual(fatal[0]!.archive, "dlq")
          assert.strictEqual(fatal[0]!.operation, "write")
          assert.strictEqual(fatal[0]!.path, dlqFile("10"))
          assert.include(fatal[0]!.message, `dlq archive: cannot write ${dlqFile("10")}: no space left on device (ENOSPC)`)
          assert.deepStrictEqual(logs.filter((line) => line.startsWith("Error: ")), [])
          assert.deepStrictEqual(flushed, [])
          assert.strictEqual(yield* Effect.flip(sink.append(record(2), textRow("x\r\n"))), fatal[0])
          assert.deepStrictEqual(files.rows(dlqFile("10")), [[...dlqHeader]])
        })
      ))
  })

  describe("CSV Rotation (integration §3 test_csv_rotation.py)", () => {
    it.effect("CSV Rotation - Multiple Rotations: 3 hours → 3 files, each with its header and its own rows", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:30:00Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 4, flushIntervalMs: 60_000 })
          // 6 rows per hour: one full batch, two left for the rotation (or the close) to flush.
          for (let hour = 0; hour < 3; hour++) {
            yield* appendBackup(sink, range(hour * 100, 6))
            if (hour < 2) yield* TestClock.adjust("1 hour")
          }
          yield* sink.close

          const paths = [backupFile("10"), backupFile("11"), backupFile("12")]
          assert.deepStrictEqual(files.paths(), paths)
          assert.deepStrictEqual(sink.files(), paths)
          assert.deepStrictEqual(files.closed, paths)
          paths.forEach((path, hour) => {
            const rows = files.rows(path)
            assert.deepStrictEqual(rows[0], header, `header in ${path}`)
            assert.strictEqual(rows.length, 1 + 6, path)
            range(hour * 100, 6).forEach((r, i) => expectBackupRow(rows[i + 1], r))
          })
          assert.deepStrictEqual(flushed.flat(), [0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105, 200, 201, 202, 203, 204, 205])
          assert.strictEqual(sink.rowsWritten(), 18)
        })
      ))

    it.effect("CSV Rotation - Rotation During Shutdown: rotation, then close at the same instant → the new file gets the final flush, nothing lost, all closed and parseable", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:59:50Z"))
          const { sink, flushed } = yield* makeSink({ batchSize: 100, flushIntervalMs: 60_000 })
          yield* appendBackup(sink, range(0, 3))
          // Registered after the sink's rotation sleep: at 11:00:00 the rotation runs first.
          const shutdown = yield* Effect.forkChild(
            Effect.sleep(10_000).pipe(Effect.andThen(appendBackup(sink, range(3, 2))), Effect.andThen(sink.close))
          )
          yield* TestClock.adjust(10_000)
          yield* Fiber.join(shutdown)

          assert.deepStrictEqual(files.paths(), [backupFile("10"), backupFile("11")])
          assert.deepStrictEqual(files.closed, [backupFile("10"), backupFile("11")])
          const old = files.rows(backupFile("10"))
          assert.strictEqual(old.length, 1 + 3)
          range(0, 3).forEach((r, i) => expectBackupRow(old[i + 1], r))
          const next = files.rows(backupFile("11"))
          assert.deepStrictEqual(next[0], header)
          assert.strictEqual(next.length, 1 + 2)
          range(3, 2).forEach((r, i) => expectBackupRow(next[i + 1], r))
          assert.deepStrictEqual(flushed, [[0, 1, 2], [3, 4]])
        })
      ))

    it.effect("CSV Rotation - Rotation During Shutdown: close first at the rotation instant → the pending rows go to one file, nothing lost, no empty file", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:59:50Z"))
          const ready = yield* Latch.make()
          let sink: ArchiveSink.ArchiveSink | undefined
          // Registered before the sink's rotation sleep: at 11:00:00 the close runs first.
          const shutdown = yield* Effect.forkChild(
            Effect.sleep(10_000).pipe(Effect.andThen(ready.await), Effect.andThen(Effect.suspend(() => sink!.close)))
          )
          const harness = yield* makeSink({ batchSize: 100, flushIntervalMs: 60_000 })
          sink = harness.sink
          yield* ready.open
          yield* appendBackup(sink, range(0, 3))
          yield* TestClock.adjust(10_000)
          yield* Fiber.join(shutdown)

          // Written at 11:00:00 by the close: the file of the hour they were written in.
          assert.deepStrictEqual(files.paths(), [backupFile("11")])
          assert.deepStrictEqual(files.closed, [backupFile("11")])
          const rows = files.rows(backupFile("11"))
          assert.strictEqual(rows.length, 1 + 3)
          range(0, 3).forEach((r, i) => expectBackupRow(rows[i + 1], r))
          assert.deepStrictEqual(harness.flushed, [[0, 1, 2]])
          assert.deepStrictEqual(harness.fatal, [])
        })
      ))
  })

  describe("DLQ Flow (integration §4 test_dlq_flow.py)", () => {
    class ValueError extends Error {}
    class KeyError extends Error {
      override name = "KeyError"
    }
    class InventoryMissing extends Schema.TaggedError<InventoryMissing>()("InventoryMissing", {
      sku: Schema.String
    }) {}

    const handlerOptions: RecordHandler.RecordHandlerOptions = {
      maxMessageBytes: 1_000,
      decodeUtf8: true,
      processingTimeoutMs: 5_000,
      maxRetries: 0,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 1_000
    }

    /** Handles `r`, and when it fails writes its DLQ row the way the pipeline does. */
    const handleToDlq = (
      handle: (r: KafkaRecord) => Effect.Effect<RecordHandler.Outcome>,
      sink: ArchiveSink.ArchiveSink,
      r: KafkaRecord
    ) =>
      Effect.gen(function*() {
        const outcome = yield* handle(r)
        if (outcome._tag === "Failed") {
          const failedAt = yield* Clock.currentTimeMillis
          yield* sink.append(r, (out, x) => writeDlqRow(out, x, { ...outcome.failure, attempts: outcome.attempts }, failedAt))
        }
        return outcome
      })

    it.effect("DLQ Flow - End to End / Multiple Error Types: ValueError, KeyError, a timeout and a custom error each land in the DLQ CSV with type, message and stack", () =>
      withArchive(() =>
        Effect.gen(function*() {
          const files = yield* MemoryFileSystem
          yield* TestClock.setTime(at("2026-11-22T10:15:00Z"))
          const { sink } = yield* makeSink({ kind: "dlq", header: dlqHeader, batchSize: 100 })
          const handle = RecordHandler.make((input) => {
            switch (input.text) {
              case "value":
                throw new ValueError("not a number: value")
              case "key":
                return Promise.reject(new KeyError("'sku'"))
              case "slow":
                return Effect.sleep("1 minute")
              case "custom":
                return Effect.fail(new InventoryMissing({ sku: "A-1" }))
              default:
                return Effect.void
            }
          }, handlerOptions)

          const inputs = [record(0, "value"), record(1, "key"), record(2, "slow"), record(3, "custom"), record(4, "ok")]
          const fiber = yield* Effect.forkChild(Effect.forEach(inputs, (r) => handleToDlq(handle, sink, r)))
          yield* TestClock.adjust(5_000)
          const outcomes = yield* Fiber.join(fiber)
          assert.deepStrictEqual(outcomes.map((o) => o._tag), ["Failed", "Failed", "Failed", "Failed", "Processed"])
          yield* sink.close

          const rows = files.rows(dlqFile("10"))
          assert.deepStrictEqual(rows[0], [...dlqHeader])
          assert.strictEqual(rows.length, 1 + 4, "every failed record, and only those, in the DLQ")
          const byOffset = new Map(rows.slice(1).map((row) => [row[2], row]))
          const expected: Array<[number, string, string, string]> = [
            [0, "ValueError", "not a number: value", "Error: not a number: value"],
            [1, "KeyError", "'sku'", "KeyError: 'sku'"],
            [2, "ProcessingTimeout", "the processor did not finish within 5000 ms and was interrupted", "ProcessingTimeout"],
            // A tagged error without a message: its fields are the message.
            [3, "InventoryMissing", "{\"_tag\":\"InventoryMissing\",\"sku\":\"A-1\"}", "InventoryMissing"]
          ]
          for (const [offset, type, message, stackStart] of expected) {
            const row = byOffset.get(String(offset))
            assert.isDefined(row, `offset ${offset}`)
            assert.deepStrictEqual(row!.slice(0, backupHeader.length), [...backupRow(inputs[offset]!)])
            assert.strictEqual(row![9], type)
            assert.strictEqual(row![10], message)
            assert.isTrue(row![11]!.startsWith(stackStart), `${type} detail starts with ${stackStart}: ${row![11]}`)
            assert.match(row![11]!, /\n\s+at /, `${type} detail has a stack trace`)
            assert.strictEqual(row![12], "1")
          }
          assert.strictEqual(byOffset.get("2")![13], "2026-11-22T10:15:05.000Z", "failed_at is the Clock's time")
        })
      ))
  })
})

/**
 * The archive holds every record exactly once across stops, crashes and
 * restarts: the pipeline over the in-memory Kafka and file system, with
 * virtual time. A run that commits nothing (devMode, or failing commits)
 * stands for a crash after its rows reached the disk.
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { gzipSync } from "node:zlib"
import { TestClock } from "effect/testing"
import { archiveFileName } from "../../src/domain/ArchiveFile.js"
import { backupHeader, dlqHeader, encodeRow, writeBackupRow, writeDlqRow } from "../../src/domain/Csv.js"
import { NonRetryable } from "../../src/domain/Failure.js"
import type { PipelineConfigInput } from "../../src/domain/PipelineConfig.js"
import type { Processor } from "../../src/domain/Processor.js"
import { RowBuffer } from "../../src/domain/RowBuffer.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import { PipelineSettings } from "../../src/layers/config/PipelineSettings.js"
import * as Pipeline from "../../src/streams/Pipeline.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { advanceUntil, archiveRows, committedAt, GROUP, produce, settings, test, TOPIC } from "../support/memoryPipeline.js"

const start = (processor: Processor, overrides: Partial<PipelineConfigInput> = {}) =>
  Effect.gen(function*() {
    const config = yield* settings(overrides)
    return yield* Pipeline.run(processor).pipe(Effect.provide(PipelineSettings.layer(config)), Effect.forkChild)
  })

const numbered = (count: number, prefix = "v") => Array.from({ length: count }, (_, i) => `${prefix}${i}`)
const offsetsOf = (rows: ReadonlyArray<Record<string, string>>) => rows.map((row) => Number(row.offset)).sort((a, b) => a - b)
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

/** Every backup (or DLQ) row has been written: the run's rows reached the disk. */
const rowsWritten = (dir: string, count: number) => Effect.map(archiveRows(dir), (rows) => rows.length >= count)

/** A value that fails for good (to the DLQ) when it starts with "bad". */
const failingBad = (seen: Array<number>): Processor => (input) =>
  Effect.suspend(() => {
    seen.push(input.offset)
    return input.text?.startsWith("bad") ? Effect.fail(new NonRetryable({ cause: "bad value" })) : Effect.void
  })

describe("Exactly-once archive", () => {
  test("a run that committed nothing (a crash after its rows were written), restarted: no row twice, no dead-lettered record processed again", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T10:15:00Z"))
      yield* produce(0, [...numbered(6), "bad-6", ...numbered(3, "w")])
      const seen: Array<number> = []
      const crashed = yield* start(failingBad(seen), { devMode: true })
      yield* advanceUntil(rowsWritten("/backup", 10))
      yield* advanceUntil(rowsWritten("/dlq", 1))
      yield* Fiber.interrupt(crashed)
      assert.deepStrictEqual((yield* (yield* MemoryKafka).committed(GROUP)).size, 0, "nothing committed")

      seen.length = 0
      const restarted = yield* start(failingBad(seen))
      yield* advanceUntil(committedAt(0, 10))
      yield* Fiber.interrupt(restarted)

      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/backup")), range(0, 10), "every offset once")
      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/dlq")), [6], "the dead-lettered record once")
      assert.deepStrictEqual(seen.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 7, 8, 9], "processed again, except the one dead-lettered")
    }))

  test("stopped with records backed up but not processed, restarted (three times): every offset has one backup row", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T10:15:00Z"))
      yield* produce(0, numbered(40))
      const slow: Processor = () => Effect.sleep(1_000)
      for (let run = 0; run < 3; run++) {
        const fiber = yield* start(slow, { concurrency: 1 })
        // Every row written (the queue holds them all), a few records processed and committed.
        yield* TestClock.adjust(5_000)
        // The stop finishes the record in flight (a second of virtual time).
        const stopping = yield* Effect.forkChild(Fiber.interrupt(fiber))
        yield* TestClock.adjust(2_000)
        yield* Fiber.join(stopping)
        assert.deepStrictEqual(offsetsOf(yield* archiveRows("/backup")), range(0, 40), `after run ${run + 1}`)
      }
      const last = yield* start(() => Effect.void)
      yield* advanceUntil(committedAt(0, 40))
      yield* Fiber.interrupt(last)
      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/backup")), range(0, 40))
      const files = yield* MemoryFileSystem
      assert.deepStrictEqual(files.paths().filter((path) => path.startsWith("/backup/")), [
        `/backup/${archiveFileName("backup", Date.parse("2026-11-22T10:15:00Z"), 0)}`
      ], "the later runs had nothing to write: no file")
    }))

  test("a torn last row is not a row: its record is written again, the whole rows before it are not", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T10:15:00Z"))
      const files = yield* MemoryFileSystem
      yield* produce(0, numbered(8))
      const records = (yield* (yield* MemoryKafka).records(TOPIC)).filter((r) => r.partition === 0)
      const out = new RowBuffer()
      out.utf8(encodeRow(backupHeader))
      for (const record of records.slice(0, 3)) writeBackupRow(out, record)
      const whole = out.length
      writeBackupRow(out, records[3]!)
      const crashedFile = `/backup/${archiveFileName("backup", Date.parse("2026-11-22T10:05:00Z"), 0)}`
      files.files.set(crashedFile, out.contents.slice(0, whole + 10))

      const fiber = yield* start(() => Effect.void)
      yield* advanceUntil(committedAt(0, 8))
      yield* Fiber.interrupt(fiber)
      const rewritten = files.paths().filter((path) => path.startsWith("/backup/") && path !== crashedFile)
      assert.strictEqual(rewritten.length, 1)
      assert.deepStrictEqual(offsetsOf(files.rows(rewritten[0]!).slice(1).map((row) => ({ offset: row[2]! }))), range(3, 8))
    }))

  test("a commit carries its archive position: the hour of the files that may hold its partition's rows past the offset", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T10:15:00Z"))
      const kafka = yield* MemoryKafka
      yield* produce(0, numbered(5))
      const first = yield* start(() => Effect.void)
      yield* advanceUntil(committedAt(0, 5))
      yield* Fiber.interrupt(first)
      const commits = yield* kafka.commits(GROUP)
      assert.strictEqual(commits.at(-1)!.offsets[0]!.metadata, "archive-from=2026-11-22T10")

      // Two hours later: a file of 10:00 is before the position of a commit made at 12:30.
      yield* TestClock.setTime(Date.parse("2026-11-22T12:30:00Z"))
      yield* produce(0, numbered(5, "w"))
      const second = yield* start(() => Effect.void)
      yield* advanceUntil(committedAt(0, 10))
      yield* Fiber.interrupt(second)
      assert.strictEqual((yield* kafka.commits(GROUP)).at(-1)!.offsets[0]!.metadata, "archive-from=2026-11-22T12")
      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/backup")), range(0, 10))
    }))

  test("a partition taken away and given back: its rows not yet written are dropped, the next owner writes them once", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T10:15:00Z"))
      const kafka = yield* MemoryKafka
      yield* (yield* KafkaClient).createTopic(TOPIC, 2)
      yield* produce(0, numbered(10))
      yield* produce(1, numbered(10, "w"))
      // Rows wait a minute in the batch: the rebalance comes before they are written.
      const fiber = yield* start(() => Effect.void, { backupBatchSize: 1000, flushIntervalMs: 60_000 })
      yield* TestClock.adjust(5_000)
      assert.deepStrictEqual(yield* archiveRows("/backup"), [], "nothing written yet")
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }])
      yield* TestClock.adjust(5_000)
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* advanceUntil(committedAt(1, 10))
      yield* advanceUntil(committedAt(0, 10))
      yield* Fiber.interrupt(fiber)
      const rows = yield* archiveRows("/backup")
      for (const partition of [0, 1]) {
        assert.deepStrictEqual(offsetsOf(rows.filter((row) => row.partition === String(partition))), range(0, 10), `partition ${partition}`)
      }
    }))

  test("a run stopped by a fatal archive error (the DLQ disk full), restarted: every backup row once, the DLQ row once", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T10:15:00Z"))
      const files = yield* MemoryFileSystem
      yield* produce(0, [...numbered(5), "bad-5", ...numbered(4, "w")])
      files.failWrites = (path) => path.startsWith("/dlq/") && files.text(path).length > 0
      const seen: Array<number> = []
      const failed = yield* start(failingBad(seen))
      yield* advanceUntil(Effect.map(Fiber.await(failed).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"))
      assert.strictEqual((yield* Fiber.await(failed))._tag, "Failure")
      assert.deepStrictEqual(yield* archiveRows("/dlq"), [], "the DLQ row did not reach the disk")

      files.failWrites = undefined
      const restarted = yield* start(failingBad(seen))
      yield* advanceUntil(committedAt(0, 10))
      yield* Fiber.interrupt(restarted)
      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/backup")), range(0, 10))
      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/dlq")), [5])
    }))

  test("a run stopped at its stop-at offsets, then run again past them: every offset once", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T10:15:00Z"))
      yield* produce(0, numbered(20))
      const first = yield* start(() => Effect.void, { stopAtOffsets: [{ topic: TOPIC, partition: 0, offset: 9 }] })
      yield* advanceUntil(Effect.map(Fiber.await(first).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"))
      assert.strictEqual((yield* Fiber.join(first)).reason, "stopAtOffsets")
      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/backup")), range(0, 10), "nothing past the target")
      const second = yield* start(() => Effect.void)
      yield* advanceUntil(committedAt(0, 20))
      yield* Fiber.interrupt(second)
      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/backup")), range(0, 20))
    }))

  test("compressed and plain files mixed: rows found in either are not written again", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T12:15:00Z"))
      const files = yield* MemoryFileSystem
      yield* produce(0, numbered(9))
      const records = (yield* (yield* MemoryKafka).records(TOPIC)).filter((r) => r.partition === 0)
      const file = (from: number, to: number) => {
        const out = new RowBuffer()
        out.utf8(encodeRow(backupHeader))
        for (const record of records.slice(from, to)) writeBackupRow(out, record)
        return out.contents.slice()
      }
      // A closed hour compressed, then the next hour plain: a crashed run's archive.
      files.files.set(`/backup/${archiveFileName("backup", Date.parse("2026-11-22T10:00:00Z"), 0)}.gz`, gzipSync(file(0, 3)))
      files.files.set(`/backup/${archiveFileName("backup", Date.parse("2026-11-22T11:00:00Z"), 0)}`, file(3, 6))
      const fiber = yield* start(() => Effect.void)
      yield* advanceUntil(committedAt(0, 9))
      yield* Fiber.interrupt(fiber)
      const written = files.paths().filter((path) => path.includes("T12"))
      assert.strictEqual(written.length, 1)
      assert.deepStrictEqual(files.rows(written[0]!).slice(1).map((row) => Number(row[2])), [6, 7, 8])
    }))

  test("a DLQ row on disk before its record's backup row (a crash between the two flushes): the backup row is written, in order, and the record not processed again", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-22T10:15:00Z"))
      const files = yield* MemoryFileSystem
      yield* produce(0, [...numbered(3), "bad-3", ...numbered(6, "w")])
      const records = (yield* (yield* MemoryKafka).records(TOPIC)).filter((r) => r.partition === 0)
      const dlq = new RowBuffer()
      dlq.utf8(encodeRow(dlqHeader))
      writeDlqRow(dlq, records[3]!, { errorType: "NonRetryable", message: "bad value", detail: "", attempts: 1 }, 0)
      files.files.set(`/dlq/${archiveFileName("dlq", Date.parse("2026-11-22T10:05:00Z"), 0)}`, dlq.contents.slice())
      const seen: Array<number> = []
      const fiber = yield* start(failingBad(seen), { backupBatchSize: 3 })
      yield* advanceUntil(committedAt(0, 10))
      yield* Fiber.interrupt(fiber)
      const backupFiles = files.paths().filter((path) => path.startsWith("/backup/"))
      assert.deepStrictEqual(
        backupFiles.flatMap((path) => files.rows(path).slice(1).map((row) => Number(row[2]))),
        range(0, 10),
        "every backup row once, in offset order"
      )
      assert.deepStrictEqual(offsetsOf(yield* archiveRows("/dlq")), [3])
      assert.deepStrictEqual(seen.sort((a, b) => a - b), [0, 1, 2, 4, 5, 6, 7, 8, 9])
    }))
})

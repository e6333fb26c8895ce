/**
 * The whole pipeline over the in-memory Kafka and an in-memory file system,
 * with virtual time: seed 001's integration scenarios (polling, commit flow,
 * DLQ flow) plus rebalances, commit failures, fatal archive errors, crashes
 * and the shutdown sequence.
 */
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { decodeBytes } from "../../src/domain/Csv.js"
import type { BytesEncoding } from "../../src/domain/Csv.js"
import { NonRetryable } from "../../src/domain/Failure.js"
import type { PipelineConfigInput } from "../../src/domain/PipelineConfig.js"
import type { Processor } from "../../src/domain/Processor.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import { PipelineSettings } from "../../src/layers/config/PipelineSettings.js"
import * as Pipeline from "../../src/streams/Pipeline.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { advanceUntil, archiveRows, committedAt, GROUP, produce, type Row, settings, test, TOPIC } from "../support/memoryPipeline.js"

const ok: Processor = () => Effect.void

/** Runs the pipeline in the background with the given settings. */
const start = (processor: Processor, overrides: Partial<PipelineConfigInput> = {}, options?: Pipeline.RunOptions) =>
  Effect.gen(function*() {
    const config = yield* settings(overrides)
    return yield* Pipeline.run(processor, options).pipe(Effect.provide(PipelineSettings.layer(config)), Effect.forkChild)
  })

/** Run options whose `onStopped` keeps every summary it is given. */
const recordingSummaries = Effect.gen(function*() {
  const summaries = yield* Ref.make<ReadonlyArray<Pipeline.PipelineSummary>>([])
  const options: Pipeline.RunOptions = { onStopped: (summary) => Ref.update(summaries, (all) => [...all, summary]) }
  return { options, summaries: Ref.get(summaries) }
})

const numbered = (count: number, prefix = "v") => Array.from({ length: count }, (_, i) => `${prefix}${i}`)

const payload = (row: Row) => decodeBytes(row.value!, row.value_encoding as BytesEncoding)

describe("Pipeline — polling (seed integration §1)", () => {
  test("Polling - Normal Message Flow: 100 records are processed, archived and committed", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      yield* produce(0, numbered(100))
      const fiber = yield* start((input) => Effect.sync(() => seen.push(input.text!)))
      yield* advanceUntil(committedAt(0, 100))
      yield* Fiber.interrupt(fiber)

      assert.deepStrictEqual([...seen].sort(), numbered(100).sort())
      const backup = yield* archiveRows("/backup")
      assert.deepStrictEqual(backup.map((row) => Number(row.offset)), Array.from({ length: 100 }, (_, i) => i))
      assert.deepStrictEqual(backup.map((row) => row.value), numbered(100))
      assert.deepStrictEqual(yield* archiveRows("/dlq"), [])
    }))

  test("Polling - Backpressure: a full queue stops fetching without losing the membership", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const release = yield* Deferred.make<void>()
      const started = yield* Ref.make(0)
      yield* produce(0, numbered(50))
      const fiber = yield* start(
        () => Effect.andThen(Ref.update(started, (n) => n + 1), Deferred.await(release)),
        { queueSize: 10, concurrency: 1 }
      )
      yield* TestClock.adjust(5_000)
      // One record in the processor, ten queued, the poller suspended on the eleventh: the
      // batch has not been returned to Kafka, and nothing more was fetched.
      assert.strictEqual(yield* Ref.get(started), 1)
      assert.strictEqual(yield* kafka.fetched(GROUP), 0)
      assert.deepStrictEqual(yield* kafka.assignment(GROUP), [{ topic: TOPIC, partition: 0 }])

      yield* Deferred.succeed(release, undefined)
      yield* advanceUntil(committedAt(0, 50))
      assert.strictEqual(yield* Ref.get(started), 50)
      yield* Fiber.interrupt(fiber)
    }))

  test("Polling - Backup Queue Full (adapted: the archive applies backpressure instead of dropping rows)", () =>
    Effect.gen(function*() {
      yield* produce(0, numbered(500))
      const fiber = yield* start(ok, { backupBatchSize: 1, queueSize: 10 })
      yield* advanceUntil(committedAt(0, 500))
      yield* Fiber.interrupt(fiber)
      const backup = yield* archiveRows("/backup")
      assert.strictEqual(backup.length, 500)
      assert.strictEqual(new Set(backup.map((row) => row.offset)).size, 500)
    }))

  test("Polling - Stop at Offset Trigger: offsets 0–100 handled, 101 committed, the run returns", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const seen: Array<number> = []
      const { options, summaries } = yield* recordingSummaries
      yield* produce(0, numbered(200))
      const fiber = yield* start((input) => Effect.sync(() => seen.push(input.offset)), {
        stopAtOffsets: [{ topic: TOPIC, partition: 0, offset: 100 }]
      }, options)
      yield* advanceUntil(Effect.map(Fiber.await(fiber).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"))
      const summary = yield* Fiber.join(fiber)
      assert.strictEqual(summary.reason, "stopAtOffsets")
      assert.deepStrictEqual(yield* summaries, [summary])
      assert.deepStrictEqual([...seen].sort((a, b) => a - b), Array.from({ length: 101 }, (_, i) => i))
      assert.strictEqual((yield* kafka.committed(GROUP)).get(`${TOPIC}:0`), 101)
      assert.deepStrictEqual(summary.committed, [{ topic: TOPIC, partition: 0, offset: 101 }])
      assert.strictEqual((yield* archiveRows("/backup")).length, 101)
      assert.isTrue(logs.has("Info", "stopped"))
    }))

  test("stop-at in a group: a target partition another member owns counts once the group's commit passes it", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic(TOPIC, 2)
      const seen: Array<string> = []
      yield* produce(0, numbered(10))
      const fiber = yield* start((input) => Effect.sync(() => seen.push(`${input.partition}:${input.offset}`)), {
        stopAtOffsets: [{ topic: TOPIC, partition: 0, offset: 4 }, { topic: TOPIC, partition: 1, offset: 4 }]
      })
      yield* advanceUntil(committedAt(0, 5))
      // Partition 1 goes to another member, which handles its records and commits them.
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }])
      yield* produce(1, numbered(10))
      yield* TestClock.adjust(5_000)
      assert.isUndefined(fiber.pollUnsafe(), "partition 1's target is not reached yet")
      // A failed read of the group's offsets is logged and tried again on the next tick.
      yield* kafka.failNextAdmin(1, "coordinator not available")
      yield* TestClock.adjust(1_000)
      assert.isTrue(logs.has("Warn", "could not read the group's committed offsets"))
      yield* kafka.commitElsewhere(GROUP, [{ topic: TOPIC, partition: 1, offset: 8 }])
      yield* advanceUntil(Effect.map(Fiber.await(fiber).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"))
      assert.strictEqual((yield* Fiber.join(fiber)).reason, "stopAtOffsets")
      assert.deepStrictEqual(seen, ["0:0", "0:1", "0:2", "0:3", "0:4"])
      const committed = yield* kafka.committed(GROUP)
      assert.strictEqual(committed.get(`${TOPIC}:0`), 5)
      assert.strictEqual(committed.get(`${TOPIC}:1`), 8)
      const ours = (yield* kafka.commits(GROUP)).flatMap((call) => call.offsets)
      assert.isFalse(ours.some((offset) => offset.partition === 1), "this member never commits partition 1")
    }))

  test("Polling - Kafka Poll Error: logged, retried after a pause, nothing lost", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* kafka.failNextFetches(3, "broker not available")
      yield* produce(0, numbered(20))
      const fiber = yield* start(ok)
      yield* advanceUntil(committedAt(0, 20))
      yield* Fiber.interrupt(fiber)
      assert.isTrue(logs.lines.some((line) => line.includes("broker not available")))
      assert.strictEqual((yield* archiveRows("/backup")).length, 20)
    }))

  test("Polling - UTF-8 Decode Error: the record goes to the DLQ byte-exact and polling continues", () =>
    Effect.gen(function*() {
      const invalid = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])
      yield* produce(0, ["before", invalid, "after"])
      const seen: Array<string> = []
      const fiber = yield* start((input) => Effect.sync(() => seen.push(input.text!)))
      yield* advanceUntil(committedAt(0, 3))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(seen.sort(), ["after", "before"])
      const dlq = yield* archiveRows("/dlq")
      assert.strictEqual(dlq.length, 1)
      assert.strictEqual(dlq[0]!.error_type, "InvalidUtf8")
      assert.strictEqual(dlq[0]!.offset, "1")
      assert.deepStrictEqual(payload(dlq[0]!), invalid)
    }))
})

describe("Pipeline — commit flow (seed integration §2)", () => {
  test("Commit Flow - End to End: the committed offset is the last offset + 1, commits only when something changed", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* produce(0, numbered(100))
      const fiber = yield* start(ok)
      yield* advanceUntil(committedAt(0, 100))
      const commitsAfterDone = (yield* kafka.commits(GROUP)).length
      yield* TestClock.adjust(10_000)
      // Nothing changed: ten more commit ticks commit nothing.
      assert.strictEqual((yield* kafka.commits(GROUP)).length, commitsAfterDone)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual((yield* kafka.committed(GROUP)).get(`${TOPIC}:0`), 100)
    }))

  test("Commit Flow - With Failures: 50 succeed, 50 go to the DLQ, all 100 committed", () =>
    Effect.gen(function*() {
      yield* produce(0, numbered(100))
      const fiber = yield* start((input) => input.offset % 2 === 1 ? Effect.fail(new NonRetryable({ cause: new Error(`odd ${input.offset}`) })) : Effect.void)
      yield* advanceUntil(committedAt(0, 100))
      yield* Fiber.interrupt(fiber)
      const dlq = yield* archiveRows("/dlq")
      assert.strictEqual(dlq.length, 50)
      assert.isTrue(dlq.every((row) => Number(row.offset) % 2 === 1 && row.error_message === `odd ${row.offset}`))
    }))

  test("Commit Flow - Dev Mode: nothing is committed, a log line says so, the ledger still advances", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* produce(0, numbered(100))
      const processed = yield* Ref.make(0)
      const fiber = yield* start(() => Ref.update(processed, (n) => n + 1), { devMode: true })
      yield* advanceUntil(Effect.map(Ref.get(processed), (n) => n === 100))
      yield* TestClock.adjust(5_000)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* kafka.commits(GROUP), [])
      assert.isTrue(logs.has("Info", `devMode: skipped commit of ${TOPIC}:0=100`))
    }))

  test("Commit Thread - Commit Failure: logged, retried on the next tick, the pipeline carries on", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* kafka.failNextCommits(2)
      yield* produce(0, numbered(10))
      const fiber = yield* start(ok)
      yield* advanceUntil(committedAt(0, 10))
      yield* Fiber.interrupt(fiber)
      assert.isTrue(logs.has("Error", "commit failed, will retry"))
      const commits = yield* kafka.commits(GROUP)
      assert.isTrue(commits.filter((c) => c.rejected !== undefined).length >= 2)
    }))

  test("Commit Thread - Multi-Partition: each partition committed separately", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      yield* client.createTopic(TOPIC, 3)
      yield* produce(0, numbered(10))
      yield* produce(1, numbered(20))
      yield* produce(2, numbered(30))
      const fiber = yield* start(ok)
      yield* advanceUntil(Effect.map(Effect.all([committedAt(0, 10), committedAt(1, 20), committedAt(2, 30)]), (all) => all.every(Boolean)))
      yield* Fiber.interrupt(fiber)
      const committed = yield* (yield* MemoryKafka).committed(GROUP)
      assert.deepStrictEqual([committed.get(`${TOPIC}:0`), committed.get(`${TOPIC}:1`), committed.get(`${TOPIC}:2`)], [10, 20, 30])
    }))

  test("a slow record holds its partition's commit back; out-of-order completions wait for the gap", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const release = yield* Deferred.make<void>()
      yield* produce(0, numbered(10))
      const fiber = yield* start((input) => input.offset === 3 ? Deferred.await(release) : Effect.void, { concurrency: 4 })
      yield* TestClock.adjust(5_000)
      assert.strictEqual((yield* kafka.committed(GROUP)).get(`${TOPIC}:0`), 3)
      yield* Deferred.succeed(release, undefined)
      yield* advanceUntil(committedAt(0, 10))
      yield* Fiber.interrupt(fiber)
    }))

  test("offsets that skip (compaction, transaction markers) still commit past the gap", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* produce(0, numbered(3))
      yield* kafka.skipOffsets(TOPIC, 0, 2)
      yield* produce(0, numbered(3, "w"))
      const fiber = yield* start(ok)
      yield* advanceUntil(committedAt(0, 8))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual((yield* archiveRows("/backup")).map((row) => Number(row.offset)), [0, 1, 2, 5, 6, 7])
    }))
})

describe("Pipeline — DLQ flow (seed integration §4)", () => {
  class ValueError extends Error {}
  class KeyError extends Error {}
  class CustomError extends Error {}

  test("DLQ Flow - Multiple Error Types: each row names its error type and carries the stack", () =>
    Effect.gen(function*() {
      yield* produce(0, ["value", "key", "timeout", "custom", "fine"])
      const processor: Processor = (input) => {
        switch (input.text) {
          case "value":
            throw new ValueError("bad value")
          case "key":
            return Promise.reject(new KeyError("missing key"))
          case "timeout":
            return Effect.never
          case "custom":
            return Effect.fail(new NonRetryable({ cause: new CustomError("custom failure") }))
          default:
            return undefined
        }
      }
      // Without the circuit breaker: the record that times out fails alone, with no call succeeding
      // after it first failed, which the breaker would take for a downstream that is down (it would
      // hold the record instead of dead-lettering it; see the CircuitBreaker tests).
      const fiber = yield* start(processor, { processingTimeoutMs: 5_000, maxRetries: 1, circuitBreaker: false })
      yield* advanceUntil(committedAt(0, 5))
      yield* Fiber.interrupt(fiber)
      const dlq = yield* archiveRows("/dlq")
      const byValue = new Map(dlq.map((row) => [row.value, row]))
      assert.strictEqual(dlq.length, 4)
      assert.strictEqual(byValue.get("value")!.error_type, "ValueError")
      assert.strictEqual(byValue.get("value")!.attempts, "2")
      assert.include(byValue.get("value")!.error_detail, "bad value")
      assert.strictEqual(byValue.get("key")!.error_type, "KeyError")
      assert.strictEqual(byValue.get("timeout")!.error_type, "ProcessingTimeout")
      assert.strictEqual(byValue.get("custom")!.error_type, "CustomError")
      assert.strictEqual(byValue.get("custom")!.attempts, "1")
    }))

  test("DLQ Flow - End to End: a null value and an oversized value are dead-lettered with clear types", () =>
    Effect.gen(function*() {
      yield* produce(0, [null, "x".repeat(2_000), "small"])
      const fiber = yield* start(ok, { maxMessageBytes: 1_000 })
      yield* advanceUntil(committedAt(0, 3))
      yield* Fiber.interrupt(fiber)
      const dlq = yield* archiveRows("/dlq")
      assert.deepStrictEqual(dlq.map((row) => [row.offset, row.error_type]), [["0", "NullValue"], ["1", "MessageTooLarge"]])
      assert.strictEqual(dlq[0]!.value_encoding, "null")
    }))

  test("a record is committed only once its DLQ row is written", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* produce(0, ["fails"])
      // DLQ flushes every 100 ms; the commit ticks every 1 s: a long flush interval holds the commit.
      const fiber = yield* start(() => Effect.fail(new NonRetryable({ cause: "no" })), {
        flushIntervalMs: 60_000,
        dlqBatchSize: 100,
        commitIntervalMs: 1_000
      })
      yield* TestClock.adjust(30_000)
      assert.isUndefined((yield* kafka.committed(GROUP)).get(`${TOPIC}:0`))
      yield* advanceUntil(committedAt(0, 1), 1_000)
      yield* Fiber.interrupt(fiber)
    }))
})

describe("Pipeline — rebalances, faults and shutdown", () => {
  test("Rebalance: a revoked partition is never committed by this member again", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic(TOPIC, 2)
      const release = yield* Deferred.make<void>()
      yield* produce(0, numbered(5))
      yield* produce(1, numbered(5))
      // Partition 1's records are held in the processor while the partition is revoked.
      const fiber = yield* start((input) => input.partition === 1 ? Deferred.await(release) : Effect.void)
      yield* advanceUntil(committedAt(0, 5))
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }])
      yield* TestClock.adjust(1_000)
      const before = (yield* kafka.commits(GROUP)).length
      yield* Deferred.succeed(release, undefined)
      yield* TestClock.adjust(10_000)
      yield* Fiber.interrupt(fiber)
      const later = (yield* kafka.commits(GROUP)).slice(before)
      assert.isFalse(later.some((call) => call.offsets.some((o) => o.partition === 1)))
      assert.isUndefined((yield* kafka.committed(GROUP)).get(`${TOPIC}:1`))
    }))

  test("Backup CSV - Write Failure Triggers Shutdown (pipeline): stops, fails, commits nothing past the last written row", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const files = yield* MemoryFileSystem
      yield* produce(0, numbered(10))
      const fiber = yield* start(ok, { backupBatchSize: 10 })
      yield* advanceUntil(committedAt(0, 10))
      files.failWrites = (path) => path.startsWith("/backup")
      yield* produce(0, numbered(10, "w"))
      yield* advanceUntil(Effect.map(Fiber.await(fiber).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"))
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual((yield* kafka.committed(GROUP)).get(`${TOPIC}:0`), 10)
      // Said once (when it stops the run, not again at its end): what failed, on which file, why, what to do.
      const errors = logs.lines.filter((line) => line.startsWith("Error:"))
      assert.strictEqual(errors.length, 1, errors.join("\n"))
      assert.match(errors[0]!, /^Error: fatal: backup archive: cannot write \/backup\/backup-[\dT-]+\.csv: no space left on device \(ENOSPC\)\. Free space on that disk/)
    }))

  test("an archive that fails during a stop (a signal) is logged once by the pipeline: it stops no run", (logs) =>
    Effect.gen(function*() {
      const files = yield* MemoryFileSystem
      const { options, summaries } = yield* recordingSummaries
      yield* produce(0, numbered(10))
      // A batch of 1000 and a flush every minute: the rows wait for the final flush of the stop.
      // The file is created (with its header) by the final flush; its rows cannot be written.
      files.failWrites = (path) => path.startsWith("/backup") && files.text(path).length > 0
      const fiber = yield* start(ok, { backupBatchSize: 1000, flushIntervalMs: 60_000 }, options)
      yield* advanceUntil(Effect.sync(() => logs.has("Info", "partitions assigned")))
      yield* TestClock.adjust(1_000)
      assert.deepStrictEqual(files.paths().filter((path) => path.startsWith("/backup")), [], "nothing written yet")
      yield* Fiber.interrupt(fiber)
      const errors = logs.lines.filter((line) => line.startsWith("Error:"))
      assert.deepStrictEqual(errors.map((line) => line.slice(0, 45)), ["Error: backup archive: cannot write /backup/b"])
      assert.include(errors[0]!, "(ENOSPC)")
      assert.strictEqual((yield* summaries)[0]?.reason, "interrupted")
    }))

  test("a consumer that keeps crashing past its restart budget fails the run instead of idling", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* kafka.crash("connection refused")
      const fiber = yield* start(ok, { restartBudgetMs: 5_000 })
      yield* advanceUntil(Effect.map(Fiber.await(fiber).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"), 1_000)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
    }))

  test("an interrupted run hands its summary to onStopped after the final commit", () =>
    Effect.gen(function*() {
      const { options, summaries } = yield* recordingSummaries
      yield* produce(0, numbered(5))
      const fiber = yield* start(() => Effect.fail(new NonRetryable({ cause: new Error("no") })), {}, options)
      yield* advanceUntil(committedAt(0, 5))
      assert.deepStrictEqual(yield* summaries, [])
      yield* Fiber.interrupt(fiber)
      const [summary, ...more] = yield* summaries
      assert.deepStrictEqual(more, [])
      assert.deepInclude(summary, { reason: "interrupted", consumed: 5, processed: 0, deadLettered: 5 })
      assert.deepStrictEqual(summary!.committed, [{ topic: TOPIC, partition: 0, offset: 5 }])
      assert.strictEqual(summary!.backupFiles.length, 1)
      assert.strictEqual(summary!.dlqFiles.length, 1)
    }))

  test("a failed run hands its summary to onStopped too, then fails", () =>
    Effect.gen(function*() {
      const { options, summaries } = yield* recordingSummaries
      const kafka = yield* MemoryKafka
      yield* kafka.crash("connection refused")
      const fiber = yield* start(ok, { restartBudgetMs: 5_000 }, options)
      yield* advanceUntil(Effect.map(Fiber.await(fiber).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"), 1_000)
      assert.isTrue(Exit.isFailure(yield* Fiber.await(fiber)))
      assert.deepStrictEqual((yield* summaries).map((summary) => summary.reason), ["failed"])
    }))

  test("Worker - Shutdown While Processing: interruption finishes in-flight work, flushes and commits it", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const files = yield* MemoryFileSystem
      const release = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      yield* produce(0, numbered(3))
      const fiber = yield* start((input) =>
        input.offset === 2 ? Effect.andThen(Deferred.succeed(entered, undefined), Deferred.await(release)) : Effect.void, {
        shutdownTimeoutMs: 2_000
      })
      yield* advanceUntil(Deferred.isDone(entered))
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* TestClock.adjust(2_500)
      // The shutdown timeout passed: a warning, and it keeps waiting.
      assert.isTrue(logs.has("Warn", "still waiting for"))
      assert.isUndefined(interrupting.pollUnsafe())
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(interrupting)
      assert.strictEqual((yield* kafka.committed(GROUP)).get(`${TOPIC}:0`), 3)
      assert.isTrue(files.closed.some((path) => path.startsWith("/backup/")))
      assert.isFalse(files.paths().some((path) => path.startsWith("/dlq/")), "nothing failed: no DLQ file")
    }))

  test("Worker - Queue Empty Handling (adapted: idle workers wait, then process what arrives)", () =>
    Effect.gen(function*() {
      const fiber = yield* start(ok)
      yield* TestClock.adjust(60_000)
      yield* produce(0, numbered(3))
      yield* advanceUntil(committedAt(0, 3))
      yield* Fiber.interrupt(fiber)
    }))

  test("a restart resumes after the committed offset: nothing handled is consumed twice", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const processor: Processor = (input) => Effect.sync(() => seen.push(input.offset))
      yield* produce(0, numbered(10))
      const first = yield* start(processor)
      yield* advanceUntil(committedAt(0, 10))
      yield* Fiber.interrupt(first)
      yield* produce(0, numbered(5, "w"))
      const second = yield* start(processor)
      yield* advanceUntil(committedAt(0, 15))
      yield* Fiber.interrupt(second)
      assert.deepStrictEqual([...seen].sort((a, b) => a - b), Array.from({ length: 15 }, (_, i) => i))
    }))

  test("without a backup directory, records are committed once processed and no backup file is written", () =>
    Effect.gen(function*() {
      const files = yield* MemoryFileSystem
      yield* produce(0, numbered(10))
      const fiber = yield* start(ok, { backupDir: undefined, stopAtOffsets: [{ topic: TOPIC, partition: 0, offset: 9 }] })
      yield* advanceUntil(Effect.map(Fiber.await(fiber).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"))
      const summary = yield* Fiber.join(fiber)
      assert.deepStrictEqual(summary.committed, [{ topic: TOPIC, partition: 0, offset: 10 }])
      assert.deepStrictEqual(summary.backupFiles, [])
      assert.isFalse(files.paths().some((path) => path.startsWith("/backup")))
    }))

  test("a restart after the stop-at offsets were committed stops at once without consuming", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make(0)
      const processor: Processor = () => Ref.update(seen, (n) => n + 1)
      const stopAt = { stopAtOffsets: [{ topic: TOPIC, partition: 0, offset: 4 }] }
      yield* produce(0, numbered(10))
      const first = yield* start(processor, stopAt)
      yield* advanceUntil(Effect.map(Fiber.await(first).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"))
      assert.strictEqual((yield* Fiber.join(first)).reason, "stopAtOffsets")
      const second = yield* start(processor, stopAt)
      yield* advanceUntil(Effect.map(Fiber.await(second).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"))
      const summary = yield* Fiber.join(second)
      assert.strictEqual(summary.reason, "stopAtOffsets")
      assert.strictEqual(summary.consumed, 0)
      assert.strictEqual(yield* Ref.get(seen), 5)
    }))

  test("with a DLQ topic, failures are also produced there with error headers; a failed send is logged", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* produce(0, ["bad-1", "bad-2"])
      yield* kafka.failNextSends(1, "dlq topic unavailable")
      const fiber = yield* start(() => Effect.fail(new NonRetryable({ cause: new Error("rejected") })), {
        dlqTopic: "orders.dlq",
        concurrency: 1
      })
      yield* advanceUntil(committedAt(0, 2))
      yield* Fiber.interrupt(fiber)
      const produced = yield* kafka.records("orders.dlq")
      assert.strictEqual(produced.length, 1)
      const header = (key: string) =>
        new TextDecoder().decode(produced[0]!.headers.find((h) => h.key === key)?.value ?? new Uint8Array())
      assert.strictEqual(header("dlq.error.type"), "Error")
      assert.strictEqual(header("dlq.error.message"), "rejected")
      assert.match(header("dlq.source"), /^orders:0:[01]$/)
      assert.isTrue(logs.has("Error", "could not produce to the DLQ topic"))
      // The CSV archive is the record of truth: both rows are there.
      assert.strictEqual((yield* archiveRows("/dlq")).length, 2)
    }))

  test("a commit rejected by a rebalance is a warning, and retried", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* kafka.failNextCommits(1, { rebalance: true })
      yield* produce(0, numbered(3))
      const fiber = yield* start(ok)
      yield* advanceUntil(committedAt(0, 3))
      yield* Fiber.interrupt(fiber)
      assert.isTrue(logs.has("Warn", "commit rejected during a rebalance"))
    }))

  test("a defect in the processor is logged as an error and dead-lettered; the worker carries on", (logs) =>
    Effect.gen(function*() {
      yield* produce(0, ["boom", "fine"])
      const seen: Array<string> = []
      const fiber = yield* start((input) =>
        input.text === "boom" ? Effect.die(new TypeError("undefined is not a function")) : Effect.sync(() => seen.push(input.text!))
      )
      yield* advanceUntil(committedAt(0, 2))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(seen, ["fine"])
      assert.isTrue(logs.has("Error", "sent to the DLQ: TypeError"))
      assert.strictEqual((yield* archiveRows("/dlq"))[0]!.error_type, "TypeError")
    }))

  test("a rebalance that keeps the partition does not process in-flight records twice", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const release = yield* Deferred.make<void>()
      const calls = new Map<number, number>()
      yield* produce(0, numbered(5))
      const fiber = yield* start((input) =>
        Effect.andThen(
          Effect.sync(() => calls.set(input.offset, (calls.get(input.offset) ?? 0) + 1)),
          input.offset >= 2 ? Deferred.await(release) : Effect.void
        ), { concurrency: 8 })
      yield* advanceUntil(committedAt(0, 2))
      // Offsets 2–4 are in flight; the member rejoins with the same partition and
      // refetches from the committed offset 2.
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }])
      yield* TestClock.adjust(1_000)
      yield* Deferred.succeed(release, undefined)
      yield* advanceUntil(committedAt(0, 5))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(Array.from(calls.values()), [1, 1, 1, 1, 1])
    }))

  test("a rebalance while a record waits for room in the full queue: the refetch queues it again (no offset stuck)", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const release = yield* Deferred.make<void>()
      const calls = new Map<number, number>()
      yield* produce(0, numbered(30))
      const fiber = yield* start((input) =>
        Effect.andThen(
          Effect.sync(() => calls.set(input.offset, (calls.get(input.offset) ?? 0) + 1)),
          Deferred.await(release)
        ), { queueSize: 10, concurrency: 1 })
      // Offset 0 with the worker, 1–10 queued, 11–29 tracked and waiting for room.
      yield* advanceUntil(Effect.sync(() => calls.size === 1))
      yield* TestClock.adjust(1_000)
      // The rejoin abandons the batch (interrupting the hand-over of 11–29) and refetches from 0.
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }])
      yield* TestClock.adjust(1_000)
      yield* Deferred.succeed(release, undefined)
      yield* advanceUntil(committedAt(0, 30))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual([...calls.keys()].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i))
      assert.isTrue([...calls.values()].every((n) => n === 1), "each record processed once")
      const offsets = new Set((yield* archiveRows("/backup")).map((row) => Number(row.offset)))
      assert.strictEqual(offsets.size, 30)
    }))

  test("with a slow processor, the records in progress stay close together (the commit follows)", () =>
    Effect.gen(function*() {
      const processed = new Set<number>()
      // Gaps in what is processed: the offsets above the lowest unprocessed one. With workers
      // taking long runs of records (250 each here) they would grow to hundreds; the commit waits on them.
      const maxGap = () => {
        let low = 0
        while (processed.has(low)) low++
        return [...processed].filter((offset) => offset > low).length
      }
      yield* produce(0, numbered(400))
      const fiber = yield* start(
        (input) => Effect.andThen(Effect.sleep("20 millis"), Effect.sync(() => processed.add(input.offset))),
        { concurrency: 4, queueSize: 1_000, backupDir: undefined }
      )
      let worst = 0
      for (let step = 0; step < 40; step++) {
        yield* TestClock.adjust(50)
        worst = Math.max(worst, maxGap())
      }
      assert.isAtLeast(processed.size, 300, "the records were processed at the workers' pace")
      // Each free worker takes the oldest ready record: the other three workers are at most three
      // records ahead of the lowest one.
      assert.isAtMost(worst, 3)
      yield* advanceUntil(committedAt(0, 400))
      yield* Fiber.interrupt(fiber)
    }))

  /** How many of a trickle's batch (5 records) were in the processor at once, with 4 workers and a processor taking `ms` a record. */
  const inProcessorAtOnce = (ms: number) =>
    Effect.gen(function*() {
      let inProcessor = 0
      let most = 0
      yield* produce(0, numbered(10))
      const fiber = yield* start(
        (input) =>
          Effect.gen(function*() {
            inProcessor++
            if (input.offset >= 10) most = Math.max(most, inProcessor)
            yield* Effect.sleep(ms)
            inProcessor--
          }),
        { concurrency: 4 }
      )
      yield* advanceUntil(committedAt(0, 10))
      yield* produce(0, numbered(5))
      yield* advanceUntil(committedAt(0, 15))
      yield* Fiber.interrupt(fiber)
      return most
    })

  test("a slow processor's trickle is spread over the workers, a record each (no added latency)", () =>
    Effect.gen(function*() {
      // 5 ms a record: each free worker takes the next record at once.
      assert.strictEqual(yield* inProcessorAtOnce(5), 4)
    }))

  test("shutdown in the middle of a batch: the record under way finishes, the rest of the batch is left uncommitted", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const release = yield* Deferred.make<void>()
      const seen: Array<number> = []
      yield* produce(0, numbered(10))
      const fiber = yield* start((input) =>
        Effect.andThen(Effect.sync(() => seen.push(input.offset)), input.offset === 12 ? Deferred.await(release) : Effect.void), {
        concurrency: 1,
        queueSize: 100
      })
      // One worker: the next batch's records go through it one by one.
      yield* advanceUntil(committedAt(0, 10))
      yield* produce(0, numbered(20))
      yield* advanceUntil(Effect.sync(() => seen.length === 13))
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* TestClock.adjust(100)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(interrupting)
      assert.deepStrictEqual(seen, Array.from({ length: 13 }, (_, i) => i))
      assert.strictEqual((yield* kafka.committed(GROUP)).get(`${TOPIC}:0`), 13)
    }))

  test("shutdown waits for started records only: queued ones are left uncommitted for the next run", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const release = yield* Deferred.make<void>()
      const seen: Array<number> = []
      yield* produce(0, numbered(20))
      const fiber = yield* start((input) =>
        Effect.andThen(Effect.sync(() => seen.push(input.offset)), input.offset === 0 ? Deferred.await(release) : Effect.void), {
        concurrency: 1
      })
      yield* advanceUntil(Effect.sync(() => seen.length === 1))
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* TestClock.adjust(100)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(interrupting)
      assert.deepStrictEqual(seen, [0])
      assert.strictEqual((yield* kafka.committed(GROUP)).get(`${TOPIC}:0`), 1)
    }))
})

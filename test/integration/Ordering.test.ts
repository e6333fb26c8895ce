/**
 * Ordering over the in-memory Kafka with virtual time: per-key (and
 * per-partition) order for any processing times, no head-of-line blocking
 * across keys, retries and the DLQ holding and releasing a key, rebalances
 * dropping key state.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Layer, Path } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import type { Ordering } from "../../src/domain/KeyScheduler.js"
import { NonRetryable } from "../../src/domain/Failure.js"
import type { PipelineConfigInput } from "../../src/domain/PipelineConfig.js"
import type { Processor } from "../../src/domain/Processor.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import { PipelineSettings } from "../../src/layers/config/PipelineSettings.js"
import * as Pipeline from "../../src/streams/Pipeline.js"
import { captureLogs } from "../support/logs.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { advanceUntil, archiveRows, committedAt, GROUP, settings, test, TOPIC } from "../support/memoryPipeline.js"

interface Interval {
  readonly partition: number
  readonly offset: number
  readonly key: string | null
  readonly start: number
  readonly end: number
}

const keyOf = (record: KafkaRecord) => record.key === null ? null : new TextDecoder().decode(record.key)

/** A processor that takes `msOf(record)` of virtual time and records when each call ran. */
const timed = (msOf: (record: KafkaRecord) => number) => {
  const intervals: Array<Interval> = []
  const processor: Processor = (input) =>
    Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      yield* Effect.sleep(msOf(input))
      const end = yield* Clock.currentTimeMillis
      intervals.push({ partition: input.partition, offset: input.offset, key: keyOf(input), start, end })
    })
  return { intervals, processor }
}

const start = (processor: Processor, overrides: Partial<PipelineConfigInput>) =>
  Effect.gen(function*() {
    const config = yield* settings(overrides)
    return yield* Pipeline.run(processor).pipe(Effect.provide(PipelineSettings.layer(config)), Effect.forkChild)
  })

const produceKeyed = (partition: number, keys: ReadonlyArray<string | null>) =>
  Effect.gen(function*() {
    const kafka = yield* MemoryKafka
    return yield* kafka.produce(TOPIC, partition, keys.map((key, i) => ({ key, value: `${key}-${i}` })))
  })

/** Which intervals must not overlap: one lane per key of a partition (key), or per partition. */
const laneOf = (ordering: Ordering, interval: Interval) =>
  ordering === "partition"
    ? `${interval.partition}`
    : ordering === "key" && interval.key !== null
    ? `${interval.partition}/${interval.key}`
    : undefined

/** Each lane's intervals run one at a time, in offset order. */
const assertOrdered = (ordering: Ordering, intervals: ReadonlyArray<Interval>) => {
  const lanes = new Map<string, Array<Interval>>()
  for (const interval of intervals) {
    const lane = laneOf(ordering, interval)
    if (lane !== undefined) lanes.set(lane, [...(lanes.get(lane) ?? []), interval])
  }
  for (const [lane, list] of lanes) {
    const byStart = [...list].sort((a, b) => a.start - b.start || a.offset - b.offset)
    for (let i = 1; i < byStart.length; i++) {
      const [before, after] = [byStart[i - 1]!, byStart[i]!]
      assert.isAtLeast(after.start, before.end, `lane ${lane}: ${after.offset} started before ${before.offset} ended`)
      assert.isAbove(after.offset, before.offset, `lane ${lane}: ${after.offset} ran after ${before.offset}`)
    }
  }
}

/** Whether two intervals of different keys ran at the same time. */
const differentKeysOverlap = (intervals: ReadonlyArray<Interval>) =>
  intervals.some((a) =>
    intervals.some((b) => a.key !== b.key && a.key !== null && b.key !== null && a.start < b.end && b.start < a.end)
  )

const scenario = fc.record({
  ordering: fc.constantFrom<Ordering>("key", "partition"),
  concurrency: fc.integer({ min: 1, max: 8 }),
  records: fc.array(
    fc.record({
      partition: fc.integer({ min: 0, max: 1 }),
      key: fc.option(fc.constantFrom("a", "b", "c", "d"), { freq: 5 }),
      ms: fc.integer({ min: 1, max: 40 })
    }),
    { minLength: 1, maxLength: 60 }
  )
})

describe("Ordering", () => {
  it.effect("for any processing times, a key's records (a partition's, with partition) never overlap and run in offset order (property)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(scenario, async ({ concurrency, ordering, records }) => {
          const ms = new Map<string, number>()
          const { intervals, processor } = timed((record) => ms.get(`${record.partition}@${record.offset}`)!)
          await Effect.runPromise(
            Effect.gen(function*() {
              yield* (yield* KafkaClient).createTopic(TOPIC, 2)
              const next = [0, 0]
              for (const { key, ms: took, partition } of records) {
                ms.set(`${partition}@${next[partition]!++}`, took)
                yield* produceKeyed(partition, [key])
              }
              const fiber = yield* start(processor, { ordering, concurrency, queueSize: 10 })
              yield* advanceUntil(Effect.map(Effect.all([committedAt(0, next[0]!), committedAt(1, next[1]!)]), ([a, b]) =>
                (next[0] === 0 || a) && (next[1] === 0 || b)), 10)
              yield* Fiber.interrupt(fiber)
            }).pipe(
              Effect.provide(Layer.mergeAll(MemoryKafka.layer, MemoryFileSystem.layer, Path.layer, captureLogs().layer)),
              Effect.provide(TestClock.layer())
            ) as Effect.Effect<void, unknown>
          )
          assert.strictEqual(intervals.length, records.length)
          assertOrdered(ordering, intervals)
        }),
        { numRuns: 40 }
      )
    ))

  test("key: different keys run in parallel when the processor is slow; one key's records never do", () =>
    Effect.gen(function*() {
      const { intervals, processor } = timed(() => 100)
      yield* produceKeyed(0, ["a", "b", "a", "b", "c", "a", "c", null, null])
      const fiber = yield* start(processor, { concurrency: 8 })
      yield* advanceUntil(committedAt(0, 9))
      yield* Fiber.interrupt(fiber)
      assertOrdered("key", intervals)
      assert.isTrue(differentKeysOverlap(intervals))
      // a, b, c and the two null keys start at once; a's three records take three rounds
      assert.strictEqual(Math.max(...intervals.map((i) => i.end)) - Math.min(...intervals.map((i) => i.start)), 300)
    }))

  test("partition: one record per partition at a time, partitions in parallel", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic(TOPIC, 2)
      const { intervals, processor } = timed(() => 100)
      yield* produceKeyed(0, ["a", "b", "c"])
      yield* produceKeyed(1, ["a", "b", "c"])
      const fiber = yield* start(processor, { concurrency: 8, ordering: "partition" })
      yield* advanceUntil(Effect.map(Effect.all([committedAt(0, 3), committedAt(1, 3)]), ([a, b]) => a && b))
      yield* Fiber.interrupt(fiber)
      assertOrdered("partition", intervals)
      assert.isTrue(intervals.some((a) => intervals.some((b) => a.partition !== b.partition && a.start < b.end && b.start < a.end)))
    }))

  test("unordered: a key's records run at once", () =>
    Effect.gen(function*() {
      const { intervals, processor } = timed(() => 100)
      yield* produceKeyed(0, ["a", "a", "a"])
      const fiber = yield* start(processor, { concurrency: 8, ordering: "unordered" })
      yield* advanceUntil(committedAt(0, 3))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(intervals.map((i) => i.start), [intervals[0]!.start, intervals[0]!.start, intervals[0]!.start])
    }))

  test("no head-of-line blocking: a slow key holds back its own records only; the others use every free worker", () =>
    Effect.gen(function*() {
      const { intervals, processor } = timed((record) => keyOf(record) === "slow" ? 10_000 : 10)
      const keys = ["slow", "slow", ...Array.from({ length: 40 }, (_, i) => `k${i % 10}`)]
      yield* produceKeyed(0, keys)
      const fiber = yield* start(processor, { concurrency: 4 })
      yield* advanceUntil(committedAt(0, keys.length))
      yield* Fiber.interrupt(fiber)
      assertOrdered("key", intervals)
      const slowFirst = intervals.find((i) => i.offset === 0)!
      const others = intervals.filter((i) => i.key !== "slow")
      // 40 records of 10 ms on the three other workers: done long before the slow key's first record
      assert.isTrue(others.every((i) => i.end <= slowFirst.start + 200))
      // the slow key's second record waited for its first
      assert.strictEqual(intervals.find((i) => i.offset === 1)!.start, slowFirst.end)
    }))

  test("a record being retried holds its key's later records; other keys go on", (logs) =>
    Effect.gen(function*() {
      const attempts = new Map<number, number>()
      const started: Array<string> = []
      const processor: Processor = (input) =>
        Effect.gen(function*() {
          const n = (attempts.get(input.offset) ?? 0) + 1
          attempts.set(input.offset, n)
          started.push(`${keyOf(input)}@${input.offset}#${n}`)
          if (input.offset === 0 && n <= 2) return yield* Effect.fail(new Error("downstream busy"))
        })
      yield* produceKeyed(0, ["a", "a", "b"])
      const fiber = yield* start(processor, { concurrency: 4, maxRetries: 3, retryBaseDelayMs: 1_000, retryMaxDelayMs: 1_000 })
      yield* TestClock.adjust(100)
      // a@0 failed once and waits for its retry; b@2 is done; a@1 has not started
      assert.deepStrictEqual(started, ["a@0#1", "b@2#1"])
      yield* advanceUntil(committedAt(0, 3))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(started, ["a@0#1", "b@2#1", "a@0#2", "a@0#3", "a@1#1"])
      assert.deepStrictEqual(yield* archiveRows("/dlq"), [])
      assert.isFalse(logs.has("Warn", "sent to the DLQ"))
    }))

  test("a record that goes to the DLQ releases its key", () =>
    Effect.gen(function*() {
      const started: Array<number> = []
      const processor: Processor = (input) =>
        Effect.gen(function*() {
          started.push(input.offset)
          if (input.offset === 0) return yield* Effect.fail(new NonRetryable({ cause: new Error("bad record") }))
          yield* Effect.sleep(10)
        })
      yield* produceKeyed(0, ["a", "a", "a"])
      const fiber = yield* start(processor, { concurrency: 4 })
      yield* advanceUntil(committedAt(0, 3))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(started, [0, 1, 2])
      assert.deepStrictEqual((yield* archiveRows("/dlq")).map((row) => row.offset), ["0"])
    }))

  test("a rebalance drops the key state of the partitions lost; refetched, their records run again in key order", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* (yield* KafkaClient).createTopic(TOPIC, 2)
      const release = yield* Deferred.make<void>()
      const started: Array<string> = []
      const processor: Processor = (input) =>
        Effect.andThen(
          Effect.sync(() => started.push(`${input.partition}@${input.offset}`)),
          input.partition === 1 && input.offset === 0 ? Deferred.await(release) : Effect.void
        )
      yield* produceKeyed(1, ["a", "a", "a"])
      const fiber = yield* start(processor, { concurrency: 4 })
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(started, ["1@0"])
      // Partition 1 moves away while 1@0 is in a worker and 1@1, 1@2 wait behind it.
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }])
      yield* TestClock.adjust(100)
      // ... and comes back: fetched again from its committed offset (none: 0). The new 1@0 is
      // not held by the old one (whose key state went with the partition), and holds 1@1 and 1@2.
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }])
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(started, ["1@0", "1@0"])
      yield* Deferred.succeed(release, undefined)
      yield* advanceUntil(committedAt(1, 3))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(started, ["1@0", "1@0", "1@1", "1@2"])
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import type { KafkaError } from "../../src/domain/Errors.js"
import type { KafkaRecord, TopicPartition } from "../../src/domain/KafkaRecord.js"
import type { ConsumerHandlers, ConsumerOptions } from "../../src/layers/kafka/KafkaClient.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"

const decoder = new TextDecoder()
const encoder = new TextEncoder()
const text = (bytes: Uint8Array | null) => bytes === null ? null : decoder.decode(bytes)

const options = (overrides: Partial<ConsumerOptions> = {}): ConsumerOptions => ({
  groupId: "group",
  topics: ["orders"],
  fromBeginning: true,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxBytesPerPartition: 1_048_576,
  restartBudgetMs: 10_000,
  ...overrides
})

const tpo = (topic: string, partition: number, offset: number) => ({ topic, partition, offset })

const values = (count: number, prefix = "v") => Array.from({ length: count }, (_, i) => ({ value: `${prefix}${i}` }))

/** Handlers that record every batch and assignment. */
const recording = (onBatch: (records: ReadonlyArray<KafkaRecord>) => Effect.Effect<void> = () => Effect.void) => {
  const batches: Array<ReadonlyArray<KafkaRecord>> = []
  const assignments: Array<ReadonlyArray<TopicPartition>> = []
  const handlers: ConsumerHandlers = {
    onBatch: (records) => Effect.andThen(Effect.sync(() => batches.push(records)), onBatch(records)),
    onAssignment: (assignment) => Effect.sync(() => assignments.push(assignment))
  }
  const records = () => batches.flat()
  return { batches, assignments, handlers, records }
}

/** Collects log messages (level and text) instead of printing them. */
const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([
    Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel}: ${(Array.isArray(message) ? message : [message]).join(" ")}`)
    })
  ])
  return { lines, layer }
}

const withKafka = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(MemoryKafka.layer, captureLogs().layer)))

describe("MemoryKafka", () => {
  it.effect("hands batches of one partition, in offset order, and announces the assignment first", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic("orders", 2)
      yield* kafka.produce("orders", 0, values(3, "a"))
      yield* kafka.produce("orders", 1, values(2, "b"))
      yield* kafka.produce("orders", 0, values(2, "c"))

      const consumer = yield* client.consumer(options())
      const seen = recording()
      yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* kafka.awaitFetched("group", 7)

      assert.deepStrictEqual(seen.assignments, [[{ topic: "orders", partition: 0 }, { topic: "orders", partition: 1 }]])
      for (const batch of seen.batches) assert.strictEqual(new Set(batch.map((r) => r.partition)).size, 1)
      const partition = (p: number) => seen.records().filter((r) => r.partition === p)
      assert.deepStrictEqual(partition(0).map((r) => r.offset), [0, 1, 2, 3, 4])
      assert.deepStrictEqual(partition(0).map((r) => text(r.value)), ["a0", "a1", "a2", "c0", "c1"])
      assert.deepStrictEqual(partition(1).map((r) => text(r.value)), ["b0", "b1"])

      // Records produced later wake the consumer; no polling on the clock.
      yield* kafka.produce("orders", 1, values(1, "d"))
      yield* kafka.awaitFetched("group", 8)
      assert.deepStrictEqual(text(seen.records().at(-1)!.value), "d0")
    })))

  it.effect("caps batches at 500 records and maxBytesPerPartition", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* kafka.produce("orders", 0, values(1_200))
      const seen = recording()
      yield* Effect.forkChild((yield* client.consumer(options())).run(seen.handlers))
      yield* kafka.awaitFetched("group", 1_200)
      assert.deepStrictEqual(seen.batches.map((b) => b.length), [500, 500, 200])

      const small = recording()
      yield* kafka.produce("small", 0, [{ value: "12345" }, { value: "12345" }, { value: "12345" }])
      yield* Effect.forkChild(
        (yield* client.consumer(options({ groupId: "small", topics: ["small"], maxBytesPerPartition: 10 })))
          .run(small.handlers)
      )
      yield* kafka.awaitFetched("small", 3)
      assert.deepStrictEqual(small.batches.map((b) => b.length), [2, 1])
    })))

  it.effect("records every commit call with its Clock time and exposes committed offsets", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic("orders", 3)
      const consumer = yield* client.consumer(options())
      yield* TestClock.adjust("5 seconds")
      yield* consumer.commit([tpo("orders", 0, 10), tpo("orders", 2, 4)])
      yield* kafka.failNextCommits(1, { rebalance: true })
      const rejected = yield* Effect.flip(consumer.commit([{ topic: "orders", partition: 1, offset: 7 }]))
      assert.isTrue(rejected.rebalance)
      yield* kafka.failNextCommits(1)
      const failed = yield* Effect.flip(consumer.commit([{ topic: "orders", partition: 1, offset: 7 }]))
      assert.isUndefined(failed.rebalance)
      yield* TestClock.adjust("1 second")
      yield* consumer.commit([{ topic: "orders", partition: 0, offset: 12 }])

      assert.deepStrictEqual(yield* kafka.commits("group"), [
        {
          offsets: [{ topic: "orders", partition: 0, offset: 10 }, { topic: "orders", partition: 2, offset: 4 }],
          at: 5_000
        },
        { offsets: [{ topic: "orders", partition: 1, offset: 7 }], at: 5_000, rejected: "rebalance" },
        { offsets: [{ topic: "orders", partition: 1, offset: 7 }], at: 5_000, rejected: "error" },
        { offsets: [{ topic: "orders", partition: 0, offset: 12 }], at: 6_000 }
      ])
      assert.deepStrictEqual(yield* kafka.committed("group"), new Map([["orders:0", 12], ["orders:2", 4]]))
      assert.deepStrictEqual(yield* client.committedOffsets("group", "orders"), [
        { topic: "orders", partition: 0, offset: 12 },
        { topic: "orders", partition: 2, offset: 4 }
      ])
      assert.deepStrictEqual(yield* client.committedOffsets("other", "orders"), [])
      const invalid = yield* Effect.flip(consumer.commit([{ topic: "orders", partition: 0, offset: -1 }]))
      assert.include(invalid.message, "Invalid commit offset -1")
    })))

  it.effect("logs and retries failed fetches with backoff on the Clock", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* kafka.produce("orders", 0, values(2))
      const seen = recording()
      const consumer = yield* client.consumer(options())
      yield* kafka.failNextFetches(2, "broker unavailable")
      const fiber = yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* kafka.awaitAssignment("group")

      yield* TestClock.adjust(299)
      assert.strictEqual(yield* kafka.fetched("group"), 0)
      yield* TestClock.adjust(1) // first retry at 300 ms fails too: next one 600 ms later
      assert.strictEqual(yield* kafka.fetched("group"), 0)
      yield* TestClock.adjust(599)
      assert.strictEqual(yield* kafka.fetched("group"), 0)
      yield* TestClock.adjust(1)
      yield* kafka.awaitFetched("group", 2)
      assert.deepStrictEqual(logs.lines.filter((line) => line.startsWith("Warn")), [
        "Warn: Kafka fetch failed; retrying in 300 ms broker unavailable",
        "Warn: Kafka fetch failed; retrying in 600 ms broker unavailable"
      ])
      assert.isUndefined(fiber.pollUnsafe())
    }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer, logs.layer)))
  })

  it.effect("a rebalance announces the new assignment and stops fetching revoked partitions", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic("orders", 2)
      yield* kafka.produce("orders", 0, values(2, "a"))
      yield* kafka.produce("orders", 1, values(2, "b"))
      const consumer = yield* client.consumer(options())
      const seen = recording()
      yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* kafka.awaitFetched("group", 4)
      yield* consumer.commit([{ topic: "orders", partition: 1, offset: 1 }])

      yield* kafka.rebalance("group", [{ topic: "orders", partition: 1 }])
      yield* kafka.produce("orders", 0, values(1, "late-a"))
      yield* kafka.produce("orders", 1, values(1, "late-b"))
      // partition 1 is fetched again from its commit (offset 1), as kafkajs does after a rejoin.
      yield* kafka.awaitFetched("group", 6)
      assert.deepStrictEqual(seen.assignments, [
        [{ topic: "orders", partition: 0 }, { topic: "orders", partition: 1 }],
        [{ topic: "orders", partition: 1 }]
      ])
      assert.deepStrictEqual(seen.records().slice(4).map((r) => `${r.partition}@${r.offset}:${text(r.value)}`), [
        "1@1:b1",
        "1@2:late-b0"
      ])
      assert.deepStrictEqual(yield* kafka.assignment("group"), [{ topic: "orders", partition: 1 }])
    })))

  it.effect("a rebalance abandons the batch in flight", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* kafka.produce("orders", 0, values(2))
      const started = yield* Deferred.make<void>()
      let calls = 0
      const seen = recording(() =>
        calls++ === 0 ? Effect.andThen(Deferred.succeed(started, undefined), Effect.never) : Effect.void
      )
      yield* Effect.forkChild((yield* client.consumer(options())).run(seen.handlers))
      yield* Deferred.await(started)
      yield* kafka.rebalance("group", [{ topic: "orders", partition: 0 }])
      yield* kafka.awaitFetched("group", 2)
      assert.strictEqual(seen.batches.length, 2)
      assert.deepStrictEqual(seen.batches[1]!.map((r) => r.offset), [0, 1])
      assert.strictEqual(seen.assignments.length, 2)
    })))

  it.effect("paused partitions are not fetched", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic("orders", 2)
      const consumer = yield* client.consumer(options())
      const seen = recording()
      yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* kafka.awaitAssignment("group")
      yield* consumer.pause([{ topic: "orders", partition: 0 }])
      yield* kafka.produce("orders", 0, values(3, "a"))
      yield* kafka.produce("orders", 1, values(2, "b"))
      yield* kafka.awaitFetched("group", 2)
      yield* kafka.produce("orders", 1, values(1, "c"))
      yield* kafka.awaitFetched("group", 3)
      assert.deepStrictEqual(seen.records().map((r) => text(r.value)), ["b0", "b1", "c0"])
      assert.deepStrictEqual(yield* kafka.paused("group"), [{ topic: "orders", partition: 0 }])
    })))

  it.effect("run is interruptible; an interrupted batch is not taken and comes again on the next run", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* kafka.produce("orders", 0, values(3))
      const consumer = yield* client.consumer(options())
      const started = yield* Deferred.make<void>()
      const stuck = recording(() => Effect.andThen(Deferred.succeed(started, undefined), Effect.never))
      const fiber = yield* Effect.forkChild(consumer.run(stuck.handlers))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* kafka.fetched("group"), 0)
      assert.deepStrictEqual(yield* kafka.assignment("group"), [])

      const again = recording()
      yield* Effect.forkChild(consumer.run(again.handlers))
      yield* kafka.awaitFetched("group", 3)
      assert.deepStrictEqual(again.records().map((r) => r.offset), [0, 1, 2])
      assert.deepStrictEqual(again.assignments, [[{ topic: "orders", partition: 0 }]])
    })))

  it.effect("refuses a second run at once and a second member in the same group", () =>
    withKafka(Effect.gen(function*() {
      const client = yield* KafkaClient
      const kafka = yield* MemoryKafka
      const consumer = yield* client.consumer(options())
      yield* Effect.forkChild(consumer.run(recording().handlers))
      yield* kafka.awaitAssignment("group")
      const second = yield* Effect.flip(consumer.run(recording().handlers))
      assert.include(second.message, "already running")
      const member = yield* Effect.flip(client.consumer(options()))
      assert.include(member.message, "already has a member")
    })))

  it.effect("restarts after a crash: rejoins and fetches again from the committed offsets", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* kafka.produce("orders", 0, values(3))
      const consumer = yield* client.consumer(options())
      const seen = recording()
      yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* kafka.awaitFetched("group", 3)
      yield* consumer.commit([{ topic: "orders", partition: 0, offset: 2 }])
      yield* kafka.crash("connection reset", { times: 1 })
      yield* TestClock.adjust(1_000)
      yield* kafka.awaitFetched("group", 4)
      assert.strictEqual(seen.assignments.length, 2)
      assert.deepStrictEqual(seen.records().map((r) => r.offset), [0, 1, 2, 2])
    })))

  it.effect("fails run with a KafkaError once crashes outlast the restart budget", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      const consumer = yield* client.consumer(options({ restartBudgetMs: 10_000 }))
      const seen = recording()
      const fiber = yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* kafka.awaitAssignment("group")
      yield* kafka.crash("broker gone")
      yield* TestClock.adjust(9_999)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(1)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Fiber.join(fiber) as Effect.Effect<never, KafkaError>)
      assert.strictEqual(error._tag, "KafkaError")
      assert.include(error.message, "broker gone")
      assert.include(error.message, "over its restart budget of 10000 ms")
      // Crashes at 0 s, 1 s, … 9 s restart (and crash again before rejoining); the one at 10 s gives up.
      const errors = logs.lines.filter((line) => line.startsWith("Error"))
      assert.strictEqual(errors.filter((line) => line.includes("restarting in 1000 ms broker gone")).length, 10)
      assert.strictEqual(errors.length, 10, "giving up is the failure, logged by whoever it fails (the run)")
      assert.strictEqual(seen.assignments.length, 1)
    }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer, logs.layer)))
  })

  it.effect("fetch failures that exhaust the retries are a crash", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* kafka.produce("orders", 0, values(1))
      const seen = recording()
      yield* kafka.failNextFetches(6, "timeout")
      yield* Effect.forkChild((yield* client.consumer(options())).run(seen.handlers))
      yield* kafka.awaitAssignment("group")
      yield* TestClock.adjust(300 + 600 + 1200 + 2400 + 4800) // five retries, the sixth failure crashes
      yield* TestClock.adjust(1_000) // restart
      yield* kafka.awaitFetched("group", 1)
      assert.strictEqual(seen.assignments.length, 2)
    })))

  it.effect("a rebalance during onAssignment announces the newer assignment", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic("orders", 2)
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const assignments: Array<ReadonlyArray<TopicPartition>> = []
      const handlers: ConsumerHandlers = {
        onBatch: () => Effect.void,
        onAssignment: (assignment) =>
          Effect.gen(function*() {
            assignments.push(assignment)
            if (assignments.length === 1) {
              yield* Deferred.succeed(entered, undefined)
              yield* Deferred.await(release)
            }
          })
      }
      yield* Effect.forkChild((yield* client.consumer(options())).run(handlers))
      yield* Deferred.await(entered)
      yield* kafka.rebalance("group", [{ topic: "orders", partition: 0 }])
      yield* Deferred.succeed(release, undefined)
      assert.deepStrictEqual(yield* kafka.awaitAssignment("group"), [{ topic: "orders", partition: 0 }])
      assert.strictEqual(assignments.length, 2)
    })))

  it.effect("an assignment given before the member joins is the one it gets", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic("orders", 3)
      assert.deepStrictEqual(yield* kafka.assignment("group"), [])
      assert.deepStrictEqual(yield* kafka.paused("group"), [])
      yield* kafka.rebalance("group", [{ topic: "orders", partition: 2 }])
      const seen = recording()
      yield* Effect.forkChild((yield* client.consumer(options())).run(seen.handlers))
      assert.deepStrictEqual(yield* kafka.awaitAssignment("group"), [{ topic: "orders", partition: 2 }])
      assert.deepStrictEqual(seen.assignments, [[{ topic: "orders", partition: 2 }]])
    })))

  it.effect("awaitCommitted waits for the commit; a closed consumer cannot run", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* Effect.scoped(Effect.gen(function*() {
        const consumer = yield* client.consumer(options({ topics: ["orders", "payments"] }))
        const waiter = yield* Effect.forkChild(kafka.awaitCommitted("group", tpo("orders", 0, 5)))
        yield* consumer.commit([tpo("orders", 0, 4), tpo("payments", 0, 9)])
        assert.isUndefined(waiter.pollUnsafe())
        yield* consumer.commit([{ topic: "orders", partition: 0, offset: 5 }])
        yield* Fiber.join(waiter)
        assert.deepStrictEqual(yield* client.committedOffsets("group", "payments"), [
          { topic: "payments", partition: 0, offset: 9 }
        ])
        return consumer
      })).pipe(
        Effect.flatMap((closed) => Effect.flip(closed.run(recording().handlers))),
        Effect.map((error) => assert.include(error.message, "is closed"))
      )
    })))

  it.effect("produce: explicit timestamps, the Clock otherwise; unknown partitions are a defect", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* TestClock.adjust(42)
      yield* kafka.produce("orders", 1, [
        { value: "a", timestamp: 7 },
        { key: "k", value: "b", headers: [{ key: "h", value: null }] }
      ])
      const records = yield* kafka.records("orders")
      assert.deepStrictEqual(records.map((r) => [r.partition, r.timestamp]), [[1, 7], [1, 42]])
      assert.deepStrictEqual(records[1]!.headers, [{ key: "h", value: null }])
      assert.deepStrictEqual(yield* kafka.records("unknown"), [])
      const produce = yield* Effect.exit(kafka.produce("orders", 2, values(1)))
      assert.isTrue(Exit.hasDies(produce))
      const skip = yield* Effect.exit(kafka.skipOffsets("orders", 5, 1))
      assert.isTrue(Exit.hasDies(skip))
    })))

  it.effect("producer, topic offsets and gaps in offsets", () =>
    withKafka(Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const client = yield* KafkaClient
      yield* client.createTopic("dlq", 2)
      yield* client.createTopic("dlq", 5) // already exists: ignored
      const producer = yield* client.producer
      yield* producer.send([
        { topic: "dlq", partition: 1, key: "k", value: null, headers: [{ key: "error", value: encoder.encode("boom") }] },
        { topic: "dlq", partition: 1, key: null, value: new Uint8Array([1, 2]) }
      ])
      yield* kafka.skipOffsets("dlq", 1, 3)
      yield* producer.send([{ topic: "dlq", partition: 1, key: null, value: "after gap" }])
      assert.deepStrictEqual(yield* client.topicOffsets("dlq"), [
        { partition: 0, low: 0, high: 0 },
        { partition: 1, low: 0, high: 6 }
      ])
      const records = yield* kafka.records("dlq")
      assert.deepStrictEqual(records.map((r) => r.offset), [0, 1, 5])
      assert.deepStrictEqual(text(records[0]!.key), "k")
      assert.isNull(records[0]!.value)
      assert.deepStrictEqual(records[0]!.headers.map((h) => [h.key, text(h.value)]), [["error", "boom"]])
      assert.deepStrictEqual(records[1]!.value, new Uint8Array([1, 2]))

      yield* kafka.failNextSends(1, "NOT_LEADER")
      const failed = yield* Effect.flip(producer.send([{ topic: "dlq", key: null, value: "x" }]))
      assert.strictEqual(failed.message, "NOT_LEADER")
      const outOfRange = yield* Effect.flip(producer.send([{ topic: "dlq", partition: 7, key: null, value: "x" }]))
      assert.include(outOfRange.message, "no partition 7")
      yield* producer.send([{ topic: "dlq", key: "same", value: "1" }, { topic: "dlq", key: "same", value: "2" }])
      const keyed = (yield* kafka.records("dlq")).filter((r) => text(r.key) === "same")
      assert.strictEqual(keyed[0]!.partition, keyed[1]!.partition)
      yield* producer.send([{ topic: "dlq", key: null, value: "rr1" }, { topic: "dlq", key: null, value: "rr2" }])
      const keyless = (yield* kafka.records("dlq")).filter((r) => text(r.value)?.startsWith("rr"))
      assert.deepStrictEqual(new Set(keyless.map((r) => r.partition)), new Set([0, 1]))
      const unknown = yield* Effect.flip(client.topicOffsets("nope"))
      assert.include(unknown.message, "Unknown topic")

      // The consumer reads across the gap.
      const seen = recording()
      yield* Effect.forkChild((yield* client.consumer(options({ topics: ["dlq"] }))).run(seen.handlers))
      yield* kafka.awaitFetched("group", records.length + 4)
      assert.deepStrictEqual(seen.records().filter((r) => r.partition === 1).slice(0, 3).map((r) => r.offset), [0, 1, 5])
    })))
})

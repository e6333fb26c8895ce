/**
 * The `KafkaClient` contract, written once and run against every client: the in-memory one
 * (test/integration/KafkaClientContract.test.ts, on the `TestClock`) and the real ones against a
 * real broker (test/e2e/KafkaClientContract.test.ts). What differs between them is the
 * `ContractHarness`: how a test gets a client, lets time pass, reads committed offsets
 * independently of the client (Kafka's own tool, for the real ones), makes the group rebalance
 * and takes the broker away.
 */
import { assert, describe } from "@effect/vitest"
import type { it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import type { Scope } from "effect"
import { encodeArchivePosition } from "../../src/domain/ArchivePosition.js"
import type { KafkaError } from "../../src/domain/Errors.js"
import type { KafkaRecord, TopicPartition } from "../../src/domain/KafkaRecord.js"
import type { ConsumerHandlers, ConsumerOptions, ProducerMessage } from "../../src/layers/kafka/KafkaClient.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import { uniqueName } from "./broker.js"

/** What a contract test gets from the harness besides the client. */
export interface BrokerOps {
  /** Lets `ms` pass: real time against a broker, the `TestClock` in memory. */
  readonly elapse: (ms: number) => Effect.Effect<void>
  /** The group's committed offsets (partition → next offset to read), read without the client under test. */
  readonly committedByKafka: (groupId: string, topic: string) => Effect.Effect<ReadonlyMap<number, number>>
  /**
   * Makes the group rebalance so that its member keeps one of the topic's two partitions: a second
   * member joins (in the scope) against a broker; in memory, the group is given one partition.
   */
  readonly rebalance: (groupId: string, topic: string) => Effect.Effect<void, KafkaError, Scope.Scope>
  /** Takes the broker away for good (with `runWithOutage` only), letting `budgetMs` pass in memory. */
  readonly outage: (budgetMs: number) => Effect.Effect<void>
}

type Body<A, E> = (ops: BrokerOps) => Effect.Effect<A, E, KafkaClient | Scope.Scope>

export interface ContractHarness {
  readonly name: string
  /** `it.effect` (with the `TestClock`) for the in-memory client, `it.live` against a broker. */
  readonly test: typeof it.live
  /** A test's safety net (never reached when the client keeps the contract). */
  readonly timeoutMs: number
  /** Runs `body` with the client's Layer, in a scope. */
  readonly run: <A, E>(body: Body<A, E>) => Effect.Effect<A, E>
  /** `run` on a broker that `outage` may take away (a broker of the test's own). */
  readonly runWithOutage: <A, E>(body: Body<A, E>) => Effect.Effect<A, E>
  /** Whether `outage` can take the broker away (not an external one, KAFKA_BROKERS). */
  readonly outageSupported: boolean
  /** How a header sent with a null value arrives: kafkajs cannot send one, and sends it empty. */
  readonly nullHeaderValue: "null" | "empty"
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()
const text = (bytes: Uint8Array | null) => bytes === null ? null : decoder.decode(bytes)
const at = (records: ReadonlyArray<KafkaRecord>) => records.map((r) => `${r.partition}@${r.offset}`)

export const consumerOptions = (groupId: string, topic: string, overrides: Partial<ConsumerOptions> = {}) => ({
  groupId,
  topics: [topic],
  fromBeginning: true,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxBytesPerPartition: 1_048_576,
  restartBudgetMs: 30_000,
  ...overrides
}) satisfies ConsumerOptions

/**
 * Handlers recording batches and assignments, and waits on them (no polling: each callback
 * settles the waits it satisfies). `onBatch` runs `before` first (backpressure, a block).
 */
export const recorder = Effect.fnUntraced(function*(
  before: (batch: ReadonlyArray<KafkaRecord>) => Effect.Effect<void> = () => Effect.void
) {
  const batches: Array<ReadonlyArray<KafkaRecord>> = []
  const assignments: Array<ReadonlyArray<TopicPartition>> = []
  const waits: Array<{ readonly done: () => boolean; readonly deferred: Deferred.Deferred<void> }> = []
  const settle = Effect.forEach(waits, (w) => w.done() ? Deferred.succeed(w.deferred, undefined) : Effect.void)
  const records = () => batches.flat()
  const handlers: ConsumerHandlers = {
    onBatch: (batch) => Effect.andThen(before(batch), Effect.andThen(Effect.sync(() => batches.push(batch)), settle)),
    onAssignment: (assignment) => Effect.andThen(Effect.sync(() => assignments.push(assignment)), settle)
  }
  const until = (done: () => boolean) =>
    Effect.gen(function*() {
      const deferred = yield* Deferred.make<void>()
      waits.push({ done, deferred })
      if (done()) return
      yield* Deferred.await(deferred).pipe(Effect.timeout("45 seconds"))
    })
  return {
    handlers,
    batches,
    assignments,
    records,
    until,
    untilRecords: (count: number) => until(() => records().length >= count),
    untilAssignments: (count: number) => until(() => assignments.length >= count)
  }
})

const produce = (messages: ReadonlyArray<ProducerMessage>) =>
  Effect.gen(function*() {
    const producer = yield* (yield* KafkaClient).producer
    yield* producer.send(messages)
  })

const topicWith = Effect.fnUntraced(function*(prefix: string, partitions: number) {
  const topic = uniqueName(prefix)
  yield* (yield* KafkaClient).createTopic(topic, partitions)
  return { topic, groupId: uniqueName(`${prefix}-group`) }
})

/**
 * A consumer whose run (forked in the scope) has joined its group and handed over `records`
 * records: the pipeline commits what it was handed (kafkajs skips commits before its first fetch).
 */
const consuming = Effect.fnUntraced(function*(options: ConsumerOptions, records: number) {
  const consumer = yield* (yield* KafkaClient).consumer(options)
  const seen = yield* recorder()
  yield* Effect.forkScoped(consumer.run(seen.handlers))
  yield* seen.untilRecords(records)
  return consumer
})

/** The contract's tests, registered for one client. */
export const kafkaClientContract = (harness: ContractHarness) => {
  const { run, runWithOutage, test, timeoutMs } = harness

  describe(`KafkaClient contract: ${harness.name}`, () => {
    test("consumer: batches of one partition in offset order after the assignment; commits read back by Kafka", () =>
      run((ops) =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-consume", 3)
          yield* produce(Array.from({ length: 30 }, (_, i) => ({ topic, partition: i % 3, key: `k${i}`, value: `v${i}` })))
          const consumer = yield* client.consumer(consumerOptions(groupId, topic))
          const seen = yield* recorder()
          const fiber = yield* Effect.forkChild(consumer.run(seen.handlers))
          yield* seen.untilRecords(30)

          assert.deepStrictEqual(seen.assignments, [[0, 1, 2].map((partition) => ({ topic, partition }))])
          for (const batch of seen.batches) assert.strictEqual(new Set(batch.map((r) => r.partition)).size, 1)
          for (const partition of [0, 1, 2]) {
            const ofPartition = seen.records().filter((r) => r.partition === partition)
            assert.deepStrictEqual(ofPartition.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
            assert.deepStrictEqual(ofPartition.map((r) => text(r.value)), ofPartition.map((r) => `v${text(r.key)!.slice(1)}`))
            assert.isTrue(ofPartition.every((r) => r.topic === topic))
          }

          // Part while running, the rest after run is interrupted (the pipeline's final commit).
          yield* consumer.commit([{ topic, partition: 0, offset: 10 }, { topic, partition: 1, offset: 4 }])
          yield* Fiber.interrupt(fiber)
          yield* consumer.commit([{ topic, partition: 1, offset: 10 }, { topic, partition: 2, offset: 7 }])
          yield* consumer.commit([])
          // The offset committed is the one given: the next one to read.
          assert.deepStrictEqual(yield* ops.committedByKafka(groupId, topic), new Map([[0, 10], [1, 10], [2, 7]]))
          assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [
            { topic, partition: 0, offset: 10 },
            { topic, partition: 1, offset: 10 },
            { topic, partition: 2, offset: 7 }
          ])
        })
      ), timeoutMs)

    test("consumer: a commit carries each offset's metadata (the archive position), read back by committedOffsets", () =>
      run((ops) =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-metadata", 2)
          yield* produce([0, 1, 2, 3].map((i) => ({ topic, partition: i % 2, key: null, value: `v${i}` })))
          const consumer = yield* consuming(consumerOptions(groupId, topic), 4)
          const hour = (h: number) => encodeArchivePosition(Date.UTC(2026, 11, 3, h))!
          yield* consumer.commit([
            { topic, partition: 0, offset: 1, metadata: hour(16) },
            { topic, partition: 1, offset: 2, metadata: hour(17) }
          ])
          assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [
            { topic, partition: 0, offset: 1, metadata: "archive-from=2026-12-03T16" },
            { topic, partition: 1, offset: 2, metadata: "archive-from=2026-12-03T17" }
          ])
          // A later commit replaces the metadata; one without metadata leaves none.
          yield* consumer.commit([{ topic, partition: 0, offset: 2, metadata: hour(18) }, { topic, partition: 1, offset: 2 }])
          assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [
            { topic, partition: 0, offset: 2, metadata: "archive-from=2026-12-03T18" },
            { topic, partition: 1, offset: 2 }
          ])
          // Kafka's own tool shows offsets only (ConsumerGroupCommand prints no metadata).
          assert.deepStrictEqual(yield* ops.committedByKafka(groupId, topic), new Map([[0, 2], [1, 2]]))
        })
      ), timeoutMs)

    test("consumer: a new member starts at the committed offsets, else where fromBeginning says", () =>
      run(() =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-resume", 2)
          yield* produce([0, 1, 2, 3].map((i) => ({ topic, partition: i % 2, key: null, value: `old${i}` })))
          yield* Effect.scoped(Effect.gen(function*() {
            const first = yield* consuming(consumerOptions(groupId, topic), 4)
            yield* first.commit([{ topic, partition: 0, offset: 1 }])
          }))
          const consumer = yield* client.consumer(consumerOptions(groupId, topic, { fromBeginning: false }))
          const seen = yield* recorder()
          yield* Effect.forkChild(consumer.run(seen.handlers))
          yield* seen.untilRecords(1)
          yield* produce([{ topic, partition: 1, key: null, value: "new" }])
          yield* seen.untilRecords(2)
          // Partition 0 resumes at its commit; partition 1 has none and starts at the end.
          assert.deepStrictEqual(at(seen.records()).sort(), ["0@1", "1@2"])
          assert.deepStrictEqual(seen.records().map((r) => text(r.value)).sort(), ["new", "old2"])
        })
      ), timeoutMs)

    test("consumer: an onBatch slower than the session timeout keeps the membership", () =>
      run((ops) =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-slow", 2)
          yield* produce([0, 1, 2, 3].map((i) => ({ topic, partition: i % 2, key: null, value: `v${i}` })))
          const consumer = yield* client.consumer(
            consumerOptions(groupId, topic, { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 })
          )
          const entered = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          let first = true
          const seen = yield* recorder(() =>
            Effect.suspend(() => {
              if (!first) return Effect.void
              first = false
              return Effect.andThen(Deferred.succeed(entered, undefined), Deferred.await(release))
            })
          )
          yield* Effect.forkChild(consumer.run(seen.handlers))
          yield* Deferred.await(entered).pipe(Effect.timeout("45 seconds"))
          yield* ops.elapse(8_000) // past the 6 s session timeout
          yield* Deferred.succeed(release, undefined)
          yield* seen.untilRecords(4)

          assert.strictEqual(seen.assignments.length, 1, "no rebalance")
          assert.deepStrictEqual(at(seen.records()).sort(), ["0@0", "0@1", "1@0", "1@1"])
          // Still the same generation: a commit goes through.
          yield* consumer.commit([{ topic, partition: 0, offset: 2 }, { topic, partition: 1, offset: 2 }])
          assert.deepStrictEqual(yield* ops.committedByKafka(groupId, topic), new Map([[0, 2], [1, 2]]))
        })
      ), timeoutMs)

    test("consumer: pause stops a partition; a new run after an interrupted one keeps the pause", () =>
      run(() =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-pause", 2)
          const send = (partition: number, value: string) => produce([{ topic, partition, key: null, value }])
          yield* send(0, "a0")
          yield* send(1, "b0")
          const consumer = yield* client.consumer(consumerOptions(groupId, topic))
          const first = yield* recorder()
          const fiber = yield* Effect.forkChild(consumer.run(first.handlers))
          yield* first.untilRecords(2)
          yield* consumer.pause([{ topic, partition: 0 }])
          yield* send(0, "a1")
          yield* send(1, "b1")
          yield* first.untilRecords(3)
          yield* send(1, "b2") // a second fetch: a1 would have come by now
          yield* first.untilRecords(4)
          yield* Fiber.interrupt(fiber)
          assert.deepStrictEqual(first.records().map((r) => text(r.value)).sort(), ["a0", "b0", "b1", "b2"])

          yield* send(1, "b3")
          const second = yield* recorder()
          yield* Effect.forkChild(consumer.run(second.handlers))
          yield* second.until(() => second.records().some((r) => text(r.value) === "b3"))
          assert.deepStrictEqual(second.assignments, [[0, 1].map((partition) => ({ topic, partition }))])
          // Where the first run stopped (its last batch again if interrupted before it returned); never a1.
          assert.deepStrictEqual(second.records().map((r) => r.partition), second.records().map(() => 1))
        })
      ), timeoutMs)

    test("consumer: a rebalance interrupts the batch in flight and announces the new assignment before the next batch", () =>
      run((ops) =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-rebalance", 2)
          yield* produce([0, 1, 2, 3, 4, 5].map((i) => ({ topic, partition: i % 2, key: null, value: `v${i}` })))
          const blocked = yield* Deferred.make<void>()
          let interrupted = false
          let calls = 0
          const seen = yield* recorder(() =>
            calls++ === 0
              ? Effect.andThen(Deferred.succeed(blocked, undefined), Effect.never).pipe(
                Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))
              )
              : Effect.void
          )
          yield* Effect.forkChild((yield* client.consumer(consumerOptions(groupId, topic))).run(seen.handlers))
          yield* Deferred.await(blocked).pipe(Effect.timeout("45 seconds"))
          yield* ops.rebalance(groupId, topic)
          yield* seen.untilAssignments(2)
          yield* seen.untilRecords(3)

          assert.isTrue(interrupted, "the waiting batch was interrupted")
          assert.strictEqual(seen.assignments[1]!.length, 1)
          // Its remaining partition again from the start (nothing was committed), after the announcement.
          const mine = seen.assignments[1]![0]!.partition
          assert.deepStrictEqual(at(seen.records()), [0, 1, 2].map((o) => `${mine}@${o}`))
        })
      ), timeoutMs)

    test("consumer: a commit once the member has left its group is a rebalance rejection", () =>
      run(() =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-closed", 1)
          const consumer = yield* Effect.scoped(Effect.gen(function*() {
            const consumer = yield* client.consumer(consumerOptions(groupId, topic))
            const seen = yield* recorder()
            yield* Effect.forkChild(consumer.run(seen.handlers))
            yield* seen.untilAssignments(1)
            return consumer
          }))
          const error = yield* Effect.flip(consumer.commit([{ topic, partition: 0, offset: 1 }]))
          assert.strictEqual(error._tag, "KafkaError")
          assert.isTrue(error.rebalance)
          assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [])
        })
      ), timeoutMs)

    test.skipIf(!harness.outageSupported)("consumer: run fails with a KafkaError once the broker has been gone past restartBudgetMs", () =>
      runWithOutage((ops) =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-outage", 1)
          const consumer = yield* client.consumer(
            consumerOptions(groupId, topic, { sessionTimeoutMs: 6_000, restartBudgetMs: 5_000 })
          )
          const seen = yield* recorder()
          const fiber = yield* Effect.forkChild(consumer.run(seen.handlers))
          yield* seen.untilAssignments(1)
          yield* ops.outage(5_000)
          const error = yield* Effect.flip(Fiber.join(fiber)).pipe(Effect.timeout("120 seconds"))
          assert.strictEqual(error._tag, "KafkaError")
          assert.match(error.message, /over its restart budget of 5000 ms/)
        })
      ), timeoutMs + 120_000)

    test("producer: keys, values and headers arrive byte for byte; one key, one partition", () =>
      run(() =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-produce", 1)
          const binary = new Uint8Array([0, 255, 10, 13])
          const binaryKey = new Uint8Array([255, 0, 1])
          yield* produce([
            {
              topic,
              key: "with-headers",
              value: binary,
              headers: [
                { key: "error", value: encoder.encode("boom, \"quoted\"") },
                { key: "trace", value: encoder.encode("a") },
                { key: "trace", value: encoder.encode("b") },
                { key: "bytes", value: new Uint8Array([0, 200]) },
                { key: "empty", value: null }
              ]
            },
            { topic, key: null, value: "no key" },
            { topic, key: binaryKey, value: null },
            { topic, key: "", value: "" }
          ])
          const consumer = yield* client.consumer(consumerOptions(groupId, topic))
          const seen = yield* recorder()
          yield* Effect.forkChild(consumer.run(seen.handlers))
          yield* seen.untilRecords(4)
          const [first, second, third, fourth] = seen.records()
          assert.deepStrictEqual(first!.key, encoder.encode("with-headers"))
          assert.deepStrictEqual(first!.value, binary)
          assert.deepStrictEqual(first!.headers.map((h) => [h.key, h.value === null ? null : [...h.value]]), [
            ["error", [...encoder.encode("boom, \"quoted\"")]],
            ["trace", [...encoder.encode("a")]],
            ["trace", [...encoder.encode("b")]],
            ["bytes", [0, 200]],
            ["empty", harness.nullHeaderValue === "null" ? null : []]
          ])
          assert.isNull(second!.key)
          assert.strictEqual(text(second!.value), "no key")
          assert.deepStrictEqual(second!.headers, [])
          assert.deepStrictEqual(third!.key, binaryKey)
          assert.isNull(third!.value)
          assert.deepStrictEqual([fourth!.key, fourth!.value], [new Uint8Array(0), new Uint8Array(0)])
          // Plain Uint8Arrays, not Buffers sharing the client's fetch response.
          assert.strictEqual(first!.value!.constructor, Uint8Array)

          const keyed = yield* topicWith("contract-keyed", 3)
          yield* produce(["x", "y", "z"].flatMap((key) => [1, 2, 3].map((i) => ({ topic: keyed.topic, key, value: `${key}${i}` }))))
          const offsets = yield* client.topicOffsets(keyed.topic)
          assert.strictEqual(offsets.reduce((n, p) => n + p.high, 0), 9)
          // Every partition holds a multiple of 3: each key's records went to one partition.
          assert.isTrue(offsets.every((p) => p.high % 3 === 0), JSON.stringify(offsets))
        })
      ), timeoutMs)

    test("admin: createTopic (again: ignored), topicOffsets, committedOffsets; an unknown topic fails", () =>
      run(() =>
        Effect.gen(function*() {
          const client = yield* KafkaClient
          const { groupId, topic } = yield* topicWith("contract-admin", 2)
          yield* client.createTopic(topic, 5)
          yield* produce([{ topic, partition: 1, key: null, value: "a" }, { topic, partition: 1, key: null, value: "b" }])
          assert.deepStrictEqual(yield* client.topicOffsets(topic), [
            { partition: 0, low: 0, high: 0 },
            { partition: 1, low: 0, high: 2 }
          ])
          assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [])
          const consumer = yield* consuming(consumerOptions(groupId, topic), 2)
          yield* consumer.commit([{ topic, partition: 1, offset: 2 }])
          assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [{ topic, partition: 1, offset: 2 }])
          const unknown = yield* Effect.flip(client.topicOffsets(uniqueName("contract-missing")))
          assert.strictEqual(unknown._tag, "KafkaError")
        })
      ), timeoutMs)
  })
}

/**
 * `KafkaJs.layer` against a real broker (the run's shared one, or KAFKA_BROKERS).
 * Committed offsets are checked twice: through the client's admin API and with
 * Kafka's own ConsumerGroupCommand (`broker.committedOffsets`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Logger, Scope } from "effect"
import { beforeAll, beforeEach } from "vitest"
import type { KafkaRecord, TopicPartition } from "../../src/domain/KafkaRecord.js"
import type { ConsumerHandlers, ConsumerOptions, ProducerMessage } from "../../src/layers/kafka/KafkaClient.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import * as KafkaJs from "../../src/layers/kafka/KafkaJs.js"
import type { Broker } from "../support/broker.js"
import { BROKER_START_TIMEOUT_MS, sharedBroker, startBroker, uniqueName } from "../support/broker.js"
import { ApiKey, faultySockets } from "../support/faultySockets.js"
import { produceValues } from "../support/produce.js"

let broker: Broker
beforeAll(async () => {
  broker = await sharedBroker()
}, BROKER_START_TIMEOUT_MS)

const decoder = new TextDecoder()
const encoder = new TextEncoder()
const text = (bytes: Uint8Array | null) => bytes === null ? null : decoder.decode(bytes)

/** Log lines of the current test, kept instead of printed. */
const logs: Array<string> = []
beforeEach(() => {
  logs.length = 0
})
const captureLogs = Logger.layer([
  Logger.make(({ logLevel, message }) => {
    logs.push(`${logLevel}: ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
  })
])
const kafka = (logLevel: KafkaJs.KafkaJsOptions["logLevel"] = "Warn", more: Partial<KafkaJs.KafkaJsOptions> = {}) =>
  KafkaJs.layer({ brokers: broker.brokers.split(","), clientId: "kafkajs-e2e", logLevel, ...more }).pipe(
    Layer.provideMerge(captureLogs)
  )

/** The restarts after a crash logged so far (the pipeline's, or kafkajs's asked through `restartOnFailure`). */
const restartsLogged = () => logs.filter((line) => line.includes("Kafka consumer crashed; restarting it"))

const consumerOptions = (groupId: string, topic: string, overrides: Partial<ConsumerOptions> = {}): ConsumerOptions => ({
  groupId,
  topics: [topic],
  fromBeginning: true,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxBytesPerPartition: 1_048_576,
  restartBudgetMs: 30_000,
  ...overrides
})

/** Handlers recording batches and assignments; `done` completes once `expected` records have come. */
const collect = Effect.fnUntraced(function*(
  expected: number,
  onBatch: (records: ReadonlyArray<KafkaRecord>) => Effect.Effect<void> = () => Effect.void
) {
  const done = yield* Deferred.make<void>()
  const records: Array<KafkaRecord> = []
  const assignments: Array<ReadonlyArray<TopicPartition>> = []
  const handlers: ConsumerHandlers = {
    onBatch: (batch) =>
      Effect.gen(function*() {
        yield* onBatch(batch)
        records.push(...batch)
        if (records.length >= expected) yield* Deferred.succeed(done, undefined)
      }),
    onAssignment: (assignment) => Effect.sync(() => assignments.push(assignment))
  }
  return { handlers, records, assignments, done: Deferred.await(done).pipe(Effect.timeout("30 seconds")) }
})

/**
 * Writes a test's records exactly once, outside the client under test. kafkajs's plain producer
 * sends a topic's partitions to their leader in one request and, when one partition answers with
 * a retriable error (a topic just created, on a busy broker), sends them all again: the partitions
 * that had succeeded get their records twice.
 */
const produceOnce = (topic: string, values: ReadonlyArray<string>, partitionOf: (i: number) => number) =>
  Effect.tryPromise(() => produceValues(broker.brokers, topic, values, partitionOf, () => null))

const nextOffsets = (records: ReadonlyArray<KafkaRecord>) => {
  const next = new Map<number, number>()
  for (const record of records) next.set(record.partition, Math.max(next.get(record.partition) ?? 0, record.offset + 1))
  return next
}

describe("KafkaJs (real broker)", () => {
  it.live("consumes a 3-partition topic from the beginning, commits, and keeps committing after run is interrupted", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("kafkajs-consume")
      const groupId = uniqueName("kafkajs-group")
      yield* client.createTopic(topic, 3)
      yield* client.createTopic(topic, 3) // exists: ignored
      const producer = yield* client.producer
      const messages: Array<ProducerMessage> = Array.from({ length: 30 }, (_, i) => ({
        topic,
        partition: i % 3,
        key: `k${i}`,
        value: `v${i}`
      }))
      yield* producer.send(messages)
      yield* producer.send([])
      assert.deepStrictEqual(yield* client.topicOffsets(topic), [
        { partition: 0, low: 0, high: 10 },
        { partition: 1, low: 0, high: 10 },
        { partition: 2, low: 0, high: 10 }
      ])

      const consumer = yield* client.consumer(consumerOptions(groupId, topic))
      const seen = yield* collect(30)
      const fiber = yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* seen.done

      assert.deepStrictEqual(seen.assignments, [[0, 1, 2].map((partition) => ({ topic, partition }))])
      for (const partition of [0, 1, 2]) {
        const ofPartition = seen.records.filter((r) => r.partition === partition)
        assert.deepStrictEqual(ofPartition.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        assert.deepStrictEqual(
          ofPartition.map((r) => text(r.value)),
          ofPartition.map((r) => `v${Number(text(r.key)!.slice(1))}`)
        )
        assert.isTrue(ofPartition.every((r) => r.topic === topic && r.timestamp > 1_600_000_000_000))
      }

      // Commit part of it while running, the rest after run was interrupted (the pipeline's final commit).
      yield* consumer.commit([{ topic, partition: 0, offset: 10 }, { topic, partition: 1, offset: 4 }])
      yield* Fiber.interrupt(fiber)
      yield* consumer.commit([{ topic, partition: 1, offset: 10 }, { topic, partition: 2, offset: 7 }])
      yield* consumer.commit([])

      assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [
        { topic, partition: 0, offset: 10 },
        { topic, partition: 1, offset: 10 },
        { topic, partition: 2, offset: 7 }
      ])
      const independent = yield* Effect.promise(() => broker.committedOffsets(groupId, topic))
      assert.deepStrictEqual(independent, new Map([[0, 10], [1, 10], [2, 7]]))
      assert.deepStrictEqual(nextOffsets(seen.records), new Map([[0, 10], [1, 10], [2, 10]]))
      assert.deepStrictEqual(logs.filter((line) => /crash|rebalanc/i.test(line)), [])
    }).pipe(Effect.scoped, Effect.provide(kafka())), 60_000)

  it.live("a commit after the consumer's scope has closed (it left the group) is a rebalance rejection", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("kafkajs-closed")
      const groupId = uniqueName("kafkajs-group")
      yield* client.createTopic(topic, 1)
      const consumer = yield* Effect.scoped(Effect.gen(function*() {
        const consumer = yield* client.consumer(consumerOptions(groupId, topic))
        const seen = yield* collect(0)
        yield* Effect.forkChild(consumer.run(seen.handlers))
        yield* Effect.sleep("100 millis")
        return consumer
      }))
      const error = yield* Effect.flip(consumer.commit([{ topic, partition: 0, offset: 1 }]))
      assert.strictEqual(error._tag, "KafkaError")
      assert.isTrue(error.rebalance)
      assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [])
    }).pipe(Effect.scoped, Effect.provide(kafka())), 60_000)

  it.live("an onBatch slower than the session timeout keeps the membership (heartbeats while it waits)", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("kafkajs-slow")
      const groupId = uniqueName("kafkajs-group")
      yield* client.createTopic(topic, 2)
      yield* produceOnce(topic, ["v0", "v1", "v2", "v3"], (i) => i % 2)

      const consumer = yield* client.consumer(
        consumerOptions(groupId, topic, { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 })
      )
      let slow = true
      const seen = yield* collect(4, () =>
        Effect.suspend(() => {
          if (!slow) return Effect.void
          slow = false
          return Effect.sleep("8 seconds") // past the 6 s session timeout
        }))
      yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* seen.done

      assert.strictEqual(seen.assignments.length, 1, "one GROUP_JOIN: no rebalance")
      assert.deepStrictEqual(logs.filter((line) => /crash|rebalanc/i.test(line)), [])
      assert.deepStrictEqual(seen.records.map((r) => `${r.partition}@${r.offset}`).sort(), ["0@0", "0@1", "1@0", "1@1"])
      // Still the same generation: a commit goes through.
      yield* consumer.commit([{ topic, partition: 0, offset: 2 }, { topic, partition: 1, offset: 2 }])
      assert.deepStrictEqual((yield* client.committedOffsets(groupId, topic)).map((o) => o.offset), [2, 2])
    }).pipe(Effect.scoped, Effect.provide(kafka())), 60_000)

  it.live("producer round trip: headers (repeated keys, binary), null keys and values", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("kafkajs-roundtrip")
      const groupId = uniqueName("kafkajs-group")
      yield* client.createTopic(topic, 1)
      const producer = yield* client.producer
      const binary = new Uint8Array([0, 255, 10, 13])
      yield* producer.send([
        {
          topic,
          key: "with-headers",
          value: binary,
          headers: [
            { key: "error", value: encoder.encode("boom, \"quoted\"") },
            { key: "trace", value: encoder.encode("a") },
            { key: "trace", value: encoder.encode("b") },
            { key: "empty", value: null }
          ]
        },
        { topic, key: null, value: "no key" },
        { topic, key: "tombstone", value: null }
      ])

      const consumer = yield* client.consumer(consumerOptions(groupId, topic))
      const seen = yield* collect(3)
      yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* seen.done
      const [first, second, third] = seen.records
      assert.strictEqual(text(first!.key), "with-headers")
      assert.deepStrictEqual(first!.value, binary)
      assert.deepStrictEqual(first!.headers.map((h) => [h.key, text(h.value)]), [
        ["error", "boom, \"quoted\""],
        ["trace", "a"],
        ["trace", "b"],
        ["empty", ""] // kafkajs cannot send a null header value: sent empty
      ])
      assert.isNull(second!.key)
      assert.strictEqual(text(second!.value), "no key")
      assert.deepStrictEqual(second!.headers, [])
      assert.strictEqual(text(third!.key), "tombstone")
      assert.isNull(third!.value)
      // Plain Uint8Arrays over a copy of the batch's keys and values, not views into kafkajs's
      // fetch response (which also holds offsets, headers and the other partitions).
      assert.strictEqual(first!.value!.constructor, Uint8Array)
      const keysAndValues = seen.records.reduce((n, r) => n + (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0), 0)
      assert.isAtMost(first!.value!.buffer.byteLength, keysAndValues)
      assert.isAtMost(first!.headers[0]!.value!.buffer.byteLength, first!.headers[0]!.value!.byteLength)
      // With logLevel "Info", kafkajs's own info entries come through the Effect logger.
      assert.isTrue(logs.some((line) => line.startsWith("Info: Consumer has joined the group")))
    }).pipe(Effect.scoped, Effect.provide(kafka("Info"))), 60_000)

  it.live("pause stops a partition; after run is interrupted, a new run resumes where it was, pauses kept", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("kafkajs-pause")
      const groupId = uniqueName("kafkajs-group")
      yield* client.createTopic(topic, 2)
      const producer = yield* client.producer
      const send = (partition: number, value: string) => producer.send([{ topic, partition, key: null, value }])
      yield* send(0, "a0")
      yield* send(1, "b0")

      const consumer = yield* client.consumer(consumerOptions(groupId, topic))
      const first = yield* collect(3)
      const fiber = yield* Effect.forkChild(consumer.run(first.handlers))
      yield* Effect.sleep("1 second")
      yield* consumer.pause([{ topic, partition: 0 }])
      yield* send(0, "a1")
      yield* send(1, "b1")
      yield* first.done.pipe(Effect.timeout("5 seconds"), Effect.ignore)
      yield* Effect.sleep("1 second")
      yield* Fiber.interrupt(fiber)
      // a1 may have been fetched before the pause took effect, but it is not handed over.
      assert.deepStrictEqual(first.records.map((r) => text(r.value)).sort(), ["a0", "b0", "b1"])

      yield* send(1, "b2")
      const second = yield* collect(1)
      yield* Effect.forkChild(consumer.run(second.handlers))
      yield* second.done
      yield* Effect.sleep("1 second")
      assert.deepStrictEqual(second.assignments, [[0, 1].map((partition) => ({ topic, partition }))])
      assert.deepStrictEqual(second.records.map((r) => text(r.value)), ["b2"])
    }).pipe(Effect.scoped, Effect.provide(kafka())), 60_000)

  it.live("a second member joining: the first abandons its waiting batch, rejoins and announces its new assignment", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("kafkajs-rebalance")
      const groupId = uniqueName("kafkajs-group")
      yield* client.createTopic(topic, 2)
      yield* produceOnce(topic, ["v0", "v1", "v2", "v3", "v4", "v5"], (i) => i % 2)

      // A's first batch waits forever (a full pipeline queue); A is done once it has 3 records after it.
      const blocked = yield* Deferred.make<void>()
      let interrupted = false
      let calls = 0
      const a = yield* collect(3, () =>
        calls++ === 0
          ? Effect.andThen(Deferred.succeed(blocked, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))
          )
          : Effect.void)
      yield* Effect.forkChild((yield* client.consumer(consumerOptions(groupId, topic))).run(a.handlers))
      yield* Deferred.await(blocked)

      const b = yield* collect(3)
      yield* Effect.forkChild((yield* client.consumer(consumerOptions(groupId, topic))).run(b.handlers))
      yield* b.done
      // A's records come after its new assignment: once it has them, both members have announced.
      yield* a.done

      assert.isTrue(interrupted, "the waiting batch was interrupted")
      assert.strictEqual(a.assignments.length, 2)
      assert.strictEqual(a.assignments[1]!.length, 1)
      assert.deepStrictEqual(b.assignments.length, 1)
      assert.deepStrictEqual([...a.assignments[1]!, ...b.assignments[0]!].map((tp) => tp.partition).sort(), [0, 1])
      // A fetches its remaining partition again from the start (nothing was committed).
      const mine = a.assignments[1]![0]!.partition
      assert.deepStrictEqual(a.records.map((r) => `${r.partition}@${r.offset}`), [0, 1, 2].map((o) => `${mine}@${o}`))
      assert.isTrue(logs.some((line) => line.includes("the batch will be fetched again")))
    }).pipe(Effect.scoped, Effect.provide(kafka())), 60_000)

  it.live("a committed offset past the end of the log: kafkajs resets it, and the reset is logged as an error", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("kafkajs-out-of-range")
      const groupId = uniqueName("kafkajs-group")
      yield* client.createTopic(topic, 1)
      const producer = yield* client.producer
      yield* producer.send([0, 1, 2].map((i) => ({ topic, key: null, value: `v${i}` })))
      yield* Effect.scoped(Effect.gen(function*() {
        const consumer = yield* client.consumer(consumerOptions(groupId, topic))
        const seen = yield* collect(3)
        yield* Effect.forkChild(consumer.run(seen.handlers))
        yield* seen.done
        yield* consumer.commit([{ topic, partition: 0, offset: 100 }]) // the broker accepts it
      }))

      const consumer = yield* client.consumer(consumerOptions(groupId, topic))
      const seen = yield* collect(3)
      yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* seen.done
      assert.deepStrictEqual(seen.records.map((r) => r.offset), [0, 1, 2])
      assert.isTrue(logs.some((line) => line.startsWith("Error: Kafka OFFSET_OUT_OF_RANGE")))
    }).pipe(Effect.scoped, Effect.provide(kafka())), 60_000)

  // Needs a broker of its own to stop: not with KAFKA_BROKERS.
  it.live.skipIf(process.env["KAFKA_BROKERS"])(
    "when the broker is gone for longer than restartBudgetMs, run fails with a KafkaError (never alive but idle)",
    () =>
      Effect.gen(function*() {
        const own = yield* Effect.acquireRelease(
          Effect.promise(() => startBroker()),
          (own) => Effect.promise(() => own.close())
        )
        yield* Effect.gen(function*() {
          const client = yield* KafkaClient
          const topic = uniqueName("kafkajs-crash")
          yield* client.createTopic(topic, 1)
          const consumer = yield* client.consumer(
            consumerOptions(uniqueName("kafkajs-group"), topic, { sessionTimeoutMs: 6_000, restartBudgetMs: 5_000 })
          )
          const seen = yield* collect(0)
          const fiber = yield* Effect.forkChild(consumer.run(seen.handlers))
          yield* Effect.sleep("2 seconds")
          assert.strictEqual(seen.assignments.length, 1)
          yield* Effect.promise(() => own.kill())
          // kafkajs retries (~10 s), crashes (restarted: within the budget), crashes again past the budget.
          const error = yield* Effect.flip(Fiber.join(fiber)).pipe(Effect.timeout("90 seconds"))
          assert.strictEqual(error._tag, "KafkaError")
          assert.match(error.message, /kept crashing for \d+ ms, over its restart budget of 5000 ms; last crash: /)
          assert.isNotEmpty(restartsLogged())
        }).pipe(
          Effect.scoped,
          Effect.provide(
            KafkaJs.layer({ brokers: own.brokers.split(","), clientId: "kafkajs-e2e" }).pipe(
              Layer.provideMerge(captureLogs)
            )
          )
        )
      }).pipe(Effect.scoped),
    BROKER_START_TIMEOUT_MS + 90_000
  )

  /** The shared broker, reached through connections that drop the requests they are told to. */
  const withFaultySockets = <A, E>(
    f: (faults: ReturnType<typeof faultySockets>) => Effect.Effect<A, E, KafkaClient | Scope.Scope>
  ) => {
    const faults = faultySockets()
    return f(faults).pipe(Effect.scoped, Effect.provide(kafka("Warn", { socketFactory: faults.socketFactory })))
  }

  it.live("a lost group coordinator during a join, a crash kafkajs does not restart from (#1630), is restarted", () =>
    withFaultySockets((faults) =>
      Effect.gen(function*() {
        const client = yield* KafkaClient
        const topic = uniqueName("kafkajs-coordinator")
        yield* client.createTopic(topic, 1)
        const producer = yield* client.producer
        yield* producer.send(["a", "b", "c"].map((value) => ({ topic, partition: 0, key: null, value })))
        const consumer = yield* client.consumer(consumerOptions(uniqueName("kafkajs-group"), topic))
        const seen = yield* collect(3)
        // The first joins find no coordinator: kafkajs crashes and does not restart by itself. (On a
        // single broker, two crashes; a join asks each broker in turn, so on a cluster, fewer.)
        faults.drop(ApiKey.FindCoordinator, 2)
        const running = yield* Effect.forkChild(consumer.run(seen.handlers))
        yield* Effect.raceFirst(seen.done, Fiber.join(running)) // a failed run fails the test at once
        assert.strictEqual(faults.dropped(), 2)
        assert.deepStrictEqual(seen.records.map((r) => text(r.value)), ["a", "b", "c"])
        assert.deepStrictEqual(seen.assignments, [[{ topic, partition: 0 }]])
        const restarts = restartsLogged()
        assert.isAtLeast(restarts.length, 1, logs.join("\n"))
        assert.isAtMost(restarts.length, 2, logs.join("\n"))
        assert.isTrue(restarts.every((line) => line.includes("Failed to find group coordinator")), restarts.join("\n"))
      })
    ), 60_000)

  it.live("a rejoin during a rebalance that finds no coordinator (the crash kafkajs wraps) is restarted too", () =>
    withFaultySockets((faults) =>
      Effect.gen(function*() {
        const client = yield* KafkaClient
        const topic = uniqueName("kafkajs-coordinator")
        const groupId = uniqueName("kafkajs-group")
        yield* client.createTopic(topic, 2)
        const a = yield* collect(Infinity)
        const aRun = yield* Effect.forkChild((yield* client.consumer(consumerOptions(groupId, topic))).run(a.handlers))
        const until = (what: () => boolean) =>
          Effect.raceFirst(
            Effect.sleep("50 millis").pipe(Effect.repeat({ until: what }), Effect.timeout("45 seconds")),
            Fiber.join(aRun) // a failed run fails the test at once
          )
        yield* until(() => a.assignments.length === 1)
        // B joins from a client of its own; A's rejoin for the rebalance finds no coordinator.
        faults.drop(ApiKey.FindCoordinator, 1)
        const b = yield* collect(Infinity)
        yield* Effect.gen(function*() {
          const other = yield* KafkaClient
          yield* Effect.forkChild((yield* other.consumer(consumerOptions(groupId, topic))).run(b.handlers))
          const partitionsOf = (assignments: ReadonlyArray<ReadonlyArray<TopicPartition>>) =>
            (assignments.at(-1) ?? []).map((tp) => tp.partition)
          yield* until(() =>
            faults.dropped() === 1 && partitionsOf(a.assignments).length === 1 &&
            partitionsOf(b.assignments).length === 1
          )
          assert.deepStrictEqual([...partitionsOf(a.assignments), ...partitionsOf(b.assignments)].sort(), [0, 1])
        }).pipe(Effect.scoped, Effect.provide(kafka()))
        const restarts = restartsLogged()
        assert.strictEqual(restarts.length, 1, logs.join("\n"))
        // The fetch loop's retrier wraps the lookup's error: found through its `cause`.
        assert.include(restarts[0], "KafkaJSNonRetriableError: Failed to find group coordinator")
      })
    ), 90_000)

  it.live("a restart pending when the consumer closes does not rejoin: nothing is asked of the broker after the close", () =>
    withFaultySockets((faults) =>
      Effect.gen(function*() {
        const client = yield* KafkaClient
        const topic = uniqueName("kafkajs-coordinator")
        yield* client.createTopic(topic, 1)
        const consumerScope = yield* Scope.make()
        const consumer = yield* Scope.provide(consumerScope)(client.consumer(consumerOptions(uniqueName("kafkajs-group"), topic)))
        const seen = yield* collect(0)
        faults.drop(ApiKey.FindCoordinator, 1)
        // The run outlives the consumer's scope: the restart, 300 ms after the crash, finds it closed.
        yield* Effect.forkChild(consumer.run(seen.handlers))
        yield* Effect.sleep("10 millis").pipe(
          Effect.repeat({ until: () => restartsLogged().length > 0 }),
          Effect.timeout("30 seconds")
        )
        yield* Scope.close(consumerScope, Exit.void)
        const lookupsAtClose = faults.sent(ApiKey.FindCoordinator)
        yield* Effect.sleep("1500 millis")
        assert.strictEqual(faults.sent(ApiKey.FindCoordinator), lookupsAtClose)
        assert.deepStrictEqual(seen.assignments, [])
      })
    ), 60_000)

  it.live("a group coordinator lost for longer than restartBudgetMs fails run with a KafkaError", () =>
    withFaultySockets((faults) =>
      Effect.gen(function*() {
        const client = yield* KafkaClient
        const topic = uniqueName("kafkajs-coordinator")
        yield* client.createTopic(topic, 1)
        const consumer = yield* client.consumer(
          consumerOptions(uniqueName("kafkajs-group"), topic, { restartBudgetMs: 2_000 })
        )
        const seen = yield* collect(0)
        faults.drop(ApiKey.FindCoordinator, Number.MAX_SAFE_INTEGER)
        const error = yield* Effect.flip(consumer.run(seen.handlers)).pipe(Effect.timeout("30 seconds"))
        assert.strictEqual(error._tag, "KafkaError")
        assert.match(
          error.message,
          /kept crashing for \d+ ms, over its restart budget of 2000 ms; last crash: Failed to find group coordinator/
        )
        assert.isAbove(faults.dropped(), 1)
        assert.deepStrictEqual(seen.assignments, [])
      })
    ), 60_000)

  it.live("admin calls against an unknown topic and an unreachable broker fail with KafkaError", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const unreachableClient = KafkaJs.layer({ brokers: ["127.0.0.1:1"], clientId: "nowhere", connectionTimeoutMs: 200 })
      // Both go through kafkajs's retries (~10 s): side by side.
      const [unknown, unreachable] = yield* Effect.all([
        Effect.flip(client.topicOffsets(uniqueName("kafkajs-missing"))),
        Effect.flip(
          KafkaClient.use((c) => c.topicOffsets("any")).pipe(
            Effect.provide(unreachableClient.pipe(Layer.provide(captureLogs)))
          )
        )
      ], { concurrency: "unbounded" })
      assert.strictEqual(unknown._tag, "KafkaError")
      assert.strictEqual(unreachable._tag, "KafkaError")
      assert.include(unreachable.message, "Reading the offsets of topic any")
    }).pipe(Effect.provide(kafka())), 60_000)
})

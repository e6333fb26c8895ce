/**
 * `KafkaJs.layer` against a real broker (the run's shared one, or KAFKA_BROKERS).
 * Committed offsets are checked twice: through the client's admin API and with
 * Kafka's own ConsumerGroupCommand (`broker.committedOffsets`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Logger, Scope } from "effect"
import { beforeAll, beforeEach } from "vitest"
import type { KafkaRecord, TopicPartition } from "../../src/domain/KafkaRecord.js"
import type { ConsumerHandlers, ConsumerOptions } from "../../src/layers/kafka/KafkaClient.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import * as KafkaJs from "../../src/layers/kafka/KafkaJs.js"
import type { Broker } from "../support/broker.js"
import { BROKER_START_TIMEOUT_MS, sharedBroker, uniqueName } from "../support/broker.js"
import { ApiKey, faultySockets } from "../support/faultySockets.js"

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

describe("KafkaJs (real broker)", () => {
  // Round trips of keys, values and headers are in the contract (test/support/contract.ts).
  it.live("records are copied out of kafkajs's fetch response, a batch's keys and values into one buffer; kafkajs logs come through", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("kafkajs-copy")
      const groupId = uniqueName("kafkajs-group")
      yield* client.createTopic(topic, 1)
      const producer = yield* client.producer
      yield* producer.send([
        { topic, key: "k", value: new Uint8Array([0, 255, 10, 13]), headers: [{ key: "h", value: encoder.encode("x") }] },
        { topic, key: null, value: "second" }
      ])
      const consumer = yield* client.consumer(consumerOptions(groupId, topic))
      const seen = yield* collect(2)
      yield* Effect.forkChild(consumer.run(seen.handlers))
      yield* seen.done
      const [first] = seen.records
      // Not views into kafkajs's fetch response (which also holds offsets, headers and the other partitions).
      const keysAndValues = seen.records.reduce((n, r) => n + (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0), 0)
      assert.isAtMost(first!.value!.buffer.byteLength, keysAndValues)
      assert.isAtMost(first!.headers[0]!.value!.buffer.byteLength, first!.headers[0]!.value!.byteLength)
      // With logLevel "Info", kafkajs's own info entries come through the Effect logger.
      assert.isTrue(logs.some((line) => line.startsWith("Info: Consumer has joined the group")))
    }).pipe(Effect.scoped, Effect.provide(kafka("Info"))), 60_000)

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

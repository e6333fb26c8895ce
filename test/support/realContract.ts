/**
 * The contract harness against a real broker: the run's shared broker (or KAFKA_BROKERS) for most
 * tests, a broker of the test's own for the outage; committed offsets read with Kafka's own
 * ConsumerGroupCommand (`kafka.sh groups`), never with the client under test.
 */
import { it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { KafkaError } from "../../src/domain/Errors.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import type { Broker } from "./broker.js"
import { sharedBroker, startBroker } from "./broker.js"
import type { BrokerOps, ContractHarness } from "./contract.js"
import { consumerOptions, recorder } from "./contract.js"

/** A client's Layer on the given bootstrap servers. */
export type ClientLayer = (brokers: ReadonlyArray<string>) => Layer.Layer<KafkaClient>

const opsOn = (broker: Broker, layer: ClientLayer): BrokerOps => ({
  elapse: (ms) => Effect.sleep(ms),
  committedByKafka: (groupId, topic) => Effect.promise(() => broker.committedOffsets(groupId, topic)),
  // A second member, from a client of its own, joins and runs until the scope closes.
  rebalance: (groupId, topic) =>
    Effect.gen(function*() {
      const other = yield* KafkaClient
      const seen = yield* recorder()
      yield* Effect.forkScoped((yield* other.consumer(consumerOptions(groupId, topic))).run(seen.handlers))
    }).pipe(Effect.provide(layer(broker.brokers.split(","))), Effect.asVoid) as Effect.Effect<void, KafkaError, never>,
  outage: () => Effect.promise(() => broker.kill())
})

export const realHarness = (
  name: string,
  layer: ClientLayer,
  nullHeaderValue: ContractHarness["nullHeaderValue"]
): ContractHarness => ({
  name,
  test: it.live,
  timeoutMs: 90_000,
  nullHeaderValue,
  // A broker of the test's own, which an external one (KAFKA_BROKERS) cannot be.
  outageSupported: !process.env["KAFKA_BROKERS"],
  run: (body) =>
    Effect.gen(function*() {
      const broker = yield* Effect.promise(() => sharedBroker())
      return yield* body(opsOn(broker, layer)).pipe(Effect.scoped, Effect.provide(layer(broker.brokers.split(","))))
    }),
  runWithOutage: (body) =>
    Effect.gen(function*() {
      const own = yield* Effect.acquireRelease(
        Effect.promise(() => startBroker()),
        (own) => Effect.promise(() => own.close())
      )
      return yield* body(opsOn(own, layer)).pipe(Effect.scoped, Effect.provide(layer(own.brokers.split(","))))
    }).pipe(Effect.scoped)
})

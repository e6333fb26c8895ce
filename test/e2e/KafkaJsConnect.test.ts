/**
 * Creating a `KafkaJs` consumer against a real broker (the run's shared one, or KAFKA_BROKERS)
 * when the start goes wrong: brokers that refuse connections at first (tried again within the
 * restart budget, said once), and topics the brokers do not have (named).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import type { ISocketFactory } from "kafkajs"
import { connect } from "node:net"
import { beforeAll } from "vitest"
import type { ConsumerOptions } from "../../src/layers/kafka/KafkaClient.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import * as KafkaJs from "../../src/layers/kafka/KafkaJs.js"
import type { Broker } from "../support/broker.js"
import { BROKER_START_TIMEOUT_MS, sharedBroker, uniqueName } from "../support/broker.js"

let broker: Broker
beforeAll(async () => {
  broker = await sharedBroker()
}, BROKER_START_TIMEOUT_MS)

const kafka = (logs: Array<string>, socketFactory?: ISocketFactory) =>
  KafkaJs.layer({
    brokers: broker.brokers.split(","),
    clientId: "kafkajs-connect-e2e",
    ...(socketFactory === undefined ? {} : { socketFactory })
  }).pipe(Layer.provideMerge(Logger.layer([
    Logger.make(({ logLevel, message }) => {
      logs.push(`${logLevel}: ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
    })
  ])))

const consumerOptions = (topics: ReadonlyArray<string>): ConsumerOptions => ({
  groupId: uniqueName("connect-group"),
  topics,
  fromBeginning: true,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxBytesPerPartition: 1_048_576,
  restartBudgetMs: 60_000
})

/** Connections refused (to port 1) until `refuse()` says no more, then to the broker. */
const refusingWhile = (refuse: () => boolean) => {
  let refused = 0
  const socketFactory: ISocketFactory = ({ host, onConnect, port }) => {
    const toPort = refuse() ? 1 : port
    if (toPort === 1) refused++
    return connect({ host, port: toPort }, onConnect)
  }
  return { socketFactory, refused: () => refused }
}

describe("KafkaJs consumer, starting (real broker)", () => {
  it.live("brokers that refuse connections at first: tried again within the budget, said once, then connected", () => {
    const logs: Array<string> = []
    // Refused until the pipeline has said so: kafkajs's first connect (all its retries) fails.
    const sockets = refusingWhile(() => !logs.some((line) => line.includes("cannot reach the brokers")))
    return Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("connect-late")
      const options = consumerOptions([topic])
      yield* Effect.promise(() => broker.createTopic(topic, 1))
      yield* Effect.scoped(client.consumer(options))
      assert.isAbove(sockets.refused(), 1)
      const said = logs.filter((line) => !line.startsWith("Debug"))
      assert.strictEqual(said.length, 2, said.join("\n"))
      assert.match(
        said[0]!,
        new RegExp(`^Warn: Kafka consumer of group ${options.groupId} cannot reach the brokers ${broker.brokers}: ` +
          "Connection error: connect ECONNREFUSED 127\\.0\\.0\\.1:1; trying again for up to 60000 ms \\(restartBudgetMs\\)$")
      )
      assert.strictEqual(said[1], `Info: Kafka consumer of group ${options.groupId} reached the brokers ${broker.brokers}`)
    }).pipe(Effect.provide(kafka(logs, sockets.socketFactory)))
  }, 60_000)

  it.live("topics the brokers do not have are named: one, or several", () => {
    const logs: Array<string> = []
    return Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("connect-exists")
      const missing = uniqueName("connect-missing")
      yield* client.createTopic(topic, 1)
      const one = yield* Effect.flip(Effect.scoped(client.consumer(consumerOptions([topic, missing]))))
      assert.match(
        one.message,
        new RegExp(`^Connecting the consumer of group [\\w-]+: topic ${missing} does not exist on the brokers ` +
          `\\(of topics ${topic}, ${missing}\\): create it, or leave it out of topics$`)
      )
      const other = uniqueName("connect-missing")
      const several = yield* Effect.flip(Effect.scoped(client.consumer(consumerOptions([missing, topic, other]))))
      assert.include(several.message, `: topics ${missing}, ${other} do not exist on the brokers (of topics ${missing}, ${topic}, ${other}): create them, or leave them out of topics`)
    }).pipe(Effect.provide(kafka(logs)))
  }, 60_000)
})

import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer } from "effect"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import * as KafkaJs from "../../src/layers/kafka/KafkaJs.js"

// Building the layer does no I/O (clients connect when used), so no broker is needed here.
const fromConfig = KafkaJs.layerConfig({
  brokers: Config.String("KAFKA_BROKERS").pipe(Config.map((brokers) => brokers.split(","))),
  clientId: Config.String("KAFKA_CLIENT_ID").pipe(Config.withDefault("kafkajs-layer-test")),
  ssl: Config.Boolean("KAFKA_SSL").pipe(Config.withDefault(false)),
  logLevel: Config.LogLevel("KAFKA_LOG_LEVEL").pipe(Config.withDefault("Warn")),
  sasl: Config.all({
    mechanism: Config.Literals(["plain", "scram-sha-256", "scram-sha-512"], "KAFKA_SASL_MECHANISM"),
    username: Config.String("KAFKA_SASL_USERNAME"),
    password: Config.Redacted("KAFKA_SASL_PASSWORD")
  })
})

const provided = (env: Record<string, string>) =>
  fromConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))

describe("KafkaJs layers", () => {
  it.effect("layerConfig reads the client's options from Config", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      assert.isFunction(client.consumer)
      assert.isFunction(client.topicOffsets)
    }).pipe(Effect.provide(provided({
      KAFKA_BROKERS: "127.0.0.1:9092,127.0.0.1:9093",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "pipeline",
      KAFKA_SASL_PASSWORD: "secret"
    }))))

  const configError = (env: Record<string, string>) =>
    Effect.flip(
      Effect.gen(function*() {
        yield* KafkaClient
      }).pipe(Effect.provide(provided(env)))
    )

  it.effect("layerConfig fails with a ConfigError naming what is missing or invalid", () =>
    Effect.gen(function*() {
      const missing = yield* configError({})
      assert.strictEqual(missing._tag, "ConfigError")
      assert.include(String(missing), "KAFKA_BROKERS")
      const invalid = yield* configError({ KAFKA_BROKERS: "127.0.0.1:9092", KAFKA_SASL_MECHANISM: "kerberos" })
      assert.strictEqual(invalid._tag, "ConfigError")
      assert.include(String(invalid), "KAFKA_SASL_MECHANISM")
    }))

  it.effect("layer takes the options as they are", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      assert.isFunction(client.committedOffsets)
    }).pipe(Effect.provide(KafkaJs.layer({ brokers: ["127.0.0.1:9092"], clientId: "kafkajs-layer-test" }))))
})

/**
 * `KafkaClient` implemented on @platformatic/kafka: maintained, Kafka 3.5–4.x, no native build.
 * The consumer is `PlatformaticConsumer` (what this client lacks for the pipeline, and how it is
 * made up for, is said there); the producer and the admin calls are here. Each client is created
 * in a scope and closed when it closes (the admin client with the layer's).
 *
 * Limits against kafkajs: no `logLevel` (the client logs nothing; it reports through
 * `node:diagnostics_channel`), no `socketFactory`.
 *
 * @since 0.2.0
 */
import { Admin, ConnectionPool, Consumer, Producer, ProduceAcks } from "@platformatic/kafka"
import type { BaseOptions } from "@platformatic/kafka"
import { Config, Effect, Layer, Redacted } from "effect"
import type { KafkaError } from "../../domain/Errors.js"
import type { CommittedOffset } from "../../domain/KafkaRecord.js"
import type { KafkaProducer, PartitionOffsets, ProducerMessage } from "./KafkaClient.js"
import { KafkaClient } from "./KafkaClient.js"
import { hasApiError, kafkaError, toMessage } from "./PlatformaticCodec.js"
import { makeConsumer } from "./PlatformaticConsumer.js"

export interface PlatformaticOptions {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  readonly ssl?: boolean
  readonly sasl?: {
    readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512"
    readonly username: string
    readonly password: Redacted.Redacted<string>
  }
  /** Timeout of a broker connection attempt (default 5000 ms). */
  readonly connectionTimeoutMs?: number
}

/** Provides `KafkaClient` backed by @platformatic/kafka. Building it does no I/O. */
export const layer = (options: PlatformaticOptions): Layer.Layer<KafkaClient> => Layer.effect(KafkaClient, make(options))

/** `layer` with its options read from `Config` (as `KafkaJs.layerConfig`). */
export const layerConfig = (
  options: Config.Wrap<PlatformaticOptions>
): Layer.Layer<KafkaClient, Config.ConfigError> =>
  Layer.effect(KafkaClient, Config.unwrap(options).pipe(Effect.flatMap(make)))

const saslMechanisms = { "plain": "PLAIN", "scram-sha-256": "SCRAM-SHA-256", "scram-sha-512": "SCRAM-SHA-512" } as const

/** What every client of this layer is built with. */
const baseOptions = (options: PlatformaticOptions): BaseOptions => ({
  clientId: options.clientId,
  bootstrapBrokers: [...options.brokers],
  ...(options.ssl === true ? { tls: {} } : {}),
  ...(options.sasl === undefined ? {} : {
    sasl: {
      mechanism: saslMechanisms[options.sasl.mechanism],
      username: options.sasl.username,
      password: Redacted.value(options.sasl.password)
    }
  }),
  ...(options.connectionTimeoutMs === undefined ? {} : { connectTimeout: options.connectionTimeoutMs })
})

const make = Effect.fnUntraced(function*(options: PlatformaticOptions) {
  const base = baseOptions(options)
  const admin = yield* makeAdmin(base)
  const consumer = makeConsumer((consumerOptions) => ({
    fetchConnections: new ConnectionPool(base.clientId, base),
    client: new Consumer({
      ...base,
      groupId: consumerOptions.groupId,
      sessionTimeout: consumerOptions.sessionTimeoutMs,
      heartbeatInterval: consumerOptions.heartbeatIntervalMs,
      rebalanceTimeout: 60_000,
      maxBytesPerPartition: consumerOptions.maxBytesPerPartition,
      autocommit: false,
      // Retried by the consumer within its restart budget; a commit the coordinator rejects fails.
      retries: 0
    })
  }))
  return KafkaClient.of({ consumer, producer: makeProducer(base), ...admin })
})

/** A client closed when the scope closes; a close that fails is a warning. */
const scoped = <Client extends { readonly close: () => Promise<void> }>(what: string, create: () => Client) =>
  Effect.acquireRelease(
    Effect.sync(create),
    (client) =>
      Effect.tryPromise({ try: () => client.close(), catch: kafkaError(`Closing the ${what}`) }).pipe(
        Effect.catch((error) => Effect.logWarning(error.message))
      )
  )

const makeProducer = (base: BaseOptions) =>
  Effect.gen(function*() {
    // Idempotent, all replicas: a retried send writes nothing twice.
    const producer = yield* scoped("producer", () => new Producer({ ...base, idempotent: true, acks: ProduceAcks.ALL, retries: 5 }))
    const send = Effect.fn("Platformatic.send")(function*(messages: ReadonlyArray<ProducerMessage>) {
      if (messages.length === 0) return
      yield* Effect.tryPromise({
        try: () => producer.send({ messages: messages.map(toMessage) }),
        catch: kafkaError(`Producing ${messages.length} records`)
      })
    })
    const kafkaProducer: KafkaProducer = { send }
    return kafkaProducer
  })

const makeAdmin = Effect.fnUntraced(function*(base: BaseOptions) {
  const admin = yield* scoped("admin client", () => new Admin(base))
  const use = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, KafkaError> =>
    Effect.tryPromise({ try: f, catch: kafkaError(what) })
  const partitionCount = (topic: string) =>
    use(`Reading the metadata of topic ${topic}`, () => admin.metadata({ topics: [topic] })).pipe(
      Effect.map((metadata) => metadata.topics.get(topic)?.partitionsCount ?? 0)
    )
  const listOffsets = (topic: string, partitions: number, timestamp: bigint) =>
    use(`Reading the offsets of topic ${topic}`, () =>
      admin.listOffsets({
        topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }]
      })).pipe(Effect.map((topics) => new Map(topics[0]?.partitions.map((p) => [p.partitionIndex, Number(p.offset)]))))
  const operations: Pick<KafkaClient["Service"], "createTopic" | "topicOffsets" | "committedOffsets"> = {
    createTopic: (topic, partitions) =>
      use(`Creating topic ${topic}`, async () => {
        try {
          await admin.createTopics({ topics: [topic], partitions })
        } catch (error) {
          if (!hasApiError(error, "TOPIC_ALREADY_EXISTS")) throw error
        }
      }).pipe(Effect.withSpan("Platformatic.createTopic")),
    topicOffsets: (topic) =>
      Effect.gen(function*() {
        const partitions = yield* partitionCount(topic)
        const [low, high] = yield* Effect.all([
          listOffsets(topic, partitions, -2n),
          listOffsets(topic, partitions, -1n)
        ])
        return Array.from({ length: partitions }, (_, partition): PartitionOffsets => ({
          partition,
          high: high.get(partition) ?? 0,
          low: low.get(partition) ?? 0
        }))
      }).pipe(Effect.withSpan("Platformatic.topicOffsets")),
    committedOffsets: (groupId, topic) =>
      use(
        `Reading the committed offsets of group ${groupId}`,
        () => admin.listConsumerGroupOffsets({ groups: [groupId] })
      ).pipe(
        Effect.map((groups) =>
          (groups[0]?.topics ?? [])
            .filter((t) => t.name === topic)
            .flatMap((t) =>
              t.partitions.map((p): CommittedOffset => ({
                topic,
                partition: p.partitionIndex,
                offset: Number(p.committedOffset),
                // Kafka keeps an empty string for a commit without metadata; kafkajs's read leaves both out.
                ...(p.metadata ? { metadata: p.metadata } : {})
              }))
            )
            .filter(({ offset }) => offset >= 0)
            .sort((a, b) => a.partition - b.partition)
        ),
        Effect.withSpan("Platformatic.committedOffsets")
      )
  }
  return operations
})

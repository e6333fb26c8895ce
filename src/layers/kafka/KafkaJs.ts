/**
 * The real Kafka client: `KafkaClient` implemented on kafkajs.
 *
 * kafkajs has traps (see DESIGN.md, "kafkajs traps"); this module and its
 * parts (`KafkaJsConsumer`, `KafkaJsHandOver`, `KafkaJsCodec`,
 * `KafkaJsConnection`, `KafkaJsErrors`, `KafkaJsLog`) are where they are
 * handled, so nothing else in the pipeline touches kafkajs:
 *
 * - The consumer's state is one `ConsumerLifecycle` value. Every kafkajs event
 *   and every call of the pipeline (`run`, `pause`, closing the consumer) goes
 *   through its transition function; what follows (announce an assignment,
 *   hand over a batch, restart, fail `run`) is read from the state it leads to.
 * - The consumer never commits by itself (`autoCommit: false`) and resolves
 *   only the offsets it handed over; batches waiting for room heartbeat (#1211).
 * - No revoke callback (#916): every `GROUP_JOIN` announces the member's whole
 *   assignment with `onAssignment`, after interrupting a batch still in flight
 *   and before the next batch.
 * - Crashes (#1513, #852): kafkajs restarts after a retriable crash within the
 *   `RestartBudget` (on the `Clock`, reset by any successful fetch); past it,
 *   or on a crash it does not restart from, `run` fails with a `KafkaError`
 *   instead of staying alive but idle. A join that finds no group coordinator
 *   (a broker outage; kafkajs calls it non-retriable, #1630) is restarted
 *   here, within the same budget.
 * - Commits rejected because the group moved on, or skipped by kafkajs while
 *   the member is out of the group, fail with `KafkaError({ rebalance: true })`.
 * - Shutdown order (#751): interrupting `run` only pauses fetching, so the
 *   member stays in the group and the pipeline's final commit still works;
 *   leaving the group is the finalizer of the consumer's scope.
 * - Brokers out of reach when the consumer connects: tried again until the
 *   restart budget is spent (`whileUnreachable`), said once; kafkajs's own
 *   lines about it (one per retry, with a stack) are debug. A topic the
 *   brokers do not have is named (kafkajs's error does not say which).
 * - A negative `setTimeout` after every response (#1751: a `TimeoutNegativeWarning`
 *   in every process, and a 1 ms timer loop per connection) is fixed in kafkajs's
 *   request queue when this module loads (`KafkaJsRequestQueue`).
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, Redacted } from "effect"
import type { LogLevel } from "effect"
import type { ISocketFactory, KafkaConfig, ProducerConfig } from "kafkajs"
import type { Kafka as KafkaJsClient, SASLOptions } from "kafkajs"
import { Kafka, logLevel as KafkaLogLevel, Partitioners } from "kafkajs"
import type { KafkaError } from "../../domain/Errors.js"
import type { KafkaProducer, ProducerMessage } from "./KafkaClient.js"
import { KafkaClient } from "./KafkaClient.js"
import { toCommittedOffsets, toPartitionOffsets, toTopicMessages } from "./KafkaJsCodec.js"
import { connected, disconnect } from "./KafkaJsConnection.js"
import { makeConsumer } from "./KafkaJsConsumer.js"
import { kafkaError } from "./KafkaJsErrors.js"
import { kafkaJsLevel, logEntry } from "./KafkaJsLog.js"
import { fixRequestQueue } from "./KafkaJsRequestQueue.js"

// Before any client of this module sends a request: the first response would warn.
fixRequestQueue()

export interface KafkaJsOptions {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  readonly ssl?: boolean
  readonly sasl?: {
    readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512"
    readonly username: string
    readonly password: Redacted.Redacted<string>
  }
  /** Timeout of a broker connection attempt (kafkajs default: 1000 ms). */
  readonly connectionTimeoutMs?: number
  /** kafkajs's own log entries below this level are dropped (default `"Warn"`). */
  readonly logLevel?: LogLevel.LogLevel
  /**
   * Opens the client's broker connections (kafkajs's `socketFactory`): through a proxy, say, or
   * with faults injected in tests. Default: kafkajs's own (TCP, or TLS with `ssl`).
   */
  readonly socketFactory?: ISocketFactory
}

/**
 * Provides `KafkaClient` backed by kafkajs. Building it does no I/O: each
 * consumer and producer connects when created (in its scope), the admin client
 * on first use; the admin client disconnects when the layer's scope closes.
 */
export const layer = (options: KafkaJsOptions): Layer.Layer<KafkaClient> => Layer.effect(KafkaClient, make(options))

/**
 * `layer` with its options read from `Config`: one `Config` of them all, or a
 * record of a `Config` per option (as `NodeRedis.layerConfig`).
 *
 * @example
 * KafkaJs.layerConfig({
 *   brokers: Config.String("KAFKA_BROKERS").pipe(Config.map((brokers) => brokers.split(","))),
 *   clientId: Config.String("KAFKA_CLIENT_ID").pipe(Config.withDefault("my-app")),
 *   logLevel: Config.LogLevel("KAFKA_LOG_LEVEL").pipe(Config.withDefault("Warn"))
 * })
 */
export const layerConfig = (
  options: Config.Wrap<KafkaJsOptions>
): Layer.Layer<KafkaClient, Config.ConfigError> =>
  Layer.effect(KafkaClient, Config.unwrap(options).pipe(Effect.flatMap(make)))

const make = Effect.fnUntraced(function*(options: KafkaJsOptions) {
  const kafka = new Kafka(kafkaConfig(options, Effect.runSyncWith(yield* Effect.context<never>())))
  const admin = yield* makeAdmin(kafka)
  return KafkaClient.of({ consumer: makeConsumer(kafka, options.brokers), producer: makeProducer(kafka), ...admin })
})

/** The `Kafka` instance's settings; its log entries go to `log`. */
const kafkaConfig = (options: KafkaJsOptions, log: (effect: Effect.Effect<void>) => void): KafkaConfig => {
  const threshold = kafkaJsLevel(options.logLevel ?? "Warn")
  const sasl: SASLOptions | undefined = options.sasl === undefined ? undefined : {
    mechanism: options.sasl.mechanism,
    username: options.sasl.username,
    password: Redacted.value(options.sasl.password)
  }
  return {
    clientId: options.clientId,
    brokers: [...options.brokers],
    ssl: options.ssl ?? false,
    ...(sasl === undefined ? {} : { sasl }),
    ...(options.connectionTimeoutMs === undefined ? {} : { connectionTimeout: options.connectionTimeoutMs }),
    ...(options.socketFactory === undefined ? {} : { socketFactory: options.socketFactory }),
    // At least ERROR, so that an OFFSET_OUT_OF_RANGE reset is always seen.
    logLevel: Math.max(threshold, KafkaLogLevel.ERROR),
    logCreator: () => (entry) => log(logEntry(entry, threshold))
  }
}

// -----------------------------------------------------------------------------
// The producer and the admin client
// -----------------------------------------------------------------------------

const makeProducer = (kafka: KafkaJsClient) =>
  Effect.gen(function*() {
    // Idempotent: a multi-partition send that kafkajs retries (one partition answered with a
    // retriable error) must not write the partitions that succeeded twice. Its retries are
    // bounded as the plain producer's (5): kafkajs's idempotent default retries forever, and a dead
    // broker would hang `send`.
    const config: ProducerConfig = {
      idempotent: true,
      retry: { retries: 5 },
      maxInFlightRequests: 1,
      // kafkajs 2's default (murmur2, as the Java client), named to silence its warning
      createPartitioner: Partitioners.DefaultPartitioner
    }
    const producer = yield* connected("producer", () => kafka.producer(config), (producer) => producer.connect())
    const send = Effect.fn("KafkaJs.send")(function*(messages: ReadonlyArray<ProducerMessage>) {
      if (messages.length === 0) return
      yield* Effect.tryPromise({
        try: () => producer.sendBatch({ acks: -1, topicMessages: toTopicMessages(messages) }),
        catch: kafkaError(`Producing ${messages.length} records`)
      })
    })
    const kafkaProducer: KafkaProducer = { send }
    return kafkaProducer
  })

const makeAdmin = Effect.fnUntraced(function*(kafka: KafkaJsClient) {
  const admin = yield* Effect.acquireRelease(
    Effect.sync(() => kafka.admin()),
    (admin) => disconnect("admin client", () => admin.disconnect())
  )
  // `connect` returns at once when a broker connection is up.
  const useAdmin = <A>(what: string, f: (client: typeof admin) => Promise<A>): Effect.Effect<A, KafkaError> =>
    Effect.tryPromise({
      try: async () => {
        await admin.connect()
        return await f(admin)
      },
      catch: kafkaError(what)
    })
  const operations: Pick<KafkaClient["Service"], "createTopic" | "topicOffsets" | "committedOffsets"> = {
    createTopic: (topic, partitions) =>
      useAdmin(
        `Creating topic ${topic}`,
        async (admin) =>
          // `createTopics` resolves `false` when the topic exists (created meanwhile).
          (await admin.listTopics()).includes(topic) ||
          admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
      ).pipe(Effect.asVoid, Effect.withSpan("KafkaJs.createTopic")),
    topicOffsets: (topic) =>
      useAdmin(`Reading the offsets of topic ${topic}`, (admin) => admin.fetchTopicOffsets(topic)).pipe(
        Effect.map(toPartitionOffsets),
        Effect.withSpan("KafkaJs.topicOffsets")
      ),
    committedOffsets: (groupId, topic) =>
      useAdmin(
        `Reading the committed offsets of group ${groupId}`,
        (admin) => admin.fetchOffsets({ groupId, topics: [topic] })
      ).pipe(Effect.map(toCommittedOffsets), Effect.withSpan("KafkaJs.committedOffsets"))
  }
  return operations
})

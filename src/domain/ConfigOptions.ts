/**
 * The one table of configuration options (pure: no I/O). Each option is
 * declared once, here: its schema, the rule an issue line quotes, how its
 * text is parsed from an env var or a flag (`kind`), its default, whether it
 * is required, and its description. Derived from it: the `PipelineConfig`
 * schema and defaults, the rules of issue lines, the loader's flat option
 * list with flags and env vars, the CLI's typed flags and the README's table.
 */
import { Schema } from "effect"
import {
  cliDefaultsOf,
  type ConfigOption,
  configOption,
  defaultsOf,
  fieldsOf,
  group,
  type OptionKeysOf,
  type OptionSpec,
  rulesOf,
  setting,
  settingsOf
} from "./ConfigOption.js"
import { ArchiveCompressions } from "./ArchiveCompression.js"
import {
  ArchiveCompressionSchema,
  HostPort,
  HttpUrl,
  IntAtLeast,
  IntBetween,
  KafkaClients,
  KafkaClientSchema,
  LogFormats,
  LogFormatSchema,
  LogLevels,
  LogLevelSchema,
  MetricsPort,
  NonEmptyList,
  NonEmptyString,
  OrderingSchema,
  Password,
  PositiveInt,
  PositiveMs,
  SaslMechanisms,
  SaslMechanismSchema,
  StopAtOffsets,
  TOPIC_RULE,
  TopicName
} from "./ConfigValues.js"
import { downstreamSettings } from "./DownstreamSettings.js"
import { Orderings } from "./KeyScheduler.js"

const oneOf = (choices: ReadonlyArray<string>) => `one of ${choices.join(", ")}`

/** Options of the `run` command that are not settings: where the others are read from, and the processor. */
export const runOptions = {
  config: {
    kind: "string",
    metavar: "file",
    description: "Path of a JSON config file (camelCase keys as in this table); flags and env vars override it."
  },
  processor: {
    kind: "string",
    metavar: "module",
    required: true,
    description:
      "Module whose default export processes a record (an Effect function or an async function), or builtin:json / builtin:noop. Used by `run`; in a config file a relative path is resolved from the file's directory."
  }
} as const satisfies Record<string, OptionSpec>

/** The settings of `PipelineConfig`, in the order of its fields. */
export const pipelineSettings = {
  brokers: setting({
    schema: NonEmptyList(HostPort),
    rule: "a non-empty list of host:port addresses",
    partRules: { "[]": "a host:port address (port 1–65535)" },
    kind: "list",
    metavar: "host:port,…",
    required: true,
    description: "Kafka bootstrap brokers, comma-separated host:port."
  }),
  topics: setting({
    schema: NonEmptyList(TopicName),
    rule: "a non-empty list of topic names",
    partRules: { "[]": `a topic name (${TOPIC_RULE})` },
    kind: "list",
    metavar: "topic,…",
    required: true,
    description: "Topics to consume, comma-separated."
  }),
  groupId: setting({
    schema: NonEmptyString,
    rule: "a non-empty string",
    kind: "string",
    required: true,
    description: "Consumer group id."
  }),
  clientId: setting({
    schema: NonEmptyString,
    rule: "a non-empty string",
    kind: "string",
    default: "effect-kafka-pipeline",
    description: "Kafka client id."
  }),
  client: setting({
    schema: KafkaClientSchema,
    rule: oneOf(KafkaClients),
    kind: "string",
    choices: KafkaClients,
    default: "kafkajs",
    description:
      "Kafka client library: kafkajs (the default: the one the pipeline was built and measured on) or platformatic (@platformatic/kafka: maintained, KIP-848-ready; see the README for its limits)."
  }),
  concurrency: setting({
    schema: IntBetween(1, 1000),
    rule: "an integer between 1 and 1000",
    kind: "integer",
    default: 16,
    description: "Records processed in parallel (1–1000)."
  }),
  ordering: setting({
    schema: OrderingSchema,
    rule: oneOf(Orderings),
    kind: "string",
    choices: Orderings,
    default: "key",
    description:
      "Which records wait for each other: key (records of a partition with the same key one at a time, in offset order; other keys in parallel; null keys unordered), partition (one record per partition at a time), unordered (any record at any time)."
  }),
  queueSize: setting({
    schema: IntAtLeast(10),
    rule: "an integer ≥ 10",
    kind: "integer",
    default: 1000,
    description: "Capacity of the record queue between polling and processing, in records (≥ 10)."
  }),
  queueBytes: setting({
    schema: IntAtLeast(1024),
    rule: "an integer ≥ 1024",
    kind: "integer",
    default: 67_108_864,
    description:
      "Capacity of the record queue in bytes of keys, values and headers (≥ 1024); also bounds the archive rows waiting for the disk (at least 16 MiB)."
  }),
  commitIntervalMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 5000,
    description: "How often handled offsets are committed, in ms (> 0)."
  }),
  flushIntervalMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 1000,
    description: "Longest time a CSV row waits before its batch is flushed, in ms (> 0)."
  }),
  backupBatchSize: setting({
    schema: IntAtLeast(1),
    rule: "an integer ≥ 1",
    kind: "integer",
    default: 1000,
    description: "Backup CSV rows written per batch (≥ 1)."
  }),
  dlqBatchSize: setting({
    schema: IntAtLeast(1),
    rule: "an integer ≥ 1",
    kind: "integer",
    default: 100,
    description: "DLQ CSV rows written per batch (≥ 1)."
  }),
  backupDir: setting({
    schema: NonEmptyString,
    rule: "a directory path",
    kind: "string",
    metavar: "dir",
    description:
      "Directory of the hourly backup CSV files (one row per consumed record); no backup when unset. Must exist and be writable."
  }),
  dlqDir: setting({
    schema: NonEmptyString,
    rule: "a directory path",
    kind: "string",
    metavar: "dir",
    required: true,
    description: "Directory of the hourly dead-letter CSV files. Must exist and be writable."
  }),
  dlqTopic: setting({
    schema: TopicName,
    rule: `a topic name (${TOPIC_RULE})`,
    kind: "string",
    metavar: "topic",
    description: "Also produce failed records to this Kafka topic, with error headers."
  }),
  archiveCompression: setting({
    schema: ArchiveCompressionSchema,
    rule: oneOf(ArchiveCompressions),
    kind: "string",
    choices: ArchiveCompressions,
    default: "none",
    description:
      "Compress each backup and DLQ file once its hour is closed: none, or gzip (into `<name>.csv.gz`, which `zcat` reads); the open hour stays plain."
  }),
  stopAtOffsets: setting({
    schema: StopAtOffsets,
    rule: "a list of { topic, partition, offset }, an object { \"topic:partition\": offset } or \"topic:partition=offset,…\"",
    partRules: {
      "[]": "an object { topic, partition, offset }",
      "[].topic": `a topic name (${TOPIC_RULE})`,
      "[].partition": "an integer ≥ 0",
      "[].offset": "an integer ≥ 0"
    },
    kind: "stopAtOffsets",
    metavar: "topic:partition=offset,…",
    default: [],
    description:
      "Stop once each listed partition has handled its offset (inclusive), here or in another member of the group (its committed offset is past it): topic:partition=offset,… (file: also [{ topic, partition, offset }] or { \"topic:partition\": offset })."
  }),
  devMode: setting({
    schema: Schema.Boolean,
    rule: "a boolean",
    kind: "boolean",
    default: false,
    description: "Development mode: never commit offsets (logs what it would have committed)."
  }),
  fromBeginning: setting({
    schema: Schema.Boolean,
    rule: "a boolean",
    kind: "boolean",
    default: true,
    description: "Where a partition without a committed offset starts: the earliest offset (true) or the latest (false)."
  }),
  decodeUtf8: setting({
    schema: Schema.Boolean,
    rule: "a boolean",
    kind: "boolean",
    default: true,
    description:
      "Decode values as UTF-8 into `text` (invalid UTF-8 goes to the DLQ); false leaves `text` null and the processor reads the bytes."
  }),
  logLevel: setting({
    schema: LogLevelSchema,
    rule: `${oneOf(LogLevels)} (any case)`,
    kind: "string",
    choices: LogLevels,
    default: "Info",
    description: `Minimum log level: ${LogLevels.join(", ")} (any case).`
  }),
  logFormat: setting({
    schema: LogFormatSchema,
    rule: oneOf(LogFormats),
    kind: "string",
    choices: LogFormats,
    default: "auto",
    description: `Log format: ${LogFormats.join(", ")} (auto: pretty on a terminal, JSON otherwise).`
  }),
  maxMessageBytes: setting({
    schema: PositiveInt,
    rule: "an integer > 0",
    kind: "integer",
    default: 10_485_760,
    description: "Records larger than this (key + value + headers) go to the DLQ unprocessed."
  }),
  processingTimeoutMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 30_000,
    description: "Longest time one processing attempt may take, in ms (> 0)."
  }),
  shutdownTimeoutMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 30_000,
    description: "On shutdown, warn when in-flight work takes longer than this, in ms (> 0); it keeps waiting."
  }),
  maxRetries: setting({
    schema: IntAtLeast(0),
    rule: "an integer ≥ 0",
    kind: "integer",
    default: 3,
    description: "Retries of a retryable processing failure before the record goes to the DLQ (≥ 0)."
  }),
  retryBaseDelayMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 100,
    description: "First retry delay in ms (> 0); doubles each retry, with jitter."
  }),
  retryMaxDelayMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 10_000,
    description: "Longest retry delay in ms (≥ retryBaseDelayMs)."
  }),
  ...downstreamSettings,
  sessionTimeoutMs: setting({
    schema: IntAtLeast(6000),
    rule: "an integer ≥ 6000",
    kind: "integer",
    default: 30_000,
    description: "Kafka consumer group session timeout in ms (≥ 6000)."
  }),
  heartbeatIntervalMs: setting({
    schema: PositiveInt,
    rule: "an integer > 0",
    kind: "integer",
    default: 3000,
    description: "Kafka consumer heartbeat interval in ms (> 0, < sessionTimeoutMs)."
  }),
  restartBudgetMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 60_000,
    description:
      "How long Kafka may stay out of reach before the pipeline fails, in ms (> 0): brokers that cannot be reached at the start, or a client that keeps crashing and restarting."
  }),
  metricsPort: setting({
    schema: MetricsPort,
    rule: "an integer between 0 and 65535 (0: any free port) or \"off\"",
    kind: "integer",
    choices: ["off"],
    cliDefault: 9464,
    description:
      "Port of the HTTP endpoints /metrics (Prometheus), /health and /ready; 0: any free port (logged), off: none. The default is the CLI's; in the library metrics are off unless set."
  }),
  lagIntervalMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 10_000,
    description:
      "How often the consumer lag (end offset − committed offset of each assigned partition) is read from the brokers for /metrics and the progress line, in ms (> 0)."
  }),
  otlpEndpoint: setting({
    schema: HttpUrl,
    rule: "an http(s) URL such as http://localhost:4318",
    kind: "string",
    metavar: "url",
    fallbackEnv: "OTEL_EXPORTER_OTLP_ENDPOINT",
    description:
      "Export a span per record, commit and archive rotation over OTLP/HTTP to this collector (e.g. http://localhost:4318); tracing is off when unset."
  }),
  ssl: setting({
    schema: Schema.Boolean,
    rule: "a boolean",
    kind: "boolean",
    default: false,
    description: "Connect to the brokers over TLS."
  }),
  sasl: group({
    mechanism: setting({
      schema: SaslMechanismSchema,
      rule: oneOf(SaslMechanisms),
      kind: "string",
      choices: SaslMechanisms,
      description: `SASL mechanism: ${SaslMechanisms.join(", ")}; SASL is on when set.`
    }),
    username: setting({
      schema: NonEmptyString,
      rule: "a non-empty string",
      kind: "string",
      description: "SASL username."
    }),
    password: setting({
      schema: Password,
      rule: "a string",
      kind: "secret",
      description:
        "SASL password (prefer the env var or the config file to a flag: flags show in the process list). Never logged."
    })
  })
}

// -----------------------------------------------------------------------------
// Derived
// -----------------------------------------------------------------------------

/** A `PipelineConfig` key, a group's settings as `sasl.password`, `config` or `processor`. */
export type ConfigOptionKey = OptionKeysOf<typeof pipelineSettings> | keyof typeof runOptions

/** Every option, in the table's order: the loader reads these, the CLI makes a flag of each. */
export const configOptions: ReadonlyArray<ConfigOption<ConfigOptionKey>> = [
  ...Object.entries(runOptions),
  ...settingsOf(pipelineSettings)
].map(([key, spec]) => configOption(key as ConfigOptionKey, spec))

/** The fields of the `PipelineConfig` schema. */
export const settingFields = fieldsOf(pipelineSettings)

/** The value each defaulted setting takes when no source gives one. */
export const settingDefaults = defaultsOf(pipelineSettings)

/** What follows "expected" in an issue line, by path with array indices as `[]`. */
export const fieldRules = rulesOf(pipelineSettings)

/**
 * Defaults of the `kafka-pipeline` command that differ from the library's
 * (`makePipelineConfig`): the CLI serves metrics unless told `off`.
 */
export const cliDefaults = cliDefaultsOf(pipelineSettings)

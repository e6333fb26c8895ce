/**
 * Loading the configuration: raw values from CLI flags, environment variables
 * and a JSON config file, merged with the precedence
 *
 *     flags  >  env vars  >  config file  >  defaults
 *
 * then decoded with the `PipelineConfig` schema and, finally, the directories
 * checked on the `FileSystem` (they must exist, be directories, be writable).
 *
 * `configOptions` is the one table of options: the CLI builds its flags from
 * it and the README's option table is generated from it.
 */
import { Effect, FileSystem } from "effect"
import * as NodePath from "node:path"
import { ConfigError } from "../../domain/Errors.js"
import {
  decodePipelineConfig,
  LogFormats,
  LogLevels,
  type PipelineConfig,
  type PipelineConfigKey,
  PipelineConfigDefaults,
  SaslMechanisms,
  showValue
} from "../../domain/PipelineConfig.js"

// -----------------------------------------------------------------------------
// The option table
// -----------------------------------------------------------------------------

/** How a string (env var, flag) is turned into the field's value before decoding. */
export type ConfigOptionKind =
  | "string"
  | "secret"
  | "integer"
  | "number"
  | "boolean"
  | "list"
  | "stopAtOffsets"

/**
 * A `PipelineConfig` key, `sasl.*` for the nested SASL settings, `config`
 * (the config file's path) or `processor` (the CLI's processor module; a
 * library passes its processor to `Pipeline.run` as a value).
 */
export type ConfigOptionKey =
  | Exclude<PipelineConfigKey, "sasl">
  | "sasl.mechanism"
  | "sasl.username"
  | "sasl.password"
  | "config"
  | "processor"

export interface ConfigOption {
  readonly key: ConfigOptionKey
  /** The CLI flag's name without the leading `--` (kebab-case): `group-id` is `--group-id`. */
  readonly flag: string
  /** `KAFKA_PIPELINE_` + the key in SCREAMING_SNAKE case. */
  readonly env: string
  /** A standard variable read when `env` is not set (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly fallbackEnv?: string
  readonly kind: ConfigOptionKind
  /** Must be given by some source (`processor` only by the CLI's `run`). */
  readonly required: boolean
  readonly description: string
  /** The default as text, when there is one. */
  readonly default?: string
}

export const ENV_PREFIX = "KAFKA_PIPELINE_"

const words = (key: string): Array<string> =>
  key.split(".").flatMap((part) => part.split(/(?=[A-Z])/)).map((w) => w.toLowerCase())

const option = (
  key: ConfigOptionKey,
  kind: ConfigOptionKind,
  description: string,
  extra: { readonly required?: boolean; readonly default?: string; readonly fallbackEnv?: string } = {}
): ConfigOption => ({
  key,
  flag: words(key).join("-"),
  env: ENV_PREFIX + words(key).join("_").toUpperCase(),
  ...(extra.fallbackEnv !== undefined ? { fallbackEnv: extra.fallbackEnv } : {}),
  kind,
  required: extra.required ?? false,
  description,
  ...(extra.default !== undefined ? { default: extra.default } : {})
})

/**
 * Defaults of the `kafka-pipeline` command that differ from the library's
 * (`makePipelineConfig`): the CLI serves metrics unless told `off`.
 */
export const cliDefaults = { metricsPort: 9464 } as const

const d = PipelineConfigDefaults
const def = (value: string | number | boolean) => ({ default: String(value) })

export const configOptions: ReadonlyArray<ConfigOption> = [
  option("config", "string", "Path of a JSON config file (camelCase keys as in this table); flags and env vars override it."),
  option(
    "processor",
    "string",
    "Module whose default export processes a record (an Effect function or an async function), or builtin:json / builtin:noop. Used by `run`; in a config file a relative path is resolved from the file's directory.",
    { required: true }
  ),
  option("brokers", "list", "Kafka bootstrap brokers, comma-separated host:port.", { required: true }),
  option("topics", "list", "Topics to consume, comma-separated.", { required: true }),
  option("groupId", "string", "Consumer group id.", { required: true }),
  option("clientId", "string", "Kafka client id.", def(d.clientId)),
  option("concurrency", "integer", "Records processed in parallel (1–1000).", def(d.concurrency)),
  option(
    "ordering",
    "string",
    "Which records wait for each other: key (records of a partition with the same key one at a time, in offset order; other keys in parallel; null keys unordered), partition (one record per partition at a time), unordered (any record at any time).",
    def(d.ordering)
  ),
  option("queueSize", "integer", "Capacity of the record queue between polling and processing, in records (≥ 10).", def(d.queueSize)),
  option("queueBytes", "integer", "Capacity of the record queue in bytes of keys, values and headers (≥ 1024); also bounds the archive rows waiting for the disk (at least 16 MiB).", def(d.queueBytes)),
  option("commitIntervalMs", "number", "How often handled offsets are committed, in ms (> 0).", def(d.commitIntervalMs)),
  option("flushIntervalMs", "number", "Longest time a CSV row waits before its batch is flushed, in ms (> 0).", def(d.flushIntervalMs)),
  option("backupBatchSize", "integer", "Backup CSV rows written per batch (≥ 1).", def(d.backupBatchSize)),
  option("dlqBatchSize", "integer", "DLQ CSV rows written per batch (≥ 1).", def(d.dlqBatchSize)),
  option("backupDir", "string", "Directory of the hourly backup CSV files (one row per consumed record); no backup when unset. Must exist and be writable."),
  option("dlqDir", "string", "Directory of the hourly dead-letter CSV files. Must exist and be writable.", { required: true }),
  option("dlqTopic", "string", "Also produce failed records to this Kafka topic, with error headers."),
  option("stopAtOffsets", "stopAtOffsets", "Stop once each listed partition has handled its offset (inclusive), here or in another member of the group (its committed offset is past it): topic:partition=offset,… (file: also [{ topic, partition, offset }] or { \"topic:partition\": offset })."),
  option("devMode", "boolean", "Development mode: never commit offsets (logs what it would have committed).", def(d.devMode)),
  option("fromBeginning", "boolean", "Where a partition without a committed offset starts: the earliest offset (true) or the latest (false).", def(d.fromBeginning)),
  option("decodeUtf8", "boolean", "Decode values as UTF-8 into `text` (invalid UTF-8 goes to the DLQ); false leaves `text` null and the processor reads the bytes.", def(d.decodeUtf8)),
  option("logLevel", "string", `Minimum log level: ${LogLevels.join(", ")} (any case).`, def(d.logLevel)),
  option("logFormat", "string", `Log format: ${LogFormats.join(", ")} (auto: pretty on a terminal, JSON otherwise).`, def(d.logFormat)),
  option("maxMessageBytes", "integer", "Records larger than this (key + value + headers) go to the DLQ unprocessed.", def(d.maxMessageBytes)),
  option("processingTimeoutMs", "number", "Longest time one processing attempt may take, in ms (> 0).", def(d.processingTimeoutMs)),
  option("shutdownTimeoutMs", "number", "On shutdown, warn when in-flight work takes longer than this, in ms (> 0); it keeps waiting.", def(d.shutdownTimeoutMs)),
  option("maxRetries", "integer", "Retries of a retryable processing failure before the record goes to the DLQ (≥ 0).", def(d.maxRetries)),
  option("retryBaseDelayMs", "number", "First retry delay in ms (> 0); doubles each retry, with jitter.", def(d.retryBaseDelayMs)),
  option("retryMaxDelayMs", "number", "Longest retry delay in ms (≥ retryBaseDelayMs).", def(d.retryMaxDelayMs)),
  option("sessionTimeoutMs", "integer", "Kafka consumer group session timeout in ms (≥ 6000).", def(d.sessionTimeoutMs)),
  option("heartbeatIntervalMs", "integer", "Kafka consumer heartbeat interval in ms (> 0, < sessionTimeoutMs).", def(d.heartbeatIntervalMs)),
  option("restartBudgetMs", "number", "How long the Kafka client may keep restarting after crashes before the pipeline fails, in ms (> 0).", def(d.restartBudgetMs)),
  option(
    "metricsPort",
    "integer",
    "Port of the HTTP endpoints /metrics (Prometheus), /health and /ready; 0: any free port (logged), off: none. The default is the CLI's; in the library metrics are off unless set.",
    def(cliDefaults.metricsPort)
  ),
  option("lagIntervalMs", "number", "How often the consumer lag (end offset − committed offset of each assigned partition) is read from the brokers for /metrics and the progress line, in ms (> 0).", def(d.lagIntervalMs)),
  option("otlpEndpoint", "string", "Export a span per record, commit and archive rotation over OTLP/HTTP to this collector (e.g. http://localhost:4318); tracing is off when unset.", { fallbackEnv: "OTEL_EXPORTER_OTLP_ENDPOINT" }),
  option("ssl", "boolean", "Connect to the brokers over TLS.", def(d.ssl)),
  option("sasl.mechanism", "string", `SASL mechanism: ${SaslMechanisms.join(", ")}; SASL is on when set.`),
  option("sasl.username", "string", "SASL username."),
  option("sasl.password", "secret", "SASL password (prefer the env var or the config file to a flag: flags show in the process list). Never logged.")
]

// -----------------------------------------------------------------------------
// Parsing string sources
// -----------------------------------------------------------------------------

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const TRUE = new Set(["true", "1", "yes", "y", "on"])
const FALSE = new Set(["false", "0", "no", "n", "off"])

/**
 * Turns the text of an env var or flag into the value the schema expects.
 * Text that does not parse is passed on as it is, so the schema reports it
 * with the field's rule: `concurrency: expected an integer between 1 and 1000, got "abc"`.
 */
export const parseOptionValue = (kind: ConfigOptionKind, text: string): unknown => {
  const trimmed = text.trim()
  switch (kind) {
    case "integer":
    case "number":
      return NUMBER.test(trimmed) ? Number(trimmed) : text
    case "boolean": {
      const lower = trimmed.toLowerCase()
      return TRUE.has(lower) ? true : FALSE.has(lower) ? false : text
    }
    case "list":
      return trimmed.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
    case "string":
      return trimmed
    case "secret":
    case "stopAtOffsets":
      return text
  }
}

// -----------------------------------------------------------------------------
// Sources and merging
// -----------------------------------------------------------------------------

export interface ConfigSources {
  /**
   * Parsed CLI flags by flag name (`"group-id"`; `"--group-id"` and the
   * camelCase key `"groupId"` are accepted too). Keys that are not options
   * (such as `processor`) are ignored.
   */
  readonly flags: Readonly<Record<string, string | undefined>>
  /** Usually `process.env`. Only `KAFKA_PIPELINE_*` names from the table are read (and their `fallbackEnv`). */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Values below the config file (the CLI passes {@link cliDefaults}); the schema's defaults apply below these. */
  readonly defaults?: Readonly<Record<string, unknown>>
}

type Origin = string
interface Raw {
  values: Record<string, unknown>
  /** Where each top-level key's value (or for `sasl`, each leaf's) came from. */
  origins: Record<string, Origin>
}

const flagValue = (flags: ConfigSources["flags"], option: ConfigOption): string | undefined => {
  for (const name of [option.flag, `--${option.flag}`, option.key]) {
    const value = flags[name]
    if (value !== undefined) return value
  }
  return undefined
}

/** Blank values count as not given: `KAFKA_PIPELINE_BACKUP_DIR=` leaves the backup off. */
const given = (value: string | undefined): value is string => value !== undefined && value.trim().length > 0

const setPath = (raw: Raw, key: string, value: unknown, origin: Origin): void => {
  const [head, leaf] = key.split(".") as [string, string | undefined]
  if (leaf === undefined) {
    raw.values[head] = value
  } else {
    const current = raw.values[head]
    const nested = typeof current === "object" && current !== null && !Array.isArray(current)
      ? { ...(current as Record<string, unknown>) }
      : {}
    nested[leaf] = value
    raw.values[head] = nested
  }
  raw.origins[key] = origin
}

const fromStrings = (
  raw: Raw,
  lookup: (option: ConfigOption) => string | undefined,
  describe: (option: ConfigOption) => Origin
): void => {
  for (const option of configOptions) {
    if (option.key === "config") continue
    const text = lookup(option)
    if (given(text)) setPath(raw, option.key, parseOptionValue(option.kind, text), describe(option))
  }
}

const fromFile = (raw: Raw, file: Record<string, unknown>, path: string): void => {
  for (const [key, value] of Object.entries(file)) {
    raw.values[key] = key === "processor" ? processorFromFile(value, path) : value
    raw.origins[key] = `config file ${path}`
    if (key === "sasl" && typeof value === "object" && value !== null && !Array.isArray(value)) {
      raw.values[key] = { ...(value as Record<string, unknown>) }
      for (const leaf of Object.keys(value)) raw.origins[`sasl.${leaf}`] = `config file ${path}`
    }
  }
}

/** A module path in a config file is relative to the file, as in tsconfig.json or .eslintrc. */
const processorFromFile = (value: unknown, path: string): unknown =>
  typeof value === "string" && value.trim() !== "" && !value.startsWith("builtin:")
    ? NodePath.resolve(NodePath.dirname(path), value.trim())
    : value

const configOption = configOptions.find((o) => o.key === "config")!

/** The config file's path: `--config`, else `KAFKA_PIPELINE_CONFIG`. */
export const configFilePath = (sources: ConfigSources): string | undefined => {
  const fromFlag = flagValue(sources.flags, configOption)
  if (given(fromFlag)) return fromFlag.trim()
  const fromEnv = sources.env[configOption.env]
  return given(fromEnv) ? fromEnv.trim() : undefined
}

const readConfigFile = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) =>
        configIssue(
          error.reason._tag === "NotFound"
            ? `config: config file ${showValue(path)} does not exist`
            : `config: cannot read config file ${showValue(path)}: ${error.message}`
        )
      )
    )
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      return yield* Effect.fail(
        configIssue(`config: config file ${showValue(path)} is not valid JSON: ${(error as Error).message}`)
      )
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return yield* Effect.fail(
        configIssue(`config: config file ${showValue(path)} must hold a JSON object of settings, got ${showValue(parsed)}`)
      )
    }
    return parsed as Record<string, unknown>
  })

const configIssue = (issue: string) => new ConfigError({ issues: [issue] })

/**
 * The merged raw settings (not yet decoded) and where each came from. Reads
 * the config file when one is named.
 */
export const readRawConfig = (sources: ConfigSources) =>
  Effect.gen(function*() {
    const raw: Raw = { values: {}, origins: {} }
    for (const [key, value] of Object.entries(sources.defaults ?? {})) setPath(raw, key, value, "default")
    const path = configFilePath(sources)
    if (path !== undefined) fromFile(raw, yield* readConfigFile(path), path)
    const fromEnv = (o: ConfigOption) =>
      given(sources.env[o.env]) || o.fallbackEnv === undefined ? o.env : o.fallbackEnv
    fromStrings(raw, (o) => sources.env[fromEnv(o)], fromEnv)
    fromStrings(raw, (o) => flagValue(sources.flags, o), (o) => `--${o.flag}`)
    return raw as { readonly values: Readonly<Record<string, unknown>>; readonly origins: Readonly<Record<string, Origin>> }
  })

/** `sasl.password: …` → `sasl.password`; `stopAtOffsets[0].offset: …` → `stopAtOffsets`. */
const issueKey = (issue: string): string => (/^[\w$]*(?:\.[\w$]+)?/.exec(issue) as RegExpExecArray)[0]

/** Appends where the value came from, e.g. ` (from KAFKA_PIPELINE_CONCURRENCY)`. */
const withOrigins = (issues: ReadonlyArray<string>, origins: Readonly<Record<string, Origin>>) =>
  issues.map((issue) => {
    const key = issueKey(issue)
    const origin = origins[key] ?? origins[key.split(".")[0]!]
    return origin === undefined ? issue : `${issue} (from ${origin})`
  })

// -----------------------------------------------------------------------------
// Directories
// -----------------------------------------------------------------------------

/**
 * `dlqDir` and, when set, `backupDir` must exist, be directories and be
 * writable by this process. Both are checked; all problems are reported.
 */
export const checkDirectories = (config: PipelineConfig): Effect.Effect<void, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dirs: Array<readonly [string, string]> = [["dlqDir", config.dlqDir]]
    if (config.backupDir !== undefined) dirs.unshift(["backupDir", config.backupDir])
    const issues: Array<string> = []
    for (const [field, dir] of dirs) {
      const issue = yield* checkDirectory(fs, field, dir)
      if (issue !== undefined) issues.push(issue)
    }
    if (issues.length > 0) return yield* Effect.fail(new ConfigError({ issues }))
  })

const checkDirectory = (fs: FileSystem.FileSystem, field: string, dir: string) =>
  Effect.gen(function*() {
    const shown = showValue(dir)
    const stat = yield* Effect.result(fs.stat(dir))
    if (stat._tag === "Failure") {
      const reason = stat.failure.reason
      if (reason._tag === "NotFound") return `${field}: directory ${shown} does not exist`
      if (reason._tag === "BadResource") return `${field}: directory ${shown} does not exist (a part of the path is a file)`
      if (reason._tag === "PermissionDenied") return `${field}: directory ${shown} cannot be reached (permission denied)`
      return `${field}: directory ${shown} cannot be checked: ${stat.failure.message}`
    }
    if (stat.success.type !== "Directory") {
      return `${field}: ${shown} is not a directory (it is a ${stat.success.type.toLowerCase()})`
    }
    const access = yield* Effect.result(fs.access(dir, { writable: true }))
    if (access._tag === "Failure") {
      return access.failure.reason._tag === "PermissionDenied"
        ? `${field}: directory ${shown} is not writable`
        : `${field}: directory ${shown} is not writable: ${access.failure.message}`
    }
    return undefined
  })

// -----------------------------------------------------------------------------
// Loading
// -----------------------------------------------------------------------------

export interface RunConfig {
  readonly config: PipelineConfig
  /** The `processor` option as given (a config file's relative path already resolved), if any. */
  readonly processor: string | undefined
}

/**
 * Reads the config file (when `--config` / `KAFKA_PIPELINE_CONFIG` names
 * one), merges flags > env vars > file > defaults, decodes, and checks the
 * directories. Every issue line says where its value came from.
 */
export const loadRunConfig = (sources: ConfigSources): Effect.Effect<RunConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const raw = yield* readRawConfig(sources)
    const relabel = Effect.mapError((error: ConfigError) =>
      new ConfigError({ issues: withOrigins(error.issues, raw.origins) })
    )
    const { processor, ...fields } = raw.values
    if (processor !== undefined && typeof processor !== "string") {
      return yield* new ConfigError({
        issues: [`processor: expected a module path or builtin name (a string), got ${showValue(processor)}`]
      }).pipe(relabel)
    }
    const config = yield* decodePipelineConfig(fields).pipe(relabel)
    yield* checkDirectories(config).pipe(relabel)
    return { config, processor }
  })

/** `loadRunConfig` for a library: the settings only (a `processor` key is accepted and ignored). */
export const loadConfig = (sources: ConfigSources): Effect.Effect<PipelineConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.map(loadRunConfig(sources), (run) => run.config)

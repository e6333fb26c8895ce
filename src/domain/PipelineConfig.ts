/**
 * The pipeline's validated configuration (pure: no I/O).
 *
 * `PipelineConfig` is an `effect` Schema over plain objects. Decode with
 * {@link decodePipelineConfig} (or {@link makePipelineConfig} from code): every
 * problem becomes one line of a {@link ConfigError}, naming the field (dotted
 * path), the value received (secrets as `<redacted>`) and the rule, e.g.
 * `concurrency: expected an integer between 1 and 1000, got 2000`.
 *
 * Reading the raw values (env vars, flags, a JSON file) and checking that the
 * directories exist and are writable is `layers/config/ConfigLoader.ts`.
 */
import { Cause, Effect, Exit, Redacted, Schema, SchemaGetter, SchemaIssue, SchemaParser } from "effect"
import { ConfigError } from "./Errors.js"
import type { Ordering } from "./KeyScheduler.js"
import { Orderings } from "./KeyScheduler.js"

// -----------------------------------------------------------------------------
// Defaults
// -----------------------------------------------------------------------------

/** The value each optional setting takes when no source gives one. */
export const PipelineConfigDefaults = {
  clientId: "effect-kafka-pipeline",
  concurrency: 16,
  ordering: "key" as Ordering,
  queueSize: 1000,
  queueBytes: 67_108_864,
  commitIntervalMs: 5000,
  flushIntervalMs: 1000,
  backupBatchSize: 1000,
  dlqBatchSize: 100,
  stopAtOffsets: [] as ReadonlyArray<StopAtOffset>,
  devMode: false,
  fromBeginning: true,
  decodeUtf8: true,
  logLevel: "Info" as LogLevel,
  logFormat: "auto" as LogFormat,
  maxMessageBytes: 10_485_760,
  processingTimeoutMs: 30_000,
  shutdownTimeoutMs: 30_000,
  maxRetries: 3,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 10_000,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3000,
  restartBudgetMs: 60_000,
  lagIntervalMs: 10_000,
  ssl: false
} as const

// -----------------------------------------------------------------------------
// Field schemas
// -----------------------------------------------------------------------------

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

/** Kafka topic names: 1–249 of `[a-zA-Z0-9._-]`, and not `.` or `..` (the broker rejects those). */
export const isTopicName = (s: string): boolean => TOPIC_NAME.test(s) && s !== "." && s !== ".."

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/,[\]]+):(\d{1,5})$/

/** `host:port` (IPv6 hosts in brackets), port 1–65535. */
export const isHostPort = (s: string): boolean => {
  const match = HOST_PORT.exec(s)
  if (match === null) return false
  const port = Number(match[2])
  return port >= 1 && port <= 65_535
}

const TopicName = Schema.String.check(Schema.makeFilter(isTopicName))
const HostPort = Schema.String.check(Schema.makeFilter(isHostPort))
const NonEmptyString = Schema.String.check(Schema.isNonEmpty())
const Int = Schema.Int
const IntAtLeast = (minimum: number) => Int.check(Schema.isGreaterThanOrEqualTo(minimum))
const PositiveInt = Int.check(Schema.isGreaterThan(0))
const PositiveMs = Schema.Finite.check(Schema.isGreaterThan(0))

// `…DefaultType`: the field's own schema decodes the given value in one pass (so every
// nested issue is reported at once); only an absent or `undefined` value takes the default.
const withDefault = <S extends Schema.Top & Schema.Constraint>(value: S["Type"]) => (self: S) =>
  self.pipe(Schema.withDecodingDefaultType(Effect.succeed(value)))

const optionalValue = <S extends Schema.Top & Schema.Constraint>(self: S) =>
  Schema.UndefinedOr(self).pipe(Schema.withDecodingDefaultType(Effect.succeed(undefined)))

/** `"off"` turns the endpoint off: it overrides a default port (the CLI's). */
const MetricsPort = Schema.Union([Int.check(Schema.isBetween({ minimum: 0, maximum: 65_535 })), Schema.Literal("off")]).pipe(
  Schema.decodeTo(Schema.UndefinedOr(Int), {
    decode: SchemaGetter.transform((port: number | "off") => port === "off" ? undefined : port),
    encode: SchemaGetter.transform((port: number | undefined) => port ?? "off")
  })
)

/** An http(s) URL, such as an OTLP collector's `http://localhost:4318`. */
export const isHttpUrl = (s: string): boolean => {
  try {
    const url = new URL(s)
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname.length > 0
  } catch {
    return false
  }
}

const HttpUrl = Schema.String.check(Schema.makeFilter(isHttpUrl))

export const LogLevels = ["Trace", "Debug", "Info", "Warn", "Error"] as const
export type LogLevel = (typeof LogLevels)[number]
export const LogFormats = ["json", "pretty", "auto"] as const
export type LogFormat = (typeof LogFormats)[number]
export const SaslMechanisms = ["plain", "scram-sha-256", "scram-sha-512"] as const
export type SaslMechanism = (typeof SaslMechanisms)[number]

/** `"warn"`, `"WARN"`, `"warning"` → `"Warn"`; anything else is left for the literal check to reject. */
const normaliseLogLevel = (s: string): string => {
  const lower = s.trim().toLowerCase()
  if (lower === "warning") return "Warn"
  return lower.charAt(0).toUpperCase() + lower.slice(1)
}

/** A string, matched case-insensitively against `literals` and decoded to the canonical spelling. */
const caseInsensitiveLiterals = <const L extends ReadonlyArray<string>>(
  literals: L,
  normalise: (s: string) => string
) =>
  Schema.String.pipe(
    Schema.decodeTo(Schema.Literals(literals), {
      decode: SchemaGetter.transform((s: string) => normalise(s) as L[number]),
      encode: SchemaGetter.passthrough()
    })
  )

const LogLevelSchema = caseInsensitiveLiterals(LogLevels, normaliseLogLevel)
const OrderingSchema = caseInsensitiveLiterals(Orderings, (s) => s.trim().toLowerCase())
const LogFormatSchema = caseInsensitiveLiterals(LogFormats, (s) => s.trim().toLowerCase())
const SaslMechanismSchema = caseInsensitiveLiterals(SaslMechanisms, (s) => s.trim().toLowerCase())

/** Accepts a plain string or an already `Redacted` one; always decodes to `Redacted<string>`. */
const Password = Schema.Union([Schema.Redacted(Schema.String), Schema.RedactedFromValue(Schema.String)])

/** Stop consuming `topic`/`partition` once `offset` (inclusive: the last offset to handle) is handled. */
export const StopAtOffset = Schema.Struct({
  topic: TopicName,
  partition: IntAtLeast(0),
  offset: IntAtLeast(0)
})
export type StopAtOffset = typeof StopAtOffset.Type

const StopAtOffsets = Schema.Array(StopAtOffset).check(
  Schema.makeFilter((entries) => {
    const seen = new Set<string>()
    for (const [index, entry] of entries.entries()) {
      const key = `${entry.topic}:${entry.partition}`
      if (seen.has(key)) return { path: [index], issue: `expected each topic:partition at most once (${key} is given twice)` }
      seen.add(key)
    }
    return undefined
  })
)

export const SaslConfig = Schema.Struct({
  mechanism: SaslMechanismSchema,
  username: NonEmptyString,
  password: Password
})
export type SaslConfig = typeof SaslConfig.Type

const d = PipelineConfigDefaults

const PipelineConfigStruct = Schema.Struct({
  brokers: Schema.Array(HostPort).check(Schema.isMinLength(1)),
  topics: Schema.Array(TopicName).check(Schema.isMinLength(1)),
  groupId: NonEmptyString,
  clientId: NonEmptyString.pipe(withDefault(d.clientId)),
  concurrency: Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })).pipe(withDefault(d.concurrency)),
  ordering: OrderingSchema.pipe(withDefault(d.ordering)),
  queueSize: IntAtLeast(10).pipe(withDefault(d.queueSize)),
  queueBytes: IntAtLeast(1024).pipe(withDefault(d.queueBytes)),
  commitIntervalMs: PositiveMs.pipe(withDefault(d.commitIntervalMs)),
  flushIntervalMs: PositiveMs.pipe(withDefault(d.flushIntervalMs)),
  backupBatchSize: IntAtLeast(1).pipe(withDefault(d.backupBatchSize)),
  dlqBatchSize: IntAtLeast(1).pipe(withDefault(d.dlqBatchSize)),
  backupDir: optionalValue(NonEmptyString),
  dlqDir: NonEmptyString,
  dlqTopic: optionalValue(TopicName),
  stopAtOffsets: StopAtOffsets.pipe(withDefault(d.stopAtOffsets)),
  devMode: Schema.Boolean.pipe(withDefault(d.devMode)),
  fromBeginning: Schema.Boolean.pipe(withDefault(d.fromBeginning)),
  decodeUtf8: Schema.Boolean.pipe(withDefault(d.decodeUtf8)),
  logLevel: LogLevelSchema.pipe(withDefault(d.logLevel)),
  logFormat: LogFormatSchema.pipe(withDefault(d.logFormat)),
  maxMessageBytes: PositiveInt.pipe(withDefault(d.maxMessageBytes)),
  processingTimeoutMs: PositiveMs.pipe(withDefault(d.processingTimeoutMs)),
  shutdownTimeoutMs: PositiveMs.pipe(withDefault(d.shutdownTimeoutMs)),
  maxRetries: IntAtLeast(0).pipe(withDefault(d.maxRetries)),
  retryBaseDelayMs: PositiveMs.pipe(withDefault(d.retryBaseDelayMs)),
  retryMaxDelayMs: PositiveMs.pipe(withDefault(d.retryMaxDelayMs)),
  sessionTimeoutMs: IntAtLeast(6000).pipe(withDefault(d.sessionTimeoutMs)),
  heartbeatIntervalMs: PositiveInt.pipe(withDefault(d.heartbeatIntervalMs)),
  restartBudgetMs: PositiveMs.pipe(withDefault(d.restartBudgetMs)),
  metricsPort: optionalValue(MetricsPort),
  lagIntervalMs: PositiveMs.pipe(withDefault(d.lagIntervalMs)),
  otlpEndpoint: optionalValue(HttpUrl),
  ssl: Schema.Boolean.pipe(withDefault(d.ssl)),
  sasl: optionalValue(SaslConfig)
}).check(
  // Cross-field rules: they run once every field is valid on its own.
  Schema.makeFilter((c) => {
    const issues: Array<Schema.FilterIssue> = []
    if (c.retryMaxDelayMs < c.retryBaseDelayMs) {
      issues.push({
        path: ["retryMaxDelayMs"],
        issue: `expected a number ≥ retryBaseDelayMs (${c.retryBaseDelayMs})`
      })
    }
    if (c.heartbeatIntervalMs >= c.sessionTimeoutMs) {
      issues.push({
        path: ["heartbeatIntervalMs"],
        issue: `expected an integer < sessionTimeoutMs (${c.sessionTimeoutMs})`
      })
    }
    return issues
  })
)

/**
 * The validated configuration. At runtime a plain (readonly) object; the
 * class is only a named type over the Struct schema (`Schema.Opaque`).
 */
export class PipelineConfig extends Schema.Opaque<PipelineConfig>()(PipelineConfigStruct) {}

/** The keys of {@link PipelineConfig}. */
export type PipelineConfigKey = keyof typeof PipelineConfigStruct.fields

export const pipelineConfigKeys: ReadonlyArray<PipelineConfigKey> = Object.keys(
  PipelineConfigStruct.fields
) as Array<PipelineConfigKey>

/**
 * What {@link makePipelineConfig} accepts: the four required settings, any
 * optional ones, `sasl.password` as a string or `Redacted`, and
 * `stopAtOffsets` in any of its three forms (see {@link normaliseStopAtOffsets}).
 */
export type PipelineConfigInput =
  & Omit<typeof PipelineConfigStruct.Encoded, "stopAtOffsets">
  & { readonly stopAtOffsets?: StopAtOffsetsInput | undefined }

/** `[{ topic, partition, offset }]`, `{ "topic:partition": offset }` or `"topic:partition=offset,…"`. */
export type StopAtOffsetsInput =
  | ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: number }>
  | { readonly [topicPartition: string]: number }
  | string

// -----------------------------------------------------------------------------
// stopAtOffsets: the object and string forms
// -----------------------------------------------------------------------------

const ENTRY = /^([^:=]*):([^:=]*)=([^:=]*)$/
const KEY = /^([^:]*):([^:]*)$/
const INTEGER = /^\d+$/

/**
 * Turns the object form `{ "orders:0": 100 }` and the string form
 * `"orders:0=100,payments:3=7"` into the array form; arrays (and anything
 * else) pass through for the Schema to check. Problems come back as finished
 * issue lines.
 */
export const normaliseStopAtOffsets = (
  input: unknown
): { readonly value: unknown; readonly issues: ReadonlyArray<string> } => {
  if (typeof input === "string") return fromStringForm(input)
  if (typeof input === "object" && input !== null && !Array.isArray(input) && !Redacted.isRedacted(input)) {
    return fromObjectForm(input as Record<string, unknown>)
  }
  return { value: input, issues: [] }
}

const fromStringForm = (input: string) => {
  const issues: Array<string> = []
  const value: Array<StopAtOffset> = []
  const entries = input.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  for (const entry of entries) {
    const match = ENTRY.exec(entry)
    if (match === null) {
      issues.push(`stopAtOffsets: expected topic:partition=offset, got ${showValue(entry)}`)
      continue
    }
    const [, topic = "", partition = "", offset = ""] = match
    const before = issues.length
    if (!isTopicName(topic)) {
      issues.push(`stopAtOffsets: expected a topic name (${TOPIC_RULE}) in ${showValue(entry)}, got ${showValue(topic)}`)
    }
    if (!INTEGER.test(partition)) {
      issues.push(`stopAtOffsets: expected a partition that is an integer ≥ 0 in ${showValue(entry)}, got ${showValue(partition)}`)
    }
    if (!INTEGER.test(offset) || !Number.isSafeInteger(Number(offset))) {
      issues.push(`stopAtOffsets: expected an offset that is an integer ≥ 0 in ${showValue(entry)}, got ${showValue(offset)}`)
    }
    if (issues.length === before) value.push({ topic, partition: Number(partition), offset: Number(offset) })
  }
  return { value, issues }
}

const fromObjectForm = (input: Record<string, unknown>) => {
  const issues: Array<string> = []
  const value: Array<StopAtOffset> = []
  for (const [key, offset] of Object.entries(input)) {
    const path = `stopAtOffsets[${JSON.stringify(key)}]`
    const match = KEY.exec(key)
    const topic = match?.[1] ?? ""
    const partition = match?.[2] ?? ""
    if (match === null || !isTopicName(topic) || !INTEGER.test(partition)) {
      issues.push(`${path}: expected a key "topic:partition" (a topic name and an integer ≥ 0), got ${showValue(key)}`)
      continue
    }
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
      issues.push(`${path}: expected an offset that is an integer ≥ 0, got ${showValue(offset)}`)
      continue
    }
    value.push({ topic, partition: Number(partition), offset })
  }
  return { value, issues }
}

// -----------------------------------------------------------------------------
// Issue lines
// -----------------------------------------------------------------------------

const TOPIC_RULE = "1–249 characters of a-z A-Z 0-9 . _ -"

/**
 * The rule each field breaks, by path with array indices as `[]`. What
 * follows "expected" in an issue line.
 */
export const fieldRules: Readonly<Record<string, string>> = {
  "": "an object of configuration settings",
  brokers: "a non-empty list of host:port addresses",
  "brokers[]": "a host:port address (port 1–65535)",
  topics: "a non-empty list of topic names",
  "topics[]": `a topic name (${TOPIC_RULE})`,
  groupId: "a non-empty string",
  clientId: "a non-empty string",
  concurrency: "an integer between 1 and 1000",
  ordering: `one of ${Orderings.join(", ")}`,
  queueSize: "an integer ≥ 10",
  queueBytes: "an integer ≥ 1024",
  commitIntervalMs: "a number > 0",
  flushIntervalMs: "a number > 0",
  backupBatchSize: "an integer ≥ 1",
  dlqBatchSize: "an integer ≥ 1",
  backupDir: "a directory path",
  dlqDir: "a directory path",
  dlqTopic: `a topic name (${TOPIC_RULE})`,
  stopAtOffsets: "a list of { topic, partition, offset }, an object { \"topic:partition\": offset } or \"topic:partition=offset,…\"",
  "stopAtOffsets[]": "an object { topic, partition, offset }",
  "stopAtOffsets[].topic": `a topic name (${TOPIC_RULE})`,
  "stopAtOffsets[].partition": "an integer ≥ 0",
  "stopAtOffsets[].offset": "an integer ≥ 0",
  devMode: "a boolean",
  fromBeginning: "a boolean",
  decodeUtf8: "a boolean",
  logLevel: `one of ${LogLevels.join(", ")} (any case)`,
  logFormat: `one of ${LogFormats.join(", ")}`,
  maxMessageBytes: "an integer > 0",
  processingTimeoutMs: "a number > 0",
  shutdownTimeoutMs: "a number > 0",
  maxRetries: "an integer ≥ 0",
  retryBaseDelayMs: "a number > 0",
  retryMaxDelayMs: "a number > 0",
  sessionTimeoutMs: "an integer ≥ 6000",
  heartbeatIntervalMs: "an integer > 0",
  restartBudgetMs: "a number > 0",
  metricsPort: "an integer between 0 and 65535 (0: any free port) or \"off\"",
  lagIntervalMs: "a number > 0",
  otlpEndpoint: "an http(s) URL such as http://localhost:4318",
  ssl: "a boolean",
  sasl: "an object { mechanism, username, password }",
  "sasl.mechanism": `one of ${SaslMechanisms.join(", ")}`,
  "sasl.username": "a non-empty string",
  "sasl.password": "a string"
} satisfies Record<PipelineConfigKey | "", string> & Record<string, string>

const SECRET_KEYS = new Set<PropertyKey>(["password"])

/** `concurrency`, `stopAtOffsets[0].offset`, `sasl.password`; the root is `config`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else if (typeof segment === "string" && /^[A-Za-z_$][\w$]*$/.test(segment)) out += out === "" ? segment : `.${segment}`
    else out += `[${JSON.stringify(String(segment))}]`
  }
  return out === "" ? "config" : out
}

const rulePath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((s) => (typeof s === "number" ? "[]" : String(s))).join(".").replace(/\.\[\]/g, "[]")

const MAX_SHOWN = 120
const defaultFormatter = SchemaIssue.makeFormatterDefault()

/** A value as it appears after "got": strings quoted, secrets and `Redacted` values as `<redacted>`. */
export const showValue = (value: unknown, secret = false): string => {
  if (secret || Redacted.isRedacted(value)) return "<redacted>"
  switch (typeof value) {
    case "undefined":
      return "nothing"
    case "string":
      return truncate(JSON.stringify(value))
    case "bigint":
      return `${value}n`
    case "function":
      return "a function"
    case "symbol":
      return value.toString()
    case "object": {
      if (value === null) return "null"
      try {
        return truncate(
          JSON.stringify(value, (key, v: unknown) =>
            SECRET_KEYS.has(key) || Redacted.isRedacted(v) ? "<redacted>" : typeof v === "bigint" ? `${v}n` : v
          ) ?? String(value)
        )
      } catch {
        return "an object that cannot be shown"
      }
    }
    default:
      return String(value)
  }
}

const truncate = (s: string): string => (s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN - 1)}…` : s)

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current = input
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined
    current = (current as Record<PropertyKey, unknown>)[segment]
  }
  return current
}

const isSecretPath = (path: ReadonlyArray<PropertyKey>): boolean => path.some((s) => SECRET_KEYS.has(s))

const TOP_LEVEL_KEYS = new Set<string>(pipelineConfigKeys)

const suggestion = (path: ReadonlyArray<PropertyKey>): string => {
  if (path.length !== 1 || typeof path[0] !== "string") return ""
  const key = path[0].toLowerCase()
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of TOP_LEVEL_KEYS) {
    const distance = editDistance(key, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best === undefined ? "" : ` (did you mean ${best}?)`
}

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      )
    }
    previous = current
  }
  return previous[b.length]!
}

/**
 * One line per problem, in schema order, without duplicates. The value shown
 * is read from `input` at the issue's path (the parser is not asked to retain
 * inputs), so secrets can be masked by path.
 */
export const formatIssues = (issue: SchemaIssue.Issue, input: unknown): ReadonlyArray<string> => {
  const lines: Array<string> = []
  const visit = (issue: SchemaIssue.Issue, path: ReadonlyArray<PropertyKey>): void => {
    switch (issue._tag) {
      case "Pointer":
        return visit(issue.issue, [...path, ...issue.path])
      case "Composite":
      case "AnyOf":
        if (issue.issues.length === 0) return leaf(issue, path)
        for (const inner of issue.issues) visit(inner, path)
        return
      case "Filter":
      case "Encoding":
        return visit(issue.issue, path)
      default:
        return leaf(issue, path)
    }
  }
  const leaf = (issue: SchemaIssue.Issue, path: ReadonlyArray<PropertyKey>): void => {
    const field = formatPath(path)
    const value = valueAt(input, path)
    const got = showValue(value, isSecretPath(path))
    if (issue._tag === "MissingKey" || (issue._tag === "InvalidType" && value === undefined)) {
      lines.push(`${field}: required, got nothing`)
    } else if (issue._tag === "UnexpectedKey") {
      lines.push(`${field}: not a known setting${suggestion(path)}, got ${got}`)
    } else if (issue._tag === "InvalidValue" && typeof issue.annotations?.message === "string") {
      lines.push(`${field}: ${issue.annotations.message}, got ${got}`)
    } else {
      const rule = fieldRules[rulePath(path)] ?? defaultFormatter(issue).replace(/^Expected /, "")
      lines.push(`${field}: expected ${rule}, got ${got}`)
    }
  }
  visit(issue, [])
  return [...new Set(lines)]
}

// -----------------------------------------------------------------------------
// Decoding
// -----------------------------------------------------------------------------

const decodeStruct = SchemaParser.decodeUnknownExit(PipelineConfig, { errors: "all", onExcessProperty: "error" })

/**
 * Decodes a plain object of already-typed values (a parsed JSON file, or an
 * object built in code) into a {@link PipelineConfig}, applying defaults.
 * Unknown keys are rejected (typos should not pass silently). Every problem is
 * reported at once, one line each, in a {@link ConfigError}.
 */
export const decodePipelineConfig = (input: unknown): Effect.Effect<PipelineConfig, ConfigError> =>
  Effect.suspend(() => {
    let prepared = input
    let stopIssues: ReadonlyArray<string> = []
    if (typeof input === "object" && input !== null && !Array.isArray(input) && "stopAtOffsets" in input) {
      const normalised = normaliseStopAtOffsets((input as { stopAtOffsets: unknown }).stopAtOffsets)
      stopIssues = normalised.issues
      prepared = { ...input, stopAtOffsets: stopIssues.length === 0 ? normalised.value : undefined }
    }
    const exit = decodeStruct(prepared)
    if (Exit.isSuccess(exit) && stopIssues.length === 0) return Effect.succeed(exit.value)
    const schemaIssues: Array<string> = []
    if (Exit.isFailure(exit)) {
      for (const reason of exit.cause.reasons) {
        // Anything but a schema issue (a defect in a transformation) stays a defect.
        if (!Cause.isFailReason(reason)) return Effect.die(Cause.squash(exit.cause))
        schemaIssues.push(...formatIssues(reason.error, prepared))
      }
    }
    return Effect.fail(new ConfigError({ issues: [...schemaIssues, ...stopIssues] }))
  })

/**
 * For library users: build a configuration in code from the four required
 * settings and any optional ones; defaults fill the rest.
 *
 * ```ts
 * const config = yield* makePipelineConfig({
 *   brokers: ["localhost:9092"], topics: ["orders"], groupId: "billing", dlqDir: "./dlq"
 * })
 * ```
 */
export const makePipelineConfig = (input: PipelineConfigInput): Effect.Effect<PipelineConfig, ConfigError> =>
  decodePipelineConfig(input)

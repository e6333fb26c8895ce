/**
 * The pipeline's validated configuration (pure: no I/O).
 *
 * `PipelineConfig` is an `effect` Schema over plain objects, its fields
 * derived from the option table (`ConfigOptions.ts`). Decode with
 * {@link decodePipelineConfig} (or {@link makePipelineConfig} from code): every
 * problem becomes one line of a {@link ConfigError}, naming the field (dotted
 * path), the value received (secrets as `<redacted>`) and the rule, e.g.
 * `concurrency: expected an integer between 1 and 1000, got 2000`.
 *
 * Reading the raw values (env vars, flags, a JSON file) and checking that the
 * directories exist and are writable is `layers/config/ConfigLoader.ts`.
 */
import { Cause, Effect, Exit, Redacted, Schema, type SchemaIssue, SchemaParser, Struct } from "effect"
import { pipelineSettings, settingDefaults, settingFields } from "./ConfigOptions.js"
import { formatIssues, showValue } from "./ConfigIssues.js"
import { isTopicName, type StopAtOffset, TOPIC_RULE } from "./ConfigValues.js"
import { ConfigError } from "./Errors.js"

export { fieldRules } from "./ConfigOptions.js"
export { formatIssues, formatPath, showValue } from "./ConfigIssues.js"
export { isHostPort, isHttpUrl, isTopicName, LogFormats, LogLevels, SaslMechanisms, StopAtOffset } from "./ConfigValues.js"
export type { LogFormat, LogLevel, SaslMechanism } from "./ConfigValues.js"

/** The value each optional setting takes when no source gives one. */
export const PipelineConfigDefaults = settingDefaults

export const SaslConfig = pipelineSettings.sasl.schema
export type SaslConfig = typeof SaslConfig.Type

const PipelineConfigStruct = Schema.Struct(settingFields).check(
  // Cross-field rules: they run once every field is valid on its own.
  Schema.makeFilter((c) => {
    const issues: Array<Schema.FilterIssue> = []
    if (c.retryMaxDelayMs < c.retryBaseDelayMs) {
      issues.push({
        path: ["retryMaxDelayMs"],
        issue: `expected a number ≥ retryBaseDelayMs (${c.retryBaseDelayMs})`
      })
    }
    if (c.breakerMaxOpenMs < c.breakerOpenMs) {
      issues.push({
        path: ["breakerMaxOpenMs"],
        issue: `expected a number ≥ breakerOpenMs (${c.breakerOpenMs})`
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
// Decoding
// -----------------------------------------------------------------------------

type Parse<A> = (input: unknown) => Exit.Exit<A, SchemaIssue.Issue>

/** Decodes with `parse`, `stopAtOffsets` in any of its forms; every problem one issue line. */
const decodeWith = <A>(parse: Parse<A>) => (input: unknown): Effect.Effect<A, ConfigError> =>
  Effect.suspend(() => {
    let prepared = input
    let stopIssues: ReadonlyArray<string> = []
    if (typeof input === "object" && input !== null && !Array.isArray(input) && "stopAtOffsets" in input) {
      const normalised = normaliseStopAtOffsets((input as { stopAtOffsets: unknown }).stopAtOffsets)
      stopIssues = normalised.issues
      // The entries that parsed go on to the schema, whose checks across entries (each partition
      // once) are then reported with the entries that did not parse.
      prepared = { ...input, stopAtOffsets: normalised.value }
    }
    const exit = parse(prepared)
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
 * Decodes a plain object of already-typed values (a parsed JSON file, or an
 * object built in code) into a {@link PipelineConfig}, applying defaults.
 * Unknown keys are rejected (typos should not pass silently). Every problem is
 * reported at once, one line each, in a {@link ConfigError}.
 */
export const decodePipelineConfig: (input: unknown) => Effect.Effect<PipelineConfig, ConfigError> = decodeWith(
  SchemaParser.decodeUnknownExit(PipelineConfig, { errors: "all", onExcessProperty: "error" })
)

/**
 * One setting on its own, by the same field schema and with the same issue
 * lines as in {@link decodePipelineConfig}: a command that needs only the
 * brokers (`kafka-pipeline offsets`) reads them with it.
 */
export const decodeSetting = <K extends PipelineConfigKey>(
  key: K,
  value: unknown
): Effect.Effect<PipelineConfig[K], ConfigError> => {
  const one = PipelineConfigStruct.mapFields(Struct.pick([key]))
  return Effect.map(
    decodeWith(SchemaParser.decodeUnknownExit(one, { errors: "all" }))({ [key]: value }),
    (decoded) => (decoded as unknown as Pick<PipelineConfig, K>)[key]
  )
}

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

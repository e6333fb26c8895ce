/**
 * The kinds of value the settings are made of (pure: no I/O): topic names,
 * `host:port` addresses, bounded integers, case-insensitive choices, stop-at
 * offsets. Each setting of `ConfigOptions.ts` picks its schema from here.
 */
import { Effect, Schema, SchemaGetter } from "effect"
import { Orderings } from "./KeyScheduler.js"
import { ArchiveCompressions } from "./ArchiveCompression.js"

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

/** What a topic name may be, as the rule text of an issue line. */
export const TOPIC_RULE = "1–249 characters of a-z A-Z 0-9 . _ -"

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

/** An http(s) URL, such as an OTLP collector's `http://localhost:4318`. */
export const isHttpUrl = (s: string): boolean => {
  try {
    const url = new URL(s)
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname.length > 0
  } catch {
    return false
  }
}

export const TopicName = Schema.String.check(Schema.makeFilter(isTopicName))
export const HostPort = Schema.String.check(Schema.makeFilter(isHostPort))
export const HttpUrl = Schema.String.check(Schema.makeFilter(isHttpUrl))
export const NonEmptyString = Schema.String.check(Schema.isNonEmpty())
export const NonEmptyList = <S extends Schema.Top>(item: S) => Schema.Array(item).check(Schema.isMinLength(1))
export const Int = Schema.Int
export const IntAtLeast = (minimum: number) => Int.check(Schema.isGreaterThanOrEqualTo(minimum))
export const IntBetween = (minimum: number, maximum: number) => Int.check(Schema.isBetween({ minimum, maximum }))
export const PositiveInt = Int.check(Schema.isGreaterThan(0))
export const PositiveMs = Schema.Finite.check(Schema.isGreaterThan(0))
export const Ratio = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))

/** `"off"` turns the endpoint off: it overrides a default port (the CLI's). */
export const MetricsPort = Schema.Union([IntBetween(0, 65_535), Schema.Literal("off")]).pipe(
  Schema.decodeTo(Schema.UndefinedOr(Int), {
    decode: SchemaGetter.transform((port: number | "off") => port === "off" ? undefined : port),
    encode: SchemaGetter.transform((port: number | undefined) => port ?? "off")
  })
)

export const LogLevels = ["Trace", "Debug", "Info", "Warn", "Error"] as const
export type LogLevel = (typeof LogLevels)[number]
/** The Kafka clients the pipeline can run on. */
export const KafkaClients = ["kafkajs", "platformatic"] as const
export type KafkaClientName = (typeof KafkaClients)[number]

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
  normalise: (s: string) => string = (s) => s.trim().toLowerCase()
) =>
  Schema.String.pipe(
    Schema.decodeTo(Schema.Literals(literals), {
      decode: SchemaGetter.transform((s: string) => normalise(s) as L[number]),
      encode: SchemaGetter.passthrough()
    })
  )

export const LogLevelSchema = caseInsensitiveLiterals(LogLevels, normaliseLogLevel)
export const OrderingSchema = caseInsensitiveLiterals(Orderings)
export const LogFormatSchema = caseInsensitiveLiterals(LogFormats)
export const KafkaClientSchema = caseInsensitiveLiterals(KafkaClients)
export const SaslMechanismSchema = caseInsensitiveLiterals(SaslMechanisms)
export const ArchiveCompressionSchema = caseInsensitiveLiterals(ArchiveCompressions)

/** Accepts a plain string or an already `Redacted` one; always decodes to `Redacted<string>`. */
export const Password = Schema.Union([Schema.Redacted(Schema.String), Schema.RedactedFromValue(Schema.String)])

/** Stop consuming `topic`/`partition` once `offset` (inclusive: the last offset to handle) is handled. */
export const StopAtOffset = Schema.Struct({
  topic: TopicName,
  partition: IntAtLeast(0),
  offset: IntAtLeast(0)
})
export type StopAtOffset = typeof StopAtOffset.Type

export const StopAtOffsets = Schema.Array(StopAtOffset).check(
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

// `…DefaultType`: the field's own schema decodes the given value in one pass (so every
// nested issue is reported at once); only an absent or `undefined` value takes the default.
/** A field that takes `value` when absent or `undefined`. */
export const withDefault = <S extends Schema.Top & Schema.Constraint>(self: S, value: S["Type"]) =>
  self.pipe(Schema.withDecodingDefaultType(Effect.succeed(value)))

/** A field that may be absent or `undefined` (and is then `undefined`). */
export const optionalValue = <S extends Schema.Top & Schema.Constraint>(self: S) =>
  Schema.UndefinedOr(self).pipe(Schema.withDecodingDefaultType(Effect.succeed(undefined)))

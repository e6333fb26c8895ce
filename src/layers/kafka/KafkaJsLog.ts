/**
 * kafkajs's logs through the Effect logger: entries below the configured level
 * are dropped, those about what the pipeline reports itself are debug, and an
 * OFFSET_OUT_OF_RANGE reset, which kafkajs does silently (#1119), is logged as
 * an error whatever the level.
 */
import { Effect } from "effect"
import type { LogLevel } from "effect"
import type { LogEntry } from "kafkajs"
import { logLevel as KafkaLogLevel } from "kafkajs"

/** kafkajs's level for an Effect log level: what kafkajs is told to log at all. */
export const kafkaJsLevel = (level: LogLevel.LogLevel): KafkaLogLevel => {
  switch (level) {
    case "None":
      return KafkaLogLevel.NOTHING
    case "Fatal":
    case "Error":
      return KafkaLogLevel.ERROR
    case "Warn":
      return KafkaLogLevel.WARN
    case "Info":
      return KafkaLogLevel.INFO
    default:
      return KafkaLogLevel.DEBUG
  }
}

const severity = (level: KafkaLogLevel): LogLevel.Severity =>
  level <= KafkaLogLevel.ERROR ? "Error" : level === KafkaLogLevel.WARN ? "Warn" : level === KafkaLogLevel.INFO
  ? "Info"
  : "Debug"

/**
 * kafkajs entries about what reaches the pipeline anyway and is said there once, in its own
 * words: they are the client's detail, at debug. kafkajs logs them at ERROR, most with a stack,
 * one per retry: a dozen lines before the connect fails.
 */
const reportedElsewhere: ReadonlyArray<readonly [namespace: string, messageStart: string]> = [
  // Error responses, also those kafkajs handles itself (a rebalance, a missing topic it retries
  // on): what matters reaches the caller as a KafkaError, a crash or a warning.
  ["Connection", "Response "],
  // A broker out of reach, and kafkajs's retries: the connect fails (`whileUnreachable` says so
  // once), or the consumer crashes (logged by the consumer, with its restart budget).
  ["Connection", "Connection error"],
  ["Connection", "Connection timeout"],
  ["BrokerPool", ""],
  ["Consumer", "Crash: "],
  ["Consumer", "Restarting the consumer in "],
  // The producer's bounded retries are deliberate (`KafkaJs.makeProducer` says why).
  ["Producer", "Limiting retries for the idempotent producer"]
]

const saidByThePipeline = (namespace: string, message: string): boolean =>
  reportedElsewhere.some(([ns, start]) => ns === namespace && message.startsWith(start))

/** Fields of kafkajs log entries that never reach the log. */
const hiddenFields: ReadonlySet<string> = new Set(["timestamp", "logger", "sasl", "password", "ssl"])

/** One kafkajs log entry as an Effect log line; nothing when below `threshold` (but for those it reports at debug). */
export const logEntry = (entry: LogEntry, threshold: KafkaLogLevel): Effect.Effect<void> => {
  const { message } = entry.log
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(entry.log)) {
    if (key !== "message" && !hiddenFields.has(key)) fields[key] = value
  }
  if (message.startsWith("Offset out of range, resetting")) {
    return Effect.logError(
      "Kafka OFFSET_OUT_OF_RANGE: the consumer's position no longer exists on the broker (retention or " +
        "truncation); kafkajs resets it to the earliest or latest offset, so records are skipped or read again",
      fields
    )
  }
  // Debug whatever kafkajs's threshold: the logger's minimum level decides (`--log-level debug`).
  // These come only when something fails; kafkajs's own debug lines (every request) stay off.
  if (saidByThePipeline(entry.namespace, message)) {
    return Effect.logDebug(message, fields).pipe(Effect.annotateLogs({ kafkajs: entry.namespace }))
  }
  if (entry.level > threshold) return Effect.void
  return Effect.logWithLevel(severity(entry.level))(message, fields).pipe(
    Effect.annotateLogs({ kafkajs: entry.namespace })
  )
}

/**
 * Why a record went to the dead-letter queue, and how that reads in a DLQ row.
 */
import { Cause, Schema } from "effect"

export class MessageTooLarge extends Schema.TaggedError<MessageTooLarge>()("MessageTooLarge", {
  size: Schema.Number,
  limit: Schema.Number
}) {
  override get message(): string {
    return `the record is ${this.size} bytes (key, value and headers), over the limit of ${this.limit} bytes (maxMessageBytes)`
  }
}

export class InvalidUtf8 extends Schema.TaggedError<InvalidUtf8>()("InvalidUtf8", {
  field: Schema.Literals(["key", "value"])
}) {
  override get message(): string {
    return `the record's ${this.field} is not valid UTF-8`
  }
}

export class NullValue extends Schema.TaggedError<NullValue>()("NullValue", {}) {
  override get message(): string {
    return "the record has a null value (tombstone); there is nothing to process"
  }
}

export class ProcessingTimeout extends Schema.TaggedError<ProcessingTimeout>()("ProcessingTimeout", {
  timeoutMs: Schema.Number
}) {
  override get message(): string {
    return `the processor did not finish within ${this.timeoutMs} ms and was interrupted`
  }
}

/**
 * Fail with this to say the record itself is bad (it cannot be processed, however often it is
 * tried): it goes to the DLQ at once, without retries, and the circuit breaker does not count it.
 */
export class BadRecord extends Schema.TaggedError<BadRecord>()("BadRecord", {
  message: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {}

/**
 * Fail with this to say the downstream (a database, an API) is unavailable: the record is
 * retried and the circuit breaker counts the failure. Any error not marked as a bad record is
 * treated so; this one names the reason in logs and, should the record reach it, the DLQ.
 */
export class DownstreamUnavailable extends Schema.TaggedError<DownstreamUnavailable>()("DownstreamUnavailable", {
  message: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {}

/** Wrap an error in this to send the record to the DLQ without retrying (like `BadRecord`, keeping the error's own type). */
export class NonRetryable extends Schema.TaggedError<NonRetryable>()("NonRetryable", {
  cause: Schema.Defect()
}) {
  override get message(): string {
    return errorMessage(this.cause)
  }
}

/**
 * Whether a processing failure may go away when tried again, and so says something about the
 * downstream: anything but a bad record (`BadRecord`, `NonRetryable`, `retryable: false`, or one
 * the checks before the call refused). A timeout is retryable: a slow or unreachable downstream
 * is its usual cause.
 */
export const isRetryable = (error: unknown): boolean =>
  !(error instanceof MessageTooLarge || error instanceof InvalidUtf8 || error instanceof NullValue ||
    error instanceof BadRecord || error instanceof NonRetryable ||
    (typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === false))

export interface FailureDescription {
  readonly errorType: string
  readonly message: string
  readonly detail: string
  readonly defect: boolean
}

const errorMessage = (error: unknown): string => {
  if (!(error instanceof Error)) return typeof error === "string" ? error : safeJson(error)
  if (error.message !== "") return error.message
  // A tagged error without a message carries its reason in its fields: keep them.
  const fields = safeJson(error)
  return fields === "{}" ? "" : fields
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

const errorType = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const tag = (error as { _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    const name = (error as { name?: unknown }).name
    const constructorName = error.constructor?.name
    // `class Custom extends Error {}` keeps name "Error": the class name says more.
    if (constructorName !== undefined && constructorName !== "Object" && (name === "Error" || name === undefined)) {
      return constructorName
    }
    if (typeof name === "string") return name
  }
  return typeof error
}

/** Error type, message and detail (stack or cause) of a processing failure, for the DLQ row. */
export const describeFailure = (cause: Cause.Cause<unknown>): FailureDescription => {
  if (Cause.hasInterruptsOnly(cause)) {
    // Squashing would give "All fibers interrupted without error" with a stack inside Effect.
    return { errorType: "Interrupted", message: "the processor was interrupted", detail: Cause.pretty(cause), defect: true }
  }
  const defect = !Cause.hasFails(cause) && Cause.hasDies(cause)
  const squashed = Cause.squash(cause)
  const error = squashed instanceof NonRetryable ? squashed.cause : squashed
  return {
    errorType: errorType(error),
    message: errorMessage(error),
    detail: error instanceof Error && error.stack !== undefined ? error.stack : Cause.pretty(cause),
    defect
  }
}

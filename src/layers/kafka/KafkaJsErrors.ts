/**
 * kafkajs's errors as `KafkaError`s, and the kinds the consumer tells apart:
 * "the group has moved on" (a rebalance rejection, never fatal), "no group
 * coordinator found" (a crash kafkajs does not restart from, #1630), "no broker
 * could be reached" (retried within the restart budget) and "no such topic".
 */
import { KafkaError } from "../../domain/Errors.js"

/** Error types with which the coordinator says "this member's generation is over". */
const rebalanceErrorTypes: ReadonlySet<string> = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "NOT_COORDINATOR",
  "NOT_COORDINATOR_FOR_GROUP"
])

/** kafkajs wraps errors (retries exceeded, non-retriable): walks the `cause` chain. */
const causes = function*(error: unknown): Generator<unknown> {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    yield current
    current = (current as { readonly cause?: unknown }).cause
  }
}

/** What kafkajs says when asked to commit without a consumer group (also thrown for a commit it skipped). */
export const notInGroupMessage = "Consumer group was not initialized"

export const isRebalance = (error: unknown): boolean => {
  for (const cause of causes(error)) {
    const { message, type } = cause as { readonly type?: unknown; readonly message?: unknown }
    if (typeof type === "string" && rebalanceErrorTypes.has(type)) return true
    // kafkajs's commitOffsets between a crash and the restart, or after `stop()`
    if (typeof message === "string" && message.includes(notInGroupMessage)) return true
  }
  return false
}

/**
 * A crash kafkajs will not restart from, though it is what a broker going away or
 * restarting looks like during a join: no broker answered the lookup of the group's
 * coordinator (#1630; kafkajs drops each broker's own error, so a permanent one, such
 * as a group the client may not use, looks the same and fails once the restart budget
 * is spent). kafkajs calls it non-retriable and leaves the consumer stopped; the
 * consumer restarts it.
 */
export const isCoordinatorNotFound = (error: unknown): boolean => {
  for (const cause of causes(error)) {
    if ((cause as { readonly name?: unknown }).name === "KafkaJSGroupCoordinatorNotFound") return true
  }
  return false
}

/** kafkajs could not reach a broker (refused, timed out, a name that does not resolve), as opposed to a broker's answer. */
export const isConnectionFailure = (error: unknown): boolean => {
  for (const cause of causes(error)) {
    const name = (cause as { readonly name?: unknown }).name
    if (name === "KafkaJSConnectionError" || name === "KafkaJSConnectionClosedError") return true
  }
  return false
}

/** A broker answered that a topic (or partition) does not exist; kafkajs does not say which. */
export const isUnknownTopic = (error: unknown): boolean => {
  for (const cause of causes(error)) {
    if ((cause as { readonly type?: unknown }).type === "UNKNOWN_TOPIC_OR_PARTITION") return true
  }
  return false
}

export const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** A `KafkaError` for a failed kafkajs call, marked `rebalance` when the group has moved on. */
export const kafkaError = (what: string) => (cause: unknown): KafkaError =>
  isRebalance(cause)
    ? new KafkaError({ message: `${what}: ${messageOf(cause)}`, rebalance: true, cause })
    : new KafkaError({ message: `${what}: ${messageOf(cause)}`, cause })

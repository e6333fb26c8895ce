/**
 * kafkajs 2.2.4's request queue, fixed from outside (kafkajs #1751, #1704): after every
 * response it schedules a check of its pending requests, even when none is pending, in
 * `throttledUntil - now` ms, which is negative (`-1 - now`) unless the broker throttles.
 * Node 24 then prints a `TimeoutNegativeWarning` in every process that uses kafkajs, and the
 * timer, clamped to 1 ms, runs the check again and again for as long as the connection is open.
 *
 * The check is needed only while a request waits in the queue, and queueing one schedules it
 * again, so with nothing pending nothing is scheduled; with requests pending kafkajs's own code
 * runs as it is. Applied to kafkajs's class when this module is loaded (the kafkajs that this
 * package resolves), once; a kafkajs without that method or file is left alone.
 */
import { createRequire } from "node:module"

interface RequestQueueLike {
  readonly pending: ReadonlyArray<unknown>
}

interface RequestQueuePrototype {
  scheduleCheckPendingRequests: (this: RequestQueueLike) => void
  [patched]?: true
}

const patched = Symbol.for("effect-kafka-pipeline/kafkajs-request-queue-patched")

const requestQueuePrototype = (): RequestQueuePrototype | undefined => {
  try {
    const RequestQueue: unknown = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js")
    const prototype = (RequestQueue as { readonly prototype?: Partial<RequestQueuePrototype> }).prototype
    return typeof prototype?.scheduleCheckPendingRequests === "function"
      ? prototype as RequestQueuePrototype
      : undefined
  } catch {
    return undefined
  }
}

/** Makes kafkajs's request queue schedule its check only with requests pending; `false` when there is nothing to fix. */
export const fixRequestQueue = (): boolean => {
  const prototype = requestQueuePrototype()
  if (prototype === undefined) return false
  if (prototype[patched] === true) return true
  const schedule = prototype.scheduleCheckPendingRequests
  prototype.scheduleCheckPendingRequests = function(this: RequestQueueLike) {
    if (this.pending.length > 0) schedule.call(this)
  }
  prototype[patched] = true
  return true
}

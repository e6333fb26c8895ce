/**
 * kafkajs's request queue as `KafkaJs` leaves it (kafkajs #1751): a response with nothing else
 * pending schedules no timer (kafkajs's own code schedules one with a negative delay, which Node 24
 * warns about and clamps to a 1 ms loop); a request waiting behind the in-flight limit still gets
 * its check.
 */
import { assert, describe, it } from "@effect/vitest"
import { createRequire } from "node:module"
import "../../src/layers/kafka/KafkaJs.js"
import { fixRequestQueue } from "../../src/layers/kafka/KafkaJsRequestQueue.js"

interface Queue {
  readonly pending: ReadonlyArray<unknown>
  readonly throttleCheckTimeoutId: (NodeJS.Timeout & { readonly _idleTimeout?: number }) | null
  push(request: unknown): void
  fulfillRequest(response: { correlationId: number; payload: unknown; size: number }): void
  destroy(): void
}

const RequestQueue = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js") as new(
  options: Record<string, unknown>
) => Queue

const silent = { debug: () => undefined, warn: () => undefined, error: () => undefined, info: () => undefined }

const makeQueue = () =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: "test",
    broker: "127.0.0.1:9092",
    logger: silent
  })

const request = (correlationId: number, sent: Array<number>) => ({
  entry: { correlationId, apiName: "Metadata", apiKey: 3, apiVersion: 6, resolve: () => undefined, reject: () => undefined },
  expectResponse: true,
  sendRequest: () => sent.push(correlationId)
})

describe("kafkajs's request queue, as KafkaJs leaves it", () => {
  it("a response with nothing pending schedules no timer (kafkajs's own: a negative delay)", () => {
    const queue = makeQueue()
    const sent: Array<number> = []
    queue.push(request(1, sent))
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 })
    assert.deepStrictEqual(sent, [1])
    assert.isNull(queue.throttleCheckTimeoutId)
    queue.destroy()
  })

  it("a request waiting behind the in-flight limit is checked for (in 10 ms) and sent once there is room", () => {
    const queue = makeQueue()
    const sent: Array<number> = []
    queue.push(request(1, sent))
    queue.push(request(2, sent))
    assert.deepStrictEqual(sent, [1])
    assert.strictEqual(queue.pending.length, 1)
    assert.strictEqual(queue.throttleCheckTimeoutId?._idleTimeout, 10)
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 })
    assert.deepStrictEqual(sent, [1, 2])
    queue.destroy()
  })

  it("is applied once, however often it is asked for", () => {
    const prototype = (RequestQueue as unknown as { prototype: { scheduleCheckPendingRequests: unknown } }).prototype
    const fixed = prototype.scheduleCheckPendingRequests
    assert.isTrue(fixRequestQueue())
    assert.strictEqual(prototype.scheduleCheckPendingRequests, fixed)
  })
})

/**
 * A processor that tells a bad record from a downstream that is down: an order that is not JSON
 * is a `BadRecord` (to the DLQ at once), a refused or failing call to the inventory API is
 * `DownstreamUnavailable` (retried; the circuit breaker counts it).
 */
import { Effect } from "effect"
import { BadRecord, DownstreamUnavailable, type ProcessorInput } from "effect-kafka-pipeline"

const INVENTORY_URL = process.env["INVENTORY_URL"] ?? "http://localhost:8080/reservations"

export default (input: ProcessorInput, signal: AbortSignal) =>
  Effect.gen(function*() {
    const order = yield* Effect.try({
      try: () => JSON.parse(input.text ?? "") as unknown,
      catch: () => new BadRecord({ message: "the order is not JSON" })
    })
    const response = yield* Effect.tryPromise({
      try: () => fetch(INVENTORY_URL, { method: "POST", body: JSON.stringify(order), signal }),
      catch: (cause) => new DownstreamUnavailable({ message: "the inventory API did not answer", cause })
    })
    if (response.status >= 500) {
      return yield* new DownstreamUnavailable({ message: `the inventory API answered ${response.status}` })
    }
    if (!response.ok) return yield* new BadRecord({ message: `the inventory API refused the order (${response.status})` })
  })

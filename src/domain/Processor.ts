import type { Effect } from "effect"
import type { KafkaRecord } from "./KafkaRecord.js"

/** What a processor receives: the record, and its value decoded as UTF-8 when `decodeUtf8` is on. */
export interface ProcessorInput extends KafkaRecord {
  readonly text: string | null
}

/**
 * The user's code. Either an Effect function or a plain async function; a
 * failure or a thrown error sends the record to the DLQ after retries.
 * Mark an error non-retryable with `retryable: false` or wrap it in `NonRetryable`.
 * `signal` aborts when the call times out or the pipeline stops.
 */
export type Processor =
  | ((input: ProcessorInput, signal: AbortSignal) => Effect.Effect<unknown, unknown>)
  | ((input: ProcessorInput, signal: AbortSignal) => PromiseLike<unknown> | unknown)

import type { Effect } from "effect"
import type { KafkaRecord, RecordHeader } from "./KafkaRecord.js"

/**
 * What a processor receives: the record, and its value decoded as UTF-8 when `decodeUtf8` is on.
 * `key` and `value` are views into one copy of their batch's bytes: copy them (`value.slice()`)
 * to keep them past the call without keeping the batch, or to transfer them to a worker (the
 * shared buffer must not be transferred: the batch's other records would lose their bytes).
 */
export interface ProcessorInput extends KafkaRecord {
  /**
   * The value as text (null when `decodeUtf8` is off). Validated before the call (invalid UTF-8
   * goes to the DLQ), decoded on first read: a processor that reads only the bytes never pays for it.
   */
  readonly text: string | null
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** A record as a processor's input, its text decoded when first read. */
export class Input implements ProcessorInput {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<RecordHeader>
  #text: string | null | undefined

  /** `decode`: the value is valid UTF-8 (checked by the caller), to decode when `text` is read. */
  constructor(record: KafkaRecord, decode: boolean) {
    this.topic = record.topic
    this.partition = record.partition
    this.offset = record.offset
    this.timestamp = record.timestamp
    this.key = record.key
    this.value = record.value
    this.headers = record.headers
    this.#text = decode && record.value !== null ? undefined : null
  }

  get text(): string | null {
    if (this.#text === undefined) this.#text = utf8.decode(this.value!)
    return this.#text
  }

  /** With its text, as `JSON.stringify` would show a plain object. */
  toJSON(): object {
    return { ...this, text: this.text }
  }
}

/**
 * The user's code. Either an Effect function or a plain async function; a
 * failure or a thrown error sends the record to the DLQ after retries.
 * Mark an error non-retryable with `retryable: false` or wrap it in `NonRetryable`.
 * `signal` aborts when the attempt times out (`processingTimeoutMs`; an Effect is also interrupted)
 * or the call is interrupted; the pipeline's stop lets the calls in flight finish.
 */
export type Processor =
  | ((input: ProcessorInput, signal: AbortSignal) => Effect.Effect<unknown, unknown>)
  | ((input: ProcessorInput, signal: AbortSignal) => PromiseLike<unknown> | unknown)

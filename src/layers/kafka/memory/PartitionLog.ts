/**
 * The log of one in-memory partition, and the pure reads on it: where a
 * position falls in the log, which records make the next batch, which
 * partition a keyed record goes to.
 */
import { fnv1a32 } from "../../../domain/KeyHash.js"
import type { KafkaRecord, RecordHeader } from "../../../domain/KafkaRecord.js"
import { recordSize } from "../../../domain/KafkaRecord.js"

/** A record to append; strings are encoded as UTF-8. */
export interface AppendedMessage {
  readonly key?: Uint8Array | string | null
  readonly value: Uint8Array | string | null
  readonly headers?: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | string | null }>
  /** Milliseconds since the epoch; defaults to the time of the append (the `Clock`'s). */
  readonly timestamp?: number
}

export interface PartitionLog {
  /** In offset order; skipped offsets leave gaps. */
  readonly records: Array<KafkaRecord>
  /** The high watermark: offset of the next record. */
  next: number
}

export const empty = (): PartitionLog => ({ records: [], next: 0 })

const encoder = new TextEncoder()

export const encode = (data: Uint8Array | string | null | undefined): Uint8Array | null =>
  data === null || data === undefined ? null : typeof data === "string" ? encoder.encode(data) : data

/** Appends one record at the high watermark and returns its offset. */
export const append = (
  log: PartitionLog,
  topic: string,
  partition: number,
  message: AppendedMessage,
  now: number
): number => {
  const offset = log.next++
  log.records.push({
    topic,
    partition,
    offset,
    timestamp: message.timestamp ?? now,
    key: encode(message.key),
    value: encode(message.value),
    headers: (message.headers ?? []).map((header): RecordHeader => ({ key: header.key, value: encode(header.value) }))
  })
  return offset
}

/** Index of the first record at or past `offset` (records are in offset order, possibly with gaps). */
export const firstAtOrAfter = (records: ReadonlyArray<KafkaRecord>, offset: number): number => {
  let low = 0
  let high = records.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (records[mid]!.offset < offset) low = mid + 1
    else high = mid
  }
  return low
}

/**
 * The records from `offset` on, at most `maxRecords` of them and `maxBytes`
 * bytes; the first record is taken whatever its size, as Kafka does so that an
 * oversized record cannot block its partition. `undefined` when none is there.
 */
export const batchFrom = (
  records: ReadonlyArray<KafkaRecord>,
  offset: number,
  maxRecords: number,
  maxBytes: number
): ReadonlyArray<KafkaRecord> | undefined => {
  const start = firstAtOrAfter(records, offset)
  if (start >= records.length) return undefined
  const limit = Math.min(records.length, start + maxRecords)
  let end = start
  let bytes = 0
  while (end < limit) {
    bytes += recordSize(records[end]!)
    if (end > start && bytes > maxBytes) break
    end++
  }
  return records.slice(start, end)
}

/** FNV-1a over the key bytes: deterministic, not kafkajs's murmur2. */
export const hashKey = fnv1a32

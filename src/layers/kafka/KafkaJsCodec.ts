/**
 * Records, headers, messages, assignments and offsets between kafkajs's
 * shapes and the pipeline's: records are copied out of kafkajs's fetch
 * buffers (offsets and timestamps as numbers, headers as a list, repeated
 * keys kept); kafkajs cannot send a null header value, so one is sent empty.
 */
import type {
  FetchOffsetsPartition,
  IHeaders,
  KafkaMessage,
  Message,
  SeekEntry,
  TopicMessages,
  TopicPartitions
} from "kafkajs"
import { Buffer } from "node:buffer"
import type { KafkaRecord, RecordHeader, TopicPartition, CommittedOffset } from "../../domain/KafkaRecord.js"
import type { PartitionOffsets, ProducerMessage } from "./KafkaClient.js"

/**
 * The bytes of one batch's records, copied out of kafkajs's buffer into one
 * buffer of their own: kafkajs slices records out of the whole fetch response
 * (every partition's), and one retained slice would keep that response alive,
 * which the pipeline's byte-bounded queues could not see. One copy per batch,
 * not one allocation per key and value: an ArrayBuffer each costs more than
 * copying a 1 KiB value. A record kept past its batch keeps the batch's bytes
 * (at most `maxBytesPerPartition`) alive.
 */
export class BatchBytes {
  readonly #bytes: Uint8Array
  #used = 0
  constructor(size: number) {
    this.#bytes = new Uint8Array(size)
  }
  static sizeOf(messages: ReadonlyArray<KafkaMessage>): number {
    let size = 0
    for (const message of messages) size += (message.key?.byteLength ?? 0) + (message.value?.byteLength ?? 0)
    return size
  }
  copy(source: Uint8Array): Uint8Array {
    const start = this.#used
    this.#bytes.set(source, start)
    this.#used += source.byteLength
    return this.#bytes.subarray(start, this.#used)
  }
}

/** A view of the same bytes (no copy), or a string encoded as UTF-8. */
export const toBuffer = (data: Uint8Array | string): Buffer =>
  typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength)

/** Headers are rare and small: each value gets its own copy. */
export const toHeaders = (headers: IHeaders | undefined): ReadonlyArray<RecordHeader> => {
  const result: Array<RecordHeader> = []
  for (const [key, value] of Object.entries(headers ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      result.push({ key, value: item === undefined || item === null ? null : new Uint8Array(toBuffer(item)) })
    }
  }
  return result
}

export const toRecords = (
  topic: string,
  partition: number,
  messages: ReadonlyArray<KafkaMessage>
): Array<KafkaRecord> => {
  const bytes = new BatchBytes(BatchBytes.sizeOf(messages))
  const records = new Array<KafkaRecord>(messages.length)
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!
    records[index] = {
      topic,
      partition,
      offset: Number(message.offset),
      timestamp: Number(message.timestamp),
      key: message.key === null || message.key === undefined ? null : bytes.copy(message.key),
      value: message.value === null ? null : bytes.copy(message.value),
      headers: toHeaders(message.headers)
    }
  }
  return records
}

/**
 * kafkajs cannot encode a null header value (it measures it with
 * `Buffer.byteLength(null)` and throws), so a null header is sent empty.
 */
export const fromHeaders = (headers: ReadonlyArray<RecordHeader> | undefined): IHeaders => {
  const result: Record<string, Array<Buffer>> = {}
  for (const { key, value } of headers ?? []) {
    ;(result[key] ??= []).push(value === null ? Buffer.alloc(0) : toBuffer(value))
  }
  return result
}

export const toMessage = (message: ProducerMessage): Message => ({
  key: message.key === null ? null : toBuffer(message.key),
  value: message.value === null ? null : toBuffer(message.value),
  headers: fromHeaders(message.headers),
  ...(message.partition === undefined ? {} : { partition: message.partition })
})

const byTopic = <A extends { readonly topic: string }>(items: ReadonlyArray<A>): Map<string, Array<A>> => {
  const result = new Map<string, Array<A>>()
  for (const item of items) {
    const group = result.get(item.topic)
    if (group === undefined) result.set(item.topic, [item])
    else group.push(item)
  }
  return result
}

/** One entry per topic, as `sendBatch` takes them. */
export const toTopicMessages = (messages: ReadonlyArray<ProducerMessage>): Array<TopicMessages> =>
  [...byTopic(messages)].map(([topic, items]) => ({ topic, messages: items.map(toMessage) }))

/** One entry per topic, as `pause` takes them. */
export const toTopicPartitions = (partitions: ReadonlyArray<TopicPartition>): Array<TopicPartitions> =>
  [...byTopic(partitions)].map(([topic, items]) => ({ topic, partitions: items.map((item) => item.partition) }))

/** A `GROUP_JOIN`'s member assignment, sorted by topic and partition. */
export const toAssignment = (memberAssignment: Record<string, ReadonlyArray<number>>): ReadonlyArray<TopicPartition> =>
  Object.entries(memberAssignment)
    .flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })))
    .sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition)

/** A topic's offsets (`fetchTopicOffsets`), by partition. */
export const toPartitionOffsets = (
  partitions: ReadonlyArray<SeekEntry & { readonly high: string; readonly low: string }>
): ReadonlyArray<PartitionOffsets> =>
  partitions
    .map(({ high, low, partition }) => ({ partition, high: Number(high), low: Number(low) }))
    .sort((a, b) => a.partition - b.partition)

/** A group's committed offsets (`fetchOffsets`), by partition; those without a commit (-1) left out. */
export const toCommittedOffsets = (
  topics: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<FetchOffsetsPartition> }>
): ReadonlyArray<CommittedOffset> =>
  topics
    .flatMap(({ partitions, topic }) =>
      partitions.map(({ metadata, offset, partition }) => ({
        topic,
        partition,
        offset: Number(offset),
        ...(metadata ? { metadata } : {})
      }))
    )
    .filter(({ offset }) => offset >= 0)
    .sort((a, b) => a.partition - b.partition)

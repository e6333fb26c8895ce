/**
 * Records, headers, messages and errors between @platformatic/kafka's shapes and the
 * pipeline's: a fetched partition's record batches become one batch of `KafkaRecord`s whose
 * keys and values are copied into one buffer (as kafkajs's are, `BatchBytes`), headers keep
 * their order, repeated keys and null values; errors become `KafkaError`s, marked `rebalance`
 * when the coordinator says the member must rejoin.
 */
import type { KafkaRecord as WireRecord, MessageToProduce, RecordsBatch } from "@platformatic/kafka"
import { findErrorBy } from "@platformatic/kafka"
import { Buffer } from "node:buffer"
import { KafkaError } from "../../domain/Errors.js"
import type { KafkaRecord, RecordHeader } from "../../domain/KafkaRecord.js"
import type { ProducerMessage } from "./KafkaClient.js"
import { BatchBytes, toBuffer } from "./KafkaJsCodec.js"

/** Control batches (transaction markers) carry no records for the pipeline. */
const isControl = (batch: RecordsBatch): boolean => (batch.attributes & (1 << 5)) !== 0

/** The offset after a partition's fetched batches: where the next fetch starts, past any control batch or gap. */
export const nextOffset = (batches: ReadonlyArray<RecordsBatch>): bigint | undefined => {
  const last = batches.at(-1)
  return last === undefined ? undefined : last.firstOffset + BigInt(last.lastOffsetDelta) + 1n
}

const headerKeyDecoder = new TextDecoder()

const toHeaders = (headers: ReadonlyArray<readonly [Buffer | null, Buffer | null]>): ReadonlyArray<RecordHeader> =>
  headers.map(([key, value]) => ({
    key: key === null ? "" : headerKeyDecoder.decode(key),
    value: value === null ? null : new Uint8Array(value)
  }))

/** The records of one partition's fetched batches from offset `from` on (a fetch may start earlier), in offset order. */
export const toRecords = (
  topic: string,
  partition: number,
  batches: ReadonlyArray<RecordsBatch>,
  from: bigint
): Array<KafkaRecord> => {
  const taken: Array<readonly [RecordsBatch, WireRecord]> = []
  let size = 0
  for (const batch of batches) {
    if (isControl(batch)) continue
    for (const record of batch.records) {
      if (batch.firstOffset + BigInt(record.offsetDelta) < from) continue
      taken.push([batch, record])
      size += (record.key?.byteLength ?? 0) + (record.value?.byteLength ?? 0)
    }
  }
  const bytes = new BatchBytes(size)
  return taken.map(([batch, record]) => ({
    topic,
    partition,
    offset: Number(batch.firstOffset + BigInt(record.offsetDelta)),
    timestamp: Number(batch.firstTimestamp + record.timestampDelta),
    key: record.key === null ? null : bytes.copy(record.key),
    value: record.value === null ? null : bytes.copy(record.value),
    headers: toHeaders(record.headers)
  }))
}

/**
 * A message as the producer takes it. Headers go in a Map keyed by Buffers: a Map keeps insertion
 * order and, keyed by distinct Buffer objects, repeated header keys; a null value is sent as null.
 */
export const toMessage = (message: ProducerMessage): MessageToProduce => {
  const headers = new Map<Buffer, Buffer>()
  for (const { key, value } of message.headers ?? []) {
    headers.set(Buffer.from(key, "utf8"), (value === null ? null : toBuffer(value)) as Buffer)
  }
  return {
    topic: message.topic,
    ...(message.partition === undefined ? {} : { partition: message.partition }),
    key: (message.key === null ? undefined : toBuffer(message.key)) as Buffer,
    value: (message.value === null ? null : toBuffer(message.value)) as Buffer,
    headers
  }
}

export const messageOf = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  // A MultipleErrors (retries, several brokers) says little by itself: its first error says what.
  const nested = (error as { readonly errors?: ReadonlyArray<unknown> }).errors
  const first = nested?.[0]
  return first instanceof Error && !error.message.includes(first.message) ? `${error.message} ${first.message}` : error.message
}

/** The coordinator says this member's generation is over (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, …). */
export const isRebalance = (error: unknown): boolean =>
  error instanceof Error && findErrorBy(error, "needsRejoin", true) !== null

export const hasApiError = (error: unknown, apiId: string): boolean =>
  error instanceof Error && findErrorBy(error, "apiId", apiId) !== null

/** A `KafkaError` for a failed call, marked `rebalance` when the group has moved on. */
export const kafkaError = (what: string) => (cause: unknown): KafkaError =>
  isRebalance(cause)
    ? new KafkaError({ message: `${what}: ${messageOf(cause)}`, rebalance: true, cause })
    : new KafkaError({ message: `${what}: ${messageOf(cause)}`, cause })

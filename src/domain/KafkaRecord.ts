/**
 * A record as the pipeline sees it, independent of the Kafka client library.
 *
 * Offsets are JavaScript numbers: Kafka offsets are int64, but a partition
 * would need 2^53 records before precision is lost.
 */
export interface KafkaRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** Milliseconds since the epoch (CreateTime or LogAppendTime, as the broker reports). */
  readonly timestamp: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<RecordHeader>
}

export interface RecordHeader {
  readonly key: string
  readonly value: Uint8Array | null
}

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

/** `offset` is the next offset to read: one past the last handled record (Kafka's commit convention). */
export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: number
}

/**
 * A committed offset with the metadata string Kafka keeps beside it (the pipeline's: where
 * in the archive the partition's rows past the offset are, see `ArchivePosition`).
 */
export interface CommittedOffset extends TopicPartitionOffset {
  readonly metadata?: string | undefined
}

/** Topic names are `[a-zA-Z0-9._-]+`, so `:` cannot collide. */
export const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`

/** Bytes a record occupies in the pipeline's queues (and, roughly, in a produce request): key, value and headers. */
export const recordSize = (record: Pick<KafkaRecord, "key" | "value" | "headers">): number => {
  let size = (record.key?.byteLength ?? 0) + (record.value?.byteLength ?? 0)
  for (const header of record.headers) size += header.key.length + (header.value?.byteLength ?? 0)
  return size
}

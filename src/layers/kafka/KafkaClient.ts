/**
 * The Kafka client as the pipeline needs it: a consumer that hands fetched
 * batches to an effect (and keeps the group membership alive while that
 * effect suspends), explicit commits, a producer and a little admin.
 *
 * Two implementations: `KafkaJs.layer` (the real protocol, kafkajs) and
 * `MemoryKafka.layer` (in-process partitions, offsets, commits, injected
 * faults and rebalances; for tests, with `TestClock`).
 */
import type { Scope } from "effect"
import { Context, Effect } from "effect"
import type { KafkaError } from "../../domain/Errors.js"
import type { CommittedOffset, KafkaRecord, RecordHeader, TopicPartition } from "../../domain/KafkaRecord.js"

export interface ConsumerOptions {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  /** Where a partition without a committed offset starts. */
  readonly fromBeginning: boolean
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs: number
  readonly maxBytesPerPartition: number
  /** How long the client keeps restarting after crashes before `run` fails. */
  readonly restartBudgetMs: number
}

export interface ConsumerHandlers {
  /**
   * Receives each fetched batch: records of one partition in offset order.
   * It may suspend (backpressure); meanwhile the client keeps heartbeating and
   * fetches nothing more for that partition. When it returns, every record of
   * the batch counts as taken.
   */
  readonly onBatch: (records: ReadonlyArray<KafkaRecord>) => Effect.Effect<void>
  /** Receives this member's whole assignment after every (re)join. */
  readonly onAssignment: (assignment: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
}

export interface KafkaConsumer {
  /** Fetches until interrupted. Fails only when the client cannot recover within its restart budget. */
  readonly run: (handlers: ConsumerHandlers) => Effect.Effect<never, KafkaError>
  /**
   * Commits `offset` (the next offset to read) for each partition, with its metadata. A
   * rejection because the group is rebalancing fails with `KafkaError({ rebalance: true })`.
   */
  readonly commit: (offsets: ReadonlyArray<CommittedOffset>) => Effect.Effect<void, KafkaError>
  /** Stops fetching the given partitions (stop-at-offsets reached, shutdown). */
  readonly pause: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
  /**
   * Whether the member is in its group now: it joined, has not crashed or
   * started rebalancing since, and the broker has answered it (a fetch, a
   * heartbeat, a commit) within the session timeout.
   */
  readonly isInGroup: Effect.Effect<boolean>
}

export interface ProducerMessage {
  readonly topic: string
  readonly partition?: number
  readonly key: Uint8Array | string | null
  readonly value: Uint8Array | string | null
  readonly headers?: ReadonlyArray<RecordHeader>
}

export interface KafkaProducer {
  readonly send: (messages: ReadonlyArray<ProducerMessage>) => Effect.Effect<void, KafkaError>
}

export interface PartitionOffsets {
  readonly partition: number
  /** Offset of the next record to be written (the high watermark). */
  readonly high: number
  readonly low: number
}

export class KafkaClient extends Context.Service<KafkaClient, {
  readonly consumer: (options: ConsumerOptions) => Effect.Effect<KafkaConsumer, KafkaError, Scope.Scope>
  readonly producer: Effect.Effect<KafkaProducer, KafkaError, Scope.Scope>
  readonly createTopic: (topic: string, partitions: number) => Effect.Effect<void, KafkaError>
  readonly topicOffsets: (topic: string) => Effect.Effect<ReadonlyArray<PartitionOffsets>, KafkaError>
  /** Committed offsets of a group for a topic, with their metadata; partitions without a commit are absent. */
  readonly committedOffsets: (
    groupId: string,
    topic: string
  ) => Effect.Effect<ReadonlyArray<CommittedOffset>, KafkaError>
}>()("effect-kafka-pipeline/KafkaClient") {}

/** A partition's committed offset (absent without a commit), end offset (high watermark) and lag. */
export interface PartitionLag {
  readonly topic: string
  readonly partition: number
  readonly committed: number | undefined
  readonly end: number
  /** `end − committed`; without a commit, `end − low` (everything still in the log). */
  readonly lag: number
}

/**
 * The lag of a group on a topic, per partition: what `kafka-pipeline offsets`
 * prints and the `kafka_pipeline_consumer_lag` gauges report.
 */
export const groupLag = Effect.fn("KafkaClient.groupLag")(function*(groupId: string, topic: string) {
  const kafka = yield* KafkaClient
  const ends = yield* kafka.topicOffsets(topic)
  const committed = new Map((yield* kafka.committedOffsets(groupId, topic)).map((o) => [o.partition, o.offset]))
  return ends.map((end): PartitionLag => {
    const commit = committed.get(end.partition)
    return { topic, partition: end.partition, committed: commit, end: end.high, lag: end.high - (commit ?? end.low) }
  })
})

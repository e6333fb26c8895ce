/**
 * An in-memory Kafka for tests: topics, partitions, offsets and committed
 * offsets live in the process, and a test drives faults (failing fetches and
 * commits, crashes, rebalances) through the {@link MemoryKafka} service.
 *
 * `MemoryKafka.layer` provides both `KafkaClient` (what the pipeline uses) and
 * `MemoryKafka` (what the test uses). Nothing in it reads real time: waiting
 * for records suspends on a signal raised by `produce`, and every delay
 * (fetch retry backoff, restart after a crash) is an `Effect.sleep` that
 * `TestClock` drives.
 *
 * It behaves like the kafkajs client where that matters to a pipeline:
 *
 * - one member per consumer group; `run` first calls `onAssignment` with all
 *   partitions of the subscribed topics (or the assignment given to
 *   {@link MemoryKafka} `rebalance`), then hands batches of one partition each
 *   (at most 500 records and `maxBytesPerPartition` bytes) to `onBatch`, and
 *   advances the partition only when `onBatch` returns;
 * - every (re)join starts each assigned partition at its committed offset, or
 *   at the beginning / end of the log per `fromBeginning` (kafkajs builds a
 *   new offset manager per generation, so a partition kept across a rebalance
 *   is also fetched again from its committed offset);
 * - a rebalance abandons the batch in flight: `onBatch` is interrupted and its
 *   records count as not taken (kafkajs fails the heartbeat and re-fetches);
 * - commits are accepted for any partition, owned or not (the broker checks
 *   the generation, not the ownership); commits after the consumer's scope has
 *   closed fail, as they do after kafkajs has left the group;
 * - a failing fetch is retried after 300 ms, 600 ms, 1.2 s, 2.4 s and 4.8 s;
 *   the sixth failure in a row is a crash. A crash restarts the member after
 *   1 s (rejoining the group), until crashes have gone on for
 *   `restartBudgetMs` without a successful fetch in between; then `run` fails;
 * - once the consumer's scope has closed, its member has left the group: a
 *   `run` still going hands over nothing more, and a new `run` fails.
 *
 * This module is the control surface and the layer; the parts are under
 * `memory/`: the broker's state (`MemoryBroker`, over `PartitionLog`s), the
 * consumer (`MemoryConsumer`, its member in `MemoryMember` and the member's
 * state machine in `MemberLifecycle`), and the producer and admin calls
 * (`MemoryClient`).
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer } from "effect"
import type { KafkaRecord, TopicPartition, TopicPartitionOffset } from "../../domain/KafkaRecord.js"
import { partitionKey } from "../../domain/KafkaRecord.js"
import { KafkaClient } from "./KafkaClient.js"
import type { CommitCall } from "./memory/MemoryBroker.js"
import { MemoryBroker } from "./memory/MemoryBroker.js"
import { makeClient } from "./memory/MemoryClient.js"
import type { AppendedMessage } from "./memory/PartitionLog.js"

export { fetchRetryDelaysMs } from "./memory/MemberLifecycle.js"
export type { CommitCall } from "./memory/MemoryBroker.js"
export { restartDelayMs } from "./memory/MemoryConsumer.js"
export { maxBatchSize } from "./memory/MemoryMember.js"

/** A record to append with {@link MemoryKafka} `produce`; strings are encoded as UTF-8. */
export type MemoryMessage = AppendedMessage

const make = Effect.sync(() => {
  const broker = new MemoryBroker()
  return Context.make(MemoryKafka, control(broker)).pipe(Context.add(KafkaClient, makeClient(broker)))
})

/** An unknown topic is created with `partition + 1` partitions; a partition past the existing ones is a defect. */
const partitionFor = (broker: MemoryBroker, topic: string, partition: number) => {
  const logs = broker.ensureTopic(topic, partition + 1)
  return Number.isInteger(partition) && partition >= 0 && partition < logs.length
    ? Effect.succeed(logs[partition]!)
    : Effect.die(new RangeError(`MemoryKafka: topic ${topic} has no partition ${partition}`))
}

const control = (broker: MemoryBroker): MemoryKafka["Service"] => {
  const group = (groupId: string) => broker.group(groupId)
  return MemoryKafka.of({
    produce: Effect.fn("MemoryKafka.produce")(function*(
      topic: string,
      partition: number,
      messages: ReadonlyArray<MemoryMessage>
    ) {
      yield* partitionFor(broker, topic, partition)
      return broker.append(topic, partition, messages, yield* Clock.currentTimeMillis)
    }),
    skipOffsets: Effect.fn("MemoryKafka.skipOffsets")(function*(topic: string, partition: number, count: number) {
      const log = yield* partitionFor(broker, topic, partition)
      log.next += count
      broker.signal()
    }),
    records: (topic) => Effect.sync(() => broker.records(topic)),
    committed: (groupId) => Effect.sync(() => new Map(group(groupId).committed)),
    commitElsewhere: (groupId, offsets) =>
      Effect.sync(() => {
        const { committed } = group(groupId)
        for (const offset of offsets) committed.set(partitionKey(offset.topic, offset.partition), offset.offset)
      }),
    commits: (groupId) => Effect.sync(() => [...group(groupId).commits]),
    fetched: (groupId) => Effect.sync(() => group(groupId).fetched),
    assignment: (groupId) => Effect.sync(() => group(groupId).member?.assignment() ?? []),
    paused: (groupId) => Effect.sync(() => group(groupId).member?.paused() ?? []),
    failNextFetches: (count, message) =>
      Effect.sync(() => {
        broker.fetchFailures.add(count, message)
        broker.signal()
      }),
    failNextCommits: (count, options) =>
      Effect.sync(() => broker.commitFailures.add(count, options?.rebalance ?? false)),
    failNextSends: (count, message) => Effect.sync(() => broker.sendFailures.add(count, message)),
    failNextAdmin: (count, message) => Effect.sync(() => broker.adminFailures.add(count, message)),
    rebalance: (groupId, assignment) =>
      Effect.sync(() => {
        const rebalanced = group(groupId)
        rebalanced.assignment = [...assignment]
        rebalanced.member?.requestRejoin()
        broker.signal()
      }),
    crash: (message, options) => Effect.sync(() => broker.crashNext(message, options?.times ?? Infinity)),
    awaitFetched: (groupId, count) =>
      broker.waitUntil(() => group(groupId).fetched >= count ? true : undefined).pipe(Effect.asVoid),
    awaitCommitted: (groupId, { offset, partition, topic }) =>
      broker.waitUntil(() => {
        const committed = group(groupId).committed.get(partitionKey(topic, partition))
        return committed !== undefined && committed >= offset ? true : undefined
      }).pipe(Effect.asVoid),
    awaitAssignment: (groupId) => broker.waitUntil(() => group(groupId).member?.announced())
  })
}

/**
 * The control surface of the in-memory Kafka. Fault injections (`failNext*`,
 * `crash`) apply to whichever consumer or producer next fetches, commits or
 * sends, whatever its group.
 */
export class MemoryKafka extends Context.Service<MemoryKafka, {
  /**
   * Appends records to a partition and returns their offsets. An unknown topic
   * is created with `partition + 1` partitions.
   */
  readonly produce: (
    topic: string,
    partition: number,
    messages: ReadonlyArray<MemoryMessage>
  ) => Effect.Effect<ReadonlyArray<number>>
  /** Advances a partition's next offset by `count` without records (compaction, transaction markers). */
  readonly skipOffsets: (topic: string, partition: number, count: number) => Effect.Effect<void>
  /** Every record of a topic, by partition, then offset. */
  readonly records: (topic: string) => Effect.Effect<ReadonlyArray<KafkaRecord>>
  /** The group's committed offsets, by `partitionKey(topic, partition)`. */
  readonly committed: (groupId: string) => Effect.Effect<ReadonlyMap<string, number>>
  /**
   * Commits offsets for the group from outside this member: another member of
   * the group, or an admin tool. Not recorded in `commits`.
   */
  readonly commitElsewhere: (groupId: string, offsets: ReadonlyArray<TopicPartitionOffset>) => Effect.Effect<void>
  /** Every commit call of the group's consumers, in order, failed ones included. */
  readonly commits: (groupId: string) => Effect.Effect<ReadonlyArray<CommitCall>>
  /** How many records the group's consumers have handed to `onBatch` (and `onBatch` returned). */
  readonly fetched: (groupId: string) => Effect.Effect<number>
  /** The current assignment of the group's member; empty without a running member. */
  readonly assignment: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartition>>
  /** The partitions the group's member has paused. */
  readonly paused: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartition>>
  /** The next `count` fetches fail with `message` (logged and retried with backoff). */
  readonly failNextFetches: (count: number, message: string) => Effect.Effect<void>
  /** The next `count` commits fail; with `rebalance: true` as a rebalance rejection. */
  readonly failNextCommits: (count: number, options?: { readonly rebalance?: boolean }) => Effect.Effect<void>
  /** The next `count` producer sends fail with `message`. */
  readonly failNextSends: (count: number, message: string) => Effect.Effect<void>
  /** The next `count` admin reads (`topicOffsets`, `committedOffsets`) fail with `message`. */
  readonly failNextAdmin: (count: number, message: string) => Effect.Effect<void>
  /**
   * Gives the group's member a new assignment: the batch in flight is
   * abandoned, `onAssignment` receives the whole new assignment and every
   * assigned partition restarts at its committed offset. Without a member, the
   * assignment is used by the next member to join.
   */
  readonly rebalance: (groupId: string, assignment: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
  /**
   * Crashes the next consumer that polls, and each of its restarts, `times`
   * times in all (default: until `run` fails because `restartBudgetMs` is used up).
   */
  readonly crash: (message: string, options?: { readonly times?: number }) => Effect.Effect<void>
  /** Waits until the group's consumers have handed at least `count` records to `onBatch`. */
  readonly awaitFetched: (groupId: string, count: number) => Effect.Effect<void>
  /** Waits until the group's committed offset of the partition is at least `offset`. */
  readonly awaitCommitted: (groupId: string, offset: TopicPartitionOffset) => Effect.Effect<void>
  /** Waits until the group has a member that has announced its assignment with `onAssignment`. */
  readonly awaitAssignment: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartition>>
}>()("effect-kafka-pipeline/MemoryKafka") {
  /** Provides `KafkaClient` backed by the in-memory Kafka, and `MemoryKafka` to control it. */
  static readonly layer: Layer.Layer<KafkaClient | MemoryKafka> = Layer.effectContext(make)
}

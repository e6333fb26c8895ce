/**
 * A consumer's member of its group: its lifecycle state, where it is in each
 * assigned partition, which partitions are paused, and how it joins and picks
 * the next batch off the broker's logs.
 */
import { Deferred, Effect } from "effect"
import type { KafkaRecord, TopicPartition } from "../../../domain/KafkaRecord.js"
import { partitionKey } from "../../../domain/KafkaRecord.js"
import type { ConsumerOptions } from "../KafkaClient.js"
import type { MemberLifecycle } from "./MemberLifecycle.js"
import * as Lifecycle from "./MemberLifecycle.js"
import { MemberEvent } from "./MemberLifecycle.js"
import type { Group, GroupMember, MemoryBroker } from "./MemoryBroker.js"
import { batchFrom } from "./PartitionLog.js"

/** The most records one `onBatch` call receives. */
export const maxBatchSize = 500

export class MemoryMember implements GroupMember {
  private current: MemberLifecycle
  /** Completed when the generation ends (rebalance, crash): the batch in flight is abandoned. */
  private generationEnded = Deferred.makeUnsafe<void>()
  /** Next offset to fetch, by `partitionKey`: reset to the committed offsets on every join. */
  private readonly positions = new Map<string, number>()
  private readonly pausedPartitions = new Map<string, TopicPartition>()
  /** Round-robin start among the assigned partitions. */
  private cursor = 0

  constructor(
    readonly options: ConsumerOptions,
    readonly group: Group,
    private readonly broker: MemoryBroker
  ) {
    this.current = Lifecycle.initial(options.restartBudgetMs)
  }

  get state(): MemberLifecycle {
    return this.current
  }

  dispatch(event: MemberEvent): MemberLifecycle {
    const before = this.current
    this.current = Lifecycle.transition(before, event)
    if (Lifecycle.needsJoin(this.current) && !Lifecycle.needsJoin(before)) {
      Deferred.doneUnsafe(this.generationEnded, Effect.void)
    }
    return this.current
  }

  /** Waits until the generation the member is in now ends. */
  endOfGeneration(): Effect.Effect<void> {
    return Deferred.await(this.generationEnded)
  }

  /**
   * Joins (or rejoins) the group: takes the group's assignment, or every partition of the subscribed topics,
   * and starts each partition at its committed offset (kafkajs builds a new offset manager per generation).
   */
  join(): void {
    const { fromBeginning, topics } = this.options
    const assignment = this.group.assignment ?? topics.flatMap((topic) =>
      this.broker.ensureTopic(topic, 1).map((_, partition) => ({ topic, partition }))
    )
    this.generationEnded = Deferred.makeUnsafe<void>()
    this.positions.clear()
    for (const { partition, topic } of assignment) {
      const key = partitionKey(topic, partition)
      const end = this.broker.partition(topic, partition)?.next ?? 0
      this.positions.set(key, this.group.committed.get(key) ?? (fromBeginning ? 0 : end))
    }
    this.dispatch(MemberEvent.Joined({ assignment }))
  }

  /** The next batch: records of one assigned, unpaused partition past its position, round robin. */
  nextBatch(): ReadonlyArray<KafkaRecord> | undefined {
    const assignment = Lifecycle.fetching(this.current) ?? []
    for (let i = 0; i < assignment.length; i++) {
      const index = (this.cursor + i) % assignment.length
      const { partition, topic } = assignment[index]!
      const key = partitionKey(topic, partition)
      const log = this.broker.partition(topic, partition)
      if (this.pausedPartitions.has(key) || log === undefined) continue
      const batch = batchFrom(log.records, this.positions.get(key)!, maxBatchSize, this.options.maxBytesPerPartition)
      if (batch === undefined) continue
      this.cursor = index + 1
      return batch
    }
    return undefined
  }

  /** `onBatch` returned: the partition moves past the batch. */
  taken(batch: ReadonlyArray<KafkaRecord>): void {
    const last = batch[batch.length - 1]!
    this.positions.set(partitionKey(last.topic, last.partition), last.offset + 1)
    this.group.fetched += batch.length
  }

  pause(partitions: ReadonlyArray<TopicPartition>): void {
    for (const { partition, topic } of partitions) {
      this.pausedPartitions.set(partitionKey(topic, partition), { topic, partition })
    }
  }

  // GroupMember, for the control surface

  readonly assignment = (): ReadonlyArray<TopicPartition> => Lifecycle.assignment(this.current)
  readonly announced = (): ReadonlyArray<TopicPartition> | undefined => Lifecycle.announced(this.current)
  readonly paused = (): ReadonlyArray<TopicPartition> => [...this.pausedPartitions.values()]
  readonly requestRejoin = (): void => {
    this.dispatch(MemberEvent.RejoinRequested())
  }
}

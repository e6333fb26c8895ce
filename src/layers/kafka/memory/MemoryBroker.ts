/**
 * The state of the in-memory Kafka: topics and their partition logs, groups
 * with their committed offsets and member, the faults a test injected, and
 * the change signal every waiter suspends on. Consumers, the producer, the
 * admin calls and the control surface all read and change it through here.
 */
import { Deferred, Effect } from "effect"
import type { KafkaRecord, CommittedOffset, TopicPartition } from "../../../domain/KafkaRecord.js"
import { partitionKey } from "../../../domain/KafkaRecord.js"
import type { AppendedMessage, PartitionLog } from "./PartitionLog.js"
import * as Log from "./PartitionLog.js"

/** One call of `KafkaConsumer.commit`, as `MemoryKafka.commits` reports it. */
export interface CommitCall {
  readonly offsets: ReadonlyArray<CommittedOffset>
  /** `Clock` time of the call, in milliseconds. */
  readonly at: number
  /** Present when the call failed: an injected failure, or a commit after the consumer closed. */
  readonly rejected?: "error" | "rebalance" | "closed"
}

/** What the control surface sees of a group's member. */
export interface GroupMember {
  /** The latest assignment while a run is going, else none. */
  readonly assignment: () => ReadonlyArray<TopicPartition>
  /** The assignment announced by a running member still in its generation. */
  readonly announced: () => ReadonlyArray<TopicPartition> | undefined
  readonly paused: () => ReadonlyArray<TopicPartition>
  /** A rebalance: the member abandons its batch in flight and rejoins on its next poll. */
  readonly requestRejoin: () => void
}

export interface Group {
  /** By `partitionKey`. */
  readonly committed: Map<string, number>
  /** The metadata of the committed offsets that carry one, by `partitionKey`. */
  readonly metadata: Map<string, string>
  readonly commits: Array<CommitCall>
  /** Records handed to `onBatch` that it returned from. */
  fetched: number
  member: GroupMember | undefined
  /** Given by a rebalance; the next join takes it instead of every partition of the subscribed topics. */
  assignment: ReadonlyArray<TopicPartition> | undefined
}

/** Injected failures, taken one by one by whatever next meets them. */
class Faults<A> {
  private readonly queue: Array<A> = []
  add(count: number, fault: A): void {
    for (let i = 0; i < count; i++) this.queue.push(fault)
  }
  take(): A | undefined {
    return this.queue.shift()
  }
}

export class MemoryBroker {
  private readonly topics = new Map<string, Array<PartitionLog>>()
  private readonly groups = new Map<string, Group>()
  readonly fetchFailures = new Faults<string>()
  /** `true`: rejected as a rebalance. */
  readonly commitFailures = new Faults<boolean>()
  readonly sendFailures = new Faults<string>()
  readonly adminFailures = new Faults<string>()
  private crash: { readonly message: string; remaining: number } | undefined = undefined
  private roundRobin = 0

  // Every change of state completes `changed` and replaces it. A waiter reads
  // the state and takes `changed` in the same synchronous step, so it cannot
  // miss a change that happens before it suspends.
  private changed = Deferred.makeUnsafe<void>()

  signal(): void {
    const current = this.changed
    this.changed = Deferred.makeUnsafe<void>()
    Deferred.doneUnsafe(current, Effect.void)
  }

  /** Waits for the next change; to be taken in the same step as the read it follows. */
  nextChange(): Effect.Effect<void> {
    return Deferred.await(this.changed)
  }

  /** Waits until `check` has an answer, checking again after every change. */
  waitUntil<A>(check: () => A | undefined): Effect.Effect<A> {
    return Effect.suspend(() => {
      const result = check()
      return result !== undefined ? Effect.succeed(result) : Effect.andThen(this.nextChange(), this.waitUntil(check))
    })
  }

  // ---------------------------------------------------------------------------
  // Topics
  // ---------------------------------------------------------------------------

  /** The topic's partitions; an unknown topic is created with `partitions` of them (at least one). */
  ensureTopic(topic: string, partitions: number): ReadonlyArray<PartitionLog> {
    let logs = this.topics.get(topic)
    if (logs === undefined) {
      logs = Array.from({ length: Math.max(1, partitions) }, Log.empty)
      this.topics.set(topic, logs)
    }
    return logs
  }

  partitions(topic: string): ReadonlyArray<PartitionLog> | undefined {
    return this.topics.get(topic)
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.[partition]
  }

  /** Every record of a topic, by partition, then offset. */
  records(topic: string): ReadonlyArray<KafkaRecord> {
    return (this.topics.get(topic) ?? []).flatMap((log) => log.records)
  }

  /** Appends to an existing partition and returns the offsets. */
  append(topic: string, partition: number, messages: ReadonlyArray<AppendedMessage>, now: number): Array<number> {
    const log = this.topics.get(topic)![partition]!
    const offsets = messages.map((message) => Log.append(log, topic, partition, message, now))
    this.signal()
    return offsets
  }

  /** A keyless record's partition: round robin over the topic's partitions. */
  nextRoundRobin(partitions: number): number {
    return this.roundRobin++ % partitions
  }

  // ---------------------------------------------------------------------------
  // Groups
  // ---------------------------------------------------------------------------

  group(groupId: string): Group {
    let group = this.groups.get(groupId)
    if (group === undefined) {
      group = { committed: new Map(), metadata: new Map(), commits: [], fetched: 0, member: undefined, assignment: undefined }
      this.groups.set(groupId, group)
    }
    return group
  }

  commit(group: Group, offsets: ReadonlyArray<CommittedOffset>): void {
    for (const { metadata, offset, partition, topic } of offsets) {
      const key = partitionKey(topic, partition)
      group.committed.set(key, offset)
      if (metadata === undefined) group.metadata.delete(key)
      else group.metadata.set(key, metadata)
    }
    this.signal()
  }

  /** The group's committed offsets of one topic, by partition. */
  committedOn(groupId: string, topic: string): Array<CommittedOffset> {
    const offsets: Array<CommittedOffset> = []
    const group = this.group(groupId)
    for (const [key, offset] of group.committed) {
      const separator = key.lastIndexOf(":")
      if (key.slice(0, separator) !== topic) continue
      const metadata = group.metadata.get(key)
      offsets.push({ topic, partition: Number(key.slice(separator + 1)), offset, ...(metadata === undefined ? {} : { metadata }) })
    }
    return offsets.sort((a, b) => a.partition - b.partition)
  }

  // ---------------------------------------------------------------------------
  // Crashes
  // ---------------------------------------------------------------------------

  /** The next `times` polls, of any consumer, crash with `message`. */
  crashNext(message: string, times: number): void {
    this.crash = { message, remaining: times }
    this.signal()
  }

  /** The crash for this poll, if one is due. */
  takeCrash(): string | undefined {
    const crash = this.crash
    if (crash === undefined) return undefined
    if (--crash.remaining <= 0) this.crash = undefined
    return crash.message
  }

  /** A consumer gave up: crashes injected for it end with it. */
  clearCrash(): void {
    this.crash = undefined
  }
}

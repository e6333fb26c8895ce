/**
 * Stop-at offsets: each listed partition stops being consumed once its target
 * offset (inclusive: the last offset to handle) is handled, and the run stops
 * once every target is.
 */
import type { KafkaRecord, TopicPartitionOffset } from "./KafkaRecord.js"
import { partitionKey } from "./KafkaRecord.js"

export interface StopAtTarget {
  readonly topic: string
  readonly partition: number
  /** The last offset to handle. */
  readonly offset: number
}

export class StopAtTargets {
  readonly #targets: ReadonlyArray<StopAtTarget>
  readonly #byPartition: ReadonlyMap<string, number>
  /** The group's committed offsets of the target partitions, as last read. */
  readonly #groupCommitted = new Map<string, number>()

  constructor(targets: ReadonlyArray<StopAtTarget>) {
    this.#targets = targets
    this.#byPartition = new Map(targets.map((target) => [partitionKey(target.topic, target.partition), target.offset]))
  }

  get isEmpty(): boolean {
    return this.#targets.length === 0
  }

  /** The topics with targets, once each. */
  get topics(): ReadonlyArray<string> {
    return [...new Set(this.#targets.map((target) => target.topic))]
  }

  /**
   * How many records of a fetched batch (one partition's, in offset order) to
   * take: those up to the partition's target. `reached`: the batch got to the
   * target, so the partition is to be paused.
   */
  cut(records: ReadonlyArray<KafkaRecord>): { readonly take: number; readonly reached: boolean } {
    if (this.#byPartition.size === 0 || records.length === 0) return { take: records.length, reached: false }
    const { partition, topic } = records[0]!
    const target = this.#byPartition.get(partitionKey(topic, partition))
    if (target === undefined) return { take: records.length, reached: false }
    let take = 0
    while (take < records.length && records[take]!.offset <= target) take++
    return { take, reached: take < records.length || records[take - 1]!.offset === target }
  }

  /**
   * Whether `partition`'s own target is handled at this watermark: the cheap
   * test after each acknowledgement, before asking {@link allHandled}.
   */
  reachedBy(topic: string, partition: number, watermark: number | undefined): boolean {
    if (watermark === undefined) return false
    for (const target of this.#targets) {
      if (target.partition === partition && target.topic === topic) return watermark > target.offset
    }
    return false
  }

  /** Remembers the group's committed offsets (this member's, before a restart, or another member's). */
  groupCommitted(offsets: ReadonlyArray<TopicPartitionOffset>): void {
    for (const offset of offsets) this.#groupCommitted.set(partitionKey(offset.topic, offset.partition), offset.offset)
  }

  /**
   * Whether every target is handled: here (`watermark`, the partition's next
   * offset to commit) or by whoever committed the group past it. A run
   * without targets is never done.
   */
  allHandled(watermark: (topic: string, partition: number) => number | undefined): boolean {
    return this.#targets.length > 0 &&
      this.#targets.every((target) =>
        Math.max(
          watermark(target.topic, target.partition) ?? 0,
          this.#groupCommitted.get(partitionKey(target.topic, target.partition)) ?? 0
        ) > target.offset
      )
  }
}

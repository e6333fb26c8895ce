import type { TopicPartition, TopicPartitionOffset } from "./KafkaRecord.js"
import { partitionKey } from "./KafkaRecord.js"

/**
 * Acknowledgement bit flags. A record is handled once every flag the ledger
 * requires has been OR-ed in, in any order: processing and the backup row
 * finish independently.
 */
export const Ack = { Processed: 1, Archived: 2 } as const

/** Below this many consumed slots the FIFO is not worth copying. */
const COMPACT_MIN_HEAD = 64

/** The ledger state of one partition. */
class PartitionLedger {
  /**
   * Tracked offsets from the oldest not yet passed by the watermark, in fetch
   * (= increasing) order; slots before `head` are consumed. An array with a
   * moving head instead of `shift()` keeps dequeueing O(1).
   */
  offsets: Array<number> = []
  head = 0
  /** Acknowledgement bits of every offset still in the FIFO. */
  readonly acks = new Map<number, number>()
  /** Tracked offsets not yet fully acknowledged. */
  unhandled = 0
  lastTracked = -1
  /** Last handled offset + 1 of the contiguous prefix, once anything was handled. */
  handledUpTo: number | undefined = undefined
  lastCommitted: number | undefined = undefined

  constructor(
    readonly topic: string,
    readonly partition: number
  ) {}

  /** Moves the watermark over every fully acknowledged offset at the head. */
  advance(requiredAcks: number): void {
    const offsets = this.offsets
    let head = this.head
    while (head < offsets.length) {
      const offset = offsets[head]!
      if ((this.acks.get(offset)! & requiredAcks) !== requiredAcks) break
      this.acks.delete(offset)
      this.handledUpTo = offset + 1
      head++
    }
    if (head === offsets.length) {
      offsets.length = 0
      this.head = 0
    } else if (head >= COMPACT_MIN_HEAD && head * 2 >= offsets.length) {
      // Each slot is copied at most once per time it was skipped over, so this stays amortised O(1).
      this.offsets = offsets.slice(head)
      this.head = 0
    } else {
      this.head = head
    }
  }
}

/**
 * Which offsets of each partition are handled, and how far each partition can
 * safely be committed: never past a tracked offset that is not fully
 * acknowledged, whatever order the acknowledgements arrive in.
 *
 * Mutable on purpose: the pipeline calls it synchronously (inside
 * `Effect.sync`, so each call is atomic on the single JS thread) once or twice
 * per record, and copying state per record would dominate the cost.
 */
export class OffsetLedger {
  readonly #requiredAcks: number
  readonly #partitions = new Map<string, PartitionLedger>()
  /** The partition of the last call: calls come in runs for one partition (a fetched batch). */
  #last: PartitionLedger | undefined = undefined
  #pending = 0

  constructor(options: { readonly requiredAcks: number }) {
    this.#requiredAcks = options.requiredAcks
  }

  /**
   * Registers a fetched record. Returns false when this partition already
   * tracked this offset or a later one (a refetch after a rebalance/retry): the
   * caller skips it — the earlier copy is in flight or handled.
   */
  track(topic: string, partition: number, offset: number): boolean {
    let ledger = this.#ledgerOf(topic, partition)
    if (ledger === undefined) {
      ledger = new PartitionLedger(topic, partition)
      this.#partitions.set(partitionKey(topic, partition), ledger)
      this.#last = ledger
    } else if (offset <= ledger.lastTracked) {
      return false
    }
    ledger.lastTracked = offset
    ledger.offsets.push(offset)
    ledger.acks.set(offset, 0)
    ledger.unhandled++
    this.#pending++
    return true
  }

  /**
   * Forgets the partition's last tracked offset, whose record was never handed
   * over (interrupted while waiting for room, by a rejoin or a stop): a refetch
   * then tracks it again instead of skipping it as in flight. Returns false, and
   * changes nothing, unless `offset` is the last tracked offset and not handled.
   */
  untrack(topic: string, partition: number, offset: number): boolean {
    const ledger = this.#ledgerOf(topic, partition)
    if (ledger === undefined || ledger.lastTracked !== offset) return false
    const acks = ledger.acks.get(offset)
    if (acks === undefined || (acks & this.#requiredAcks) === this.#requiredAcks) return false
    ledger.offsets.pop()
    ledger.acks.delete(offset)
    ledger.unhandled--
    this.#pending--
    // Everything tracked before it is still in the FIFO, or passed by the watermark.
    ledger.lastTracked = ledger.offsets.length > ledger.head
      ? ledger.offsets[ledger.offsets.length - 1]!
      : (ledger.handledUpTo ?? 0) - 1
    return true
  }

  /**
   * Records an acknowledgement (bit flags OR-ed). Unknown partitions/offsets
   * (revoked, already handled, never tracked) are ignored. When the oldest
   * tracked offset of the partition becomes fully acknowledged, the watermark
   * advances over every fully-acknowledged offset at the head: amortised O(1)
   * per record, never a sort.
   */
  ack(topic: string, partition: number, offset: number, ack: number): void {
    const ledger = this.#ledgerOf(topic, partition)
    if (ledger === undefined) return
    const before = ledger.acks.get(offset)
    if (before === undefined) return
    const required = this.#requiredAcks
    if ((before & required) === required) return
    const after = before | ack
    ledger.acks.set(offset, after)
    if ((after & required) !== required) return
    ledger.unhandled--
    this.#pending--
    if (offset === ledger.offsets[ledger.head]) ledger.advance(required)
  }

  /**
   * Next offset to commit (last contiguous handled offset + 1) for partitions
   * whose watermark moved past what was last marked committed. Contiguous
   * means: no unhandled offset among the offsets actually tracked (Kafka
   * offsets can skip: compaction, transaction markers).
   */
  committable(): Array<TopicPartitionOffset> {
    const result: Array<TopicPartitionOffset> = []
    for (const ledger of this.#partitions.values()) {
      const offset = ledger.handledUpTo
      if (offset === undefined) continue
      if (ledger.lastCommitted !== undefined && offset <= ledger.lastCommitted) continue
      result.push({ topic: ledger.topic, partition: ledger.partition, offset })
    }
    return result
  }

  /** Remembers what Kafka accepted, so `committable` reports only what moved since. Unknown partitions are ignored. */
  markCommitted(offsets: ReadonlyArray<TopicPartitionOffset>): void {
    for (const { offset, partition, topic } of offsets) {
      const ledger = this.#partitions.get(partitionKey(topic, partition))
      if (ledger === undefined) continue
      // A slow commit response must not move the mark backwards over a newer one.
      if (ledger.lastCommitted === undefined || offset > ledger.lastCommitted) ledger.lastCommitted = offset
    }
  }

  /**
   * After a (re)join: drops all state of partitions not in the assignment
   * (their late acks are then ignored and nothing is committable for them).
   * Returns the dropped partitions.
   */
  retain(assignment: ReadonlyArray<TopicPartition>): Array<TopicPartition> {
    const keep = new Set<string>()
    for (const { partition, topic } of assignment) keep.add(partitionKey(topic, partition))
    const dropped: Array<TopicPartition> = []
    for (const [key, ledger] of this.#partitions) {
      if (keep.has(key)) continue
      this.#partitions.delete(key)
      if (this.#last === ledger) this.#last = undefined
      this.#pending -= ledger.unhandled
      dropped.push({ topic: ledger.topic, partition: ledger.partition })
    }
    return dropped
  }

  /** Next offset to commit for a partition (handled prefix), or undefined when nothing was handled yet. */
  watermark(topic: string, partition: number): number | undefined {
    return this.#ledgerOf(topic, partition)?.handledUpTo
  }

  /** Tracked offsets not yet fully acknowledged, over all partitions. */
  get pending(): number {
    return this.#pending
  }

  /** Offsets handled above a gap and waiting for it (per partition), for metrics/tests. */
  pendingFor(topic: string, partition: number): number {
    const ledger = this.#ledgerOf(topic, partition)
    if (ledger === undefined) return 0
    return ledger.offsets.length - ledger.head - ledger.unhandled
  }

  #ledgerOf(topic: string, partition: number): PartitionLedger | undefined {
    const last = this.#last
    if (last !== undefined && last.partition === partition && last.topic === topic) return last
    const ledger = this.#partitions.get(partitionKey(topic, partition))
    if (ledger !== undefined) this.#last = ledger
    return ledger
  }
}

/**
 * Which fetched record a free worker may start next, under the ordering
 * policy:
 *
 * - `key`: records of one partition with the same key one at a time, in
 *   offset order; other keys (and null keys) in parallel;
 * - `partition`: one record of a partition at a time, in offset order;
 * - `unordered`: any record at any time.
 *
 * Each ordered key (or partition) has a lane: its oldest record is ready (or
 * in flight), the later ones wait in the lane until it completes. Ready
 * records of every lane wait in one FIFO, so a free worker always gets the
 * oldest ready record: a slow key holds back its own later records only,
 * never a worker while another key has a record ready (no head-of-line
 * blocking across keys).
 *
 * Mutable on purpose, as the offset ledger: the pipeline calls it
 * synchronously three times per record, and copying state per record would
 * cost more than the rest of the pipeline.
 */
import { Fifo } from "./Fifo.js"
import { keyHash } from "./KeyHash.js"
import type { KafkaRecord, TopicPartition } from "./KafkaRecord.js"
import { partitionKey } from "./KafkaRecord.js"

export const Orderings = ["key", "partition", "unordered"] as const
export type Ordering = (typeof Orderings)[number]

/** A record between intake and its outcome: queued (ready or waiting behind its key), then in flight. */
export interface Job {
  readonly record: KafkaRecord
  /** What it counts for in the queue's byte bound. */
  readonly bytes: number
  /** @internal its key's (or partition's) lane; none when unordered */
  readonly lane: Lane | undefined
  /** @internal */
  readonly partition: PartitionJobs
}

/** @internal The records of one key (or partition) after the one ready or in flight. */
class Lane {
  /** Made when a second record of the key arrives: most keys never wait. */
  waiting: Fifo<Job> | undefined = undefined
  constructor(
    readonly hash: number,
    readonly key: Uint8Array,
    /** Held in `collided`: another key with the same hash had the hash's place. */
    readonly collided: boolean
  ) {}
}

/** @internal The lanes and queued records of one partition, while it is assigned. */
class PartitionJobs {
  /** Lanes by their key's hash (a number is a cheaper map key than the key's bytes as a string). */
  readonly lanes = new Map<number, Lane>()
  /** Lanes of keys whose hash another key's lane held when they came, by the key's bytes (exact). */
  collided: Map<string, Lane> | undefined = undefined
  queued = 0
  queuedBytes = 0
  /** Revoked (or the scheduler closed): its queued jobs are skipped, its completions release nothing. */
  dropped = false
  constructor(readonly topic: string, readonly partition: number) {}
}

const NO_KEY = new Uint8Array(0)

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A key's bytes as a string, one character per byte: equal keys give equal strings, different keys different ones. */
export const keyString = (key: Uint8Array): string => {
  if (key.length <= 1024) return String.fromCharCode.apply(null, key as unknown as Array<number>)
  let text = ""
  for (let start = 0; start < key.length; start += 1024) {
    text += String.fromCharCode.apply(null, key.subarray(start, start + 1024) as unknown as Array<number>)
  }
  return text
}

/** The lane of `key` in the partition, if one is open. */
const laneOf = (partition: PartitionJobs, key: Uint8Array, hash: number): Lane | undefined => {
  const lane = partition.lanes.get(hash)
  if (lane === undefined || sameBytes(lane.key, key)) return lane
  return partition.collided?.get(keyString(key))
}

const openLane = (partition: PartitionJobs, key: Uint8Array, hash: number): Lane => {
  if (!partition.lanes.has(hash)) {
    const lane = new Lane(hash, key, false)
    partition.lanes.set(hash, lane)
    return lane
  }
  const lane = new Lane(hash, key, true)
  ;(partition.collided ??= new Map()).set(keyString(key), lane)
  return lane
}

const closeLane = (partition: PartitionJobs, lane: Lane): void => {
  if (lane.collided) partition.collided!.delete(keyString(lane.key))
  else partition.lanes.delete(lane.hash)
}

export class KeyScheduler {
  readonly #ordering: Ordering
  readonly #ready = new Fifo<Job>()
  readonly #partitions = new Map<string, PartitionJobs>()
  /** The partition of the last `add`: records come in runs of one partition (a fetched batch). */
  #last: PartitionJobs | undefined = undefined
  #queued = 0
  #queuedBytes = 0
  #inFlight = 0
  #inFlightBytes = 0
  #waiting = 0
  #keysInFlight = 0

  readonly #keyHash: (key: Uint8Array) => number

  /** `keyHash`: how keys are hashed (tests give a poor one, to make keys collide). */
  constructor(ordering: Ordering, options: { readonly keyHash?: (key: Uint8Array) => number } = {}) {
    this.#ordering = ordering
    this.#keyHash = options.keyHash ?? keyHash
  }

  get ordering(): Ordering {
    return this.#ordering
  }

  /** Records added and not started: ready, or waiting behind their key. */
  get queued(): number {
    return this.#queued
  }

  get queuedBytes(): number {
    return this.#queuedBytes
  }

  /** Records taken by a worker and not completed. */
  get inFlight(): number {
    return this.#inFlight
  }

  get inFlightBytes(): number {
    return this.#inFlightBytes
  }

  /** Queued records that wait for an earlier record of their key (or partition) to complete. */
  get waitingBehindKey(): number {
    return this.#waiting
  }

  /** Keys (or partitions, in `partition` mode) with a record in flight; 0 when unordered. */
  get keysInFlight(): number {
    return this.#keysInFlight
  }

  /** Whether a record is ready to be taken (`take` may still skip dropped ones). */
  get hasReady(): boolean {
    return this.#ready.length > 0
  }

  /** Queues a fetched record, in offset order within its partition; returns its job. */
  add(record: KafkaRecord, bytes: number): Job {
    const partition = this.#partitionOf(record)
    partition.queued++
    partition.queuedBytes += bytes
    this.#queued++
    this.#queuedBytes += bytes
    const key = this.#laneKey(record)
    if (key === undefined) {
      const job: Job = { record, bytes, lane: undefined, partition }
      this.#ready.push(job)
      return job
    }
    const hash = this.#keyHash(key)
    const found = laneOf(partition, key, hash)
    if (found !== undefined) {
      const job: Job = { record, bytes, lane: found, partition }
      ;(found.waiting ??= new Fifo()).push(job)
      this.#waiting++
      return job
    }
    const job: Job = { record, bytes, lane: openLane(partition, key, hash), partition }
    this.#ready.push(job)
    return job
  }

  /** The oldest ready record, now in flight; undefined when none is ready. */
  take(): Job | undefined {
    let job = this.#ready.shift()
    while (job !== undefined && job.partition.dropped) job = this.#ready.shift()
    if (job === undefined) return undefined
    job.partition.queued--
    job.partition.queuedBytes -= job.bytes
    this.#queued--
    this.#queuedBytes -= job.bytes
    this.#inFlight++
    this.#inFlightBytes += job.bytes
    if (job.lane !== undefined) this.#keysInFlight++
    return job
  }

  /**
   * A taken record reached its outcome: the next record of its key becomes
   * ready. Returns whether one did.
   */
  complete(job: Job): boolean {
    this.#inFlight--
    this.#inFlightBytes -= job.bytes
    const lane = job.lane
    if (lane === undefined) return false
    this.#keysInFlight--
    if (job.partition.dropped) return false
    const next = lane.waiting?.shift()
    if (next === undefined) {
      closeLane(job.partition, lane)
      return false
    }
    this.#waiting--
    this.#ready.push(next)
    return true
  }

  /**
   * After a (re)join: drops the queued records and the lanes of partitions
   * not in the assignment (records in flight finish, and release nothing).
   * Returns how many queued records were dropped.
   */
  retain(assignment: ReadonlyArray<TopicPartition>): number {
    const keep = new Set<string>()
    for (const { partition, topic } of assignment) keep.add(partitionKey(topic, partition))
    let dropped = 0
    for (const [key, partition] of this.#partitions) {
      if (keep.has(key)) continue
      dropped += this.#drop(key, partition)
    }
    return dropped
  }

  /** Drops every queued record (a stop: they are left for the next run); returns how many. */
  clear(): number {
    let dropped = 0
    for (const [key, partition] of this.#partitions) dropped += this.#drop(key, partition)
    this.#ready.clear()
    return dropped
  }

  #drop(key: string, partition: PartitionJobs): number {
    partition.dropped = true
    this.#partitions.delete(key)
    if (this.#last === partition) this.#last = undefined
    for (const lane of partition.lanes.values()) this.#waiting -= lane.waiting?.length ?? 0
    for (const lane of partition.collided?.values() ?? []) this.#waiting -= lane.waiting?.length ?? 0
    this.#queued -= partition.queued
    this.#queuedBytes -= partition.queuedBytes
    return partition.queued
  }

  #laneKey(record: KafkaRecord): Uint8Array | undefined {
    switch (this.#ordering) {
      case "key":
        return record.key ?? undefined
      case "partition":
        return NO_KEY
      case "unordered":
        return undefined
    }
  }

  #partitionOf(record: KafkaRecord): PartitionJobs {
    const last = this.#last
    if (last !== undefined && last.partition === record.partition && last.topic === record.topic) return last
    const key = partitionKey(record.topic, record.partition)
    let partition = this.#partitions.get(key)
    if (partition === undefined) {
      partition = new PartitionJobs(record.topic, record.partition)
      this.#partitions.set(key, partition)
    }
    this.#last = partition
    return partition
  }
}

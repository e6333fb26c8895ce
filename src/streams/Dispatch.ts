/**
 * Dispatch: the stage between intake and the workers. It holds the records
 * fetched and not yet started in the run state's `KeyScheduler` (the ordering
 * policy), within the queue's bounds, and hands a free worker the oldest
 * record it may start.
 *
 * The bounds: at most `queueSize` records waiting, and at most `queueBytes`
 * bytes (keys, values, headers) waiting or in a worker; a record larger than
 * `queueBytes` counts as `queueBytes`, so it goes alone. Intake waits for
 * room; a worker that finishes makes some.
 *
 * This stage is not a `Stream`: a stop must know which records were never
 * started (they are left, uncommitted, for the next run), and a worker must
 * take a record only when it is free and the record's key is (a stream
 * pulling ahead would hold records a free worker could take, or take a key's
 * next record while its previous one is still in a worker).
 */
import { Effect, SubscriptionRef } from "effect"
import type { KafkaRecord, TopicPartition } from "../domain/KafkaRecord.js"
import type { Job } from "../domain/KeyScheduler.js"
import { isTakingWork } from "../domain/RunPhase.js"
import type { RunState } from "../layers/RunState.js"
import { Waiters } from "./Waiters.js"

export interface DispatchOptions {
  readonly queueSize: number
  readonly queueBytes: number
}

export interface Dispatch {
  /** How many records, from `start` on (their sizes, see `recordSize`), fit in the bounds now (0: none). */
  readonly room: (sizes: ReadonlyArray<number>, start: number) => number
  /**
   * Waits until a chunk of the records from `start` on (their sizes) fits in the
   * bounds: as many as `queueSize / 8` of them (or all that are left), fewer only
   * where the byte bound could never hold more. Intake then hands over chunks,
   * not a record per record a worker finishes.
   */
  readonly awaitRoom: (sizes: ReadonlyArray<number>, start: number) => Effect.Effect<void>
  /** Queues `records[start, end)` (room was made for them; `sizes` theirs) and wakes workers for what is ready. */
  readonly add: (
    records: ReadonlyArray<KafkaRecord>,
    sizes: ReadonlyArray<number>,
    start: number,
    end: number
  ) => void
  /** The oldest record a worker may start now, or undefined (none ready, or the run is stopping). */
  readonly take: () => Job | undefined
  /** Waits until a record is ready or the run is stopping. */
  readonly awaitWork: Effect.Effect<void>
  /**
   * After a (re)join: drops the queued records and key state of the partitions
   * no longer assigned. Returns how many queued records were dropped.
   */
  readonly retain: (assignment: ReadonlyArray<TopicPartition>) => number
  /** A taken record reached its outcome: its key's next record is ready, its room is free. */
  readonly complete: (job: Job) => void
  /**
   * Stops handing out records (the run is stopping, if it was not yet): idle
   * workers end, the queued records are left. Returns how many were left.
   */
  readonly close: Effect.Effect<number>
  /** Whether records are still handed out: not once the run is stopping. */
  readonly isOpen: () => boolean
}

export const make = (runState: RunState["Service"], options: DispatchOptions): Dispatch => {
  const work = runState.work
  const workers = new Waiters()
  const intake = new Waiters()
  /** What the waiting intake needs free before it is woken: records, and bytes. */
  let intakeNeeds = { records: 0, bytes: 0 }
  const chunkRecords = Math.max(1, Math.ceil(options.queueSize / 8))
  const isOpen = () => isTakingWork(SubscriptionRef.getUnsafe(runState.phase))

  /** What a record counts for in the byte bound: a record larger than the bound goes alone. */
  const weight = (size: number) => Math.min(size, options.queueBytes)
  const bytesHeld = () => work.queuedBytes + work.inFlightBytes

  const room = (sizes: ReadonlyArray<number>, start: number): number => {
    const records = options.queueSize - work.queued
    let bytes = options.queueBytes - bytesHeld()
    let end = start
    while (end < sizes.length && end - start < records) {
      const size = weight(sizes[end]!)
      if (size > bytes) break
      bytes -= size
      end++
    }
    return end - start
  }

  const take = (): Job | undefined => isOpen() ? work.take() : undefined

  const hasRoomFor = (needs: { readonly records: number; readonly bytes: number }) =>
    options.queueSize - work.queued >= needs.records && options.queueBytes - bytesHeld() >= needs.bytes

  /** The chunk from `start` that an empty queue would hold, up to `chunkRecords` records. */
  const chunkAt = (sizes: ReadonlyArray<number>, start: number) => {
    let bytes = 0
    let end = start
    while (end < sizes.length && end - start < chunkRecords) {
      const size = weight(sizes[end]!)
      if (end > start && bytes + size > options.queueBytes) break
      bytes += size
      end++
    }
    return { records: end - start, bytes }
  }

  return {
    room,
    awaitRoom: (sizes, start) =>
      Effect.suspend(() => {
        intakeNeeds = chunkAt(sizes, start)
        return intake.await(() => hasRoomFor(intakeNeeds))
      }),
    add: (records, sizes, start, end) => {
      for (let index = start; index < end; index++) work.add(records[index]!, weight(sizes[index]!))
      if (workers.size > 0) workers.notify(end - start)
    },
    take,
    awaitWork: workers.await(() => !isOpen() || work.hasReady),
    retain: (assignment) => {
      const dropped = work.retain(assignment)
      if (dropped > 0 && intake.size > 0) intake.notifyAll()
      return dropped
    },
    complete: (job) => {
      if (work.complete(job) && workers.size > 0) workers.notify(1)
      if (intake.size > 0 && hasRoomFor(intakeNeeds)) intake.notifyAll()
    },
    close: runState.advance({ _tag: "StopRequested" }).pipe(
      Effect.map(() => {
        const left = work.clear()
        workers.notifyAll()
        return left
      })
    ),
    isOpen
  }
}

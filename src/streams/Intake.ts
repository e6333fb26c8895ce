/**
 * Intake: where fetched batches enter the pipeline. Each batch (one
 * partition's records, in offset order) is cut at its stop-at target, tracked
 * in the offset ledger (a refetched record already tracked is skipped: its
 * earlier copy is in flight or handled), then handed to dispatch in chunks
 * that fit the queue's bounds: each chunk is counted, backed up, and queued.
 * Waiting for room suspends the batch, and with it fetching, while the client
 * keeps the membership alive.
 *
 * Interrupted (a rejoin abandons the batch, or a stop), the records not yet
 * queued are untracked: the refetch must queue them again, not skip them as
 * in flight, else their offsets would hold the commit back for good.
 * (Refetched, they are counted and backed up again: `consumed` stays the
 * number of backup rows.)
 *
 * Each join's assignment drops the ledger state, the queued records and the
 * key state of the partitions this member lost. The partitions it gained are
 * recovered first (`ArchiveRecovery`, in the background: their batches wait
 * for it, heartbeating): a record whose backup row the archive already holds
 * is not backed up again, and one whose DLQ row it holds is handled already
 * (not processed again).
 */
import type { Scope } from "effect"
import { Deferred, Effect, Fiber, SubscriptionRef } from "effect"
import type { Found } from "../domain/ArchiveIndex.js"
import { writeBackupRow } from "../domain/Csv.js"
import type { PipelineError } from "../domain/Errors.js"
import type { KafkaRecord, TopicPartition } from "../domain/KafkaRecord.js"
import { partitionKey, recordSize } from "../domain/KafkaRecord.js"
import { Ack } from "../domain/OffsetLedger.js"
import type { ConsumerHandlers, KafkaConsumer } from "../layers/kafka/KafkaClient.js"
import type { ObservabilityService } from "../layers/Observability.js"
import type { RunState } from "../layers/RunState.js"
import type { ArchiveSink } from "./ArchiveSink.js"
import type { Committer } from "./Committer.js"
import type { Dispatch } from "./Dispatch.js"

const describe = (partitions: ReadonlyArray<TopicPartition>) =>
  partitions.map((p) => partitionKey(p.topic, p.partition)).join(",")

export interface IntakeDeps {
  readonly runState: RunState["Service"]
  readonly dispatch: Dispatch
  readonly consumer: KafkaConsumer
  readonly backup: ArchiveSink | undefined
  /** The archives (backup and DLQ) whose pending rows of lost partitions each join drops. */
  readonly archives: ReadonlyArray<ArchiveSink>
  readonly observability: ObservabilityService
  readonly committer: Pick<Committer, "acknowledge">
  /** What the archive holds of newly assigned partitions past their committed offsets, by `partitionKey`. */
  readonly recover: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<ReadonlyMap<string, Found>>
}

/**
 * Polls: runs the consumer with the intake's handlers in the background. A
 * Kafka failure it cannot recover from completes `stop`. Released, it stops
 * polling and pauses the assigned partitions (the member stays in the group
 * until the consumer itself is released).
 */
export const run = Effect.fnUntraced(function*(
  deps: IntakeDeps & { readonly stop: Deferred.Deferred<"stopAtOffsets", PipelineError> }
): Effect.fn.Return<void, never, Scope.Scope> {
  const { consumer, runState, stop } = deps
  const poll = yield* consumer.run(make(deps, yield* Effect.scope)).pipe(
    Effect.catch((error) => Deferred.fail(stop, error)),
    Effect.forkScoped
  )
  runState.fibers.set("poll", poll)
  yield* Effect.addFinalizer(() =>
    Fiber.interrupt(poll).pipe(
      Effect.andThen(SubscriptionRef.get(runState.assignment)),
      Effect.flatMap(consumer.pause)
    )
  )
})

/** The consumer's handlers: batches in, assignments announced. */
export const make = (deps: IntakeDeps, scope: Scope.Scope): ConsumerHandlers => {
  const { committer, consumer, dispatch, runState } = deps
  const { archiveIndex, ledger, targets } = runState
  const recoveries = recoveryGate(deps.recover, archiveIndex, scope)

  const handOver = makeHandOver(deps)

  /** Takes a batch of a partition whose recovery is done. */
  const take = (records: ReadonlyArray<KafkaRecord>) =>
    Effect.suspend(() => {
      if (!dispatch.isOpen()) return Effect.void
      const { partition, topic } = records[0]!
      const cut = targets.cut(records)
      const recovered = archiveIndex.hasFound(topic, partition)
      const taken: Array<KafkaRecord> = []
      // Each record's size, once: the queue's byte bound and the consumed bytes both need it.
      const sizes: Array<number> = []
      const handledAlready: Array<KafkaRecord> = []
      for (let index = 0; index < cut.take; index++) {
        const record = records[index]!
        if (!ledger.track(record.topic, record.partition, record.offset)) continue
        // Dead-lettered and backed up: handled. Dead-lettered only (a crash wrote its DLQ row before
        // its backup row): queued for its backup row, and a worker acknowledges it unprocessed.
        if (
          recovered && archiveIndex.isDeadLettered(topic, partition, record.offset) &&
          archiveIndex.isArchived(topic, partition, record.offset)
        ) {
          handledAlready.push(record)
          continue
        }
        taken.push(record)
        sizes.push(recordSize(record))
      }
      const pauseAtTarget = cut.reached ? consumer.pause([{ topic, partition }]) : Effect.void
      if (recovered) {
        committer.acknowledge(handledAlready, Ack.Processed | Ack.Archived)
        committer.acknowledge(taken.filter((r) => archiveIndex.isArchived(topic, partition, r.offset)), Ack.Archived)
      }
      if (taken.length === 0) return pauseAtTarget
      return Effect.flatMap(handOver(taken, sizes), (handedOver) => handedOver ? pauseAtTarget : Effect.void)
    })

  const onBatch = (records: ReadonlyArray<KafkaRecord>) =>
    Effect.suspend(() => {
      if (!dispatch.isOpen() || records.length === 0) return Effect.void
      const recovery = recoveries.pending(records[0]!)
      return recovery === undefined ? take(records) : Effect.andThen(recovery, take(records))
    })

  const onAssignment = (partitions: ReadonlyArray<TopicPartition>) =>
    Effect.gen(function*() {
      const previous = yield* SubscriptionRef.getAndSet(runState.assignment, partitions)
      const dropped = ledger.retain(partitions)
      const left = dispatch.retain(partitions)
      archiveIndex.retain(partitions)
      for (const archive of deps.archives) archive.retain(partitions)
      yield* recoveries.start(previous, partitions)
      yield* Effect.logInfo("partitions assigned").pipe(
        Effect.annotateLogs({ assigned: describe(partitions), dropped: describe(dropped), ...(left > 0 ? { queuedDropped: left } : {}) })
      )
    })

  return { onBatch, onAssignment }
}

/**
 * The recoveries of the partitions gained at the joins: started in the background (in `scope`),
 * what they find adopted by the run's `ArchiveIndex`; a batch of a partition whose recovery is
 * not done waits for it.
 */
const recoveryGate = (
  recover: IntakeDeps["recover"],
  archiveIndex: RunState["Service"]["archiveIndex"],
  scope: Scope.Scope
) => {
  /** By `partitionKey`; gone once done. */
  const recoveries = new Map<string, Fiber.Fiber<void>>()
  return {
    /** What a batch of `record`'s partition waits for, if anything. */
    pending: (record: TopicPartition): Effect.Effect<void> | undefined => {
      if (recoveries.size === 0) return undefined
      const key = partitionKey(record.topic, record.partition)
      const recovery = recoveries.get(key)
      if (recovery === undefined) return undefined
      if (recovery.pollUnsafe() === undefined) return Fiber.await(recovery).pipe(Effect.asVoid)
      recoveries.delete(key)
      return undefined
    },
    /** Starts the recovery of the partitions in `partitions` that were not in `previous`. */
    start: (previous: ReadonlyArray<TopicPartition>, partitions: ReadonlyArray<TopicPartition>) =>
      Effect.gen(function*() {
        const kept = new Set(partitions.map((p) => partitionKey(p.topic, p.partition)))
        for (const key of recoveries.keys()) if (!kept.has(key)) recoveries.delete(key)
        const had = new Set(previous.map((p) => partitionKey(p.topic, p.partition)))
        const gained = partitions.filter((p) => !had.has(partitionKey(p.topic, p.partition)))
        if (gained.length === 0) return
        const recovery = yield* recover(gained).pipe(
          Effect.map((found) => {
            for (const p of gained) {
              const partitionFound = found.get(partitionKey(p.topic, p.partition))
              if (partitionFound !== undefined) archiveIndex.adopt(p.topic, p.partition, partitionFound)
            }
          }),
          Effect.forkIn(scope)
        )
        for (const p of gained) recoveries.set(partitionKey(p.topic, p.partition), recovery)
      })
  }
}

/**
 * Queues `records` (their sizes in `sizes`) chunk by chunk as room frees; false when the backup
 * archive failed (the run is stopping).
 */
const makeHandOver = (deps: IntakeDeps) => (records: ReadonlyArray<KafkaRecord>, sizes: ReadonlyArray<number>) => {
  const { backup, dispatch, observability, runState } = deps
  const { archiveIndex, counts, ledger } = runState
  let queued = 0
  return Effect.gen(function*() {
    while (queued < records.length) {
      const fits = dispatch.room(sizes, queued)
      if (fits === 0) {
        yield* dispatch.awaitRoom(sizes, queued)
        continue
      }
      const end = queued + fits
      const chunk = queued === 0 && end === records.length ? records : records.slice(queued, end)
      let bytes = 0
      for (let index = queued; index < end; index++) bytes += sizes[index]!
      counts.recordConsumed(chunk.length, bytes)
      observability.consumed(chunk)
      if (backup !== undefined) {
        // In offset order, without the rows the archive holds already.
        const rows = archiveIndex.hasFound(chunk[0]!.topic, chunk[0]!.partition)
          ? chunk.filter((r) => !archiveIndex.isArchived(r.topic, r.partition, r.offset))
          : chunk
        const appended = yield* backup.appendAll(rows, writeBackupRow).pipe(
          Effect.as(true),
          Effect.catch(() => Effect.succeed(false))
        )
        if (!appended) return false
      }
      dispatch.add(records, sizes, queued, end)
      queued = end
    }
    return true
  }).pipe(
    Effect.onInterrupt(() =>
      Effect.sync(() => {
        // Last first: the ledger untracks only a partition's last tracked offset.
        for (let index = records.length - 1; index >= queued; index--) {
          const record = records[index]!
          ledger.untrack(record.topic, record.partition, record.offset)
        }
      })
    )
  )
}

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
 * key state of the partitions this member lost.
 */
import type { Scope } from "effect"
import { Deferred, Effect, Fiber, SubscriptionRef } from "effect"
import { writeBackupRow } from "../domain/Csv.js"
import type { PipelineError } from "../domain/Errors.js"
import type { KafkaRecord, TopicPartition } from "../domain/KafkaRecord.js"
import { partitionKey, recordSize } from "../domain/KafkaRecord.js"
import type { ConsumerHandlers, KafkaConsumer } from "../layers/kafka/KafkaClient.js"
import type { ObservabilityService } from "../layers/Observability.js"
import type { RunState } from "../layers/RunState.js"
import type { ArchiveSink } from "./ArchiveSink.js"
import type { Dispatch } from "./Dispatch.js"

const describe = (partitions: ReadonlyArray<TopicPartition>) =>
  partitions.map((p) => partitionKey(p.topic, p.partition)).join(",")

export interface IntakeDeps {
  readonly runState: RunState["Service"]
  readonly dispatch: Dispatch
  readonly consumer: KafkaConsumer
  readonly backup: ArchiveSink | undefined
  readonly observability: ObservabilityService
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
  const poll = yield* consumer.run(make(deps)).pipe(
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
export const make = (deps: IntakeDeps): ConsumerHandlers => {
  const { backup, consumer, dispatch, observability, runState } = deps
  const { counts, ledger, targets } = runState

  /**
   * Queues `records` (their sizes in `sizes`) chunk by chunk as room frees; false when the backup
   * archive failed (the run is stopping).
   */
  const handOver = (records: ReadonlyArray<KafkaRecord>, sizes: ReadonlyArray<number>) => {
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
          const appended = yield* backup.appendAll(chunk, writeBackupRow).pipe(
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

  const onBatch = (records: ReadonlyArray<KafkaRecord>) =>
    Effect.suspend(() => {
      if (!dispatch.isOpen() || records.length === 0) return Effect.void
      const { partition, topic } = records[0]!
      const cut = targets.cut(records)
      const taken: Array<KafkaRecord> = []
      // Each record's size, once: the queue's byte bound and the consumed bytes both need it.
      const sizes: Array<number> = []
      for (let index = 0; index < cut.take; index++) {
        const record = records[index]!
        if (!ledger.track(record.topic, record.partition, record.offset)) continue
        taken.push(record)
        sizes.push(recordSize(record))
      }
      const pauseAtTarget = cut.reached ? consumer.pause([{ topic, partition }]) : Effect.void
      if (taken.length === 0) return pauseAtTarget
      return Effect.flatMap(handOver(taken, sizes), (handedOver) => handedOver ? pauseAtTarget : Effect.void)
    })

  const onAssignment = (partitions: ReadonlyArray<TopicPartition>) =>
    Effect.gen(function*() {
      yield* SubscriptionRef.set(runState.assignment, partitions)
      const dropped = ledger.retain(partitions)
      const left = dispatch.retain(partitions)
      yield* Effect.logInfo("partitions assigned").pipe(
        Effect.annotateLogs({ assigned: describe(partitions), dropped: describe(dropped), ...(left > 0 ? { queuedDropped: left } : {}) })
      )
    })

  return { onBatch, onAssignment }
}

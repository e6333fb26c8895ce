/**
 * The pipeline: poll → bounded queue → `concurrency` workers → offset ledger
 * → scheduled commits, with the backup archive fed at poll time and the DLQ
 * archive fed by failures.
 *
 * Shutdown is interruption plus a finalizer: whatever stops the pipeline (a
 * signal interrupting `run`, every stop-at offset handled, a fatal archive or
 * Kafka error), the same sequence runs once: stop polling, finish in-flight
 * work, flush and close the archives, commit, and only then disconnect.
 */
import type { Scope } from "effect"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, FileSystem, Path, Queue, Schedule, Semaphore } from "effect"
import { backupHeader, dlqHeader, writeBackupRow, writeDlqRow } from "../domain/Csv.js"
import type { ArchiveError, KafkaError } from "../domain/Errors.js"
import type { KafkaRecord, TopicPartition, TopicPartitionOffset } from "../domain/KafkaRecord.js"
import { partitionKey } from "../domain/KafkaRecord.js"
import { Ack, OffsetLedger } from "../domain/OffsetLedger.js"
import type { PipelineConfig } from "../domain/PipelineConfig.js"
import type { Processor } from "../domain/Processor.js"
import type { Slice } from "../domain/Slice.js"
import { recordsPerSlice, recordsWorthASlice, sliceBatch } from "../domain/Slice.js"
import type { KafkaProducer } from "../layers/KafkaClient.js"
import { KafkaClient } from "../layers/KafkaClient.js"
import { Observability } from "../layers/Observability.js"
import { PipelineSettings } from "../layers/PipelineSettings.js"
import * as ArchiveSink from "./ArchiveSink.js"
import * as RecordHandler from "./RecordHandler.js"

/**
 * About how long a worker should spend on one slice: long enough to make the per-slice cost small
 * against a fast processor's records, short enough that a partition's commit (which waits for the
 * slowest slice in flight) follows processing closely with a slow one.
 */
const SLICE_TARGET_MS = 50

/**
 * Work below which records are not spread over several workers: a hand-over (an archive append, the
 * queue's bounds, a worker's wake-up) costs more than a fast processor's record, and a paced stream
 * fetches a few records at a time. A record waits for the ones before it in its slice: ~1 ms at most.
 */
const SLICE_MIN_MS = 1

/** Why the pipeline stopped. `run` itself returns only `"stopAtOffsets"`; the others reach `onStopped`. */
export type StopReason = "stopAtOffsets" | "interrupted" | "failed"

export interface PipelineSummary {
  readonly reason: StopReason
  /** Records taken from Kafka (refetched duplicates excluded). */
  readonly consumed: number
  readonly processed: number
  readonly deadLettered: number
  readonly retries: number
  /** The last offsets committed (or, in dev mode, that would have been). */
  readonly committed: ReadonlyArray<TopicPartitionOffset>
  readonly backupFiles: ReadonlyArray<string>
  readonly dlqFiles: ReadonlyArray<string>
}

export interface RunOptions {
  /**
   * Runs once the pipeline has stopped (in-flight work finished, files
   * closed, final commit made), however it stopped: stop-at offsets,
   * interruption (SIGTERM) or a fatal error. An interrupted `run` has no
   * value to return, so this is where its summary goes.
   */
  readonly onStopped?: ((summary: PipelineSummary) => Effect.Effect<void>) | undefined
}

interface Stats {
  consumed: number
  processed: number
  deadLettered: number
  retries: number
  readonly committed: Map<string, TopicPartitionOffset>
  backupFiles: ReadonlyArray<string>
  dlqFiles: ReadonlyArray<string>
}

/**
 * Runs the pipeline until every stop-at offset is handled (then it returns a
 * summary) or until it is interrupted (then it stops gracefully). Fails with
 * the fatal error after the same graceful stop when Kafka stays unreachable
 * past the restart budget or an archive cannot be written.
 */
export const run = Effect.fn("Pipeline.run")(function*(processor: Processor, options?: RunOptions) {
  const config = yield* PipelineSettings
  const stats: Stats = {
    consumed: 0,
    processed: 0,
    deadLettered: 0,
    retries: 0,
    committed: new Map(),
    backupFiles: [],
    dlqFiles: []
  }
  const summarize = (reason: StopReason): PipelineSummary => ({
    reason,
    consumed: stats.consumed,
    processed: stats.processed,
    deadLettered: stats.deadLettered,
    retries: stats.retries,
    committed: Array.from(stats.committed.values()),
    backupFiles: stats.backupFiles,
    dlqFiles: stats.dlqFiles
  })
  const onStopped = options?.onStopped
  return yield* Effect.scoped(runScoped(config, processor, stats)).pipe(
    Effect.map(summarize),
    Effect.onExit((exit) => {
      if (onStopped === undefined) return Effect.void
      if (Exit.isSuccess(exit)) return onStopped(exit.value)
      return onStopped(summarize(Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"))
    })
  )
})

const runScoped = (
  config: PipelineConfig,
  processor: Processor,
  stats: Stats
): Effect.Effect<"stopAtOffsets", KafkaError | ArchiveError, KafkaClient | FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const kafka = yield* KafkaClient
    const observability = yield* Observability
    const scope = yield* Effect.scope
    const stop = yield* Deferred.make<"stopAtOffsets", KafkaError | ArchiveError>()
    const ledger = new OffsetLedger({
      requiredAcks: config.backupDir === undefined ? Ack.Processed : Ack.Processed | Ack.Archived
    })
    const targets = config.stopAtOffsets
    let assignment: ReadonlyArray<TopicPartition> = []
    let stopping = false

    // A target behind the group's committed offset counts as handled, whoever committed it: this
    // member before a restart, or another member that owns the partition (without that, no member
    // of a group would stop unless it owned every target partition). Read at the start and, while
    // targets remain, after each commit tick.
    const groupCommitted = new Map<string, number>()
    const readGroupCommitted = Effect.forEach(new Set(targets.map((target) => target.topic)), (topic) =>
      Effect.map(kafka.committedOffsets(config.groupId, topic), (offsets) => {
        for (const offset of offsets) groupCommitted.set(partitionKey(offset.topic, offset.partition), offset.offset)
      }), { discard: true })
    yield* readGroupCommitted
    const allTargetsHandled = () =>
      targets.length > 0 &&
      targets.every((target) =>
        Math.max(
          ledger.watermark(target.topic, target.partition) ?? 0,
          groupCommitted.get(partitionKey(target.topic, target.partition)) ?? 0
        ) > target.offset
      )
    const stopIfAllTargetsHandled = () => allTargetsHandled() ? Deferred.succeed(stop, "stopAtOffsets") : Effect.void
    const checkGroupCommitted = Effect.suspend(() =>
      targets.length === 0 || allTargetsHandled() ? Effect.void : readGroupCommitted.pipe(
        Effect.andThen(Effect.suspend(stopIfAllTargetsHandled)),
        Effect.catch((error) => Effect.logWarning(`could not read the group's committed offsets: ${error.message}`))
      )
    )

    const acknowledge = (ack: number) => (records: ReadonlyArray<TopicPartitionOffset>) =>
      Effect.suspend(() => {
        for (const record of records) ledger.ack(record.topic, record.partition, record.offset, ack)
        return stopIfAllTargetsHandled()
      })

    const onFatal = (error: ArchiveError) => Deferred.fail(stop, error)

    // The consumer is acquired first so that it is released last: the final
    // commit must happen while this member is still in the group (kafkajs #751).
    const consumer = yield* kafka.consumer({
      groupId: config.groupId,
      topics: config.topics,
      fromBeginning: config.fromBeginning,
      sessionTimeoutMs: config.sessionTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      maxBytesPerPartition: 1_048_576,
      restartBudgetMs: config.restartBudgetMs
    })
    const dlqProducer: KafkaProducer | undefined = config.dlqTopic === undefined ? undefined : yield* kafka.producer

    const archiveOptions = {
      flushIntervalMs: config.flushIntervalMs,
      // Rows waiting behind a write on its way to disk: bounded like the queue's bytes.
      maxPendingBytes: config.queueBytes,
      onFatal
    }
    const backup = config.backupDir === undefined ? undefined : yield* ArchiveSink.make({
      ...archiveOptions,
      kind: "backup",
      dir: config.backupDir,
      header: backupHeader,
      batchSize: config.backupBatchSize,
      onFlushed: acknowledge(Ack.Archived)
    })
    const dlq = yield* ArchiveSink.make({
      ...archiveOptions,
      kind: "dlq",
      dir: config.dlqDir,
      header: dlqHeader,
      batchSize: config.dlqBatchSize,
      onFlushed: acknowledge(Ack.Processed)
    })

    // The queue holds slices (see `sliceBatch`); its bounds are two semaphores that the poll side
    // takes a slice's worth of before offering it: `queueSize` records, released when a worker takes
    // the slice, and `queueBytes` bytes, released when the worker is done with it (so the bytes
    // bound holds the records being processed too).
    const queue = yield* Queue.unbounded<Slice, Cause.Done>()
    const queueRoom = yield* Semaphore.make(config.queueSize)
    const queueBytes = yield* Semaphore.make(config.queueBytes)
    // A slice per worker fits in the queue's bounds once more: what the workers hold stays within
    // `queueSize` records and `queueBytes` bytes, and so does the in-flight window a crash leaves.
    // Within that, slices are sized to the processor's speed (`recordsPerSlice`).
    const maxRecordsPerSlice = Math.max(1, Math.floor(config.queueSize / config.concurrency))
    const maxBytesPerSlice = Math.max(1, Math.floor(config.queueBytes / config.concurrency))
    /** How long a record takes a worker, in ms, smoothed over the slices done (undefined: none yet). */
    let msPerRecord: number | undefined = undefined
    const clock = yield* Clock.Clock
    const queuedBytes = (slice: Slice) => Math.min(slice.bytes, config.queueBytes)
    /** Records in the queue, and records taken by the workers and not handled yet (the gauges). */
    let queuedRecords = 0
    let heldRecords = 0

    // ---- poll ----------------------------------------------------------------

    const targetOf = new Map(targets.map((target) => [partitionKey(target.topic, target.partition), target.offset]))

    /**
     * Counts the tracked records, backs them up and puts them in the queue slice by slice, waiting
     * for room.
     * Interrupted (a rejoin abandons the batch, or a stop), the records not yet queued are
     * untracked: the refetch must queue them again, not skip them as in flight — else their
     * offsets hold the commit back for good. (Refetched, they are counted and backed up again:
     * `consumed` stays the number of backup rows.) Returns false when the archive failed.
     */
    const handOver = (records: ReadonlyArray<KafkaRecord>) => {
      let queued = 0
      return Effect.gen(function*() {
        const limits = {
          concurrency: config.concurrency,
          minRecords: recordsWorthASlice(msPerRecord, { minMs: SLICE_MIN_MS, maxRecords: maxRecordsPerSlice }),
          maxRecords: recordsPerSlice(msPerRecord, { targetMs: SLICE_TARGET_MS, maxRecords: maxRecordsPerSlice }),
          maxBytes: maxBytesPerSlice
        }
        for (const slice of sliceBatch(records, limits)) {
          // Counted and backed up as it is handed over, not before: the rows ahead of processing
          // stay within the queue's bounds, as do the duplicates a crash leaves to the next run.
          stats.consumed += slice.records.length
          observability.consumed(slice.records, slice.bytes)
          if (backup !== undefined) {
            const appended = yield* backup.appendAll(slice.records, writeBackupRow).pipe(
              Effect.as(true),
              Effect.catch(() => Effect.succeed(false))
            )
            if (!appended) return false
          }
          yield* queueRoom.take(slice.records.length)
          yield* queueBytes.take(queuedBytes(slice)).pipe(
            Effect.onInterrupt(() => queueRoom.release(slice.records.length))
          )
          Queue.offerUnsafe(queue, slice)
          queuedRecords += slice.records.length
          queued += slice.records.length
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
        if (stopping || records.length === 0) return Effect.void
        // A batch is one partition's: one target at most.
        const { partition, topic } = records[0]!
        const target = targetOf.size === 0 ? undefined : targetOf.get(partitionKey(topic, partition))
        const taken: Array<KafkaRecord> = []
        let reachedTarget = false
        for (const record of records) {
          if (target !== undefined && record.offset > target) {
            reachedTarget = true
            break
          }
          if (ledger.track(record.topic, record.partition, record.offset)) taken.push(record)
          if (record.offset === target) {
            reachedTarget = true
            break
          }
        }
        const pauseAtTarget = reachedTarget ? consumer.pause([{ topic, partition }]) : Effect.void
        if (taken.length === 0) return pauseAtTarget
        // The archive failed and the pipeline is stopping: take nothing more.
        return Effect.flatMap(handOver(taken), (handedOver) => handedOver ? pauseAtTarget : Effect.void)
      })

    const onAssignment = (partitions: ReadonlyArray<TopicPartition>) =>
      Effect.gen(function*() {
        assignment = partitions
        const dropped = ledger.retain(partitions)
        yield* Effect.logInfo("partitions assigned").pipe(
          Effect.annotateLogs({
            assigned: partitions.map((p) => partitionKey(p.topic, p.partition)).join(","),
            dropped: dropped.map((p) => partitionKey(p.topic, p.partition)).join(",")
          })
        )
      })

    // ---- process -------------------------------------------------------------

    const handle = yield* RecordHandler.makeDirect(processor, config)

    const deadLetter = (record: KafkaRecord, outcome: Extract<RecordHandler.Outcome, { _tag: "Failed" }>) =>
      Effect.gen(function*() {
        const { failure } = outcome
        stats.deadLettered++
        const log = failure.defect ? Effect.logError : Effect.logWarning
        yield* log(`sent to the DLQ: ${failure.errorType}: ${failure.message}`).pipe(
          Effect.annotateLogs({ errorType: failure.errorType, attempts: outcome.attempts })
        )
        const failedAt = yield* Clock.currentTimeMillis
        if (dlqProducer !== undefined) {
          yield* dlqProducer.send([{
            topic: config.dlqTopic!,
            key: record.key,
            value: record.value,
            headers: [
              ...record.headers,
              ...dlqHeaders(record, failure.errorType, failure.message, outcome.attempts)
            ]
          }]).pipe(Effect.catch((error) => Effect.logError(`could not produce to the DLQ topic: ${error.message}`)))
        }
        // When the DLQ archive has failed the record stays unhandled: not committed, read again next run.
        const described = { ...failure, attempts: outcome.attempts }
        yield* dlq.append(record, (out, failed) => writeDlqRow(out, failed, described, failedAt)).pipe(
          Effect.ignore
        )
      })

    const annotated = (record: KafkaRecord) =>
      Effect.annotateLogs({ topic: record.topic, partition: record.partition, offset: record.offset })

    /** With record spans on, each record's processing runs in its span (so does a plain function's call). */
    const traced = (record: KafkaRecord): Effect.Effect<RecordHandler.Outcome> =>
      Effect.suspend(() => RecordHandler.asEffect(handle(record))).pipe(observability.traceRecord(record))

    /**
     * Takes a slice's records through the processor in order. A record settled synchronously (a
     * plain function that returned) costs no Effect: its outcome is counted and acknowledged
     * inline. Once the pipeline is stopping, the record under way is finished and the rest of the
     * slice is left unstarted, for the next run: not handled, so not committed.
     */
    const work = (slice: Slice) =>
      Effect.gen(function*() {
        const startedAt = clock.monotonicTimeNanosUnsafe()
        let index = 0
        for (const record of slice.records) {
          if (stopping) {
            heldRecords -= slice.records.length - index
            break
          }
          index++
          const recordStartedAt = observability.started()
          const handled = observability.tracesRecords ? traced(record) : handle(record)
          const outcome = Effect.isEffect(handled) ? yield* annotated(record)(handled) : handled
          observability.finished(outcome, recordStartedAt)
          if (outcome.attempts > 1) stats.retries += outcome.attempts - 1
          if (outcome._tag === "Failed") {
            yield* annotated(record)(deadLetter(record, outcome))
          } else {
            stats.processed++
            ledger.ack(record.topic, record.partition, record.offset, Ack.Processed)
          }
          heldRecords--
        }
        if (index > 0) {
          const sample = Number(clock.monotonicTimeNanosUnsafe() - startedAt) / 1e6 / index
          msPerRecord = msPerRecord === undefined ? sample : 0.8 * msPerRecord + 0.2 * sample
        }
        yield* stopIfAllTargetsHandled()
      }).pipe(Effect.ensuring(queueBytes.release(queuedBytes(slice))))

    // ---- commit --------------------------------------------------------------

    const commit = Effect.suspend(() => {
      const offsets = ledger.committable()
      return offsets.length === 0 ? Effect.void : commitOffsets(offsets)
    })
    const commitOffsets = Effect.fn("Pipeline.commit", { root: true })(function*(offsets: ReadonlyArray<TopicPartitionOffset>) {
      const described = offsets.map((o) => `${partitionKey(o.topic, o.partition)}=${o.offset}`).join(",")
      yield* Effect.annotateCurrentSpan("offsets", described)
      if (config.devMode) {
        yield* Effect.logInfo(`devMode: skipped commit of ${described}`)
      } else {
        const committed = yield* consumer.commit(offsets).pipe(
          Effect.as(true),
          Effect.catch((error) =>
            (observability.commitFailed(error.rebalance === true), error.rebalance
              ? Effect.logWarning(`commit rejected during a rebalance, will retry: ${error.message}`)
              : Effect.logError(`commit failed, will retry: ${error.message}`)).pipe(Effect.as(false))
          )
        )
        if (!committed) return
        yield* Effect.logDebug(`committed ${described}`)
      }
      ledger.markCommitted(offsets)
      observability.committed(offsets)
      for (const offset of offsets) stats.committed.set(partitionKey(offset.topic, offset.partition), offset)
    })

    // ---- run and stop ----------------------------------------------------------

    const pollFiber = yield* consumer.run({ onBatch, onAssignment }).pipe(
      Effect.catch((error) => Deferred.fail(stop, error)),
      Effect.forkIn(scope)
    )
    // N workers each take one slice when free: nothing is buffered beyond the queue, and at
    // shutdown the slices still queued are known to be unstarted.
    const worker = Queue.take(queue).pipe(
      Effect.flatMap((slice) => {
        queuedRecords -= slice.records.length
        heldRecords += slice.records.length
        return Effect.andThen(queueRoom.release(slice.records.length), work(slice))
      }),
      Effect.forever,
      Effect.catchIf(Cause.isDone, () => Effect.void)
    )
    const processingFiber = yield* Effect.forEach(Array.from({ length: config.concurrency }), () => worker, {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.forkIn(scope))
    const commitFiber = yield* commit.pipe(
      Effect.andThen(checkGroupCommitted),
      Effect.repeat(Schedule.spaced(config.commitIntervalMs)),
      Effect.delay(config.commitIntervalMs),
      Effect.forkIn(scope)
    )

    yield* observability.attach({
      groupId: config.groupId,
      topics: config.topics,
      queueDepth: () => queuedRecords,
      inFlight: () => heldRecords,
      assignment: () => assignment,
      isInGroup: consumer.isInGroup,
      fibers: { poll: pollFiber, workers: processingFiber, commit: commitFiber },
      stopping: () => stopping
    })

    const awaitInFlight = Effect.gen(function*() {
      const warn = yield* Effect.suspend(() =>
        Effect.logWarning(
          `shutdown timeout of ${config.shutdownTimeoutMs} ms passed; still waiting for ${ledger.pending} in-flight records`
        )
      ).pipe(
        Effect.delay(config.shutdownTimeoutMs),
        Effect.repeat(Schedule.spaced(config.shutdownTimeoutMs)),
        Effect.forkChild
      )
      yield* Fiber.join(processingFiber).pipe(Effect.ignore)
      yield* Fiber.interrupt(warn)
    })

    const shutdown = Effect.gen(function*() {
      stopping = true
      yield* Effect.logInfo("stopping: no more polling, finishing in-flight records")
      yield* Fiber.interrupt(pollFiber)
      yield* consumer.pause(assignment)
      // Queued records that no worker has started are left for the next run: they are not
      // handled, so not committed, and shutdown waits only for the work in flight.
      yield* Queue.clear(queue)
      if (queuedRecords > 0) yield* Effect.logInfo(`left ${queuedRecords} queued records for the next run`)
      yield* Queue.end(queue)
      yield* awaitInFlight
      for (const sink of [backup, dlq]) {
        if (sink !== undefined) yield* sink.close.pipe(Effect.ignore)
      }
      stats.backupFiles = backup?.files() ?? []
      stats.dlqFiles = dlq.files()
      yield* Fiber.interrupt(commitFiber)
      yield* commit
      yield* Effect.logInfo("stopped").pipe(
        Effect.annotateLogs({
          consumed: stats.consumed,
          processed: stats.processed,
          deadLettered: stats.deadLettered,
          committed: Array.from(stats.committed.values(), (o) => `${partitionKey(o.topic, o.partition)}=${o.offset}`)
            .join(",")
        })
      )
    })
    yield* Effect.addFinalizer(() => shutdown)

    yield* Effect.logInfo("pipeline started").pipe(
      Effect.annotateLogs({ topics: config.topics.join(","), groupId: config.groupId, concurrency: config.concurrency })
    )
    if (config.devMode) yield* Effect.logWarning("devMode is on: offsets will not be committed")
    yield* stopIfAllTargetsHandled()
    return yield* Deferred.await(stop)
  })

const dlqHeaders = (record: KafkaRecord, errorType: string, message: string, attempts: number) => {
  const text = new TextEncoder()
  return [
    { key: "dlq.error.type", value: text.encode(errorType) },
    { key: "dlq.error.message", value: text.encode(message) },
    { key: "dlq.attempts", value: text.encode(String(attempts)) },
    { key: "dlq.source", value: text.encode(`${record.topic}:${record.partition}:${record.offset}`) }
  ]
}

/**
 * The pipeline, as the composition of its stages:
 *
 *     intake ──▶ dispatch ──▶ workers ──▶ committer
 *     (poll, ledger,  (ordering,   (processor,   (ledger, commits,
 *      backup rows)    bounds)      retries, DLQ)  stop-at targets)
 *
 * Every stage reads and writes the one `RunState` of the run.
 *
 * Shutdown is the run's scope closing, whatever stops it (a signal
 * interrupting `run`, every stop-at offset handled, a fatal archive or Kafka
 * error): each stage's finalizer runs once, in the reverse order of
 * acquisition, and so the sequence is: stop polling → finish the records in
 * flight (the queued ones are left for the next run) → flush and close the
 * archives → final commit → leave the group.
 */
import type { Scope } from "effect"
import { Cause, Deferred, Effect, Exit, FileSystem, Layer, Path, SubscriptionRef } from "effect"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import type { ArchiveError, PipelineError } from "../domain/Errors.js"
import { backupHeader, dlqHeader } from "../domain/Csv.js"
import { DlqBudget } from "../domain/DlqBudget.js"
import { partitionKey } from "../domain/KafkaRecord.js"
import { Ack } from "../domain/OffsetLedger.js"
import type { PipelineConfig } from "../domain/PipelineConfig.js"
import type { Processor } from "../domain/Processor.js"
import { isTakingWork, type StopReason } from "../domain/RunPhase.js"
import { KafkaClient } from "../layers/kafka/KafkaClient.js"
import { Observability } from "../layers/Observability.js"
import { PipelineSettings } from "../layers/config/PipelineSettings.js"
import type { PipelineSummary } from "../layers/RunState.js"
import { RunState } from "../layers/RunState.js"
import * as Admission from "./Admission.js"
import * as ArchiveRecovery from "./ArchiveRecovery.js"
import * as ArchiveSink from "./ArchiveSink.js"
import * as Committer from "./Committer.js"
import * as DeadLetter from "./DeadLetter.js"
import * as Dispatch from "./Dispatch.js"
import * as Intake from "./Intake.js"
import * as RecordHandler from "./RecordHandler.js"
import * as Workers from "./Workers.js"

export type { PipelineSummary, StopReason }

export interface RunOptions {
  /**
   * Runs once the pipeline has stopped (in-flight work finished, files
   * closed, final commit made), however it stopped: stop-at offsets,
   * interruption (SIGTERM) or a fatal error. An interrupted `run` has no
   * value to return, so this is where its summary goes.
   */
  readonly onStopped?: ((summary: PipelineSummary) => Effect.Effect<void>) | undefined
}

type Requirements = PipelineSettings | KafkaClient | FileSystem.FileSystem | Path.Path

/**
 * Runs the pipeline until every stop-at offset is handled (then it returns a
 * summary) or until it is interrupted (then it stops gracefully). Fails with
 * the fatal error after the same graceful stop when Kafka stays unreachable
 * past the restart budget or an archive cannot be written; that error is
 * logged once (`fatal: …`) as soon as it stops the run.
 */
export const run = Effect.fn("Pipeline.run")(function*(processor: Processor, options?: RunOptions) {
  const config = yield* PipelineSettings
  return yield* runWith(yield* makeRunState(config), processor, options)
})

/**
 * The pipeline as a background service of an application's layer graph: it
 * starts when the layer is built, stops gracefully (the whole shutdown
 * sequence and final commit) when the layer's scope closes, and provides its
 * `RunState` for the application to read or subscribe to. A fatal error
 * stops the run (gracefully) and is logged once; {@link join} fails with it, so an
 * application whose main effect joins the run fails with it too.
 */
export const layer = (processor: Processor, options?: RunOptions): Layer.Layer<RunState, never, Requirements> =>
  Layer.effect(
    RunState,
    Effect.gen(function*() {
      const runState = yield* makeRunState(yield* PipelineSettings)
      yield* runWith(runState, processor, options).pipe(Effect.forkScoped)
      return runState
    })
  )

/**
 * Waits for the run of {@link layer} to stop: its summary (stop-at offsets
 * reached, or interrupted), or its fatal error.
 */
export const join: Effect.Effect<PipelineSummary, PipelineError, RunState> = Effect.gen(function*() {
  return yield* Deferred.await((yield* RunState).done)
})

const makeRunState = (config: PipelineConfig) =>
  RunState.make({
    ordering: config.ordering,
    backup: config.backupDir !== undefined,
    stopAtOffsets: config.stopAtOffsets
  })

const reasonOf = (exit: Exit.Exit<unknown, unknown>): StopReason =>
  Exit.isSuccess(exit) ? "stopAtOffsets" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"

const runWith = (
  runState: RunState["Service"],
  processor: Processor,
  options: RunOptions | undefined
): Effect.Effect<PipelineSummary, PipelineError, Requirements> =>
  Effect.gen(function*() {
    const config = yield* PipelineSettings
    // Logged as soon as it ends the run (before the graceful stop), once: the stages report a
    // fatal error by failing the run, not by logging it.
    yield* Effect.scoped(stages(config, processor, runState).pipe(
      Effect.tapError((error) => Effect.logError(`fatal: ${error.message}`))
    ))
    return runState.summary("stopAtOffsets")
  }).pipe(
    Effect.onExit((exit) => {
      const reason = reasonOf(exit)
      const summary = runState.summary(reason)
      return runState.advance({ _tag: "Stopped", reason }).pipe(
        Effect.andThen(options?.onStopped === undefined ? Effect.void : options.onStopped(summary)),
        Effect.andThen(Deferred.done(runState.done, reason === "failed" ? exit as Exit.Exit<never, PipelineError> : Exit.succeed(summary)))
      )
    })
  )

/** The stages, acquired in order; the run's scope releases them in reverse: that is the shutdown. */
const stages = (
  config: PipelineConfig,
  processor: Processor,
  runState: RunState["Service"]
): Effect.Effect<"stopAtOffsets", PipelineError, Requirements | Scope.Scope> =>
  Effect.gen(function*() {
    const kafka = yield* KafkaClient
    const observability = yield* Observability
    const stop = yield* Deferred.make<"stopAtOffsets", PipelineError>()

    // First acquired, last released: the final commit needs the membership (kafkajs #751).
    const consumer = yield* kafka.consumer({
      groupId: config.groupId,
      topics: config.topics,
      fromBeginning: config.fromBeginning,
      sessionTimeoutMs: config.sessionTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      maxBytesPerPartition: 1_048_576,
      restartBudgetMs: config.restartBudgetMs
    })
    yield* observability.attach({ groupId: config.groupId, topics: config.topics, runState, isInGroup: consumer.isInGroup })
    yield* Effect.addFinalizer(() => logStopped(runState))

    const committer = yield* Committer.make({ kafka, consumer, runState, observability, stop, options: config })
    const dlqProducer = config.dlqTopic === undefined ? undefined : yield* kafka.producer

    const { backup, dlq } = yield* archives(config, runState, committer, stop)

    const dispatch = Dispatch.make(runState, config)
    const admission = yield* Admission.make(runState, admissionOptions(config))
    yield* Workers.make({
      runState,
      dispatch,
      committer,
      handle: yield* RecordHandler.makeDirect(processor, config, admission),
      deadLetter: DeadLetter.make({
        archive: dlq,
        topic: dlqProducer === undefined ? undefined : { name: config.dlqTopic!, producer: dlqProducer }
      }),
      dlqBudget: new DlqBudget({
        maxRatio: config.dlqMaxRatio,
        window: config.dlqRatioWindow,
        maxConsecutive: config.dlqMaxConsecutive
      }),
      observability,
      stop,
      options: config
    })
    const files = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
    const recoveryOptions = { groupId: config.groupId, backupDir: config.backupDir, dlqDir: config.dlqDir }
    yield* Intake.run({
      runState,
      dispatch,
      consumer,
      backup,
      archives: backup === undefined ? [dlq] : [backup, dlq],
      observability,
      committer,
      recover: (partitions) =>
        ArchiveRecovery.recover(kafka, recoveryOptions, partitions).pipe(Effect.provideContext(files)),
      stop
    })

    // Last acquired, first released: from here on no stage takes new work.
    yield* Effect.addFinalizer(() =>
      runState.advance({ _tag: "StopRequested" }).pipe(
        Effect.andThen(Effect.logInfo("stopping: no more polling, finishing in-flight records"))
      )
    )
    yield* runState.advance({ _tag: "Started" })
    yield* Effect.logInfo("pipeline started").pipe(
      Effect.annotateLogs({
        topics: config.topics.join(","),
        groupId: config.groupId,
        concurrency: config.concurrency,
        ordering: config.ordering
      })
    )
    if (config.devMode) yield* Effect.logWarning("devMode is on: offsets will not be committed")
    yield* committer.checkTargets
    return yield* Deferred.await(stop)
  })

/** The circuit breaker and the rate limit, as the configuration sets them (each off when it says so). */
const admissionOptions = (config: PipelineConfig): Admission.AdmissionOptions => ({
  breaker: config.circuitBreaker
    ? { threshold: config.breakerThreshold, openMs: config.breakerOpenMs, maxOpenMs: config.breakerMaxOpenMs }
    : undefined,
  rateLimit: config.maxRecordsPerSecond === undefined ? undefined : {
    ratePerSecond: config.maxRecordsPerSecond,
    burst: config.rateLimitBurst ?? Math.max(1, Math.ceil(config.maxRecordsPerSecond))
  }
})

/**
 * The backup archive (when `backupDir` is set) and the DLQ archive: a row on disk acknowledges its
 * record (archived; for the DLQ, handled), a failed write stops the run.
 */
const archives = Effect.fnUntraced(function*(
  config: PipelineConfig,
  runState: RunState["Service"],
  committer: Committer.Committer,
  stop: Deferred.Deferred<"stopAtOffsets", PipelineError>
) {
  const sink = (kind: ArchiveKind, dir: string, batchSize: number, ack: number) =>
    ArchiveSink.make({
      kind,
      dir,
      header: kind === "backup" ? backupHeader : dlqHeader,
      batchSize,
      flushIntervalMs: config.flushIntervalMs,
      // Rows waiting behind a write on its way to disk: bounded like the queue's bytes.
      maxPendingBytes: config.queueBytes,
      onFatal: archiveFailed(runState, stop),
      onOpened: (path) => runState.counts.recordFileOpened(kind, path),
      onFlushed: (records, hourStart) =>
        Effect.sync(() => {
          runState.counts.recordArchived(kind, records.length)
          runState.archiveIndex.noteWritten(records, hourStart)
          committer.acknowledge(records, ack)
        })
    })
  const backup = config.backupDir === undefined
    ? undefined
    : yield* sink("backup", config.backupDir, config.backupBatchSize, Ack.Archived)
  const dlq = yield* sink("dlq", config.dlqDir, config.dlqBatchSize, Ack.Processed)
  return { backup, dlq }
})

/**
 * A failed archive stops the run, which logs the error (`fatal: …`, once). One that fails when
 * the run is already stopping (a signal, the stop-at offsets, another fatal error) stops nothing:
 * it is logged here, else nobody would.
 */
const archiveFailed = (
  runState: RunState["Service"],
  stop: Deferred.Deferred<"stopAtOffsets", PipelineError>
) =>
(error: ArchiveError): Effect.Effect<void> =>
  Effect.gen(function*() {
    // The phase first: once `stop` fails, the run may be stopping already, because of this error.
    const running = isTakingWork(yield* SubscriptionRef.get(runState.phase))
    const stopsTheRun = yield* Deferred.fail(stop, error)
    if (!stopsTheRun || !running) yield* Effect.logError(error.message)
  })

const logStopped = (runState: RunState["Service"]) =>
  Effect.logInfo("stopped").pipe(
    Effect.annotateLogs({
      consumed: runState.counts.consumed,
      processed: runState.counts.processed,
      deadLettered: runState.counts.deadLettered,
      committed: Array.from(runState.counts.committed.values(), (o) => `${partitionKey(o.topic, o.partition)}=${o.offset}`)
        .join(",")
    })
  )

/**
 * The state of one pipeline run, in one place: what it has done (counts),
 * what it holds (the offset ledger, the records waiting for or in a worker),
 * what it owns (the assignment), and where it is (its phase). The stages
 * write it; the summary, the metrics, the progress line, `/health` and
 * `/ready` are all read from it; an application that runs the pipeline as a
 * layer (`Pipeline.layer`) can read it or subscribe to its phase and
 * assignment.
 *
 * The ledger, the scheduler and the counts are mutable structures updated
 * synchronously, once or a few times per record (each update is atomic on the
 * single JS thread); the phase and the assignment, which change a few times
 * per run, are `SubscriptionRef`s.
 */
import type { Fiber } from "effect"
import { Clock, Context, Deferred, Effect, Layer, SubscriptionRef } from "effect"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { ArchiveIndex } from "../domain/ArchiveIndex.js"
import type { BreakerState } from "../domain/CircuitBreaker.js"
import { initialBreaker } from "../domain/CircuitBreaker.js"
import type { PipelineError } from "../domain/Errors.js"
import type { TopicPartition, TopicPartitionOffset } from "../domain/KafkaRecord.js"
import type { Ordering } from "../domain/KeyScheduler.js"
import { KeyScheduler } from "../domain/KeyScheduler.js"
import { Ack, OffsetLedger } from "../domain/OffsetLedger.js"
import { type ArchiveCompressed, RunCounts } from "../domain/RunCounts.js"
import type { RunEvent, RunPhase, StopReason } from "../domain/RunPhase.js"
import { Starting, transition } from "../domain/RunPhase.js"
import type { StopAtTarget } from "../domain/StopAt.js"
import { StopAtTargets } from "../domain/StopAt.js"

export interface RunStateOptions {
  readonly ordering: Ordering
  /** Whether a record's backup row must be on disk before it counts as handled. */
  readonly backup: boolean
  readonly stopAtOffsets: ReadonlyArray<StopAtTarget>
}

/** How a run ended, and what it did: what `Pipeline.run` returns and `onStopped` receives. */
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

/** The run at one moment, as plain data. */
export interface RunSnapshot {
  readonly phase: RunPhase
  readonly assignment: ReadonlyArray<TopicPartition>
  /** The consumer lag of the assigned partitions, as last read (undefined: not read, or nothing assigned). */
  readonly lag: number | undefined
  readonly consumed: number
  readonly bytesConsumed: number
  readonly processed: number
  readonly deadLettered: number
  readonly deadLetteredByType: ReadonlyMap<string, number>
  readonly handled: number
  readonly retries: number
  readonly processingFailures: number
  readonly commits: number
  readonly commitFailures: { readonly rebalance: number; readonly error: number }
  readonly archivedRows: Readonly<Record<ArchiveKind, number>>
  readonly rotations: Readonly<Record<ArchiveKind, number>>
  /** Closed hours' files compressed (`archiveCompression`), with their bytes before and after. */
  readonly compressed: Readonly<Record<ArchiveKind, Readonly<ArchiveCompressed>>>
  /** Records waiting for a worker: ready, or behind an earlier record of their key. */
  readonly queued: number
  /** Records a worker has taken and not finished. */
  readonly inFlight: number
  /** Queued records waiting for an earlier record of their key (or partition) to finish. */
  readonly waitingBehindKey: number
  /** Keys (or partitions) with a record in a worker. */
  readonly keysInFlight: number
  readonly breaker: BreakerState
  /** Changes of the breaker's state, by the state it changed to. */
  readonly breakerTransitions: Readonly<Record<BreakerState["_tag"], number>>
  /** Time the breaker has spent open or half-open, in ms (its current opening included). */
  readonly breakerOpenMs: number
  /** Time processor calls have waited for the rate limit, in ms. */
  readonly throttledMs: number
  /** Records left unhandled while they waited for the breaker or the rate limit. */
  readonly abandoned: number
  readonly committed: ReadonlyArray<TopicPartitionOffset>
}

export class RunState extends Context.Service<RunState, {
  readonly counts: RunCounts
  readonly ledger: OffsetLedger
  /** What the archive already holds of the assigned partitions past their committed offsets. */
  readonly archiveIndex: ArchiveIndex
  readonly work: KeyScheduler
  readonly targets: StopAtTargets
  readonly phase: SubscriptionRef.SubscriptionRef<RunPhase>
  readonly assignment: SubscriptionRef.SubscriptionRef<ReadonlyArray<TopicPartition>>
  /** The consumer lag of the assigned partitions, as last read by the observability layer (undefined: not read). */
  readonly lag: SubscriptionRef.SubscriptionRef<number | undefined>
  /**
   * The circuit breaker in front of the processor's downstream (see `CircuitBreaker`): closed,
   * open or half-open. Changes a few times per outage; always closed when the breaker is off.
   */
  readonly breaker: SubscriptionRef.SubscriptionRef<BreakerState>
  /** The run's long-running fibers by name (poll, workers, commit): one that ends while the run is running is a failure. */
  readonly fibers: Map<string, Fiber.Fiber<unknown, unknown>>
  /** Completed when the run has stopped: with its summary, or with the fatal error that stopped it. */
  readonly done: Deferred.Deferred<PipelineSummary, PipelineError>
  /** Moves the phase on (see `transition`); returns the new phase. */
  readonly advance: (event: RunEvent) => Effect.Effect<RunPhase>
  readonly snapshot: Effect.Effect<RunSnapshot>
  readonly summary: (reason: StopReason) => PipelineSummary
}>()("effect-kafka-pipeline/RunState") {
  /** A fresh run state. */
  static readonly make = (options: RunStateOptions): Effect.Effect<RunState["Service"]> =>
    Effect.gen(function*() {
      const counts = new RunCounts()
      const ledger = new OffsetLedger({ requiredAcks: options.backup ? Ack.Processed | Ack.Archived : Ack.Processed })
      const work = new KeyScheduler(options.ordering)
      const phase = yield* SubscriptionRef.make<RunPhase>(Starting)
      const assignment = yield* SubscriptionRef.make<ReadonlyArray<TopicPartition>>([])
      const lag = yield* SubscriptionRef.make<number | undefined>(undefined)
      const breaker = yield* SubscriptionRef.make(initialBreaker)
      const done = yield* Deferred.make<PipelineSummary, PipelineError>()
      const snapshot = Effect.map(Clock.currentTimeMillis, (now): RunSnapshot => ({
        phase: SubscriptionRef.getUnsafe(phase),
        assignment: SubscriptionRef.getUnsafe(assignment),
        lag: SubscriptionRef.getUnsafe(lag),
        consumed: counts.consumed,
        bytesConsumed: counts.bytesConsumed,
        processed: counts.processed,
        deadLettered: counts.deadLettered,
        deadLetteredByType: new Map(counts.deadLetteredByType),
        handled: counts.handled,
        retries: counts.retries,
        processingFailures: counts.processingFailures,
        commits: counts.commits,
        commitFailures: { ...counts.commitFailures },
        archivedRows: { ...counts.archivedRows },
        rotations: { backup: counts.rotations("backup"), dlq: counts.rotations("dlq") },
        compressed: { backup: { ...counts.compressed.backup }, dlq: { ...counts.compressed.dlq } },
        queued: work.queued,
        inFlight: work.inFlight,
        waitingBehindKey: work.waitingBehindKey,
        keysInFlight: work.keysInFlight,
        ...breakerFigures(counts, SubscriptionRef.getUnsafe(breaker), now),
        committed: Array.from(counts.committed.values())
      }))
      return RunState.of({
        counts,
        ledger,
        archiveIndex: new ArchiveIndex(),
        work,
        targets: new StopAtTargets(options.stopAtOffsets),
        phase,
        assignment,
        lag,
        breaker,
        fibers: new Map(),
        done,
        advance: (event) => SubscriptionRef.updateAndGet(phase, (current) => transition(current, event)),
        snapshot,
        summary: (reason) => ({
          reason,
          consumed: counts.consumed,
          processed: counts.processed,
          deadLettered: counts.deadLettered,
          retries: counts.retries,
          committed: Array.from(counts.committed.values()),
          backupFiles: [...counts.files.backup],
          dlqFiles: [...counts.files.dlq]
        })
      })
    })

  static readonly layer = (options: RunStateOptions): Layer.Layer<RunState> => Layer.effect(RunState, RunState.make(options))
}

const breakerFigures = (counts: RunCounts, breaker: BreakerState, now: number) => ({
  breaker,
  breakerTransitions: { ...counts.breakerTransitions },
  breakerOpenMs: counts.breakerOpenMs + (breaker._tag === "Closed" ? 0 : Math.max(0, now - breaker.since)),
  throttledMs: counts.throttledMs,
  abandoned: counts.abandoned
})

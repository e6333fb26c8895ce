/**
 * The workers: `concurrency` fibers, each taking the oldest record dispatch
 * lets it start, running it through the processor (retries included), and
 * settling its outcome: processed records are acknowledged to the committer,
 * failed ones go to the dead-letter stage (within the DLQ budget: past it the
 * run stops), abandoned ones (a stop or a rebalance while they waited for the
 * circuit breaker or the rate limit) are left unhandled. Only then is the
 * record's key released for its next record.
 *
 * A record a plain function handles synchronously costs no Effect at all; a
 * worker yields to the other fibers every `YIELD_EVERY` such records.
 *
 * Stopping: dispatch stops handing out records, each worker finishes the
 * record it holds and ends; the finalizer waits for them (warning every
 * `shutdownTimeoutMs`, never giving up: an abandoned record would be
 * processed twice).
 */
import type { Scope } from "effect"
import { Deferred, Effect, Fiber, Schedule } from "effect"
import type { DlqBudget } from "../domain/DlqBudget.js"
import type { PipelineError } from "../domain/Errors.js"
import { DlqBudgetExceeded } from "../domain/Errors.js"
import type { KafkaRecord } from "../domain/KafkaRecord.js"
import { Ack } from "../domain/OffsetLedger.js"
import type { Failed, Outcome } from "../domain/Outcome.js"
import type { ObservabilityService } from "../layers/Observability.js"
import type { RunState } from "../layers/RunState.js"
import type { Committer } from "./Committer.js"
import type { Dispatch } from "./Dispatch.js"
import * as RecordHandler from "./RecordHandler.js"

/** Records settled synchronously in a row before a worker lets the other fibers run. */
const YIELD_EVERY = 64

export interface WorkersOptions {
  readonly concurrency: number
  readonly shutdownTimeoutMs: number
}

const annotated = (record: KafkaRecord) =>
  Effect.annotateLogs({ topic: record.topic, partition: record.partition, offset: record.offset })

export const make = Effect.fnUntraced(function*(deps: {
  readonly runState: RunState["Service"]
  readonly dispatch: Dispatch
  readonly committer: Committer
  readonly handle: RecordHandler.Handler
  readonly deadLetter: (record: KafkaRecord, outcome: Failed) => Effect.Effect<void>
  readonly dlqBudget: DlqBudget
  readonly observability: ObservabilityService
  readonly stop: Deferred.Deferred<"stopAtOffsets", PipelineError>
  readonly options: WorkersOptions
}): Effect.fn.Return<void, never, Scope.Scope> {
  const { committer, deadLetter, dispatch, dlqBudget, handle, observability, options, runState, stop } = deps
  const { archiveIndex } = runState
  const { counts } = runState

  /** Counts a handled record against the DLQ budget: past it, the run stops. */
  const spend = (deadLettered: boolean): Effect.Effect<void> => {
    const spent = dlqBudget.record(deadLettered)
    if (spent === undefined) return Effect.void
    // No worker takes another record from here on; the records in flight finish.
    return runState.advance({ _tag: "StopRequested" }).pipe(
      Effect.andThen(Deferred.fail(stop, new DlqBudgetExceeded({ reason: spent }))),
      Effect.asVoid
    )
  }

  /** With record spans on, each record's processing runs in its span (so does a plain function's call). */
  const traced = (record: KafkaRecord): Effect.Effect<Outcome> =>
    Effect.suspend(() => RecordHandler.asEffect(handle(record))).pipe(observability.traceRecord(record))

  const worker = Effect.gen(function*() {
    let settledInARow = 0
    while (true) {
      const job = dispatch.take()
      if (job === undefined) {
        if (!dispatch.isOpen()) return
        settledInARow = 0
        yield* dispatch.awaitWork
        continue
      }
      const record = job.record
      // Its DLQ row was found in the archive (its backup row was not): handled, only queued for that row.
      if (archiveIndex.mayHoldDeadLettered && archiveIndex.isDeadLettered(record.topic, record.partition, record.offset)) {
        committer.acknowledgeOne(record, Ack.Processed)
        dispatch.complete(job)
        continue
      }
      const startedAt = observability.started()
      const handled = observability.tracesRecords ? traced(record) : handle(record)
      let outcome: Outcome
      if (Effect.isEffect(handled)) {
        outcome = yield* annotated(record)(handled)
        settledInARow = 0
      } else {
        outcome = handled
        if (++settledInARow >= YIELD_EVERY) {
          settledInARow = 0
          yield* Effect.yieldNow
        }
      }
      observability.finished(startedAt)
      counts.recordOutcome(outcome)
      if (outcome._tag === "Failed") {
        yield* annotated(record)(deadLetter(record, outcome))
        if (dlqBudget.isOn) yield* spend(true)
      } else if (outcome._tag === "Processed") {
        committer.acknowledgeOne(record, Ack.Processed)
        if (dlqBudget.isOn) yield* spend(false)
      }
      dispatch.complete(job)
    }
  })

  const workers = yield* Effect.forEach(Array.from({ length: options.concurrency }), () => worker, {
    concurrency: "unbounded",
    discard: true
  }).pipe(Effect.forkScoped)
  runState.fibers.set("workers", workers)

  const awaitInFlight = Effect.gen(function*() {
    const warn = yield* Effect.suspend(() =>
      Effect.logWarning(
        `shutdown timeout of ${options.shutdownTimeoutMs} ms passed; still waiting for ${runState.work.inFlight} in-flight records`
      )
    ).pipe(
      Effect.delay(options.shutdownTimeoutMs),
      Effect.repeat(Schedule.spaced(options.shutdownTimeoutMs)),
      Effect.forkChild
    )
    yield* Fiber.await(workers)
    yield* Fiber.interrupt(warn)
  })

  // Queued records no worker has started are left for the next run: they are not handled, so
  // not committed, and the stop waits only for the records in flight.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const left = yield* dispatch.close
      if (left > 0) yield* Effect.logInfo(`left ${left} queued records for the next run`)
      yield* awaitInFlight
    })
  )
})

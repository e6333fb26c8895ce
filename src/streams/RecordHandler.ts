/**
 * One record's journey through the user's processor: size check, UTF-8
 * validation (the text is decoded when the processor reads it), each call
 * admitted first (`Admission`: the circuit breaker, the rate limit) and run
 * under a timeout that interrupts it, retries with exponential backoff and
 * jitter for retryable failures. The result is an outcome, never an error: a
 * failing record must not stop the pipeline.
 *
 * The common cases cost little, because the pipeline runs them for every
 * record: a plain function that returns costs no Effect at all; a promise that
 * resolves costs one callback, its timeout being kept by one timer fiber for
 * all calls in flight (`Deadlines`) instead of a race with a timer per call.
 * An Effect processor runs under `Effect.timeoutOrElse` (only interruption can
 * stop an Effect); failures and retries take the general path.
 */
import type { Scope } from "effect"
import { Cause, Clock, Duration, Effect, Schedule } from "effect"
import { isUtf8 } from "node:buffer"
import type { Deadline } from "../domain/Deadlines.js"
import { Deadlines } from "../domain/Deadlines.js"
import { describeFailure, InvalidUtf8, isRetryable, MessageTooLarge, NullValue, ProcessingTimeout } from "../domain/Failure.js"
import type { KafkaRecord } from "../domain/KafkaRecord.js"
import { recordSize } from "../domain/KafkaRecord.js"
import type { Outcome } from "../domain/Outcome.js"
import type { Processor, ProcessorInput } from "../domain/Processor.js"
import { Input } from "../domain/Processor.js"
import type { Admission, Ticket } from "./Admission.js"
import { unlimited } from "./Admission.js"
import { Waiters } from "./Waiters.js"

export type { Outcome }

export interface RecordHandlerOptions {
  readonly maxMessageBytes: number
  readonly decodeUtf8: boolean
  readonly processingTimeoutMs: number
  readonly maxRetries: number
  readonly retryBaseDelayMs: number
  readonly retryMaxDelayMs: number
}

/** A record's outcome: the outcome itself when known synchronously, else an Effect of it. */
export type Handler = (record: KafkaRecord) => Outcome | Effect.Effect<Outcome>

/** Exponential backoff from `retryBaseDelayMs`, jittered, capped at `retryMaxDelayMs`. */
export const retrySchedule = (options: Pick<RecordHandlerOptions, "retryBaseDelayMs" | "retryMaxDelayMs">) =>
  Schedule.exponential(options.retryBaseDelayMs).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(options.retryMaxDelayMs))))
  )

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function"

/** What a call that returned a plain value gives: its result is final when the call returns. */
const Returned: unique symbol = Symbol("RecordHandler/Returned")

/** The outcome of a first call that succeeded: shared, it is immutable. */
const processedAtOnce: Outcome = Object.freeze({ _tag: "Processed", attempts: 1 })

const failed = (cause: Cause.Cause<unknown>, attempts: number): Outcome => ({
  _tag: "Failed",
  attempts,
  failure: describeFailure(cause)
})

/**
 * How a promise a processor returned is awaited: its timeout kept by one timer
 * fiber (in the scope) for every call in flight, which expires them in
 * deadline order, instead of a race with a timer per call.
 */
const promiseCalls = Effect.fnUntraced(function*(timeoutMs: number, timedOut: ProcessingTimeout) {
  const clock = yield* Clock.Clock
  const deadlines = new Deadlines()
  /** The timer fiber, while no call is in flight. */
  const idle = new Waiters()
  yield* Effect.forkScoped(Effect.forever(Effect.suspend(() => {
    const first = deadlines.first
    if (first === undefined) return idle.await(() => deadlines.first !== undefined)
    // Calls listed meanwhile are due later: sleeping until the first one's deadline misses none.
    const wait = first.at - clock.currentTimeMillisUnsafe()
    if (wait > 0) return Effect.sleep(wait)
    for (const due of deadlines.takeDue(clock.currentTimeMillisUnsafe())) due.expire()
    return Effect.void
  })))

  // Listens at once, when the call returns: a promise that rejects before the Effect runs is
  // then never reported as an unhandled rejection.
  return (promise: PromiseLike<unknown>, controller: AbortController): Effect.Effect<unknown, unknown> => {
    let settled: Effect.Effect<unknown, unknown> | undefined
    let waiting: { readonly deadline: Deadline; readonly resume: (effect: Effect.Effect<unknown, unknown>) => void } | undefined
    const settle = (result: Effect.Effect<unknown, unknown>) => {
      if (waiting === undefined) settled ??= result
      else if (deadlines.remove(waiting.deadline)) waiting.resume(result)
    }
    promise.then((value) => settle(Effect.succeed(value)), (error) => settle(Effect.fail(error)))
    return Effect.callback<unknown, unknown>((resume) => {
      if (settled !== undefined) return resume(settled)
      const deadline = deadlines.add(clock.currentTimeMillisUnsafe() + timeoutMs, () => {
        controller.abort()
        resume(Effect.fail(timedOut))
      })
      waiting = { deadline, resume }
      idle.notify()
      // Interrupted (a stop): the call is abandoned, and told so through its signal.
      return Effect.sync(() => {
        if (deadlines.remove(deadline)) controller.abort()
      })
    })
  }
})

/** What a call that was never made fails with: the record was abandoned while it waited for admission. */
const Abandon: unique symbol = Symbol("RecordHandler/Abandon")

/** The failure of a cause when it is a retryable one (one that may be the downstream's), else undefined. */
const retryableFailure = (cause: Cause.Cause<unknown>): unknown => {
  if (!Cause.hasFails(cause)) return undefined
  const error = Cause.squash(cause)
  return error !== Abandon && isRetryable(error) ? error : undefined
}

const isAbandoned = (cause: Cause.Cause<unknown>) => Cause.hasFails(cause) && Cause.squash(cause) === Abandon

/** Tells admission how a failed call ended: a retryable failure counts against the downstream. */
const reportFailure = (admission: Admission, ticket: Ticket, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  const failure = retryableFailure(cause)
  return failure === undefined
    ? admission.released(ticket)
    : admission.failed(ticket, describeFailure(Cause.fail(failure)).message)
}

/** The first call's failure, when there was a first call. */
type FirstFailure = { readonly ticket: Ticket; readonly cause: Cause.Cause<unknown> } | undefined

/**
 * The attempts after a failed first call (or a first call that had to wait for admission):
 * rounds of up to `maxRetries` retries with backoff, each call admitted first. A record that
 * ends a round with a retryable failure goes to the DLQ, unless admission says the downstream is
 * down: then it waits for the circuit breaker and starts another round.
 */
const retrying = (deps: {
  readonly admission: Admission
  readonly call: (input: ProcessorInput) => typeof Returned | Effect.Effect<unknown, unknown>
  readonly schedule: ReturnType<typeof retrySchedule>
  readonly maxRetries: number
}) =>
(input: ProcessorInput, first: FirstFailure): Effect.Effect<Outcome> => {
  const { admission, call, maxRetries, schedule } = deps
  const succeeded = (ticket: Ticket): Effect.Effect<void> => admission.succeeded(ticket) ?? Effect.void
  let attempts = first === undefined ? 0 : 1
  let replay: Effect.Effect<never, unknown> | undefined = first === undefined ? undefined : Effect.failCause(first.cause)
  const attempt = Effect.suspend((): Effect.Effect<void, unknown> => {
    if (replay !== undefined) {
      const failure = replay
      replay = undefined
      return failure
    }
    return Effect.flatMap(admission.admit(input), (ticket) => {
      if (ticket === undefined) return Effect.fail(Abandon)
      attempts++
      const next = call(input)
      if (next === Returned) return succeeded(ticket)
      return Effect.matchCauseEffect(next, {
        onSuccess: () => succeeded(ticket),
        onFailure: (cause) => Effect.andThen(reportFailure(admission, ticket, cause), Effect.failCause(cause))
      })
    })
  })
  const round = Effect.retry(attempt, { schedule, times: maxRetries, while: (error) => error !== Abandon && isRetryable(error) })
  return Effect.gen(function*() {
    while (true) {
      const mark = admission.mark()
      const exit = yield* Effect.exit(round)
      if (exit._tag === "Success") return { _tag: "Processed", attempts } as const
      // Interrupting this fiber (shutdown) still ends it: an interrupted fiber is not resumed
      // with a recovered value. What reaches here as interruption is the processor's own
      // (Effect.interrupt, joining an interrupted fiber): a failed record like any other.
      if (isAbandoned(exit.cause)) return { _tag: "Abandoned", attempts } as const
      if (retryableFailure(exit.cause) === undefined || (yield* admission.outOfRetries(mark))) {
        return failed(exit.cause, attempts)
      }
    }
  })
}

/**
 * A handler that returns the outcome itself when it is known synchronously (a
 * plain function that returned; a record that fails the checks), else an
 * Effect of it. The processor is called once per attempt either way, each
 * call admitted first (`admission`: the circuit breaker and the rate limit).
 * Its timer fiber runs in the scope.
 */
export const makeDirect = Effect.fnUntraced(function*(
  processor: Processor,
  options: RecordHandlerOptions,
  admission: Admission = unlimited
): Effect.fn.Return<Handler, never, Scope.Scope> {
  const schedule = retrySchedule(options)
  const timedOut = new ProcessingTimeout({ timeoutMs: options.processingTimeoutMs })
  const timeoutMs = options.processingTimeoutMs

  const awaitCall = yield* promiseCalls(timeoutMs, timedOut)

  // ---- calls ------------------------------------------------------------------

  /** Calls the processor however it is written: an Effect function, an async function or a plain one. */
  const call = (input: ProcessorInput): typeof Returned | Effect.Effect<unknown, unknown> => {
    const controller = new AbortController()
    let result: unknown
    try {
      result = processor(input, controller.signal)
    } catch (error) {
      return Effect.fail(error)
    }
    if (Effect.isEffect(result)) {
      // Interrupted (by the timeout, or by its caller): told so through its signal too, as a promise's call is.
      const aborting = Effect.onInterrupt(result as Effect.Effect<unknown, unknown>, () =>
        Effect.sync(() => controller.abort()))
      return Effect.timeoutOrElse(aborting, { duration: timeoutMs, orElse: () => Effect.fail(timedOut) })
    }
    return isPromiseLike(result) ? awaitCall(result, controller) : Returned
  }

  const prepare = (record: KafkaRecord): ProcessorInput | MessageTooLarge | InvalidUtf8 | NullValue => {
    if (record.value === null) return new NullValue()
    const size = recordSize(record)
    if (size > options.maxMessageBytes) return new MessageTooLarge({ size, limit: options.maxMessageBytes })
    if (options.decodeUtf8 && !isUtf8(record.value)) return new InvalidUtf8({ field: "value" })
    return new Input(record, options.decodeUtf8)
  }

  const retry = retrying({ admission, call, schedule, maxRetries: options.maxRetries })

  const processedAfter = (reported: Effect.Effect<void> | undefined): Outcome | Effect.Effect<Outcome> =>
    reported === undefined ? processedAtOnce : Effect.as(reported, processedAtOnce)

  return (record: KafkaRecord) => {
    const input = prepare(record)
    if (input instanceof Error) return failed(Cause.fail(input), 0)
    const ticket = admission.tryAdmit()
    if (ticket === undefined) return retry(input, undefined)
    const first = call(input)
    if (first === Returned) return processedAfter(admission.succeeded(ticket))
    return Effect.matchCauseEffect(first, {
      onSuccess: () => asEffect(processedAfter(admission.succeeded(ticket))),
      onFailure: (cause) => Effect.andThen(reportFailure(admission, ticket, cause), retry(input, { ticket, cause }))
    })
  }
})

/** A {@link makeDirect} result as an Effect. */
export const asEffect = (handled: Outcome | Effect.Effect<Outcome>): Effect.Effect<Outcome> =>
  Effect.isEffect(handled) ? handled : Effect.succeed(handled)

/**
 * One record at a time, as an Effect: a handler (and its timer fiber) per
 * call. For tests and one-off use; the pipeline keeps one {@link makeDirect}.
 */
export const make = (processor: Processor, options: RecordHandlerOptions) => (record: KafkaRecord): Effect.Effect<Outcome> =>
  Effect.scoped(Effect.flatMap(makeDirect(processor, options), (handle) => asEffect(handle(record))))

/**
 * One record's journey through the user's processor: size check, UTF-8
 * validation (the text is decoded when the processor reads it), the call
 * itself under a timeout that interrupts it, retries with exponential backoff
 * and jitter for retryable failures. The result is an outcome, never an
 * error: a failing record must not stop the pipeline.
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

/**
 * A handler that returns the outcome itself when it is known synchronously (a
 * plain function that returned; a record that fails the checks), else an
 * Effect of it. The processor is called once per attempt either way. Its
 * timer fiber runs in the scope.
 */
export const makeDirect = Effect.fnUntraced(function*(
  processor: Processor,
  options: RecordHandlerOptions
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

  /** Retries after a failed first call: the retry loop starts from that failure. */
  const retry = (input: ProcessorInput, firstFailure: Cause.Cause<unknown>): Effect.Effect<Outcome> => {
    let attempts = 1
    let replay: Effect.Effect<never, unknown> | undefined = Effect.failCause(firstFailure)
    const attempt = Effect.suspend(() => {
      if (replay !== undefined) {
        const first = replay
        replay = undefined
        return first
      }
      attempts++
      const next = call(input)
      return next === Returned ? Effect.void : next
    })
    return attempt.pipe(
      Effect.retry({ schedule, times: options.maxRetries, while: isRetryable }),
      Effect.matchCause({
        onSuccess: (): Outcome => ({ _tag: "Processed", attempts }),
        // Interrupting this fiber (shutdown) still ends it: an interrupted fiber is not resumed
        // with a recovered value. What reaches here as interruption is the processor's own
        // (Effect.interrupt, joining an interrupted fiber): a failed record like any other.
        // Passing it through would end the worker and leave the pipeline alive but idle.
        onFailure: (cause) => failed(cause, attempts)
      })
    )
  }

  return (record: KafkaRecord) => {
    const input = prepare(record)
    if (input instanceof Error) return failed(Cause.fail(input), 0)
    const first = call(input)
    if (first === Returned) return processedAtOnce
    return Effect.matchCauseEffect(first, {
      onSuccess: () => Effect.succeed(processedAtOnce),
      onFailure: (cause) => retry(input, cause)
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

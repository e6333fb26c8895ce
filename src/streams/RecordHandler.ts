/**
 * One record's journey through the user's processor: size check, UTF-8
 * decoding, the call itself under a timeout that interrupts it, retries with
 * exponential backoff and jitter for retryable failures. The result is an
 * outcome, never an error: a failing record must not stop the pipeline.
 */
import { Duration, Effect, Schedule } from "effect"
import type { FailureDescription } from "../domain/Failure.js"
import { describeFailure, InvalidUtf8, isRetryable, MessageTooLarge, NullValue, ProcessingTimeout } from "../domain/Failure.js"
import type { KafkaRecord } from "../domain/KafkaRecord.js"
import { recordSize } from "../domain/KafkaRecord.js"
import type { Processor, ProcessorInput } from "../domain/Processor.js"

export interface RecordHandlerOptions {
  readonly maxMessageBytes: number
  readonly decodeUtf8: boolean
  readonly processingTimeoutMs: number
  readonly maxRetries: number
  readonly retryBaseDelayMs: number
  readonly retryMaxDelayMs: number
}

export type Outcome =
  | { readonly _tag: "Processed"; readonly attempts: number }
  | { readonly _tag: "Failed"; readonly attempts: number; readonly failure: FailureDescription }

/** Exponential backoff from `retryBaseDelayMs`, jittered, capped at `retryMaxDelayMs`. */
export const retrySchedule = (options: Pick<RecordHandlerOptions, "retryBaseDelayMs" | "retryMaxDelayMs">) =>
  Schedule.exponential(options.retryBaseDelayMs).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(options.retryMaxDelayMs))))
  )

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function"

/**
 * Calls the processor however it is written: an Effect function, an async
 * function (aborted through its signal on timeout or shutdown) or a plain one.
 * Only an Effect or a promise runs under `timeout`: a synchronous result is
 * final before any timer could fire, and the race a timeout costs (two fibers
 * and a timer per call) is the largest part of a no-op processor's overhead.
 */
const invoke = (
  processor: Processor,
  input: ProcessorInput,
  timeout: <A>(effect: Effect.Effect<A, unknown>) => Effect.Effect<A, unknown>
): Effect.Effect<unknown, unknown> =>
  Effect.suspend(() => {
    const controller = new AbortController()
    let result: unknown
    try {
      result = processor(input, controller.signal)
    } catch (error) {
      return Effect.fail(error)
    }
    if (Effect.isEffect(result)) return timeout(result as Effect.Effect<unknown, unknown>)
    if (!isPromiseLike(result)) return Effect.succeed(result)
    return timeout(
      Effect.tryPromise({ try: () => Promise.resolve(result), catch: (error) => error }).pipe(
        Effect.onInterrupt(() => Effect.sync(() => controller.abort()))
      )
    )
  })

export const make = (processor: Processor, options: RecordHandlerOptions) => {
  const schedule = retrySchedule(options)
  const timedOut = new ProcessingTimeout({ timeoutMs: options.processingTimeoutMs })
  const timeout = <A>(effect: Effect.Effect<A, unknown>) =>
    Effect.timeoutOrElse(effect, { duration: options.processingTimeoutMs, orElse: () => Effect.fail(timedOut) })

  const prepare = (record: KafkaRecord): Effect.Effect<ProcessorInput, MessageTooLarge | InvalidUtf8 | NullValue> => {
    if (record.value === null) return Effect.fail(new NullValue())
    const size = recordSize(record)
    if (size > options.maxMessageBytes) return Effect.fail(new MessageTooLarge({ size, limit: options.maxMessageBytes }))
    if (!options.decodeUtf8) return Effect.succeed({ ...record, text: null })
    try {
      return Effect.succeed({ ...record, text: utf8.decode(record.value) })
    } catch {
      return Effect.fail(new InvalidUtf8({ field: "value" }))
    }
  }

  return (record: KafkaRecord): Effect.Effect<Outcome> => {
    let attempts = 0
    const attempt = (input: ProcessorInput) =>
      Effect.suspend(() => {
        attempts++
        return invoke(processor, input, timeout)
      })
    return prepare(record).pipe(
      Effect.flatMap((input) =>
        attempt(input).pipe(Effect.retry({ schedule, times: options.maxRetries, while: isRetryable }))
      ),
      Effect.matchCauseEffect({
        onSuccess: () => Effect.succeed<Outcome>({ _tag: "Processed", attempts }),
        // Interrupting this fiber (shutdown) still ends it: an interrupted fiber is not resumed
        // with a recovered value. What reaches here as interruption is the processor's own
        // (Effect.interrupt, joining an interrupted fiber): a failed record like any other.
        // Passing it through would end the worker and leave the pipeline alive but idle.
        onFailure: (cause) => Effect.succeed<Outcome>({ _tag: "Failed", attempts, failure: describeFailure(cause) })
      })
    )
  }
}

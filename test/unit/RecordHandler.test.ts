/**
 * One record through the user's processor (seed §4 test_worker_pool.py).
 *
 * The Python worker threads become one Effect per record: the seed's
 * processed_queue / dlq_queue pair is the returned `Outcome` (Processed, or
 * Failed with the DLQ description). Time (timeouts, retry backoff) is driven
 * by TestClock; jitter by a fixed `Random` where exact instants are checked.
 * "Queue Empty Handling" and "Shutdown While Processing" belong to the
 * pipeline's stream, not to this per-record step; interruption is covered here.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Random, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { NonRetryable } from "../../src/domain/Failure.js"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import type { Processor, ProcessorInput } from "../../src/domain/Processor.js"
import type { Admission } from "../../src/streams/Admission.js"
import { unlimited } from "../../src/streams/Admission.js"
import type { Outcome, RecordHandlerOptions } from "../../src/streams/RecordHandler.js"
import * as RecordHandler from "../../src/streams/RecordHandler.js"

/** The seed's Python exception, as a JavaScript Error subclass. */
class ValueError extends Error {}

class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { message: Schema.String }) {}

const encoder = new TextEncoder()

const record = (value: Uint8Array | string | null, offset = 42): KafkaRecord => ({
  topic: "orders",
  partition: 3,
  offset,
  timestamp: 1_700_000_000_000,
  key: encoder.encode("k"),
  value: typeof value === "string" ? encoder.encode(value) : value,
  headers: []
})

const options: RecordHandlerOptions = {
  maxMessageBytes: 1_000,
  decodeUtf8: true,
  processingTimeoutMs: 5_000,
  maxRetries: 3,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 10_000
}

/** A Random whose every draw is `value`: jitter becomes a fixed factor 0.8 + 0.4 × value. */
const fixedRandom = (value: number) =>
  Effect.provideService(Random.Random, { nextDoubleUnsafe: () => value, nextIntUnsafe: () => 0 })

/** Counts calls and keeps the inputs the processor saw. */
const counting = (body: (input: ProcessorInput, signal: AbortSignal, call: number) => unknown) => {
  const inputs: Array<ProcessorInput> = []
  const processor: Processor = (input, signal) => {
    inputs.push(input)
    return body(input, signal, inputs.length)
  }
  return { processor, inputs, calls: () => inputs.length }
}

const failed = (outcome: Outcome) => {
  assert.strictEqual(outcome._tag, "Failed")
  return outcome as Extract<Outcome, { _tag: "Failed" }>
}

describe("RecordHandler (seed §4 test_worker_pool.py)", () => {
  describe("Worker - Successful Processing", () => {
    it.effect("an Effect processor → Processed after one attempt; it sees the record and its decoded text", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.succeed("ok"))
        const outcome = yield* RecordHandler.make(p.processor, options)(record("{\"id\":1}"))
        assert.deepStrictEqual(outcome, { _tag: "Processed", attempts: 1 })
        assert.strictEqual(p.calls(), 1)
        const input = p.inputs[0]!
        assert.strictEqual(input.text, "{\"id\":1}")
        assert.strictEqual(input.topic, "orders")
        assert.strictEqual(input.partition, 3)
        assert.strictEqual(input.offset, 42)
        assert.deepStrictEqual(input.key, encoder.encode("k"))
      }))

    it.effect("an async processor (Promise) → Processed", () =>
      Effect.gen(function*() {
        const seen: Array<string | null> = []
        const outcome = yield* RecordHandler.make(async (input) => {
          await Promise.resolve()
          seen.push(input.text)
        }, options)(record("hello"))
        assert.deepStrictEqual(outcome, { _tag: "Processed", attempts: 1 })
        assert.deepStrictEqual(seen, ["hello"])
      }))

    it.effect("a plain synchronous processor → Processed", () =>
      Effect.gen(function*() {
        const p = counting((input) => input.text!.toUpperCase())
        const outcome = yield* RecordHandler.make(p.processor, options)(record("hello"))
        assert.deepStrictEqual(outcome, { _tag: "Processed", attempts: 1 })
        assert.strictEqual(p.calls(), 1)
      }))

    it.effect("with decodeUtf8 off the processor gets the raw bytes and no text, even when they are not UTF-8", () =>
      Effect.gen(function*() {
        const bytes = new Uint8Array([0xff, 0x00, 0xfe])
        const p = counting(() => Effect.void)
        const outcome = yield* RecordHandler.make(p.processor, { ...options, decodeUtf8: false })(record(bytes))
        assert.deepStrictEqual(outcome, { _tag: "Processed", attempts: 1 })
        assert.strictEqual(p.inputs[0]!.text, null)
        assert.deepStrictEqual(p.inputs[0]!.value, bytes)
      }))
  })

  describe("Worker - Processing Exception", () => {
    it.effect("a thrown ValueError is retried maxRetries times with exponential backoff (100, 200, 400 ms at jitter ×1.0), then Failed", () =>
      Effect.gen(function*() {
        const p = counting((input) => {
          throw new ValueError(`cannot parse ${input.text}`)
        })
        const fiber = yield* Effect.forkChild(RecordHandler.make(p.processor, options)(record("x1")).pipe(fixedRandom(0.5)))
        yield* Effect.yieldNow
        assert.strictEqual(p.calls(), 1, "first attempt right away")

        for (const [delay, callsAfter] of [[100, 2], [200, 3], [400, 4]] as const) {
          yield* TestClock.adjust(delay - 1)
          assert.strictEqual(p.calls(), callsAfter - 1, `no retry before ${delay} ms`)
          assert.isUndefined(fiber.pollUnsafe(), "not finished during the backoff")
          yield* TestClock.adjust(1)
          assert.strictEqual(p.calls(), callsAfter, `retry after ${delay} ms`)
        }

        const outcome = failed(yield* Fiber.join(fiber))
        assert.strictEqual(outcome.attempts, 1 + options.maxRetries)
        assert.strictEqual(outcome.failure.errorType, "ValueError")
        assert.strictEqual(outcome.failure.message, "cannot parse x1")
        assert.strictEqual(outcome.failure.defect, false)
        assert.match(outcome.failure.detail, /^Error: cannot parse x1\n\s+at /)
        assert.strictEqual(p.calls(), 4)
        assert.deepStrictEqual(p.inputs.map((i) => i.offset), [42, 42, 42, 42], "the same record each time")
      }))

    it.effect("jitter keeps each delay between 0.8× and 1.2× of the exponential step", () =>
      Effect.gen(function*() {
        for (const [random, delays] of [[0, [80, 160, 320]], [0.999999, [120, 240, 480]]] as const) {
          const p = counting(() => Effect.fail(new ValueError("no")))
          const fiber = yield* Effect.forkChild(
            RecordHandler.make(p.processor, options)(record("x")).pipe(fixedRandom(random))
          )
          yield* Effect.yieldNow
          for (const [i, delay] of delays.entries()) {
            yield* TestClock.adjust(delay - 1)
            assert.strictEqual(p.calls(), i + 1, `random ${random}: retry ${i + 1} not before ${delay} ms`)
            yield* TestClock.adjust(1)
            assert.strictEqual(p.calls(), i + 2, `random ${random}: retry ${i + 1} at ${delay} ms`)
          }
          assert.strictEqual(failed(yield* Fiber.join(fiber)).attempts, 4)
        }
      }))

    it.effect("with the default Random the whole backoff takes 560–840 ms (0.8–1.2 × 700)", () =>
      Effect.gen(function*() {
        const p = counting(() => Promise.reject(new ValueError("no")))
        const fiber = yield* Effect.forkChild(RecordHandler.make(p.processor, options)(record("x")))
        yield* TestClock.adjust(559)
        assert.isUndefined(fiber.pollUnsafe())
        assert.isBelow(p.calls(), 4)
        yield* TestClock.adjust(840 - 559)
        const outcome = failed(yield* Fiber.join(fiber))
        assert.strictEqual(outcome.attempts, 4)
        assert.strictEqual(outcome.failure.errorType, "ValueError", "a rejected promise keeps its error")
      }))

    it.effect("delays are capped at retryMaxDelayMs", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.fail(new Unavailable({ message: "try later" })))
        const fiber = yield* Effect.forkChild(
          RecordHandler.make(p.processor, { ...options, retryMaxDelayMs: 150 })(record("x")).pipe(fixedRandom(0.5))
        )
        yield* Effect.yieldNow
        for (const [i, delay] of [100, 150, 150].entries()) {
          yield* TestClock.adjust(delay - 1)
          assert.strictEqual(p.calls(), i + 1)
          yield* TestClock.adjust(1)
          assert.strictEqual(p.calls(), i + 2)
        }
        const outcome = failed(yield* Fiber.join(fiber))
        assert.strictEqual(outcome.failure.errorType, "Unavailable")
        assert.strictEqual(outcome.failure.message, "try later")
      }))

    it.effect("maxRetries 0 → Failed after a single attempt", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.fail(new ValueError("no")))
        const outcome = failed(yield* RecordHandler.make(p.processor, { ...options, maxRetries: 0 })(record("x")))
        assert.strictEqual(outcome.attempts, 1)
        assert.strictEqual(p.calls(), 1)
      }))

    it.effect("a flaky processor that fails twice then succeeds → Processed with attempts 3", () =>
      Effect.gen(function*() {
        const p = counting((_input, _signal, call) => call <= 2 ? Effect.fail(new ValueError(`flake ${call}`)) : Effect.void)
        const fiber = yield* Effect.forkChild(RecordHandler.make(p.processor, options)(record("x")).pipe(fixedRandom(0.5)))
        yield* TestClock.adjust(100 + 200)
        assert.deepStrictEqual(yield* Fiber.join(fiber), { _tag: "Processed", attempts: 3 })
        assert.strictEqual(p.calls(), 3)
      }))
  })

  describe("non-retryable failures are not retried", () => {
    it.effect("NonRetryable → Failed after one attempt, described by the error it wraps", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.fail(new NonRetryable({ cause: new ValueError("schema mismatch") })))
        const outcome = failed(yield* RecordHandler.make(p.processor, options)(record("x")))
        assert.strictEqual(outcome.attempts, 1)
        assert.strictEqual(p.calls(), 1)
        assert.strictEqual(outcome.failure.errorType, "ValueError")
        assert.strictEqual(outcome.failure.message, "schema mismatch")
      }))

    it.effect("an error marked retryable: false (thrown) → Failed after one attempt", () =>
      Effect.gen(function*() {
        const p = counting(() => {
          throw Object.assign(new ValueError("permanent"), { retryable: false })
        })
        const outcome = failed(yield* RecordHandler.make(p.processor, options)(record("x")))
        assert.strictEqual(outcome.attempts, 1)
        assert.strictEqual(p.calls(), 1)
        assert.strictEqual(outcome.failure.errorType, "ValueError")
      }))
  })

  describe("Worker - Message Too Large", () => {
    it.effect("max 1000 bytes, a 2000-byte message → MessageTooLarge, processor never called, not retried", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.void)
        const outcome = failed(yield* RecordHandler.make(p.processor, options)({ ...record("x".repeat(1_999)), key: encoder.encode("k") }))
        assert.strictEqual(p.calls(), 0)
        assert.strictEqual(outcome.attempts, 0)
        assert.strictEqual(outcome.failure.errorType, "MessageTooLarge")
        assert.strictEqual(
          outcome.failure.message,
          "the record is 2000 bytes (key, value and headers), over the limit of 1000 bytes (maxMessageBytes)"
        )
        assert.strictEqual(outcome.failure.defect, false)
      }))

    it.effect("the limit is inclusive and counts bytes of key, value and headers", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.void)
        const handle = RecordHandler.make(p.processor, options)
        const bare = (value: string): KafkaRecord => ({ ...record(value), key: null, headers: [] })
        assert.deepStrictEqual(yield* handle(bare("x".repeat(1_000))), { _tag: "Processed", attempts: 1 })
        // 500 two-byte characters are 1000 bytes; one more byte is over.
        assert.strictEqual((yield* handle(bare("é".repeat(500)))).attempts, 1)
        assert.strictEqual(failed(yield* handle(bare(`${"é".repeat(500)}x`))).failure.errorType, "MessageTooLarge")
        // 990 bytes of value, 6 of key, 2 + 3 of header: 1001.
        const withExtras: KafkaRecord = {
          ...bare("x".repeat(990)),
          key: encoder.encode("abcdef"),
          headers: [{ key: "h1", value: encoder.encode("abc") }]
        }
        assert.strictEqual(failed(yield* handle(withExtras)).failure.errorType, "MessageTooLarge")
        assert.strictEqual(p.calls(), 2)
      }))
  })

  describe("Worker - Processing Timeout", () => {
    it.effect("timeout 5 s, an Effect processor that needs 10 s → ProcessingTimeout at 5 s, interrupted, and retried like any retryable failure", () =>
      Effect.gen(function*() {
        let finished = 0
        const p = counting(() => Effect.sleep("10 seconds").pipe(Effect.andThen(Effect.sync(() => finished++))))
        const fiber = yield* Effect.forkChild(RecordHandler.make(p.processor, options)(record("slow")).pipe(fixedRandom(0.5)))
        yield* TestClock.adjust(4_999)
        assert.strictEqual(p.calls(), 1)
        yield* TestClock.adjust(1 + 99)
        assert.strictEqual(p.calls(), 1, "the retry waits for its backoff")
        yield* TestClock.adjust(1)
        assert.strictEqual(p.calls(), 2, "a timed-out call is retried after 100 ms")
        // Attempts at 0, 5.1 s, 10.3 s and 15.7 s, each timing out after 5 s.
        yield* TestClock.adjust(20_700 - 5_100)
        const outcome = failed(yield* Fiber.join(fiber))
        assert.strictEqual(outcome.failure.errorType, "ProcessingTimeout")
        assert.strictEqual(outcome.failure.message, "the processor did not finish within 5000 ms and was interrupted")
        assert.strictEqual(outcome.attempts, 4)
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(p.calls(), 4, "maxRetries 3: four calls in all")
        assert.strictEqual(finished, 0, "every slow call was interrupted, none left running")
      }))

    it.effect("an Effect processor's AbortSignal is aborted when the call times out; a call that finished is not", () =>
      Effect.gen(function*() {
        const signals: Array<AbortSignal> = []
        const p = counting((_input, signal, call) => {
          signals.push(signal)
          return call === 1 ? Effect.void : Effect.never
        })
        const handle = RecordHandler.make(p.processor, { ...options, maxRetries: 0 })
        assert.strictEqual((yield* handle(record("fast")))._tag, "Processed")
        const fiber = yield* Effect.forkChild(handle(record("slow")))
        yield* TestClock.adjust(4_999)
        assert.isFalse(signals[1]!.aborted)
        yield* TestClock.adjust(1)
        const outcome = failed(yield* Fiber.join(fiber))
        assert.strictEqual(outcome.failure.errorType, "ProcessingTimeout")
        assert.isTrue(signals[1]!.aborted)
        assert.isFalse(signals[0]!.aborted, "the call that finished is not aborted later")
      }))

    it.effect("an async processor's AbortSignal is aborted when the call times out", () =>
      Effect.gen(function*() {
        let signal: AbortSignal | undefined
        const p = counting((_input, s) => {
          signal = s
          return new Promise<void>(() => {}) // never settles on its own
        })
        const fiber = yield* Effect.forkChild(RecordHandler.make(p.processor, { ...options, maxRetries: 0 })(record("slow")))
        yield* TestClock.adjust(4_999)
        assert.isDefined(signal)
        assert.isFalse(signal!.aborted)
        yield* TestClock.adjust(1)
        const outcome = failed(yield* Fiber.join(fiber))
        assert.strictEqual(outcome.failure.errorType, "ProcessingTimeout")
        assert.isTrue(signal!.aborted)
        assert.strictEqual(p.calls(), 1)
      }))

    it.effect("the timeout applies to each attempt, not to the whole retry sequence", () =>
      Effect.gen(function*() {
        // Each attempt takes 4 s of a 5 s budget and fails; three retries take far more than 5 s in total.
        const p = counting(() => Effect.sleep("4 seconds").pipe(Effect.andThen(Effect.fail(new ValueError("late")))))
        const fiber = yield* Effect.forkChild(
          RecordHandler.make(p.processor, { ...options, maxRetries: 2 })(record("x")).pipe(fixedRandom(0.5))
        )
        yield* TestClock.adjust(4_000 + 100 + 4_000 + 200 + 4_000)
        const outcome = failed(yield* Fiber.join(fiber))
        assert.strictEqual(outcome.attempts, 3)
        assert.strictEqual(outcome.failure.errorType, "ValueError")
      }))
  })

  describe("Worker - Worker Thread Crash (adapted: a defect inside the processor, the closest thing to a crashing worker)", () => {
    it.effect("Effect.die → Failed with defect = true, not retried", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.die(new RangeError("invariant broken")))
        const outcome = failed(yield* RecordHandler.make(p.processor, options)(record("x")))
        assert.strictEqual(outcome.failure.defect, true)
        assert.strictEqual(outcome.failure.errorType, "RangeError")
        assert.strictEqual(outcome.failure.message, "invariant broken")
        assert.strictEqual(outcome.attempts, 1)
        assert.strictEqual(p.calls(), 1)
      }))

    it.effect("a throw inside Effect.gen → Failed with defect = true, not retried", () =>
      Effect.gen(function*() {
        const p = counting(() =>
          Effect.gen(function*() {
            yield* Effect.void
            throw new TypeError("cannot read properties of undefined")
          })
        )
        const outcome = failed(yield* RecordHandler.make(p.processor, options)(record("x")))
        assert.strictEqual(outcome.failure.defect, true)
        assert.strictEqual(outcome.failure.errorType, "TypeError")
        assert.strictEqual(outcome.failure.message, "cannot read properties of undefined")
        assert.match(outcome.failure.detail, /TypeError: cannot read properties of undefined\n\s+at /)
        assert.strictEqual(p.calls(), 1)
      }))
  })

  describe("Worker - UTF-8 Decode Error / null values", () => {
    it.effect("invalid UTF-8 bytes → InvalidUtf8, processor never called", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.void)
        const outcome = failed(
          yield* RecordHandler.make(p.processor, options)(record(new Uint8Array([0x41, 0xff, 0xfe, 0x42])))
        )
        assert.strictEqual(outcome.failure.errorType, "InvalidUtf8")
        assert.strictEqual(outcome.failure.message, "the record's value is not valid UTF-8")
        assert.strictEqual(outcome.attempts, 0)
        assert.strictEqual(p.calls(), 0)
      }))

    it.effect("a value is refused as InvalidUtf8 exactly when a strict UTF-8 decoder refuses it (property)", () =>
      Effect.gen(function*() {
        const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
        let seen: string | null | undefined
        const handle = yield* RecordHandler.makeDirect((input: ProcessorInput) => {
          seen = input.text
        }, options)
        fc.assert(
          fc.property(
            fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 6 }).map((t) => encoder.encode(t))),
            (bytes) => {
              let decoded: string | undefined
              try {
                decoded = strict.decode(bytes)
              } catch {
                decoded = undefined
              }
              seen = undefined
              const outcome = handle(record(bytes)) as Outcome
              if (decoded === undefined) {
                assert.strictEqual(outcome._tag === "Failed" && outcome.failure.errorType, "InvalidUtf8")
              } else {
                assert.strictEqual(outcome._tag, "Processed")
                assert.strictEqual(seen, decoded)
              }
            }
          ),
          { numRuns: 2000 }
        )
      }).pipe(Effect.scoped))

    it.effect("the text keeps a leading byte-order mark, and JSON shows it with the record's fields", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.void)
        yield* RecordHandler.make(p.processor, options)(record("\uFEFF{}"))
        const input = p.inputs[0]!
        assert.strictEqual(input.text, "\uFEFF{}")
        const json = JSON.parse(JSON.stringify(input)) as Record<string, unknown>
        assert.strictEqual(json.text, "\uFEFF{}")
        assert.strictEqual(json.topic, "orders")
        assert.strictEqual(json.offset, 42)
      }))

    it.effect("a truncated multi-byte sequence is invalid too", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.void)
        const euro = encoder.encode("€")
        const outcome = failed(yield* RecordHandler.make(p.processor, options)(record(euro.subarray(0, 2))))
        assert.strictEqual(outcome.failure.errorType, "InvalidUtf8")
        assert.strictEqual(p.calls(), 0)
      }))

    it.effect("a null value (tombstone) → NullValue, processor never called", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.void)
        const outcome = failed(yield* RecordHandler.make(p.processor, options)(record(null)))
        assert.strictEqual(outcome.failure.errorType, "NullValue")
        assert.include(outcome.failure.message, "null value")
        assert.strictEqual(outcome.attempts, 0)
        assert.strictEqual(p.calls(), 0)
      }))
  })

  describe("interruption (shutdown) is not a processing failure", () => {
    it.effect("interrupting the handler mid-call → the fiber is interrupted, no Failed outcome; an async call is aborted", () =>
      Effect.gen(function*() {
        let signal: AbortSignal | undefined
        const p = counting((_input, s) => {
          signal = s
          return new Promise<void>(() => {})
        })
        const delivered: Array<Outcome> = []
        const fiber = yield* Effect.forkChild(
          RecordHandler.make(p.processor, options)(record("x")).pipe(
            Effect.tap((outcome) => Effect.sync(() => delivered.push(outcome)))
          )
        )
        yield* TestClock.adjust(1_000)
        assert.isDefined(signal)
        yield* Fiber.interrupt(fiber)
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
        assert.deepStrictEqual(delivered, [], "nothing downstream (the DLQ) sees an outcome")
        assert.isTrue(signal!.aborted)
        assert.strictEqual(p.calls(), 1)
      }))

    it.effect("interrupting the handler mid-call → an Effect processor's AbortSignal is aborted", () =>
      Effect.gen(function*() {
        let signal: AbortSignal | undefined
        const p = counting((_input, s) => {
          signal = s
          return Effect.never
        })
        const fiber = yield* Effect.forkChild(RecordHandler.make(p.processor, options)(record("x")))
        yield* TestClock.adjust(1_000)
        assert.isDefined(signal)
        assert.isFalse(signal!.aborted)
        yield* Fiber.interrupt(fiber)
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
        assert.isTrue(signal!.aborted)
      }))

    it.effect("interrupting during a retry backoff → interrupted, and no further attempt", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.fail(new ValueError("no")))
        const fiber = yield* Effect.forkChild(RecordHandler.make(p.processor, options)(record("x")).pipe(fixedRandom(0.5)))
        yield* TestClock.adjust(50)
        assert.strictEqual(p.calls(), 1)
        yield* Fiber.interrupt(fiber)
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(p.calls(), 1)
      }))

    it.effect("a processor that interrupts itself (not a shutdown) → Failed \"Interrupted\", not retried, and the caller carries on", () =>
      Effect.gen(function*() {
        const p = counting(() => Effect.interrupt)
        const handle = RecordHandler.make(p.processor, options)
        const outcome = failed(yield* handle(record("x")))
        assert.strictEqual(outcome.failure.errorType, "Interrupted")
        assert.strictEqual(outcome.failure.message, "the processor was interrupted")
        assert.strictEqual(outcome.failure.defect, true)
        assert.strictEqual(outcome.attempts, 1)
        assert.strictEqual(p.calls(), 1)
        // Joining a child fiber that something else interrupted is the same case.
        const joined = yield* RecordHandler.make(
          () =>
            Effect.gen(function*() {
              const child = yield* Effect.forkChild(Effect.never)
              yield* Fiber.interrupt(child)
              return yield* Fiber.join(child)
            }),
          options
        )(record("y"))
        assert.strictEqual(failed(joined).failure.errorType, "Interrupted")
      }))
  })

  describe("makeDirect: the pipeline's handler, one per run", () => {
    it.effect("a plain function's outcome comes back as a value, not an Effect: one call per record", () =>
      Effect.gen(function*() {
        const p = counting(() => "done")
        const handle = yield* RecordHandler.makeDirect(p.processor, options)
        for (const offset of [1, 2, 3]) {
          const outcome = handle(record("x", offset))
          assert.isFalse(Effect.isEffect(outcome))
          assert.deepStrictEqual(outcome, { _tag: "Processed", attempts: 1 })
        }
        assert.deepStrictEqual(p.inputs.map((input) => input.offset), [1, 2, 3])
        const rejected = handle(record(null))
        assert.isFalse(Effect.isEffect(rejected), "a record that fails the checks needs no Effect either")
        assert.strictEqual(failed(rejected as Outcome).failure.errorType, "NullValue")
        assert.strictEqual((rejected as Outcome).attempts, 0)
        assert.strictEqual(p.calls(), 3, "the processor never sees a null value")
      }))

    it.effect("promises in flight together each time out at their own deadline; one that settles in time is unaffected", () =>
      Effect.gen(function*() {
        const signals = new Map<number, AbortSignal>()
        let settleTwo: (() => void) | undefined
        const p = counting((input, signal) => {
          signals.set(input.offset, signal)
          // Offset 2 settles when the test says so; the others never settle on their own.
          return new Promise<void>((resolve) => {
            if (input.offset === 2) settleTwo = resolve
          })
        })
        const handle = yield* RecordHandler.makeDirect(p.processor, { ...options, maxRetries: 0 })
        const run = (offset: number) => {
          const handled = handle(record("x", offset))
          assert.isTrue(Effect.isEffect(handled))
          return Effect.forkChild(handled as Effect.Effect<Outcome>)
        }
        const first = yield* run(1)
        const settles = yield* run(2)
        yield* TestClock.adjust(1_000)
        settleTwo!()
        assert.deepStrictEqual(yield* Fiber.join(settles), { _tag: "Processed", attempts: 1 })
        yield* TestClock.adjust(1_000)
        const second = yield* run(3)
        yield* TestClock.adjust(2_999)
        assert.isUndefined(first.pollUnsafe(), "1 ms before its deadline")
        yield* TestClock.adjust(1)
        assert.strictEqual(failed(yield* Fiber.join(first)).failure.errorType, "ProcessingTimeout")
        assert.isTrue(signals.get(1)!.aborted)
        assert.isUndefined(second.pollUnsafe(), "started 2 s later: due 2 s later")
        assert.isFalse(signals.get(3)!.aborted)
        yield* TestClock.adjust(2_000)
        assert.strictEqual(failed(yield* Fiber.join(second)).failure.errorType, "ProcessingTimeout")
        assert.isFalse(signals.get(2)!.aborted, "a call that settled is not aborted later")
        // Nothing in flight for a while, then a new call: the timer picks it up.
        yield* TestClock.adjust(60_000)
        const late = yield* run(4)
        yield* TestClock.adjust(5_000)
        assert.strictEqual(failed(yield* Fiber.join(late)).failure.errorType, "ProcessingTimeout")
      }))

    it.effect("a record whose first call waits for admission (no token at hand) counts that call as its first attempt", () =>
      Effect.gen(function*() {
        // Nothing is admitted at once: every call waits in `admit`, as when the rate limit's bucket is empty.
        const waiting: Admission = { ...unlimited, tryAdmit: () => undefined }
        const ok = counting(() => "done")
        const handleOk = yield* RecordHandler.makeDirect(ok.processor, options, waiting)
        assert.deepStrictEqual(yield* RecordHandler.asEffect(handleOk(record("x"))), { _tag: "Processed", attempts: 1 })
        assert.strictEqual(ok.calls(), 1)
        const bad = counting(() => {
          throw new ValueError("bad")
        })
        const handleBad = yield* RecordHandler.makeDirect(bad.processor, { ...options, maxRetries: 0 }, waiting)
        const outcome = yield* RecordHandler.asEffect(handleBad(record("x")))
        assert.strictEqual(failed(outcome).attempts, 1)
        assert.strictEqual(bad.calls(), 1)
      }))

    it.effect("a rejected promise is retried from its failure: attempts count the first call", () =>
      Effect.gen(function*() {
        const p = counting((_input, _signal, call) =>
          call === 1 ? Promise.reject(new ValueError("flaky")) : Promise.resolve("ok")
        )
        const handle = yield* RecordHandler.makeDirect(p.processor, options)
        const fiber = yield* Effect.forkChild((handle(record("x")) as Effect.Effect<Outcome>).pipe(fixedRandom(0.5)))
        yield* TestClock.adjust(100)
        assert.deepStrictEqual(yield* Fiber.join(fiber), { _tag: "Processed", attempts: 2 })
        assert.strictEqual(p.calls(), 2)
      }))

    it.effect("a plain function that throws, then returns: retried, and done with no Effect of its own", () =>
      Effect.gen(function*() {
        const p = counting((_input, _signal, call) => {
          if (call === 1) throw new ValueError("flaky")
          return "ok"
        })
        const handle = yield* RecordHandler.makeDirect(p.processor, options)
        const fiber = yield* Effect.forkChild((handle(record("x")) as Effect.Effect<Outcome>).pipe(fixedRandom(0.5)))
        yield* TestClock.adjust(100)
        assert.deepStrictEqual(yield* Fiber.join(fiber), { _tag: "Processed", attempts: 2 })
      }))

    it.effect("whatever a plain function returns that is not a promise (null, an object, a number) is a success", () =>
      Effect.gen(function*() {
        const results: ReadonlyArray<unknown> = [null, undefined, { ok: true }, { then: "not a function" }, 0, "done"]
        const p = counting((_input, _signal, call) => results[call - 1])
        const handle = yield* RecordHandler.makeDirect(p.processor, options)
        for (const offset of results.keys()) {
          assert.deepStrictEqual(handle(record("x", offset)), { _tag: "Processed", attempts: 1 }, JSON.stringify(results[offset]))
        }
        assert.strictEqual(p.calls(), results.length)
      }))

    it.effect("a promise that settles after its timeout changes nothing; one settled before the Effect runs is taken as is", () =>
      Effect.gen(function*() {
        let resolveLate: (() => void) | undefined
        const p = counting((input) =>
          input.offset === 1 ? new Promise<void>((resolve) => (resolveLate = resolve)) : Promise.resolve("early")
        )
        const handle = yield* RecordHandler.makeDirect(p.processor, { ...options, maxRetries: 0 })
        const late = yield* Effect.forkChild(handle(record("x", 1)) as Effect.Effect<Outcome>)
        yield* TestClock.adjust(5_000)
        assert.strictEqual(failed(yield* Fiber.join(late)).failure.errorType, "ProcessingTimeout")
        resolveLate!()
        yield* Effect.promise(() => Promise.resolve())
        const early = handle(record("x", 2)) as Effect.Effect<Outcome>
        yield* Effect.promise(() => Promise.resolve()) // the promise has settled before the Effect runs
        assert.deepStrictEqual(yield* early, { _tag: "Processed", attempts: 1 })
      }))

    it.effect("interrupting a promise call in flight (a stop) aborts its signal and unlists its deadline", () =>
      Effect.gen(function*() {
        let signal: AbortSignal | undefined
        const p = counting((_input, s) => {
          signal = s
          return new Promise<void>(() => {})
        })
        const handle = yield* RecordHandler.makeDirect(p.processor, options)
        const fiber = yield* Effect.forkChild(handle(record("x")) as Effect.Effect<Outcome>)
        yield* TestClock.adjust(1_000)
        yield* Fiber.interrupt(fiber)
        assert.isTrue(signal!.aborted)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(fiber)))
      }))
  })
})

/**
 * Resolving the `processor` option: built-in names, or the path of an ES
 * module whose default export is the processor. Bad values fail at start with
 * a ConfigError naming the field and the value (invariant 6).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { ConfigError } from "../../src/domain/Errors.js"
import { isRetryable, NonRetryable } from "../../src/domain/Failure.js"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import type { ProcessorInput } from "../../src/domain/Processor.js"
import { loadProcessor } from "../../src/processors/ProcessorLoader.js"
import { builtinProcessors, jsonValidate, noop } from "../../src/processors/builtin.js"
import * as RecordHandler from "../../src/streams/RecordHandler.js"
import { seen } from "../fixtures/upper-processor.js"

const encoder = new TextEncoder()

const input = (text: string | null): ProcessorInput => ({
  topic: "orders",
  partition: 0,
  offset: 1,
  timestamp: 0,
  key: null,
  value: text === null ? null : encoder.encode(text),
  headers: [],
  text
})

const record = (text: string): KafkaRecord => {
  const { text: _text, ...rest } = input(text)
  return rest
}

const handlerOptions: RecordHandler.RecordHandlerOptions = {
  maxMessageBytes: 1_000,
  decodeUtf8: true,
  processingTimeoutMs: 5_000,
  maxRetries: 3,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 1_000
}

/** The single issue of the ConfigError `loadProcessor(value)` fails with. */
const issueFor = (value: string | undefined) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(loadProcessor(value))
    assert.instanceOf(error, ConfigError)
    assert.strictEqual(error.issues.length, 1)
    return error.issues[0]!
  })

describe("ProcessorLoader", () => {
  describe("built-ins", () => {
    it.effect("builtin:json and builtin:noop resolve to the shipped processors", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* loadProcessor("builtin:json"), jsonValidate)
        assert.strictEqual(yield* loadProcessor("builtin:noop"), noop)
        assert.sameMembers(Object.keys(builtinProcessors), ["builtin:json", "builtin:noop"])
      }))

    it.effect("an unknown builtin:x is a ConfigError naming processor, the value and the choices", () =>
      Effect.gen(function*() {
        const issue = yield* issueFor("builtin:xml")
        assert.strictEqual(issue, "processor: expected one of builtin:json, builtin:noop, got \"builtin:xml\"")
      }))

    it.effect("a missing or blank processor is a ConfigError saying it is required", () =>
      Effect.gen(function*() {
        for (const value of [undefined, "", "   "]) {
          const issue = yield* issueFor(value)
          assert.match(issue, /^processor: required \(a module path or one of builtin:json, builtin:noop\), got nothing$/)
        }
      }))
  })

  describe("modules", () => {
    it.effect("a module whose default export is a function loads, and runs as the processor", () =>
      Effect.gen(function*() {
        const processor = yield* loadProcessor("test/fixtures/upper-processor.ts")
        assert.isFunction(processor)
        // The same module instance the test imported: its calls are visible here.
        const before = seen.length
        const outcome = yield* RecordHandler.make(processor, handlerOptions)(record("hello"))
        assert.deepStrictEqual(outcome, { _tag: "Processed", attempts: 1 })
        assert.deepStrictEqual(seen.slice(before), ["hello"])
        assert.strictEqual(yield* Effect.promise(() => Promise.resolve(processor(input("abc"), new AbortController().signal))), "ABC")
      }))

    it.effect("an absolute path loads too", () =>
      Effect.gen(function*() {
        const processor = yield* loadProcessor(`${process.cwd()}/test/fixtures/upper-processor.ts`)
        assert.isFunction(processor)
      }))

    it.effect("a module that does not exist is a ConfigError naming processor and the path", () =>
      Effect.gen(function*() {
        const issue = yield* issueFor("test/fixtures/no-such-processor.ts")
        assert.match(issue, /^processor: expected a loadable ES module \(.+\), got "test\/fixtures\/no-such-processor\.ts"$/)
      }))

    it.effect("a module that throws while importing is a ConfigError carrying the module's error", () =>
      Effect.gen(function*() {
        const issue = yield* issueFor("test/fixtures/throwing-processor.ts")
        assert.strictEqual(
          issue,
          "processor: expected a loadable ES module (processor module exploded at import), got \"test/fixtures/throwing-processor.ts\""
        )
      }))

    it.effect("a module that throws a non-Error while importing: the thrown value is shown", () =>
      Effect.gen(function*() {
        const issue = yield* issueFor("test/fixtures/throwing-non-error-processor.ts")
        assert.strictEqual(
          issue,
          "processor: expected a loadable ES module (no processor here), got \"test/fixtures/throwing-non-error-processor.ts\""
        )
      }))

    it.effect("a module without a default export, or with a default that is not a function, is a ConfigError", () =>
      Effect.gen(function*() {
        for (const path of ["test/fixtures/no-default-processor.ts", "test/fixtures/non-function-default-processor.ts"]) {
          const issue = yield* issueFor(path)
          assert.strictEqual(
            issue,
            `processor: expected a module whose default export is a function of the record, got ${JSON.stringify(path)}`
          )
        }
      }))

    it.effect("names of Object.prototype members are module paths, not built-ins", () =>
      Effect.gen(function*() {
        for (const name of ["constructor", "toString", "__proto__"]) {
          const exit = yield* Effect.exit(loadProcessor(name))
          assert.isTrue(Exit.isFailure(exit), `${name} must not resolve to Object.prototype.${name}`)
          const issue = yield* issueFor(name)
          assert.include(issue, `got "${name}"`)
          assert.include(issue, "expected a loadable ES module")
        }
      }))
  })

  describe("builtin:json", () => {
    it.effect("valid JSON succeeds with the parsed value", () =>
      Effect.gen(function*() {
        const result = yield* (jsonValidate(input("{\"id\":1,\"tags\":[\"a\"]}"), new AbortController().signal) as Effect.Effect<unknown, unknown>)
        assert.deepStrictEqual(result, { id: 1, tags: ["a"] })
      }))

    it.effect("invalid JSON fails as NonRetryable wrapping the SyntaxError", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          jsonValidate(input("{not json"), new AbortController().signal) as Effect.Effect<unknown, unknown>
        )
        assert.instanceOf(error, NonRetryable)
        assert.instanceOf((error as NonRetryable).cause, SyntaxError)
        assert.isFalse(isRetryable(error))
      }))

    it.effect("through the record handler: one attempt, then Failed with errorType SyntaxError", () =>
      Effect.gen(function*() {
        const outcome = yield* RecordHandler.make(jsonValidate, handlerOptions)(record("{not json"))
        assert.strictEqual(outcome._tag, "Failed")
        if (outcome._tag !== "Failed") return
        assert.strictEqual(outcome.attempts, 1)
        assert.strictEqual(outcome.failure.errorType, "SyntaxError")
        assert.include(outcome.failure.message, "JSON")
        assert.strictEqual(outcome.failure.defect, false)
      }))

    it.effect("with no decoded text (decodeUtf8 off) it is invalid, not a crash", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          jsonValidate(input(null), new AbortController().signal) as Effect.Effect<unknown, unknown>
        )
        assert.instanceOf(error, NonRetryable)
      }))

    it.effect("builtin:noop succeeds on anything", () =>
      Effect.gen(function*() {
        const outcome = yield* RecordHandler.make(noop, handlerOptions)(record("{not json"))
        assert.deepStrictEqual(outcome, { _tag: "Processed", attempts: 1 })
      }))
  })
})

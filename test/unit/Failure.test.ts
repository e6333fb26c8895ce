/**
 * How a processing failure reads in a DLQ row (error type, message, detail,
 * defect) and which failures are worth retrying. The seed's DLQ flow names
 * ValueError, KeyError, TimeoutError and a custom exception: here they are an
 * Error subclass, an Error with its own name, a DOMException and a tagged error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Schema } from "effect"
import {
  BadRecord,
  describeFailure,
  DownstreamUnavailable,
  InvalidUtf8,
  isRetryable,
  MessageTooLarge,
  NonRetryable,
  NullValue,
  ProcessingTimeout
} from "../../src/domain/Failure.js"

class ValueError extends Error {}
class KeyError extends Error {
  override name = "KeyError"
}
class OrderRejected extends Schema.TaggedError<OrderRejected>()("OrderRejected", {
  message: Schema.String,
  orderId: Schema.Number
}) {}
class StockMissing extends Data.TaggedError("StockMissing")<{ readonly sku: string }> {}
class Rejection {
  constructor(readonly reason: string) {}
}

const describeError = (error: unknown) => describeFailure(Cause.fail(error))

describe("Failure", () => {
  describe("describeFailure: error types", () => {
    it("tagged errors are named by their _tag, with their message", () => {
      const tagged = describeError(new OrderRejected({ message: "order 7 rejected", orderId: 7 }))
      assert.strictEqual(tagged.errorType, "OrderRejected")
      assert.strictEqual(tagged.message, "order 7 rejected")
      assert.strictEqual(tagged.defect, false)
      assert.match(tagged.detail, /^OrderRejected: order 7 rejected\n\s+at /)

      const pipeline = describeError(new MessageTooLarge({ size: 2_000, limit: 1_000 }))
      assert.strictEqual(pipeline.errorType, "MessageTooLarge")
      assert.strictEqual(
        pipeline.message,
        "the record is 2000 bytes (key, value and headers), over the limit of 1000 bytes (maxMessageBytes)"
      )
      assert.strictEqual(describeError(new InvalidUtf8({ field: "key" })).message, "the record's key is not valid UTF-8")
      assert.strictEqual(describeError(new ProcessingTimeout({ timeoutMs: 250 })).errorType, "ProcessingTimeout")
      assert.include(describeError(new ProcessingTimeout({ timeoutMs: 250 })).message, "within 250 ms")
      assert.strictEqual(describeError(new NullValue()).errorType, "NullValue")
    })

    it("any object with a string _tag is named by it; an Error without a stack is detailed by its cause", () => {
      assert.strictEqual(describeError({ _tag: "OutOfStock", sku: "A-1" }).errorType, "OutOfStock")
      assert.strictEqual(describeError({ _tag: 7 }).errorType, "object")
      const stackless = new Error("no stack here")
      Reflect.deleteProperty(stackless, "stack")
      const described = describeError(stackless)
      assert.strictEqual(described.errorType, "Error")
      assert.include(described.detail, "no stack here")
    })

    it("a tagged error without a message keeps its fields as the message (they are the reason)", () => {
      const data = describeError(new StockMissing({ sku: "A-1" }))
      assert.strictEqual(data.errorType, "StockMissing")
      assert.deepStrictEqual(JSON.parse(data.message), { _tag: "StockMissing", sku: "A-1" })
      // A bare Error with no message and no fields has nothing to say.
      assert.strictEqual(describeError(new Error()).message, "")
    })

    it("Error subclasses: the class name when name is left as \"Error\", else the name (ValueError, KeyError, TimeoutError, TypeError)", () => {
      const value = describeError(new ValueError("invalid literal for int(): 'x'"))
      assert.strictEqual(value.errorType, "ValueError")
      assert.strictEqual(value.message, "invalid literal for int(): 'x'")
      assert.match(value.detail, /^Error: invalid literal for int\(\): 'x'\n\s+at /, "the stack trace")

      const key = describeError(new KeyError("'sku'"))
      assert.strictEqual(key.errorType, "KeyError")
      assert.match(key.detail, /^KeyError: 'sku'\n/)

      assert.strictEqual(describeError(new DOMException("took too long", "TimeoutError")).errorType, "TimeoutError")
      assert.strictEqual(describeError(new TypeError("x is undefined")).errorType, "TypeError")
      assert.strictEqual(describeError(new Error("plain")).errorType, "Error")
    })

    it("strings: type \"string\", the string as message, the cause as detail", () => {
      const described = describeError("connection refused")
      assert.deepStrictEqual(
        { errorType: described.errorType, message: described.message, defect: described.defect },
        { errorType: "string", message: "connection refused", defect: false }
      )
      assert.include(described.detail, "connection refused")
    })

    it("objects: named by a name property or their class, else \"object\"; the message is their JSON", () => {
      const plain = describeError({ code: 42, reason: "bad" })
      assert.strictEqual(plain.errorType, "object")
      assert.strictEqual(plain.message, "{\"code\":42,\"reason\":\"bad\"}")
      assert.include(plain.detail, "42")

      assert.strictEqual(describeError({ name: "HttpError", status: 503 }).errorType, "HttpError")
      const instance = describeError(new Rejection("duplicate"))
      assert.strictEqual(instance.errorType, "Rejection")
      assert.strictEqual(instance.message, "{\"reason\":\"duplicate\"}")

      const bare = describeError(Object.assign(Object.create(null) as object, { a: 1 }))
      assert.strictEqual(bare.errorType, "object")
      assert.strictEqual(bare.message, "{\"a\":1}")
    })

    it("objects that cannot be JSON (cycles, BigInt) still get a message instead of throwing", () => {
      const cyclic: Record<string, unknown> = { id: 1 }
      cyclic.self = cyclic
      assert.strictEqual(describeError(cyclic).message, "[object Object]")
      assert.strictEqual(describeError({ n: 10n }).message, "[object Object]")
    })

    it("other values: typeof as the type", () => {
      assert.deepStrictEqual(
        [42, undefined, null, true].map((value) => {
          const { errorType, message } = describeError(value)
          return [errorType, message]
        }),
        [["number", "42"], ["undefined", "undefined"], ["object", "null"], ["boolean", "true"]]
      )
    })

    it("NonRetryable is unwrapped: the wrapped error's type, message and stack", () => {
      const inner = new ValueError("schema mismatch")
      const described = describeError(new NonRetryable({ cause: inner }))
      assert.strictEqual(described.errorType, "ValueError")
      assert.strictEqual(described.message, "schema mismatch")
      assert.strictEqual(described.detail, inner.stack)
      assert.strictEqual(new NonRetryable({ cause: "as text" }).message, "as text")
      assert.strictEqual(describeError(new NonRetryable({ cause: "as text" })).errorType, "string")
    })
  })

  describe("describeFailure: defects", () => {
    it("a die is a defect; a failure, or a failure alongside a die, is not", () => {
      const died = describeFailure(Cause.die(new RangeError("index out of range")))
      assert.strictEqual(died.defect, true)
      assert.strictEqual(died.errorType, "RangeError")
      assert.strictEqual(died.message, "index out of range")

      assert.strictEqual(describeFailure(Cause.fail(new ValueError("x"))).defect, false)
      const both = describeFailure(Cause.combine(Cause.fail(new ValueError("first")), Cause.die(new Error("later"))))
      assert.strictEqual(both.defect, false)
      assert.strictEqual(both.errorType, "ValueError", "the failure is what is described")
    })
  })

  describe("describeFailure: interruption", () => {
    it("an interrupt-only cause reads as \"Interrupted\", a defect, not as Effect's squashed placeholder", () => {
      const described = describeFailure(Cause.interrupt(7))
      assert.strictEqual(described.errorType, "Interrupted")
      assert.strictEqual(described.message, "the processor was interrupted")
      assert.strictEqual(described.defect, true)
      assert.include(described.detail, "interrupted")
      // A failure alongside an interruption is described by the failure.
      const both = describeFailure(Cause.combine(Cause.fail(new ValueError("first")), Cause.interrupt(7)))
      assert.strictEqual(both.errorType, "ValueError")
    })
  })

  describe("isRetryable", () => {
    it("the pipeline's own input errors, BadRecord and NonRetryable are not retryable", () => {
      assert.isFalse(isRetryable(new MessageTooLarge({ size: 2, limit: 1 })))
      assert.isFalse(isRetryable(new InvalidUtf8({ field: "value" })))
      assert.isFalse(isRetryable(new NullValue()))
      assert.isFalse(isRetryable(new BadRecord({ message: "no such customer" })))
      assert.isFalse(isRetryable(new NonRetryable({ cause: new ValueError("x") })))
    })

    it("a timeout and DownstreamUnavailable are retryable: a slow or unreachable downstream is their usual cause", () => {
      assert.isTrue(isRetryable(new ProcessingTimeout({ timeoutMs: 1 })))
      assert.isTrue(isRetryable(new DownstreamUnavailable({ message: "connection refused" })))
    })

    it("anything marked retryable: false is not retryable; retryable: true or unmarked is", () => {
      assert.isFalse(isRetryable(Object.assign(new ValueError("x"), { retryable: false })))
      assert.isFalse(isRetryable({ retryable: false }))
      assert.isTrue(isRetryable({ retryable: true }))
      assert.isTrue(isRetryable({ retryable: "false" }), "only the boolean false opts out")
      assert.isTrue(isRetryable({ retryable: 0 }))
      assert.isTrue(isRetryable(new ValueError("x")))
      assert.isTrue(isRetryable(new OrderRejected({ message: "m", orderId: 1 })))
      assert.isTrue(isRetryable("text"))
      assert.isTrue(isRetryable(null))
      assert.isTrue(isRetryable(undefined))
    })
  })
})

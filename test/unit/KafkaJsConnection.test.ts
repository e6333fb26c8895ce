/**
 * Connecting while no broker can be reached, on the TestClock: tried again until the restart
 * budget is spent (as a crashing consumer is), said once when it starts failing and once when it
 * gives up; a broker's answer (a missing topic, say) fails at once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, References } from "effect"
import { TestClock } from "effect/testing"
import { KafkaError } from "../../src/domain/Errors.js"
import { reconnectDelayMs, whileUnreachable } from "../../src/layers/kafka/KafkaJsConnection.js"
import { captureLogs } from "../support/logs.js"

/** kafkajs's error for a refused connection, after its own retries. */
const refused = Object.assign(new Error("Connection error: connect ECONNREFUSED 127.0.0.1:1"), {
  name: "KafkaJSNumberOfRetriesExceeded",
  cause: Object.assign(new Error("Connection error: connect ECONNREFUSED 127.0.0.1:1"), { name: "KafkaJSConnectionError" })
})

/** Each attempt takes kafkajs's ~8 s of retries, then fails with `errors[i]` (or connects when there is none). */
const attempts = (errors: ReadonlyArray<unknown>) => {
  let count = 0
  const attempt = Effect.gen(function*() {
    const error = errors[count++]
    yield* Effect.sleep(8_000)
    if (error !== undefined) return yield* new KafkaError({ message: `Connecting the consumer of group g: ${String(error)}`, cause: error })
    return "client"
  })
  return { attempt, count: () => count }
}

const reach = { what: "consumer of group g", brokers: ["127.0.0.1:1", "127.0.0.1:2"], budgetMs: 30_000 }

const withLogs = <A, E>(body: (logs: ReturnType<typeof captureLogs>) => Effect.Effect<A, E>) => {
  const logs = captureLogs()
  return body(logs).pipe(Effect.provide(Layer.merge(logs.layer, Layer.succeed(References.MinimumLogLevel, "All"))))
}

describe("whileUnreachable", () => {
  it.effect("tries again until the budget is spent, then fails saying what, where, why and for how long", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const { attempt, count } = attempts(Array.from({ length: 10 }, () => refused))
        const fiber = yield* Effect.forkChild(whileUnreachable(reach)(attempt))
        // Attempts end at 8 s, 17 s, 26 s (within the budget: tried again) and 35 s (past it).
        yield* TestClock.adjust(34_999)
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust(1)
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(count(), 4)
        assert.strictEqual(
          error.message,
          "Kafka consumer of group g cannot reach the brokers 127.0.0.1:1,127.0.0.1:2: Connection error: connect " +
            `ECONNREFUSED 127.0.0.1:1; gave up after ${3 * (8_000 + reconnectDelayMs) + 8_000} ms, past the restart ` +
            "budget of 30000 ms (restartBudgetMs)"
        )
        assert.strictEqual(error.cause, refused)
        assert.deepStrictEqual(logs.lines, [
          "Warn: Kafka consumer of group g cannot reach the brokers 127.0.0.1:1,127.0.0.1:2: Connection error: " +
          "connect ECONNREFUSED 127.0.0.1:1; trying again for up to 30000 ms (restartBudgetMs)"
        ])
      })
    ))

  it.effect("a broker reached within the budget: connected, and said so", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const { attempt, count } = attempts([refused, refused])
        const fiber = yield* Effect.forkChild(whileUnreachable(reach)(attempt))
        yield* TestClock.adjust(3 * 8_000 + 2 * reconnectDelayMs)
        assert.strictEqual(yield* Fiber.join(fiber), "client")
        assert.strictEqual(count(), 3)
        assert.strictEqual(logs.lines.length, 2)
        assert.match(logs.lines[0]!, /^Warn: Kafka consumer of group g cannot reach the brokers/)
        assert.strictEqual(logs.lines[1], "Info: Kafka consumer of group g reached the brokers 127.0.0.1:1,127.0.0.1:2")
      })
    ))

  it.effect("the first attempt connects: nothing said", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(whileUnreachable(reach)(attempts([]).attempt))
        yield* TestClock.adjust(8_000)
        assert.strictEqual(yield* Fiber.join(fiber), "client")
        assert.deepStrictEqual(logs.lines, [])
      })
    ))

  it.effect("a broker's answer (not a connection failure) fails at once, as it is", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const unknownTopic = Object.assign(new Error("This server does not host this topic-partition"), {
          type: "UNKNOWN_TOPIC_OR_PARTITION"
        })
        const { attempt, count } = attempts([unknownTopic])
        const fiber = yield* Effect.forkChild(whileUnreachable(reach)(attempt))
        yield* TestClock.adjust(8_000)
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(error.message, "Connecting the consumer of group g: Error: This server does not host this topic-partition")
        assert.strictEqual(count(), 1)
        assert.deepStrictEqual(logs.lines, [])
      })
    ))
})

/**
 * When the processor's downstream is down: the circuit breaker (it opens,
 * holds failed records instead of dead-lettering them, probes, backs off and
 * closes), the rate limit and the DLQ budget, through the whole pipeline over
 * the in-memory Kafka and virtual time. The downstream is "down" during a
 * window of virtual time, so every instant is exact.
 */
import { assert, describe } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Exit, Layer, Scope, Stream, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import type { BreakerState } from "../../src/domain/CircuitBreaker.js"
import { DlqBudgetExceeded } from "../../src/domain/Errors.js"
import { BadRecord, DownstreamUnavailable } from "../../src/domain/Failure.js"
import type { PipelineConfigInput } from "../../src/domain/PipelineConfig.js"
import type { Processor } from "../../src/domain/Processor.js"
import { PipelineSettings } from "../../src/layers/config/PipelineSettings.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import { RunState } from "../../src/layers/RunState.js"
import * as Pipeline from "../../src/streams/Pipeline.js"
import { advanceUntil, archiveRows, committedAt, GROUP, produce, settings, test, TOPIC } from "../support/memoryPipeline.js"

interface Call {
  readonly partition: number
  readonly offset: number
  readonly at: number
}

/** A downstream that is down during [from, until) of virtual time, and the calls made to it. */
const downstream = (options: { readonly from: number; readonly until: number; readonly takesMs?: number }) => {
  const calls: Array<Call> = []
  const processor: Processor = (input) =>
    Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      calls.push({ partition: input.partition, offset: input.offset, at })
      if (at >= options.from && at < options.until) {
        return yield* Effect.fail(new DownstreamUnavailable({ message: "connection refused" }))
      }
      if (options.takesMs !== undefined) yield* Effect.sleep(options.takesMs)
    })
  return { calls, processor }
}

interface Change {
  readonly state: BreakerState
  readonly at: number
}

/** Runs the pipeline as a layer in a scope of its own; records every change of the breaker's state. */
const start = (processor: Processor, overrides: Partial<PipelineConfigInput>) =>
  Effect.gen(function*() {
    const config = yield* settings({ breakerThreshold: 5, breakerOpenMs: 1_000, breakerMaxOpenMs: 4_000, ...overrides })
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(Pipeline.layer(processor).pipe(Layer.provide(PipelineSettings.layer(config))), scope)
    const runState = Context.get(context, RunState)
    const changes: Array<Change> = []
    yield* SubscriptionRef.changes(runState.breaker).pipe(
      Stream.runForEach((state) => Effect.sync(() => changes.push({ state, at: state.since }))),
      Effect.forkScoped
    )
    return { runState, scope, changes }
  })

const producePartitions = (partitions: number, perPartition: number) =>
  // The highest first: the in-memory broker makes a topic with as many partitions as its first record asks.
  Effect.forEach(Array.from({ length: partitions }, (_, p) => partitions - 1 - p), (partition) =>
    produce(partition, Array.from({ length: perPartition }, (_, i) => `p${partition}-${i}`)))

const allCommitted = (partitions: number, perPartition: number) =>
  Effect.map(
    Effect.forEach(Array.from({ length: partitions }, (_, p) => p), (p) => committedAt(p, perPartition)),
    (done) => done.every(Boolean)
  )

/** The [from, to) intervals of virtual time the breaker spent in `tag` (to: Infinity while it still is). */
const intervals = (changes: ReadonlyArray<Change>, tag: BreakerState["_tag"]) =>
  changes.flatMap((change, i) =>
    change.state._tag === tag ? [{ from: change.at, to: changes[i + 1]?.at ?? Infinity }] : []
  )

const tags = (changes: ReadonlyArray<Change>) => changes.map((change) => change.state._tag)

describe("circuit breaker", () => {
  test("an outage: it opens, holds the failed records instead of dead-lettering them, probes with backoff, closes, and every record is processed; one join", (logs) =>
    Effect.gen(function*() {
      yield* producePartitions(2, 100)
      // 8 workers × 100 ms a record: 80 records/s; the downstream is down from 1 s to 6 s.
      const { calls, processor } = downstream({ from: 1_000, until: 6_000, takesMs: 100 })
      const { changes, runState, scope } = yield* start(processor, { concurrency: 8, maxRetries: 3 })
      yield* advanceUntil(allCommitted(2, 100))

      assert.deepStrictEqual(yield* archiveRows("/dlq"), [], "no healthy record in the DLQ")
      const processed = new Set(calls.filter((c) => c.at < 1_000 || c.at >= 6_000).map((c) => `${c.partition}:${c.offset}`))
      assert.strictEqual(processed.size, 200, "every record processed once the downstream was back")
      // Open at the first retries after 1 s (the calls at 1 s alternate with the successes of the
      // records before them); the probes 1 s and 3 s later fail, the open time doubling (1 s, 2 s,
      // 4 s: the cap); the probe 7 s later succeeds 100 ms after.
      assert.deepStrictEqual(tags(changes), ["Closed", "Open", "HalfOpen", "Open", "HalfOpen", "Open", "HalfOpen", "Closed"])
      const opened = changes[1]!.at
      assert.isTrue(opened > 1_000 && opened < 1_100, `opened at ${opened} ms`)
      assert.deepStrictEqual(changes.slice(1).map((c) => Math.round(c.at - opened)), [0, 1_000, 1_000, 3_000, 3_000, 7_000, 7_100])
      assert.deepStrictEqual(changes.flatMap((c) => c.state._tag === "Open" ? [c.state.openMs] : []), [1_000, 2_000, 4_000])
      for (const open of intervals(changes, "Open")) {
        assert.deepStrictEqual(calls.filter((c) => c.at > open.from && c.at < open.to), [], "no call starts while it is open")
      }
      changes.forEach((change, i) => {
        if (change.state._tag !== "HalfOpen") return
        const next = changes[i + 1]!
        // A failed probe reopens the breaker at the instant it started.
        const during = calls.filter((c) => c.at >= change.at && (c.at < next.at || (c.at === next.at && next.state._tag === "Open")))
        assert.strictEqual(during.length, 1, `one probe while half-open from ${change.at} ms`)
      })
      assert.strictEqual(logs.lines.filter((line) => line.includes("partitions assigned")).length, 1, "no rebalance")
      assert.strictEqual(logs.lines.filter((line) => line.includes("circuit breaker opened")).length, 3)
      assert.strictEqual(logs.lines.filter((line) => line.includes("circuit breaker half-open")).length, 3)
      assert.strictEqual(logs.lines.filter((line) => line.includes("circuit breaker closed")).length, 1)
      const snapshot = yield* runState.snapshot
      assert.deepStrictEqual(snapshot.breakerTransitions, { Closed: 1, Open: 3, HalfOpen: 3 })
      assert.strictEqual(Math.round(snapshot.breakerOpenMs), 7_100)
      assert.strictEqual(snapshot.deadLettered, 0)
      yield* Scope.close(scope, Exit.void)
    }))

  test("one record at a time (concurrency 1): a record out of retries while nothing succeeded waits for the breaker, whatever the threshold", () =>
    Effect.gen(function*() {
      yield* produce(0, ["a", "b", "c"])
      const { calls, processor } = downstream({ from: 0, until: 3_000 })
      const { changes, scope } = yield* start(processor, { concurrency: 1, maxRetries: 2, breakerThreshold: 1_000 })
      yield* advanceUntil(committedAt(0, 3))
      assert.deepStrictEqual(yield* archiveRows("/dlq"), [])
      assert.strictEqual(changes[1]!.state._tag, "Open", "opened by the record that ran out of retries")
      assert.deepStrictEqual(calls.filter((c) => c.at >= 3_000).map((c) => c.offset), [0, 1, 2])
      yield* Scope.close(scope, Exit.void)
    }))

  test("a call that started before a record first failed and succeeds after says nothing about the downstream: the record waits, it is not dead-lettered", () =>
    Effect.gen(function*() {
      // "slow" starts at 0 and succeeds at 20 ms; "x" starts at 10 ms, when the downstream is
      // already down, and runs out of its two retries at about 40 ms.
      yield* produce(0, ["fast", "slow", "x"])
      const calls: Array<string> = []
      let first: number | undefined
      const processor: Processor = (input) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const at = now - (first ??= now)
          calls.push(`${input.text}@${at}`)
          if (at >= 5 && at < 1_000) return yield* Effect.fail(new Error("connection refused"))
          yield* Effect.sleep(input.text === "slow" ? 20 : 10)
        })
      const { changes, scope } = yield* start(processor, { concurrency: 2, maxRetries: 2, breakerThreshold: 1_000 })
      yield* advanceUntil(committedAt(0, 3))
      assert.deepStrictEqual(yield* archiveRows("/dlq"), [])
      assert.strictEqual(changes[1]!.state._tag, "Open", "x ran out of retries with no call started after it succeeding")
      assert.deepStrictEqual(calls.slice(0, 2), ["fast@0", "slow@0"])
      assert.isTrue(calls.includes("x@10"))
      yield* Scope.close(scope, Exit.void)
    }))

  test("bad records go to the DLQ at once and are not counted; a record that fails alone while others succeed goes to the DLQ after its retries", () =>
    Effect.gen(function*() {
      yield* produce(0, Array.from({ length: 60 }, (_, i) => i % 6 === 0 ? "bad" : i === 31 ? "poison" : `ok${i}`))
      const processor: Processor = (input) => {
        if (input.text === "bad") return Effect.fail(new BadRecord({ message: "no such customer" }))
        if (input.text === "poison") return Effect.fail(new Error("cannot parse the amount"))
        return Effect.void
      }
      const { changes, runState, scope } = yield* start(processor, { concurrency: 4, maxRetries: 2, breakerThreshold: 3 })
      yield* advanceUntil(committedAt(0, 60))
      const dlq = yield* archiveRows("/dlq")
      assert.deepStrictEqual(dlq.filter((row) => row.error_type === "BadRecord").map((row) => row.attempts), Array(10).fill("1"))
      assert.deepStrictEqual(dlq.filter((row) => row.error_type === "Error").map((row) => [row.offset, row.attempts]), [["31", "3"]])
      assert.deepStrictEqual(tags(changes), ["Closed"], "the breaker stayed closed")
      assert.strictEqual((yield* runState.snapshot).processed, 49)
      yield* Scope.close(scope, Exit.void)
    }))

  test("a probe that turns out a bad record goes to the DLQ and frees the probe: the next held record probes and closes the breaker", () =>
    Effect.gen(function*() {
      yield* produce(0, ["x", "y"])
      const attempts = new Map<string, number>()
      let first: number | undefined
      const processor: Processor = (input) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const at = now - (first ??= now)
          const attempt = (attempts.get(input.text!) ?? 0) + 1
          attempts.set(input.text!, attempt)
          // x fails like the downstream at first (alone: it opens the breaker before y starts), then
          // is found bad when it probes; y waits, and probes next.
          if (input.text === "x") {
            if (attempt === 1) return yield* Effect.fail(new Error("refused"))
            yield* Effect.sleep(10)
            return yield* Effect.fail(new BadRecord({ message: "bad" }))
          }
          if (at < 500) return yield* Effect.fail(new Error("refused"))
        })
      const { changes, scope } = yield* start(processor, { concurrency: 2, maxRetries: 0, breakerThreshold: 2 })
      yield* advanceUntil(committedAt(0, 2))
      assert.deepStrictEqual(tags(changes), ["Closed", "Open", "HalfOpen", "Closed"])
      assert.deepStrictEqual((yield* archiveRows("/dlq")).map((row) => [row.value, row.error_type, row.attempts]), [["x", "BadRecord", "2"]])
      assert.deepStrictEqual([...attempts], [["x", 2], ["y", 1]])
      yield* Scope.close(scope, Exit.void)
    }))

  test("a stop while it is open: held records are abandoned at once (not committed, not dead-lettered), what was handled is committed", () =>
    Effect.gen(function*() {
      yield* producePartitions(1, 50)
      const { calls, processor } = downstream({ from: 500, until: Infinity, takesMs: 100 })
      const { runState, scope } = yield* start(processor, { concurrency: 4 })
      yield* advanceUntil(Effect.map(SubscriptionRef.get(runState.breaker), (state) => state._tag === "Open"))
      const handled = (yield* runState.snapshot).processed
      // Virtual time stands still: the stop cannot wait for the breaker (it would never return).
      yield* Scope.close(scope, Exit.void)
      const summary = yield* Deferred.await(runState.done)
      assert.strictEqual(summary.reason, "interrupted")
      assert.strictEqual(summary.deadLettered, 0)
      assert.deepStrictEqual(yield* archiveRows("/dlq"), [])
      assert.strictEqual(summary.processed, handled)
      const committed = (yield* (yield* MemoryKafka).committed(GROUP)).get(`${TOPIC}:0`) ?? 0
      assert.strictEqual(committed, handled, "committed up to the first record not processed")
      assert.isAbove((yield* runState.snapshot).abandoned, 0)
      assert.isTrue(calls.filter((c) => c.at >= 500).every((c) => c.offset >= handled), "no record below the commit failed")
    }))

  test("a rebalance while it is open: the held records of a lost partition are abandoned, the kept partition's wait and are processed", () =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* producePartitions(2, 20)
      const { calls, processor } = downstream({ from: 200, until: 5_000, takesMs: 100 })
      const { runState, scope } = yield* start(processor, { concurrency: 4 })
      yield* advanceUntil(Effect.map(SubscriptionRef.get(runState.breaker), (state) => state._tag === "Open"))
      const rebalancedAt = yield* Clock.currentTimeMillis
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 1 }])
      yield* advanceUntil(committedAt(1, 20))
      assert.deepStrictEqual(calls.filter((c) => c.partition === 0 && c.at > rebalancedAt), [], "partition 0 is not ours any more")
      assert.isAbove((yield* runState.snapshot).abandoned, 0)
      assert.deepStrictEqual(yield* archiveRows("/dlq"), [])
      yield* Scope.close(scope, Exit.void)
    }))
})

describe("rate limit", () => {
  test("maxRecordsPerSecond 20 with a burst of 5: 5 calls at once, then one every 50 ms; throttled time is measured", () =>
    Effect.gen(function*() {
      yield* producePartitions(1, 100)
      const { calls, processor } = downstream({ from: 0, until: 0 })
      const { runState, scope } = yield* start(processor, { maxRecordsPerSecond: 20, rateLimitBurst: 5, concurrency: 16 })
      yield* advanceUntil(Effect.sync(() => calls.length > 0), 1)
      const first = calls[0]!.at
      const at = (ms: number) => Effect.flatMap(Clock.currentTimeMillis, (now) => TestClock.adjust(first + ms - now))
      assert.strictEqual(calls.length, 5, "the burst")
      yield* at(1_000)
      assert.strictEqual(calls.length, 25, "then 20 a second")
      yield* at(4_749)
      assert.strictEqual(calls.length, 99)
      yield* at(4_750)
      assert.strictEqual(calls.length, 100, "the 100th at 95 × 50 ms")
      for (let i = 5; i < 100; i++) assert.strictEqual(calls[i]!.at - first, (i - 4) * 50)
      assert.isAbove((yield* runState.snapshot).throttledMs, 0)
      yield* Scope.close(scope, Exit.void)
    }))
  test("with the breaker off: a record out of retries goes to the DLQ as always; a stop while calls wait for tokens abandons them at once", () =>
    Effect.gen(function*() {
      yield* produce(0, ["fail", ...Array.from({ length: 9 }, (_, i) => `ok${i}`)])
      const processor: Processor = (input) => input.text === "fail" ? Effect.fail(new Error("refused")) : Effect.void
      const { runState, scope } = yield* start(processor, {
        circuitBreaker: false,
        maxRetries: 1,
        maxRecordsPerSecond: 1,
        rateLimitBurst: 1,
        concurrency: 4
      })
      yield* advanceUntil(Effect.map(archiveRows("/dlq"), (rows) => rows.length === 1))
      const before = yield* runState.snapshot
      assert.isBelow(before.processed, 9, "calls still wait for tokens")
      yield* Scope.close(scope, Exit.void)
      const summary = yield* Deferred.await(runState.done)
      assert.strictEqual(summary.processed, before.processed)
      assert.isAbove((yield* runState.snapshot).abandoned, 0)
      assert.deepStrictEqual((yield* archiveRows("/dlq")).map((row) => [row.value, row.attempts]), [["fail", "2"]])
    }))
})

describe("DLQ budget", () => {
  test("dlqMaxConsecutive 5: the 6th record in a row dead-lettered stops the run with DlqBudgetExceeded; what was handled is committed", () =>
    Effect.gen(function*() {
      yield* produce(0, Array.from({ length: 50 }, () => "bad"))
      const processor: Processor = () => Effect.fail(new BadRecord({ message: "no such customer" }))
      const { runState } = yield* start(processor, { concurrency: 1, dlqMaxConsecutive: 5 })
      const error = yield* Effect.flip(Deferred.await(runState.done))
      assert.instanceOf(error, DlqBudgetExceeded)
      assert.include(error.message, "6 records in a row were dead-lettered, more than dlqMaxConsecutive (5)")
      assert.strictEqual((yield* archiveRows("/dlq")).length, 6)
      assert.strictEqual((yield* (yield* MemoryKafka).committed(GROUP)).get(`${TOPIC}:0`), 6)
    }))

  test("dlqMaxRatio 0.5 over 10 records: judged once 10 were handled, spent when 6 of the last 10 went to the DLQ", () =>
    Effect.gen(function*() {
      // good, bad, good, bad, … then bad from offset 12: the 10 before offset 13 hold 6 bad ones.
      yield* produce(0, Array.from({ length: 40 }, (_, i) => i >= 12 || i % 2 === 1 ? "bad" : "good"))
      const processor: Processor = (input) => input.text === "bad" ? Effect.fail(new BadRecord({ message: "bad" })) : Effect.void
      const { runState } = yield* start(processor, { concurrency: 1, dlqMaxRatio: 0.5, dlqRatioWindow: 10 })
      const error = yield* Effect.flip(Deferred.await(runState.done))
      assert.include(error.message, "6 of the last 10 handled records were dead-lettered, more than dlqMaxRatio (0.5) allows")
      assert.strictEqual((yield* (yield* MemoryKafka).committed(GROUP)).get(`${TOPIC}:0`), 13)
    }))
})

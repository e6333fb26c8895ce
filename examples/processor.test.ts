/**
 * Testing your own processor without a broker: the in-memory Kafka (`MemoryKafka.layer`)
 * instead of `KafkaJs.layer`, and virtual time (`TestClock`, which `it.effect` provides)
 * for the retries' backoff, the archive flushes and the commit interval.
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref } from "effect"
import { TestClock } from "effect/testing"
import { parse } from "csv-parse/sync"
import { BadRecord, DownstreamUnavailable, makePipelineConfig, MemoryKafka, Pipeline, PipelineSettings } from "effect-kafka-pipeline"
import type { ProcessorInput } from "effect-kafka-pipeline"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** The processor under test: it adds each order's amount to a total kept by a downstream. */
const addOrder = (downstream: Downstream) => (record: ProcessorInput) =>
  Effect.gen(function*() {
    const order = yield* Effect.try({
      try: () => JSON.parse(record.text ?? "") as { readonly amount: number },
      catch: () => new BadRecord({ message: "the order is not JSON" })
    })
    yield* downstream.add(order.amount)
  })

/** A stand-in for the database: it refuses the first `failures` calls, then adds up. */
const makeDownstream = (failures: number) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make(0)
    const total = yield* Ref.make(0)
    const add = (amount: number) =>
      Effect.gen(function*() {
        if ((yield* Ref.getAndUpdate(calls, (n) => n + 1)) < failures) {
          return yield* new DownstreamUnavailable({ message: "the database did not answer" })
        }
        yield* Ref.update(total, (sum) => sum + amount)
      })
    return { add, total: Ref.get(total), calls: Ref.get(calls) }
  })
type Downstream = Effect.Success<ReturnType<typeof makeDownstream>>

/** Runs the pipeline over the in-memory Kafka until it has handled `orders:0` up to `lastOffset`. */
const runUntil = (lastOffset: number, downstream: Downstream) =>
  Effect.gen(function*() {
    const dlqDir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "orders-dlq-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const config = yield* makePipelineConfig({
      brokers: ["memory:9092"],
      topics: ["orders"],
      groupId: "orders-test",
      dlqDir,
      stopAtOffsets: [{ topic: "orders", partition: 0, offset: lastOffset }]
    })
    const run = yield* Pipeline.run(addOrder(downstream)).pipe(
      Effect.provide(PipelineSettings.layer(config)),
      Effect.forkChild
    )
    // Nothing waits for real time: move the clock on until the run has stopped.
    while (run.pollUnsafe() === undefined) yield* TestClock.adjust(100)
    const summary = yield* Fiber.join(run)
    // The DLQ's CSV files, one per hour, each with its header row.
    const dlqRows = fs.readdirSync(dlqDir).flatMap((file): Array<Record<string, string>> =>
      parse(fs.readFileSync(path.join(dlqDir, file)), { columns: true })
    )
    return { summary, dlqRows }
  })

const produceOrders = (values: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const kafka = yield* MemoryKafka
    yield* kafka.produce("orders", 0, values.map((value, i) => ({ key: `order-${i}`, value })))
  })

/** Each test gets a fresh in-memory Kafka; the archives go to a temporary directory. */
const testLayer = Layer.mergeAll(MemoryKafka.layer, NodeFileSystem.layer, NodePath.layer)

describe("addOrder", () => {
  it.effect("adds up the orders, sends one that is not JSON to the DLQ, and commits past all of them", () =>
    Effect.gen(function*() {
      const downstream = yield* makeDownstream(0)
      yield* produceOrders([`{"amount":10}`, `not json`, `{"amount":32}`])
      const { dlqRows, summary } = yield* runUntil(2, downstream)
      assert.strictEqual(yield* downstream.total, 42)
      assert.strictEqual(summary.processed, 2)
      assert.strictEqual(summary.deadLettered, 1)
      assert.deepStrictEqual(dlqRows.map((row) => [row["offset"], row["error_type"]]), [["1", "BadRecord"]])
      assert.deepStrictEqual(summary.committed, [{ topic: "orders", partition: 0, offset: 3 }])
      const committed = yield* (yield* MemoryKafka).committed("orders-test")
      assert.strictEqual(committed.get("orders:0"), 3)
    }).pipe(Effect.provide(testLayer)))

  it.effect("retries an order while the downstream is down, and dead-letters nothing", () =>
    Effect.gen(function*() {
      const downstream = yield* makeDownstream(2)
      yield* produceOrders([`{"amount":5}`])
      const { dlqRows, summary } = yield* runUntil(0, downstream)
      assert.strictEqual(yield* downstream.calls, 3, "two failures, then the call that succeeded")
      assert.strictEqual(summary.retries, 2)
      assert.strictEqual(yield* downstream.total, 5)
      assert.strictEqual(summary.deadLettered, 0)
      assert.deepStrictEqual(dlqRows, [])
    }).pipe(Effect.provide(testLayer)))
})

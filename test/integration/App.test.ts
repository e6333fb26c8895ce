/**
 * The pipeline as a layer of an application (examples/app.ts, shown in the
 * README): an HTTP API and the pipeline in one program, over the in-memory
 * Kafka and virtual time. It starts with the app, serves what the processor
 * wrote, stops gracefully with the app's scope, and `Pipeline.join` fails
 * with a fatal error.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import * as fs from "node:fs"
import { createServer } from "node:http"
import { AppLive } from "../../examples/app.js"
import { KafkaError } from "../../src/domain/Errors.js"
import { PipelineSettings } from "../../src/layers/config/PipelineSettings.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import { RunState } from "../../src/layers/RunState.js"
import * as Pipeline from "../../src/streams/Pipeline.js"
import { advanceUntil, committedAt, GROUP, settings, test, TOPIC } from "../support/memoryPipeline.js"

/** Builds the app in a scope of its own, with an HTTP server on a free port. */
const startApp = Effect.gen(function*() {
  const config = yield* settings({ backupDir: undefined })
  const scope = yield* Scope.make()
  const context = yield* Layer.buildWithScope(
    AppLive.pipe(
      // The server alone: `NodeHttpServer.layer` would also bring the real file system.
      Layer.provideMerge(NodeHttpServer.layerServer(() => createServer(), { port: 0 })),
      Layer.provide(PipelineSettings.layer(config))
    ),
    scope
  )
  const { port } = Context.get(context, HttpServer.HttpServer).address as { readonly port: number }
  return { scope, runState: Context.get(context, RunState), port }
})

const getJson = (port: number, path: string) =>
  Effect.tryPromise(async () => (await fetch(`http://127.0.0.1:${port}${path}`)).json())

const orders = (amounts: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const kafka = yield* MemoryKafka
    yield* kafka.produce(TOPIC, 0, amounts.map((amount, i) => ({ key: `order-${i}`, value: JSON.stringify({ amount }) })))
  })

describe("the pipeline as a layer of an app (examples/app.ts)", () => {
  test("it starts with the app, the API serves what the processor wrote, and it stops gracefully with the app's scope", () =>
    Effect.gen(function*() {
      yield* orders([10, 20, 12])
      const { port, runState, scope } = yield* startApp
      yield* advanceUntil(committedAt(0, 3))
      assert.deepStrictEqual(yield* getJson(port, "/total"), { total: 42 })
      assert.deepStrictEqual(yield* getJson(port, "/pipeline"), { phase: "Running", consumed: 3, processed: 3, deadLettered: 0 })

      // A record handled since the last commit tick is committed when the app stops, before the
      // member leaves: virtual time stands still, so only the final commit can commit it.
      yield* orders([8])
      for (let turn = 0; (yield* runState.snapshot).processed < 4; turn++) {
        assert.isBelow(turn, 1_000, "the fourth order is processed")
        yield* Effect.yieldNow
      }
      assert.strictEqual((yield* (yield* MemoryKafka).committed(GROUP)).get(`${TOPIC}:0`), 3)
      yield* Scope.close(scope, Exit.void)
      const summary = yield* Pipeline.join.pipe(Effect.provideService(RunState, runState))
      assert.strictEqual(summary.reason, "interrupted")
      assert.strictEqual(summary.processed, 4)
      assert.deepStrictEqual(summary.committed, [{ topic: TOPIC, partition: 0, offset: 4 }])
      assert.strictEqual((yield* (yield* MemoryKafka).committed(GROUP)).get(`${TOPIC}:0`), 4)
    }))

  test("a fatal error stops the run and Pipeline.join fails with it, so a main effect that joins it fails", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* orders([1])
      const { runState, scope } = yield* startApp
      yield* advanceUntil(committedAt(0, 1))
      // The broker goes away for good: crashes outlast the restart budget.
      yield* kafka.crash("broker gone")
      const joined = yield* Pipeline.join.pipe(Effect.provideService(RunState, runState), Effect.forkChild)
      yield* advanceUntil(Effect.map(Fiber.await(joined).pipe(Effect.timeoutOption(0)), (exit) => exit._tag === "Some"), 1_000)
      const exit = yield* Fiber.await(joined)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.isTrue(error?._tag === "Fail" && error.error instanceof KafkaError)
      assert.isTrue(logs.has("Error", "fatal: Kafka consumer of group group kept crashing"))
      assert.strictEqual((yield* runState.snapshot).phase._tag, "Stopped")
      yield* Scope.close(scope, Exit.void)
    }))

  test("the README shows examples/app.ts as it is (the type check compiles it)", () =>
    Effect.sync(() => {
      const read = (path: string) => fs.readFileSync(new URL(`../../${path}`, import.meta.url), "utf8")
      assert.include(read("README.md"), "```ts\n" + read("examples/app.ts") + "```\n")
    }))
})

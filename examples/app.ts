import { NodeFileSystem, NodeHttpServer, NodePath, NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer, Ref } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { KafkaJs, makePipelineConfig, Pipeline, PipelineSettings, RunState } from "effect-kafka-pipeline"
import type { ProcessorInput } from "effect-kafka-pipeline"
import { createServer } from "node:http"

/** The sum of the orders seen so far: the processor adds to it, the API reads it. */
export class Totals extends Context.Service<Totals, Ref.Ref<number>>()("example/Totals") {
  static readonly layer = Layer.effect(Totals, Ref.make(0))
}

/** The pipeline as a service of the app: it adds each order's amount to the totals. */
const PipelineLive = Layer.unwrap(Effect.gen(function*() {
  const totals = yield* Totals
  const addOrder = (record: ProcessorInput) =>
    Effect.gen(function*() {
      const order = yield* Effect.try(() => JSON.parse(record.text ?? "") as { readonly amount: number })
      yield* Ref.update(totals, (total) => total + order.amount)
    })
  return Pipeline.layer(addOrder)
}))

/** GET /total: the orders' sum; GET /pipeline: where the run is and what it has done. */
const ApiLive = HttpRouter.serve(Layer.mergeAll(
  HttpRouter.add("GET", "/total", Effect.gen(function*() {
    return HttpServerResponse.jsonUnsafe({ total: yield* Ref.get(yield* Totals) })
  })),
  HttpRouter.add("GET", "/pipeline", Effect.gen(function*() {
    const run = yield* (yield* RunState).snapshot
    return HttpServerResponse.jsonUnsafe({
      phase: run.phase._tag,
      consumed: run.consumed,
      processed: run.processed,
      deadLettered: run.deadLettered
    })
  }))
))

/** The API and the pipeline, sharing the totals; they need an HTTP server, the settings, Kafka and files. */
export const AppLive = ApiLive.pipe(
  Layer.provideMerge(PipelineLive),
  Layer.provide(Totals.layer)
)

if (import.meta.main) {
  const config = await Effect.runPromise(makePipelineConfig({
    brokers: ["localhost:9092"],
    topics: ["orders"],
    groupId: "orders-totals",
    dlqDir: "./dlq"
  }))
  // Runs until SIGTERM/SIGINT (the server closes and the pipeline stops gracefully) or until a
  // fatal pipeline error, which `Pipeline.join` fails with: the program fails with it.
  const main = Pipeline.join.pipe(
    Effect.provide(AppLive),
    Effect.provide(Layer.mergeAll(
      NodeHttpServer.layer(() => createServer(), { port: 8080 }),
      PipelineSettings.layer(config),
      KafkaJs.layer({ brokers: config.brokers, clientId: config.clientId }),
      NodeFileSystem.layer,
      NodePath.layer
    ))
  )
  NodeRuntime.runMain(main)
}

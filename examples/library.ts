import { NodeFileSystem, NodePath, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { KafkaJs, makePipelineConfig, Pipeline, PipelineSettings } from "effect-kafka-pipeline"
import type { ProcessorInput } from "effect-kafka-pipeline"

// A processor written as an Effect: a failure is retried, then dead-lettered.
const saveOrder = (record: ProcessorInput) =>
  Effect.gen(function*() {
    const order = yield* Effect.try(() => JSON.parse(record.text ?? ""))
    yield* Effect.logInfo(`order ${order.id}`) // annotated with topic/partition/offset
  })

const program = Effect.gen(function*() {
  const config = yield* makePipelineConfig({
    brokers: ["localhost:9092"],
    topics: ["orders"],
    groupId: "orders-archiver",
    backupDir: "./backup",
    dlqDir: "./dlq",
    concurrency: 32
  })
  // Runs until interrupted (or until stop-at offsets, when configured); either way the
  // summary reaches onStopped after the final commit.
  yield* Pipeline.run(saveOrder, {
    onStopped: (summary) =>
      Effect.logInfo(`${summary.reason}: ${summary.processed} processed, ${summary.deadLettered} dead-lettered`)
  }).pipe(
    Effect.provide(Layer.mergeAll(
      PipelineSettings.layer(config),
      KafkaJs.layer({ brokers: config.brokers, clientId: config.clientId })
    ))
  )
})

// runMain interrupts on SIGTERM/SIGINT; the pipeline then stops gracefully.
NodeRuntime.runMain(program.pipe(Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))))

import { NodeFileSystem, NodePath, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { KafkaJs, Replay } from "effect-kafka-pipeline"

// The records that timed out while the billing API was down (10:00–10:20 UTC), back to
// their own topics and partitions. Nothing is sent if a row of the files is malformed.
export const replayOutage = Replay.run({
  paths: ["/var/lib/orders-pipeline/dlq"],
  filter: {
    errorTypes: ["ProcessingTimeout"],
    timeColumn: "failed_at",
    fromTime: Date.parse("2026-11-22T10:00:00Z"),
    toTime: Date.parse("2026-11-22T10:20:00Z")
  },
  // However it ends: `resumeFrom` says where to go on when it stopped part-way.
  onStopped: (summary) =>
    Effect.logInfo(`replay ${summary.reason}: ${summary.sent} of ${summary.selected} sent`).pipe(
      Effect.annotateLogs({ resumeFrom: summary.resumeFrom })
    )
})

if (import.meta.main) {
  NodeRuntime.runMain(replayOutage.pipe(
    Effect.provide(Layer.mergeAll(
      KafkaJs.layer({ brokers: ["localhost:9092"], clientId: "orders-replay" }),
      NodeFileSystem.layer,
      NodePath.layer
    ))
  ))
}

/**
 * The main job, end to end, in one command (`npm start`): a broker (the one in
 * KAFKA_BROKERS, or a local one this script starts), a topic with sample
 * orders (some invalid), the pipeline with the built-in JSON processor until
 * the end offsets, and a report of what happened.
 */
import { NodeFileSystem, NodePath, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { parse } from "csv-parse/sync"
import { makePipelineConfig } from "../src/domain/PipelineConfig.js"
import * as KafkaJs from "../src/layers/kafka/KafkaJs.js"
import { KafkaClient } from "../src/layers/kafka/KafkaClient.js"
import * as Logging from "../src/layers/Logging.js"
import { Observability, terminalProgress } from "../src/layers/Observability.js"
import { PipelineSettings } from "../src/layers/config/PipelineSettings.js"
import { jsonValidate } from "../src/processors/builtin.js"
import * as Pipeline from "../src/streams/Pipeline.js"
import { startBroker } from "../test/support/broker.js"

const RECORDS = Number(process.env.DEMO_RECORDS ?? 3000)
const PARTITIONS = 3

const sampleValue = (i: number): string | null => {
  if (i % 500 === 7) return null
  if (i % 20 === 3) return `{"order": ${i}, "broken": ` // invalid JSON
  return JSON.stringify({ order: i, customer: `customer-${i % 97}`, note: i % 50 === 0 ? "fragile, \"handle\" with care\nthanks" : "ok" })
}

const main = Effect.gen(function*() {
  const broker = yield* Effect.acquireRelease(
    Effect.promise(() => startBroker()),
    (broker) => Effect.promise(() => broker.stop().catch(() => undefined))
  )
  const runId = `${process.pid}-${Math.floor(performance.timeOrigin)}`
  const topic = `demo-orders-${runId}`
  const outDir = path.resolve("demo-output", runId)
  const backupDir = path.join(outDir, "backup")
  const dlqDir = path.join(outDir, "dlq")
  fs.mkdirSync(backupDir, { recursive: true })
  fs.mkdirSync(dlqDir, { recursive: true })
  yield* Console.log(`broker ${broker.brokers}; topic ${topic} (${PARTITIONS} partitions); output ${outDir}`)

  const kafkaLayer = KafkaJs.layer({ brokers: broker.brokers.split(","), clientId: "effect-kafka-pipeline-demo" })
  const endOffsets = yield* Effect.gen(function*() {
    const kafka = yield* KafkaClient
    yield* kafka.createTopic(topic, PARTITIONS)
    const producer = yield* kafka.producer
    for (let start = 0; start < RECORDS; start += 500) {
      const batch = []
      for (let i = start; i < Math.min(start + 500, RECORDS); i++) {
        batch.push({ topic, partition: i % PARTITIONS, key: `order-${i}`, value: sampleValue(i) })
      }
      yield* producer.send(batch)
    }
    return yield* kafka.topicOffsets(topic)
  }).pipe(Effect.scoped, Effect.provide(kafkaLayer))
  yield* Console.log(`produced ${RECORDS} records`)

  const config = yield* makePipelineConfig({
    brokers: broker.brokers.split(","),
    topics: [topic],
    groupId: `demo-group-${runId}`,
    backupDir,
    dlqDir,
    concurrency: 16,
    commitIntervalMs: 1000,
    stopAtOffsets: endOffsets.filter((p) => p.high > 0).map((p) => ({ topic, partition: p.partition, offset: p.high - 1 }))
  })
  // On a terminal: one live line (records/s, handled, DLQ, lag) while it runs, the last one kept.
  const summary = yield* Pipeline.run(jsonValidate).pipe(
    Effect.provide(Observability.layer(config, { progress: terminalProgress(process.stderr) })),
    Effect.provide(Layer.mergeAll(PipelineSettings.layer(config), kafkaLayer, NodeFileSystem.layer, NodePath.layer))
  )

  const rows = (files: ReadonlyArray<string>) =>
    files.reduce((n, file) => n + (parse(fs.readFileSync(file), { columns: true }) as Array<unknown>).length, 0)
  const dlqRows = summary.dlqFiles.flatMap((file) =>
    parse(fs.readFileSync(file), { columns: true }) as Array<{ error_type: string }>
  )
  const byType = new Map<string, number>()
  for (const row of dlqRows) byType.set(row.error_type, (byType.get(row.error_type) ?? 0) + 1)

  yield* Console.log([
    "",
    `consumed     ${summary.consumed}`,
    `processed    ${summary.processed}`,
    `dead-letter  ${summary.deadLettered} (${Array.from(byType, ([type, n]) => `${type}: ${n}`).join(", ")})`,
    `committed    ${summary.committed.map((o) => `${o.topic}:${o.partition}=${o.offset}`).join("  ")}`,
    `backup rows  ${rows(summary.backupFiles)} in ${summary.backupFiles.map((f) => path.relative(".", f)).join(", ")}`,
    `dlq rows     ${dlqRows.length} in ${summary.dlqFiles.map((f) => path.relative(".", f)).join(", ")}`
  ].join("\n"))
}).pipe(
  Effect.scoped,
  Effect.provide(Logging.layer({ level: "Error", format: "auto", isTTY: process.stderr.isTTY === true }))
)

NodeRuntime.runMain(main)

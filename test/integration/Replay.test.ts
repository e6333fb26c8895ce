/**
 * Replaying archived records over the in-memory Kafka and file system: a
 * pipeline run dead-letters records, `Replay.run` sends them back byte-exact;
 * filters, another topic, gzip files, backup archives, the dry run, and what
 * replaying the same files twice does.
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { readFileSync } from "node:fs"
import { replayOutage } from "../../examples/replay.js"
import { jsonValidate } from "../../src/processors/builtin.js"
import { KafkaClient, type ProducerMessage } from "../../src/layers/kafka/KafkaClient.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import { PipelineSettings } from "../../src/layers/config/PipelineSettings.js"
import * as Pipeline from "../../src/streams/Pipeline.js"
import * as Replay from "../../src/streams/Replay.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { advanceUntil, settings, test, TOPIC } from "../support/memoryPipeline.js"
import {
  archived,
  backupText,
  bytesOf,
  dlqText,
  recordsOf,
  rowLines,
  summaryOf,
  text,
  utf8,
  writeFile
} from "../support/replay.js"

/** Records that `builtin:json` dead-letters, each kind of payload: text, null, binary, empty; headers, a null one too. */
const failing = [
  {
    key: "bad-json",
    value: "{\"i\":",
    headers: [{ key: "trace", value: "t-1" }, { key: "empty", value: null }, { key: "bin", value: Uint8Array.of(0xff, 0) }]
  },
  { key: null, value: null },
  { key: Uint8Array.of(0xff, 0x00, 0x01), value: Uint8Array.of(0x61, 0xff, 0xfe, 0x00, 0x0d, 0x0a) },
  { key: "empty", value: "" },
  { key: "quotes", value: "a,\"b\"\r\nnext" }
]

const summaries = Effect.gen(function*() {
  const seen = yield* Ref.make<ReadonlyArray<Replay.ReplaySummary>>([])
  return { seen: Ref.get(seen), onStopped: (summary: Replay.ReplaySummary) => Ref.update(seen, (all) => [...all, summary]) }
})

/** Runs the pipeline with `builtin:json` over `failing` plus one good record; returns the DLQ file's path and text. */
const deadLetter = Effect.gen(function*() {
  const kafka = yield* MemoryKafka
  yield* kafka.produce(TOPIC, 0, [...failing, { key: "ok", value: "{\"ok\":1}" }])
  const config = yield* settings({ stopAtOffsets: [{ topic: TOPIC, partition: 0, offset: failing.length }] })
  const run = yield* Pipeline.run(jsonValidate).pipe(Effect.provide(PipelineSettings.layer(config)), Effect.forkChild)
  yield* advanceUntil(Effect.sync(() => run.pollUnsafe() !== undefined))
  const fs = yield* MemoryFileSystem
  const [file] = fs.paths().filter((path) => path.startsWith("/dlq/"))
  return { file: file!, csv: fs.text(file!) }
})

describe("Replay — round trip", () => {
  test("records dead-lettered by a run go back to their topic and partition byte-exact, with x-replayed-from", () =>
    Effect.gen(function*() {
      const { csv, file } = yield* deadLetter
      const { onStopped, seen } = yield* summaries
      const summary = yield* Replay.run({ paths: ["/dlq"], onStopped })

      const expected = summaryOf({ read: 5, selected: 5, sent: 5 })
      assert.deepStrictEqual(summary, expected)
      assert.deepStrictEqual(yield* seen, [expected])
      const all = yield* recordsOf(TOPIC)
      const originals = all.slice(0, failing.length)
      const replayed = all.slice(failing.length + 1)
      const name = file.slice("/dlq/".length)
      const lines = rowLines(csv)
      assert.strictEqual(replayed.length, failing.length)
      replayed.forEach((record, i) => {
        const original = originals[i]!
        assert.strictEqual(record.partition, 0)
        assert.deepStrictEqual(bytesOf(record.key), bytesOf(original.key))
        assert.deepStrictEqual(bytesOf(record.value), bytesOf(original.value))
        assert.deepStrictEqual(
          record.headers.map((header) => [header.key, bytesOf(header.value)]),
          [
            ...original.headers.map((header) => [header.key, bytesOf(header.value)]),
            ["x-replayed-from", bytesOf(utf8(`${TOPIC}:0:${original.offset} ${name}:${lines[i]}`))]
          ]
        )
      })
      assert.strictEqual(replayed[1]!.value, null)
      assert.deepStrictEqual(bytesOf(replayed[3]!.value), [])
    }))

  test("replaying the same files twice sends every record twice, each time with the same x-replayed-from", () =>
    Effect.gen(function*() {
      yield* writeFile("/dlq/dlq-2026-11-22T10.csv", dlqText([archived(0), archived(1)]))
      yield* (yield* KafkaClient).createTopic("orders", 1)
      yield* Replay.run({ paths: ["/dlq"] })
      yield* Replay.run({ paths: ["/dlq"] })
      const replayed = yield* recordsOf("orders")
      assert.deepStrictEqual(
        replayed.map((record) => text(record.headers.at(-1)!.value)),
        [
          "orders:0:0 dlq-2026-11-22T10.csv:2",
          "orders:0:1 dlq-2026-11-22T10.csv:4",
          "orders:0:0 dlq-2026-11-22T10.csv:2",
          "orders:0:1 dlq-2026-11-22T10.csv:4"
        ]
      )
    }))
})

describe("Replay — selection and targets", () => {
  test("filters by error type to another topic, from gzip files, in the order they were written", () =>
    Effect.gen(function*() {
      const client = yield* KafkaClient
      yield* client.createTopic("orders", 3)
      yield* client.createTopic("retry", 1)
      yield* writeFile("/dlq/dlq-2026-11-22T10.1.csv.gz", dlqText([[archived(5), "SyntaxError"], [archived(6), "NullValue"]]), { gzip: true })
      yield* writeFile("/dlq/dlq-2026-11-22T10.csv", dlqText([[archived(2, { partition: 2 }), "SyntaxError"]]))
      const summary = yield* Replay.run({ paths: ["/dlq"], filter: { errorTypes: ["SyntaxError"] }, toTopic: "retry" })
      assert.deepStrictEqual(summary, summaryOf({ files: 2, read: 3, selected: 2, skippedByFilter: 1, sent: 2 }))
      const replayed = yield* recordsOf("retry")
      assert.deepStrictEqual(replayed.map((record) => [record.partition, text(record.key), text(record.headers[0]!.value)]), [
        [0, "k2", "orders:2:2 dlq-2026-11-22T10.csv:2"],
        [0, "k5", "orders:0:5 dlq-2026-11-22T10.1.csv.gz:2"]
      ])
      assert.deepStrictEqual(yield* recordsOf("orders"), [])
    }))

  test("offset, partition, topic and time filters; a backup archive, whose rows have no error type", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 2)
      const records = [0, 1, 2, 3].map((offset) => archived(offset, { partition: offset % 2 }))
      yield* writeFile("/backup/backup-2026-11-22T10.csv", backupText(records))
      yield* writeFile("/backup/dlq-2026-11-22T10.csv", dlqText(records))
      const run = (filter: Replay.ReplayFilter) => Replay.plan({ paths: ["/backup"], archive: "backup", filter, onRecord: () => Effect.void })
      assert.strictEqual((yield* run({})).selected, 4)
      assert.strictEqual((yield* run({ errorTypes: ["SyntaxError"] })).selected, 0)
      assert.strictEqual((yield* run({ partitions: [1], fromOffset: 2 })).selected, 1)
      assert.strictEqual((yield* run({ topics: ["payments"] })).selected, 0)
      assert.strictEqual((yield* run({ fromTime: Date.UTC(2026, 10, 22, 10, 0, 1), toTime: Date.UTC(2026, 10, 22, 10, 0, 3) })).selected, 2)
      assert.strictEqual((yield* run({ fromTime: 0, timeColumn: "failed_at" })).selected, 0)
      const summary = yield* Replay.run({ paths: ["/backup/backup-2026-11-22T10.csv"], filter: { toOffset: 1 } })
      assert.deepStrictEqual(summary, summaryOf({ read: 4, selected: 2, skippedByFilter: 2, sent: 2 }))
      assert.deepStrictEqual((yield* recordsOf("orders")).map((record) => [record.partition, text(record.key)]), [
        [0, "k0"],
        [1, "k1"]
      ])
    }))

  test("the dry run hands each record it would send to onRecord and sends nothing", () =>
    Effect.gen(function*() {
      yield* writeFile("/dlq/dlq-2026-11-22T10.csv", dlqText([archived(0), archived(1, { value: null })]))
      const planned: Array<string> = []
      const { onStopped, seen } = yield* summaries
      const summary = yield* Replay.plan({
        paths: ["/dlq/dlq-2026-11-22T10.csv"],
        toTopic: "elsewhere",
        onRecord: (record) => Effect.sync(() => planned.push(`${record.file}:${record.line} ${record.message.topic} ${text(record.message.value)}`)),
        onStopped
      })
      assert.deepStrictEqual(planned, ["/dlq/dlq-2026-11-22T10.csv:2 elsewhere {\"i\":0", "/dlq/dlq-2026-11-22T10.csv:4 elsewhere null"])
      assert.deepStrictEqual(summary, summaryOf({ reason: "dryRun", read: 2, selected: 2 }))
      assert.deepStrictEqual(yield* seen, [summary])
      assert.deepStrictEqual(yield* recordsOf("elsewhere"), [])
    }))

  test("resumeFrom skips the rows before it, in the files before it too", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 1)
      yield* writeFile("/dlq/dlq-2026-11-22T10.csv", dlqText([archived(0), archived(1)]))
      yield* writeFile("/dlq/dlq-2026-11-22T11.csv", dlqText([archived(2), archived(3), archived(4)]))
      const summary = yield* Replay.run({ paths: ["/dlq"], resumeFrom: { file: "/dlq/dlq-2026-11-22T11.csv", line: 4 } })
      assert.deepStrictEqual(summary, summaryOf({ files: 2, read: 5, selected: 2, skippedBeforeResume: 3, sent: 2 }))
      assert.deepStrictEqual((yield* recordsOf("orders")).map((record) => text(record.key)), ["k3", "k4"])
    }))

  test("batches are bounded by records and by bytes; a record larger than the bound goes alone", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 1)
      const big = utf8("x".repeat(2000))
      yield* writeFile("/dlq/dlq-2026-11-22T10.csv", dlqText([0, 1, 2, 3, 4].map((offset) => archived(offset, offset === 2 ? { value: big } : {}))))
      const sends = yield* countingSends
      yield* Replay.run({ paths: ["/dlq"], batchRecords: 2, batchBytes: 1000 }).pipe(sends.provide)
      assert.deepStrictEqual(yield* sends.sizes, [2, 1, 2])
    }))
})

describe("Replay — the library example (examples/replay.ts)", () => {
  test("replays the timeouts of the outage's window, and the README shows the example as it is", (logs) =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 1)
      const at = (minute: number) => Date.UTC(2026, 10, 22, 10, minute)
      yield* writeFile(
        "/var/lib/orders-pipeline/dlq/dlq-2026-11-22T10.csv",
        dlqText([
          [archived(0), "ProcessingTimeout", at(1)],
          [archived(1), "SyntaxError", at(2)],
          [archived(2), "ProcessingTimeout", at(19)],
          [archived(3), "ProcessingTimeout", at(20)]
        ])
      )
      const summary = yield* replayOutage
      assert.deepStrictEqual(summary, summaryOf({ read: 4, selected: 2, skippedByFilter: 2, sent: 2 }))
      assert.deepStrictEqual((yield* recordsOf("orders")).map((record) => text(record.key)), ["k0", "k2"])
      assert.isTrue(logs.has("Info", "replay completed: 2 of 2 sent"))
      const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8")
      assert.include(read("README.md"), "```ts\n" + read("examples/replay.ts") + "```\n")
    }))
})

/** A `KafkaClient` over the in-memory one that records the size of each send. */
const countingSends = Effect.gen(function*() {
  const sizes = yield* Ref.make<ReadonlyArray<number>>([])
  const client = yield* KafkaClient
  const provide = Effect.provideService(KafkaClient, {
    ...client,
    producer: Effect.map(client.producer, (producer) => ({
      send: (messages: ReadonlyArray<ProducerMessage>) => Effect.andThen(Ref.update(sizes, (all) => [...all, messages.length]), producer.send(messages))
    }))
  })
  return { provide, sizes: Ref.get(sizes) }
})

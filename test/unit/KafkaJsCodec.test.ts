import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, References } from "effect"
import type { KafkaMessage, LogEntry } from "kafkajs"
import { logLevel as KafkaLogLevel } from "kafkajs"
import { Buffer } from "node:buffer"
import {
  BatchBytes,
  fromHeaders,
  toAssignment,
  toHeaders,
  toMessage,
  toRecords,
  toTopicMessages,
  toTopicPartitions
} from "../../src/layers/kafka/KafkaJsCodec.js"
import { kafkaJsLevel, logEntry } from "../../src/layers/kafka/KafkaJsLog.js"

const text = (bytes: Uint8Array | null) => bytes === null ? null : Buffer.from(bytes).toString("utf8")

/** A kafkajs fetch response: every message a slice of one shared buffer. */
const fetched = (): Array<KafkaMessage> => {
  const response = Buffer.from("k0v0-v2k3")
  return [
    {
      offset: "10",
      timestamp: "1700000000000",
      key: response.subarray(0, 2),
      value: response.subarray(2, 4),
      attributes: 0,
      headers: { trace: [Buffer.from("a"), Buffer.from("b")], single: Buffer.from("x"), none: undefined }
    },
    { offset: "11", timestamp: "1700000000001", key: null, value: null, attributes: 0, headers: {} },
    {
      offset: "13",
      timestamp: "1700000000002",
      key: response.subarray(7, 9),
      value: response.subarray(5, 7),
      attributes: 0,
      headers: {}
    }
  ]
}

describe("KafkaJsCodec", () => {
  it("toRecords copies a batch's keys and values into one buffer of its own", () => {
    const messages = fetched()
    const records = toRecords("orders", 2, messages)
    assert.deepStrictEqual(
      records.map((r) => [r.topic, r.partition, r.offset, r.timestamp, text(r.key), text(r.value)]),
      [
        ["orders", 2, 10, 1700000000000, "k0", "v0"],
        ["orders", 2, 11, 1700000000001, null, null],
        ["orders", 2, 13, 1700000000002, "k3", "v2"]
      ]
    )
    const [first, , third] = records
    assert.strictEqual(first!.value!.constructor, Uint8Array)
    assert.strictEqual(first!.value!.buffer, third!.key!.buffer, "one copy for the batch")
    assert.strictEqual(first!.value!.buffer.byteLength, BatchBytes.sizeOf(messages))
    assert.notStrictEqual(first!.value!.buffer, messages[0]!.value!.buffer)
    assert.deepStrictEqual(first!.headers.map((h) => [h.key, text(h.value)]), [
      ["trace", "a"],
      ["trace", "b"],
      ["single", "x"],
      ["none", null]
    ])
    assert.deepStrictEqual(records[1]!.headers, [])
  })

  it("headers round trip, repeated keys kept; a null value is sent empty (kafkajs cannot send null)", () => {
    const headers = fromHeaders([
      { key: "trace", value: new TextEncoder().encode("a") },
      { key: "trace", value: new TextEncoder().encode("b") },
      { key: "empty", value: null }
    ])
    assert.deepStrictEqual(Object.keys(headers), ["trace", "empty"])
    assert.deepStrictEqual(toHeaders(headers).map((h) => [h.key, text(h.value)]), [
      ["trace", "a"],
      ["trace", "b"],
      ["empty", ""]
    ])
    assert.deepStrictEqual(fromHeaders(undefined), {})
    assert.deepStrictEqual(toHeaders(undefined), [])
  })

  it("toMessage encodes strings as UTF-8, keeps bytes without copying, names a partition only when given", () => {
    const value = new Uint8Array([1, 2, 3])
    const message = toMessage({ topic: "t", key: "clé", value })
    assert.strictEqual(text(message.key as Buffer), "clé")
    assert.strictEqual((message.value as Buffer).buffer, value.buffer)
    assert.isFalse("partition" in message)
    assert.deepStrictEqual(toMessage({ topic: "t", partition: 3, key: null, value: null }), {
      key: null,
      value: null,
      headers: {},
      partition: 3
    })
  })

  it("groups messages and partitions by topic, in order", () => {
    const messages = [
      { topic: "a", key: null, value: "1" },
      { topic: "b", key: null, value: "2" },
      { topic: "a", key: null, value: "3" }
    ]
    assert.deepStrictEqual(
      toTopicMessages(messages).map(({ messages, topic }) => [topic, messages.map((m) => text(m.value as Buffer))]),
      [["a", ["1", "3"]], ["b", ["2"]]]
    )
    assert.deepStrictEqual(
      toTopicPartitions([{ topic: "a", partition: 1 }, { topic: "b", partition: 0 }, { topic: "a", partition: 0 }]),
      [{ topic: "a", partitions: [1, 0] }, { topic: "b", partitions: [0] }]
    )
  })

  it("toAssignment lists a join's partitions by topic, then partition", () => {
    assert.deepStrictEqual(toAssignment({ b: [1, 0], a: [2] }), [
      { topic: "a", partition: 2 },
      { topic: "b", partition: 0 },
      { topic: "b", partition: 1 }
    ])
  })
})

describe("KafkaJsLog", () => {
  const entry = (level: KafkaLogLevel, namespace: string, message: string): LogEntry => ({
    namespace,
    level,
    label: "",
    log: { timestamp: "now", logger: "kafkajs", message, groupId: "g", password: "secret" }
  })

  const logged = (entries: ReadonlyArray<LogEntry>, threshold: KafkaLogLevel) => {
    const lines: Array<string> = []
    const capture = Logger.make(({ logLevel, message }) => {
      const parts = Array.isArray(message) ? message : [message]
      lines.push(`${logLevel}: ${parts.map((part) => JSON.stringify(part)).join(" ")}`)
    })
    Effect.runSync(
      Effect.forEach(entries, (e) => logEntry(e, threshold)).pipe(
        Effect.provide(Logger.layer([capture])),
        Effect.provideService(References.MinimumLogLevel, "All")
      )
    )
    return lines
  }

  it("maps Effect levels to kafkajs's", () => {
    assert.deepStrictEqual(
      (["None", "Fatal", "Error", "Warn", "Info", "Debug", "Trace", "All"] as const).map(kafkaJsLevel),
      [0, 1, 1, 2, 4, 5, 5, 5]
    )
  })

  it("drops entries below the threshold and hidden fields; error responses kafkajs handles itself are debug", () => {
    const lines = logged([
      entry(KafkaLogLevel.WARN, "Runner", "The group is rebalancing"),
      entry(KafkaLogLevel.INFO, "Consumer", "Starting"),
      entry(KafkaLogLevel.ERROR, "Connection", "Response Heartbeat(key: 12, version: 3)"),
      entry(KafkaLogLevel.ERROR, "Consumer", "Caught error when stopping the consumer: boom")
    ], KafkaLogLevel.WARN)
    assert.deepStrictEqual(lines, [
      `Warn: "The group is rebalancing" {"groupId":"g"}`,
      `Debug: "Response Heartbeat(key: 12, version: 3)" {"groupId":"g"}`,
      `Error: "Caught error when stopping the consumer: boom" {"groupId":"g"}`
    ])
  })

  it("what the pipeline says itself (brokers out of reach, crashes and restarts, the producer's retries) is debug", () => {
    const said = [
      entry(KafkaLogLevel.ERROR, "Connection", "Connection error: connect ECONNREFUSED 127.0.0.1:1"),
      entry(KafkaLogLevel.ERROR, "Connection", "Connection timeout"),
      entry(KafkaLogLevel.ERROR, "BrokerPool", "Failed to connect to seed broker, trying another broker from the list"),
      entry(KafkaLogLevel.ERROR, "Consumer", "Crash: KafkaJSNumberOfRetriesExceeded: Connection error"),
      entry(KafkaLogLevel.ERROR, "Consumer", "Restarting the consumer in 300ms"),
      entry(KafkaLogLevel.WARN, "Producer", "Limiting retries for the idempotent producer may invalidate EoS guarantees")
    ]
    // Debug lines whatever kafkajs's own threshold: the logger's minimum level decides.
    for (const threshold of [KafkaLogLevel.WARN, KafkaLogLevel.DEBUG]) {
      const lines = logged(said, threshold)
      assert.strictEqual(lines.length, said.length)
      assert.isTrue(lines.every((line) => line.startsWith("Debug: ")))
    }
    // The same words in another namespace keep their level.
    assert.deepStrictEqual(logged([entry(KafkaLogLevel.ERROR, "Runner", "Crash: x")], KafkaLogLevel.WARN), [
      `Error: "Crash: x" {"groupId":"g"}`
    ])
  })

  it("an OFFSET_OUT_OF_RANGE reset is an error whatever the threshold", () => {
    const [line] = logged([entry(KafkaLogLevel.INFO, "Consumer", "Offset out of range, resetting to offset 0")], 0)
    assert.match(line!, /^Error: "Kafka OFFSET_OUT_OF_RANGE: /)
  })
})

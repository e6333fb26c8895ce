/**
 * The `kafka-pipeline run` CLI end to end against a real broker (issue 3): records produced
 * with kafkajs or kcat, the CLI as a child process, the CSV archives read back with
 * csv-parse, committed offsets read with Kafka's own ConsumerGroupCommand.
 */
import { randomBytes } from "node:crypto"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { decodeBytes, type BytesEncoding } from "../../src/domain/Csv.js"
import { readRows, type ArchiveRow } from "../support/archive.js"
import { uniqueName } from "../support/broker.js"
import { cliE2e, jsonValues, runArgs as runArgsOf, runCli } from "../support/cli.js"
import { produceValues } from "../support/produce.js"
import { kcatProduce, kcatProduceFile } from "../support/kcat.js"

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname

const e2e = cliE2e("pipeline-e2e")
const { dirs } = e2e

const produce = (topic: string, values: ReadonlyArray<string | null>, partitionOf?: (i: number) => number) =>
  produceValues(e2e.broker().brokers, topic, values, partitionOf)

const sortRows = (rows: ReadonlyArray<ArchiveRow>) =>
  [...rows].sort((a, b) => Number(a.partition) - Number(b.partition) || Number(a.offset) - Number(b.offset))

const bytesOf = (text: string, encoding: string) => {
  const b = decodeBytes(text, encoding as BytesEncoding)
  return b === null ? null : Buffer.from(b)
}

// Concurrent CLI runs on two cores: generous timeouts, these wait on real processes. Each
// scenario runs with each Kafka client (`--client`), one client after the other.
describe.each(["kafkajs", "platformatic"])("kafka-pipeline run against a real broker (%s)", { concurrent: true, timeout: 240_000 }, (client) => {
  const runArgs = (o: Parameters<typeof runArgsOf>[0]) => runArgsOf({ ...o, client })
  // The container pass (.ci/run) runs its scenarios with one client: the two differ in no container matter.
  const containerSlice = client === "kafkajs" ? ["testcontainers"] : []
  it("1. happy path: 1,000 records → 1,000 backup rows, no DLQ rows, committed 1,000, exit 0", { tags: containerSlice }, async () => {
    const broker = e2e.broker()
    const topic = uniqueName("happy")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    const values = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ order: i, note: `n${i}` }))
    await produce(topic, values)
    const { backupDir, dlqDir } = await dirs()

    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:json", stopAt: [[0, 999]]
    }))
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ processed: 1000, deadLettered: 0 })

    const backup = sortRows(readRows(backupDir, "backup"))
    expect(backup).toHaveLength(1000)
    backup.forEach((row, i) => {
      expect(row.topic).toBe(topic)
      expect(row.partition).toBe("0")
      expect(row.offset).toBe(String(i))
      expect(row.key).toBe(`k${i}`)
      expect(row.key_encoding).toBe("utf8")
      expect(row.value).toBe(values[i])
      expect(row.value_encoding).toBe("utf8")
      expect(row.headers).toBe("[]")
      expect(row.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    })
    expect(readRows(dlqDir, "dlq")).toHaveLength(0)
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, 1000]]))
  })

  it("2. three partitions, 300 records: each partition consumed and committed separately", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("three")
    const group = uniqueName("g")
    await broker.createTopic(topic, 3)
    // uneven split so a mix-up between partitions shows: p0 150, p1 100, p2 50
    const partitionOf = (i: number) => (i < 150 ? 0 : i < 250 ? 1 : 2)
    const values = jsonValues(300)
    await produce(topic, values, partitionOf)
    const { backupDir, dlqDir } = await dirs()

    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:json",
      stopAt: [[0, 149], [1, 99], [2, 49]]
    }))
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    const backup = readRows(backupDir, "backup")
    expect(backup).toHaveLength(300)
    for (const [p, n, first] of [[0, 150, 0], [1, 100, 150], [2, 50, 250]] as const) {
      const rows = sortRows(backup.filter((r) => r.partition === String(p)))
      expect(rows.map((r) => Number(r.offset))).toEqual(Array.from({ length: n }, (_, i) => i))
      rows.forEach((r, i) => {
        expect(r.key).toBe(`k${first + i}`)
        expect(r.value).toBe(values[first + i])
      })
    }
    expect(readRows(dlqDir, "dlq")).toHaveLength(0)
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, 150], [1, 100], [2, 50]]))
  })

  it("3. 10,000 records, 10% invalid JSON: 9,000 processed, 1,000 SyntaxError DLQ rows, all committed", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("tenk")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    const invalid = (i: number) => i % 10 === 3
    const values = Array.from({ length: 10_000 }, (_, i) => invalid(i) ? `{"i":${i},` : `{"i":${i}}`)
    await produce(topic, values)
    const { backupDir, dlqDir } = await dirs()

    const started = Date.now()
    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:json", stopAt: [[0, 9999]]
    }))
    console.log(`scenario 3: CLI run took ${Date.now() - started} ms`)
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ processed: 9000, deadLettered: 1000 })
    expect(readRows(backupDir, "backup")).toHaveLength(10_000)
    const dlq = sortRows(readRows(dlqDir, "dlq"))
    expect(dlq).toHaveLength(1000)
    dlq.forEach((row, j) => {
      const i = j * 10 + 3
      expect(row.offset).toBe(String(i))
      expect(row.key).toBe(`k${i}`)
      expect(row.value).toBe(values[i])
      expect(row.error_type).toBe("SyntaxError")
      expect(row.error_message).not.toBe("")
    })
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, 10_000]]))
  }, 240_000)

  it("4. every record fails (non-retryable): all in the DLQ, all committed, exit 0", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("allfail")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    const values = Array.from({ length: 200 }, (_, i) => `v${i}`)
    await produce(topic, values)
    const { backupDir, dlqDir } = await dirs()

    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir,
      processor: join(FIXTURES, "always-fail-processor.mjs"), stopAt: [[0, 199]]
    }))
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ processed: 0, deadLettered: 200 })
    const dlq = sortRows(readRows(dlqDir, "dlq"))
    expect(dlq.map((r) => r.offset)).toEqual(values.map((_, i) => String(i)))
    dlq.forEach((row, i) => {
      expect(row.value).toBe(values[i])
      expect(row.error_type).toBe("AlwaysFails")
      expect(row.error_message).toBe(`refusing offset ${i}`)
      expect(row.attempts).toBe("1")
    })
    expect(readRows(backupDir, "backup")).toHaveLength(200)
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, 200]]))
  })

  it("10. stop-at 100 on a 200-record partition: offsets 0–100 backed up, committed 101, exit 0", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("stopat")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    await produce(topic, jsonValues(200))
    const { backupDir, dlqDir } = await dirs()

    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:json", stopAt: [[0, 100]]
    }))
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    const offsets = sortRows(readRows(backupDir, "backup")).map((r) => Number(r.offset))
    // everything up to the target is there; nothing past it was committed
    expect(offsets.slice(0, 101)).toEqual(Array.from({ length: 101 }, (_, i) => i))
    expect(offsets).toEqual(Array.from({ length: 101 }, (_, i) => i))
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, 101]]))
  })

  it("11. dev mode: 100 records processed, nothing committed; a restart processes all 100 again", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("dev")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    await produce(topic, jsonValues(100))
    for (const attempt of [1, 2]) {
      const { backupDir, dlqDir } = await dirs()
      const res = await runCli(runArgs({
        brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:json", stopAt: [[0, 99]],
        extra: ["--dev-mode", "true"]
      }))
      expect(res.code, `run ${attempt}: ${res.stderr.slice(-3000)}`).toBe(0)
      expect(res.summary).toMatchObject({ processed: 100, deadLettered: 0 })
      expect(sortRows(readRows(backupDir, "backup")).map((r) => Number(r.offset)))
        .toEqual(Array.from({ length: 100 }, (_, i) => i))
      expect(await broker.committedOffsets(group, topic)).toEqual(new Map())
    }
  })

  it("13. hostile payloads round-trip byte-exact; null → NullValue, invalid UTF-8 → InvalidUtf8", { tags: containerSlice }, async () => {
    const broker = e2e.broker()
    const topic = uniqueName("hostile")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    const invalidUtf8 = Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28, 0x00, 0x0d, 0x0a])
    const tricky = 'a,b "quoted", ""twice""\r\nnext line\rcr only\nlf — ünïcødé 日本 🎉'
    const records = [
      { key: "invalid", value: invalidUtf8 },
      { key: "empty", value: "" },
      { key: "null", value: null },
      { key: "tricky", value: tricky },
      { key: Buffer.from([0xff, 0x00]), value: "binary key" }
    ]
    await kcatProduce(broker.brokers, topic, records.map((r) => ({ ...r, partition: 0 })))
    const { backupDir, dlqDir } = await dirs()

    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:noop", stopAt: [[0, 4]]
    }))
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    const backup = sortRows(readRows(backupDir, "backup"))
    expect(backup).toHaveLength(5)
    backup.forEach((row, i) => {
      const r = records[i]!
      expect(row.offset).toBe(String(i))
      expect(bytesOf(row.key, row.key_encoding)).toEqual(Buffer.from(r.key as string | Buffer))
      const expected = r.value === null ? null : Buffer.from(r.value)
      expect(bytesOf(row.value, row.value_encoding)).toEqual(expected)
    })
    expect(backup[0]!.value_encoding).toBe("base64")
    expect(backup[2]!.value_encoding).toBe("null")
    expect(backup[3]!.value_encoding).toBe("utf8")
    expect(backup[3]!.value).toBe(tricky)
    expect(backup[4]!.key_encoding).toBe("base64")

    const dlq = sortRows(readRows(dlqDir, "dlq"))
    expect(dlq.map((r) => [r.offset, r.error_type])).toEqual([["0", "InvalidUtf8"], ["2", "NullValue"]])
    expect(bytesOf(dlq[0]!.value, dlq[0]!.value_encoding)).toEqual(invalidUtf8)
    expect(res.summary).toMatchObject({ processed: 3, deadLettered: 2 })
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, 5]]))
  })

  it("13. a 9.5 MB record: MessageTooLarge with --max-message-bytes 1000000, processed with the default", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("big")
    await broker.createTopic(topic, 1, { "max.message.bytes": String(12 * 1024 * 1024) })
    const big = Buffer.from(randomBytes(Math.floor(9.5 * 1024 * 1024 / 2)).toString("hex"))
    const file = join(e2e.scratch(), `${topic}.bin`)
    await writeFile(file, big)
    await kcatProduceFile(broker.brokers, topic, file, { key: "big", partition: 0 })

    for (const [extra, outcome] of [[["--max-message-bytes", "1000000"], "dlq"], [[], "processed"]] as const) {
      const group = uniqueName("g")
      const { backupDir, dlqDir } = await dirs()
      const res = await runCli(runArgs({
        brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:noop", stopAt: [[0, 0]], extra
      }))
      expect(res.code, res.stderr.slice(-3000)).toBe(0)
      const backup = readRows(backupDir, "backup")
      expect(backup).toHaveLength(1)
      expect(bytesOf(backup[0]!.value, backup[0]!.value_encoding)!.equals(big)).toBe(true)
      const dlq = readRows(dlqDir, "dlq")
      if (outcome === "dlq") {
        expect(dlq.map((r) => r.error_type)).toEqual(["MessageTooLarge"])
        expect(res.summary).toMatchObject({ processed: 0, deadLettered: 1 })
      } else {
        expect(dlq).toHaveLength(0)
        expect(res.summary).toMatchObject({ processed: 1, deadLettered: 0 })
      }
      expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, 1]]))
    }
  }, 240_000)
})

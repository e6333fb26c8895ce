/**
 * When the processor's downstream is down, end to end: the CLI against a real broker with a
 * processor module whose downstream is "down" while a marker file exists (the circuit breaker),
 * held under a rate (the rate limit), and fed nothing but bad records (the DLQ budget). Committed
 * offsets are read with Kafka's own tool; the archives with a real CSV parser.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { readRows } from "../support/archive.js"
import { uniqueName } from "../support/broker.js"
import { awaitExit, cliE2e, jsonValues, logLines, readProcessed, runArgs, runCli, sleep, spawnCli, waitFor, watching } from "../support/cli.js"
import { produceValues } from "../support/produce.js"

const PROCESSOR = new URL("../fixtures/downstream-processor.mjs", import.meta.url).pathname

const e2e = cliE2e("downstream-e2e")

const lastOffsets = (count: number, partitions: number, partitionOf: (i: number) => number) =>
  Array.from({ length: partitions }, (_, p) => {
    const offsets = Array.from({ length: count }, (_, i) => i).filter((i) => partitionOf(i) === p)
    return [p, offsets.length - 1] as const
  })

describe("the downstream is down for 20 s in the middle of a run", { timeout: 240_000 }, () => {
  it("5,000 records on 4 partitions: the breaker opens and holds, nothing healthy goes to the DLQ, every record is processed after recovery, committed = end offsets, one join", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("outage")
    const group = uniqueName("g")
    const N = 5_000
    const partitionOf = (i: number) => i % 4
    await broker.createTopic(topic, 4)
    await produceValues(broker.brokers, topic, jsonValues(N), partitionOf, (i) => `key-${i % 97}`)
    const { backupDir, base, dlqDir } = await e2e.dirs()
    const processedLog = join(base, "processed.log")
    const marker = join(base, "downstream-down")

    const run = spawnCli(
      runArgs({
        brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: PROCESSOR,
        stopAt: lastOffsets(N, 4, partitionOf),
        extra: ["--concurrency", "8", "--breaker-open-ms", "1000", "--breaker-max-open-ms", "4000"]
      }),
      { PROCESSED_LOG: processedLog, DOWN_MARKER: marker, PROCESS_DELAY_MS: "2" }
    )
    await waitFor("1,000 records processed", () => readProcessed(processedLog).length >= 1_000, { timeoutMs: 120_000, ...watching(run) })
    writeFileSync(marker, "")
    await waitFor("the breaker to open", () => run.stderr().includes("circuit breaker opened"), { timeoutMs: 60_000, ...watching(run) })
    const processedWhenOpened = readProcessed(processedLog).length
    await sleep(20_000)
    expect(readProcessed(processedLog).length, "nothing is processed while the downstream is down").toBe(processedWhenOpened)
    rmSync(marker)
    const res = await awaitExit(run, 120_000)

    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(readRows(dlqDir, "dlq"), "no healthy record in the DLQ").toEqual([])
    expect(res.summary).toMatchObject({ reason: "stopAtOffsets", processed: N, deadLettered: 0 })
    const processed = new Set(readProcessed(processedLog).map(([p, o]) => `${p}:${o}`))
    expect(processed.size).toBe(N)
    const committed = await broker.committedOffsets(group, topic)
    for (const [partition, last] of lastOffsets(N, 4, partitionOf)) expect(committed.get(partition)).toBe(last + 1)
    const logs = logLines(res.stderr)
    expect(logs.filter((line) => line.text === "partitions assigned"), "one join, no rebalance").toHaveLength(1)
    expect(logs.some((line) => line.text.startsWith("circuit breaker opened"))).toBe(true)
    expect(logs.filter((line) => line.text.startsWith("circuit breaker closed"))).toHaveLength(1)
  })
})

describe("the rate limit against a real broker", { timeout: 120_000 }, () => {
  it("--max-records-per-second 100 --rate-limit-burst 1: 600 calls at 100/s (±10%)", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("rate")
    const group = uniqueName("g")
    await broker.createTopic(topic, 2)
    await produceValues(broker.brokers, topic, jsonValues(600), (i) => i % 2)
    const { base, dlqDir } = await e2e.dirs()
    const callsLog = join(base, "calls.log")
    const res = await runCli(
      runArgs({
        brokers: broker.brokers, topic, group, dlqDir, processor: PROCESSOR,
        stopAt: [[0, 299], [1, 299]],
        extra: ["--concurrency", "8", "--max-records-per-second", "100", "--rate-limit-burst", "1"]
      }),
      { env: { CALLS_LOG: callsLog }, timeoutMs: 90_000 }
    )
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    const calls = readFileSync(callsLog, "utf8").trim().split("\n").map(Number)
    expect(calls).toHaveLength(600)
    const rate = ((calls.length - 1) * 1000) / (calls.at(-1)! - calls[0]!)
    expect(rate).toBeGreaterThanOrEqual(90)
    expect(rate).toBeLessThanOrEqual(110)
  })
})

describe("the DLQ budget against a real broker", { timeout: 120_000 }, () => {
  it("--dlq-max-consecutive 10 with nothing but bad records: exit 1 naming the budget, the 11 handled records committed and in the DLQ, the rest left", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("budget")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    await produceValues(broker.brokers, topic, Array.from({ length: 300 }, (_, i) => `not json ${i}`), () => 0)
    const { dlqDir } = await e2e.dirs()
    const res = await runCli(
      runArgs({
        brokers: broker.brokers, topic, group, dlqDir, processor: "builtin:json",
        extra: ["--concurrency", "1", "--dlq-max-consecutive", "10"]
      }),
      { timeoutMs: 90_000 }
    )
    expect(res.code, res.stderr.slice(-3000)).toBe(1)
    expect(res.stderr).toContain("the DLQ budget is spent: 11 records in a row were dead-lettered, more than dlqMaxConsecutive (10)")
    expect(res.summary).toMatchObject({ reason: "failed", deadLettered: 11 })
    expect(readRows(dlqDir, "dlq").map((row) => row.offset)).toEqual(Array.from({ length: 11 }, (_, i) => String(i)))
    expect((await broker.committedOffsets(group, topic)).get(0)).toBe(11)
  })
})

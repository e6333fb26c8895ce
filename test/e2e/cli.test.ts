/**
 * The `kafka-pipeline` CLI as a process: SIGTERM mid-stream (once and three times; once on the
 * platformatic client) against a
 * real broker, then a restart on the same archive that resumes from the commit and leaves every
 * record exactly once in it (`archive verify` agreeing with csv-parse); bad configuration; the boolean
 * switches (`--dev-mode`, `--no-from-beginning`) on a real consumer group.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { countRowsLoosely, readRows } from "../support/archive.js"
import { exactlyOnceDiff, range, verifyExactlyOnce } from "../support/archiveVerify.js"
import { uniqueName } from "../support/broker.js"
import {
  awaitExit,
  cliE2e,
  failsByDesign,
  jsonValues,
  logLines,
  readProcessed,
  runArgs,
  runCli,
  sleep,
  spawnCli,
  waitFor,
  watching
} from "../support/cli.js"
import { produceValues } from "../support/produce.js"

const SLOW = new URL("../fixtures/slow-processor.mjs", import.meta.url).pathname
const N = 2000
/** Every tenth record fails (to the DLQ). */
const FAIL_EVERY = 10
const fails = failsByDesign(FAIL_EVERY)

const e2e = cliE2e("cli-e2e")
const { dirs } = e2e

const processedOffsets = (log: string): Set<number> => new Set(readProcessed(log).map(([, offset]) => offset))

const sigtermMidStream = async (signals: number, client: "kafkajs" | "platformatic" = "kafkajs") => {
  const broker = e2e.broker()
  const topic = uniqueName(`sigterm${signals}`)
  const group = uniqueName("g")
  await broker.createTopic(topic, 1)
  await produceValues(broker.brokers, topic, jsonValues(N))

  // first run: SIGTERM once some records are archived and processed
  const first = await dirs()
  const log1 = join(first.base, "processed.log")
  const run = spawnCli(
    runArgs({ brokers: broker.brokers, topic, group, ...first, processor: SLOW, extra: ["--concurrency", "4", "--client", client] }),
    { PROCESSED_LOG: log1, FAIL_EVERY: String(FAIL_EVERY) }
  )
  const deadline = Date.now() + 120_000
  while (countRowsLoosely(first.backupDir, "backup") === 0 || processedOffsets(log1).size < 50) {
    if (Date.now() > deadline) throw new Error(`no progress before SIGTERM:\n${run.stderr().slice(-3000)}`)
    if (run.child.exitCode !== null) throw new Error(`CLI exited early:\n${run.stderr().slice(-3000)}`)
    await sleep(50)
  }
  const processedAtSignal = processedOffsets(log1).size
  const signalledAt = Date.now()
  for (let i = 0; i < signals; i++) {
    run.child.kill("SIGTERM")
    if (i < signals - 1) await sleep(30)
  }
  const killer = setTimeout(() => run.child.kill("SIGKILL"), 120_000)
  const res = await run.done
  clearTimeout(killer)
  const stopMs = Date.now() - signalledAt
  expect(res.signal, res.stderr.slice(-3000)).toBeNull()
  expect(res.code, res.stderr.slice(-3000)).toBe(0)

  // whole rows only (strict parse), and every guarantee about the commit
  const backup = readRows(first.backupDir, "backup")
  const dlq = readRows(first.dlqDir, "dlq")
  const processed = processedOffsets(log1)
  const backedUp = new Set(backup.map((r) => Number(r.offset)))
  const dead = new Set(dlq.map((r) => Number(r.offset)))
  expect(backedUp.size).toBe(backup.length) // no duplicates in one run
  expect([...backedUp].sort((a, b) => a - b)).toEqual(range(0, backup.length)) // in offset order, from the start
  expect([...dead].filter((o) => !fails(o)), "only failing records are dead-lettered").toEqual([])
  const committed = (await broker.committedOffsets(group, topic)).get(0)
  expect(committed, "something was committed").toBeDefined()
  const c = committed!
  expect(c).toBeGreaterThan(0)
  expect(c).toBeLessThan(N) // it really was stopped mid-stream
  const handled = [...processed, ...dead]
  expect(c).toBeLessThanOrEqual(Math.max(...handled) + 1)
  for (let o = 0; o < c; o++) {
    expect(backedUp.has(o), `offset ${o} below the commit ${c} has a backup row`).toBe(true)
    expect(processed.has(o) || dead.has(o), `offset ${o} below the commit ${c} was handled`).toBe(true)
  }
  // The summary printed on the way out agrees with the files and the broker.
  expect(res.summary).toMatchObject({
    reason: "interrupted",
    consumed: backup.length,
    processed: processed.size,
    deadLettered: dlq.length,
    committed: [{ topic, partition: 0, offset: c }]
  })

  // Restarted on the same archive directories, to the end: it writes only the rows the archive
  // does not hold (none twice), and processes what was not handled (a dead-lettered record found in
  // the DLQ archive is not processed again).
  const log2 = join(first.base, "processed-2.log")
  const res2 = await runCli(
    runArgs({ brokers: broker.brokers, topic, group, ...first, processor: SLOW, stopAt: [[0, N - 1]], extra: ["--concurrency", "16", "--client", client] }),
    { env: { PROCESSED_LOG: log2, FAIL_EVERY: String(FAIL_EVERY) } }
  )
  expect(res2.code, res2.stderr.slice(-3000)).toBe(0)
  const backupRows = (await verifyExactlyOnce(first.backupDir)).backup
  const dlqRows = (await verifyExactlyOnce(first.dlqDir)).dlq
  const all = range(0, N)
  expect(exactlyOnceDiff(backupRows, new Map([[`${topic}:0`, all]])), "every offset once in the backup archive").toEqual({})
  expect(exactlyOnceDiff(dlqRows, new Map([[`${topic}:0`, all.filter(fails)]])), "every failing record once in the DLQ archive").toEqual({})
  const processed2 = processedOffsets(log2)
  expect([...processed2].sort((a, b) => a - b)).toEqual(range(c, N).filter((o) => !fails(o)))
  expect(res2.summary).toMatchObject({ deadLettered: dlqRows.length - dlq.length })
  expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, N]]))
  return { committed: c, firstRunBackupRows: backup.length, processedAtSignal, processedInRun: processed.size, dlqRows: dlq.length, stopMs, summary: res.summary }
}

// Five CLI processes start at once (a cold node + tsx each): on a busy two-core machine a start alone
// can take tens of seconds, so the limits here are far above what a run needs.
describe.concurrent("kafka-pipeline CLI process", { timeout: 240_000 }, () => {
  it("6. SIGTERM mid-stream: exit 0, whole rows, nothing committed unhandled; restarted on the same archive: every record once in it", { timeout: 240_000, tags: ["testcontainers"] }, async () => {
    const r = await sigtermMidStream(1)
    console.log(`SIGTERM x1: ${JSON.stringify(r)}`)
  })

  it("6. SIGTERM three times in quick succession, restarted: same guarantees, every record once in the archive", async () => {
    const r = await sigtermMidStream(3)
    console.log(`SIGTERM x3: ${JSON.stringify(r)}`)
  })

  it("6. SIGTERM mid-stream on the platformatic client, restarted on it: same guarantees, every record once in the archive", async () => {
    const r = await sigtermMidStream(1, "platformatic")
    console.log(`SIGTERM x1 (platformatic): ${JSON.stringify(r)}`)
  })

  it("bad config: --concurrency 2000 → exit 2, one message naming the field and value, no stack trace", async () => {
    const { backupDir, dlqDir } = await dirs()
    const res = await runCli(runArgs({
      brokers: "127.0.0.1:1", topic: uniqueName("t"), group: uniqueName("g"), backupDir, dlqDir,
      processor: "builtin:noop", extra: ["--concurrency", "2000"]
    }))
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr).toMatch(/concurrency/)
    expect(res.stderr).toMatch(/2000/)
    expect(res.stderr).not.toMatch(/^\s+at /m)
    expect(res.stdout.trim()).toBe("")
  })

  it("--dev-mode alone, last on the line, is a switch: the records are processed, nothing is committed", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("devswitch")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    await produceValues(broker.brokers, topic, jsonValues(100))
    const { backupDir, dlqDir } = await dirs()
    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:json", stopAt: [[0, 99]],
      extra: ["--dev-mode"]
    }))
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ processed: 100, deadLettered: 0 })
    expect(logLines(res.stderr).map((line) => line.text)).toContain("devMode is on: offsets will not be committed")
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map())
  })

  it("--no-from-beginning: a new group starts at the end, past the records produced before it", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("latest")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    const before = 50
    await produceValues(broker.brokers, topic, jsonValues(before))
    const { backupDir, dlqDir } = await dirs()
    const run = spawnCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:json",
      extra: ["--no-from-beginning"]
    }))
    // Records produced before the group has found its start are skipped too: produce until some arrive.
    await waitFor("records produced while it runs to be consumed", async () => {
      if (countRowsLoosely(backupDir, "backup") > 0) return true
      await produceValues(broker.brokers, topic, jsonValues(10))
      return false
    }, { timeoutMs: 120_000, ...watching(run) })
    run.child.kill("SIGTERM")
    const res = await awaitExit(run, 40_000)
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    const offsets = readRows(backupDir, "backup").map((row) => Number(row.offset))
    expect(offsets.length).toBeGreaterThan(0)
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(before)
  })
})

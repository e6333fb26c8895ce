/**
 * Scenario 8 of issue 3: the broker goes away mid-stream. A broker of this file's own (it is
 * stopped and started again on the same port, same data); not with KAFKA_BROKERS.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { readRows } from "../support/archive.js"
import { startBroker, uniqueName } from "../support/broker.js"
import {
  awaitExit,
  cliE2e,
  type CliRun,
  jsonValues,
  logLines,
  readProcessed,
  runArgs,
  sleep,
  spawnCli,
  waitFor,
  watching
} from "../support/cli.js"
import { produceValues } from "../support/produce.js"

const SLOW = new URL("../fixtures/slow-processor.mjs", import.meta.url).pathname
const N = 3000

const e2e = cliE2e("outage-e2e", { broker: () => startBroker() })

/** A 3,000-record topic and a CLI run on `client` consuming it at ~200 records/s (~15 s), stopping at its end. */
const startRun = async (client: string, name: string, extra: ReadonlyArray<string>) => {
  const broker = e2e.broker()
  const topic = uniqueName(name)
  const group = uniqueName("g")
  await broker.createTopic(topic, 1)
  await produceValues(broker.brokers, topic, jsonValues(N))
  const { base, backupDir, dlqDir } = await e2e.dirs()
  const log = join(base, "processed.log")
  const run = spawnCli(
    runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: SLOW, stopAt: [[0, N - 1]], client,
      extra: ["--concurrency", "4", "--session-timeout-ms", "6000", "--heartbeat-interval-ms", "1000", ...extra]
    }),
    { PROCESSED_LOG: log }
  )
  await waitFor("300 records processed", () => readProcessed(log).length >= 300, { timeoutMs: 60_000, ...watching(run) })
  return { broker, topic, group, backupDir, dlqDir, log, run }
}

/** Every offset below the group's commit has a backup row and was processed; returns the commit. */
const expectCommitCovered = async (r: Awaited<ReturnType<typeof startRun>>) => {
  const committed = (await r.broker.committedOffsets(r.group, r.topic)).get(0) ?? 0
  const backedUp = new Set(readRows(r.backupDir, "backup").map((row) => Number(row.offset)))
  const processed = new Set(readProcessed(r.log).map(([, offset]) => offset))
  for (let o = 0; o < committed; o++) {
    if (!backedUp.has(o) || !processed.has(o)) expect.fail(`offset ${o} below the commit ${committed} was not backed up and processed`)
  }
  return committed
}

const texts = (run: CliRun) => logLines(run.stderr()).map((l) => `${l.level} ${l.text}`)

// With each Kafka client (`--client`).
describe.skipIf(process.env["KAFKA_BROKERS"]).each(["kafkajs", "platformatic"])("the broker goes away mid-stream (%s)", (client) => {
  it("8. stopped for 15 s and started again: the pipeline recovers and finishes with no loss", async () => {
    const r = await startRun(client, "outage", [])
    const stoppedAt = Date.now()
    await r.broker.stop()
    await sleep(Math.max(0, 15_000 - (Date.now() - stoppedAt)))
    const processedWhileDown = readProcessed(r.log).length
    await r.broker.start()
    const res = await awaitExit(r.run, 120_000)
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ reason: "stopAtOffsets", deadLettered: 0 })
    // It was felt: the client gave up retrying, crashed and was restarted within the budget.
    expect(texts(r.run)).toContainEqual(expect.stringMatching(/^ERROR Kafka consumer crashed; restarting it/))

    const offsets = readRows(r.backupDir, "backup").map((row) => Number(row.offset))
    expect(new Set(offsets)).toEqual(new Set(Array.from({ length: N }, (_, i) => i)))
    expect(new Set(readProcessed(r.log).map(([, o]) => o)).size).toBe(N)
    expect(await r.broker.committedOffsets(r.group, r.topic)).toEqual(new Map([[0, N]]))
    console.log(`scenario 8a: ${processedWhileDown} processed when the broker came back; ${offsets.length - N} backup rows again`)
  }, 240_000)

  it("8. gone past the restart budget: the process exits 1 instead of idling; nothing committed unhandled", async () => {
    const r = await startRun(client, "gone", ["--restart-budget-ms", "2000"])
    await r.broker.kill()
    const killedAt = Date.now()
    const res = await awaitExit(r.run, 150_000).finally(() => r.broker.start())
    const exitMs = Date.now() - killedAt
    expect(res.signal, res.stderr.slice(-3000)).toBeNull()
    expect(res.code, res.stderr.slice(-3000)).toBe(1)
    const logged = texts(r.run)
    expect(logged).toContainEqual(expect.stringMatching(/^ERROR fatal: Kafka consumer of group .* over its restart budget of 2000 ms/))
    expect(logged).toContain("INFO stopped") // the graceful sequence ran before the exit
    const committed = await expectCommitCovered(r)
    expect(committed).toBeLessThan(N)
    expect(res.summary).toMatchObject({ reason: "failed", committed: [{ topic: r.topic, partition: 0, offset: committed }] })
    console.log(`scenario 8b: exit 1 ${exitMs} ms after the broker died; committed ${committed}`)
  }, 240_000)
})

/**
 * Ordering end to end: the CLI with `--ordering key` and 32 workers against a real broker, over
 * 20,000 keyed records on 4 partitions (a few hundred keys and some null keys), with a processor that
 * takes a random few ms and logs when each call started and ended.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { uniqueName } from "../support/broker.js"
import { cliE2e, jsonValues, runArgs, runCli } from "../support/cli.js"
import { produceValues } from "../support/produce.js"

const PROCESSOR = new URL("../fixtures/ordering-processor.mjs", import.meta.url).pathname

const e2e = cliE2e("ordering-e2e")

interface Call {
  readonly key: string | null
  readonly partition: number
  readonly offset: number
  readonly start: number
  readonly end: number
}

describe("--ordering key against a real broker", { timeout: 180_000 }, () => {
  it("20,000 keyed records, 4 partitions, concurrency 32: no key's records overlap or run out of offset order, keys run in parallel, every offset handled and committed", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("ordering")
    const group = uniqueName("g")
    const N = 20_000
    const PARTITIONS = 4
    // a few hundred keys, a key always on the same partition; every 10th record has a null key
    const keyOf = (i: number) => (i % 10 === 9 ? null : `key-${(i * 7919) % 300}`)
    const partitionOf = (i: number) => {
      const key = keyOf(i)
      return key === null ? i % PARTITIONS : Number(key.slice(4)) % PARTITIONS
    }
    await broker.createTopic(topic, PARTITIONS)
    await produceValues(broker.brokers, topic, jsonValues(N), partitionOf, keyOf)
    const perPartition = Array.from({ length: PARTITIONS }, (_, p) => Array.from({ length: N }, (_, i) => i).filter((i) => partitionOf(i) === p).length)
    const { backupDir, base, dlqDir } = await e2e.dirs()
    const log = join(base, "calls.log")

    const res = await runCli(
      runArgs({
        brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: PROCESSOR,
        stopAt: perPartition.map((count, p) => [p, count - 1] as const),
        extra: ["--ordering", "key", "--concurrency", "32"]
      }),
      { env: { PROCESSED_LOG: log }, timeoutMs: 150_000 }
    )
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ processed: N, deadLettered: 0 })

    const calls: Array<Call> = readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line))
    // Every offset handled, once (one member, no restart)
    expect(calls).toHaveLength(N)
    expect(new Set(calls.map((c) => `${c.partition}@${c.offset}`)).size).toBe(N)

    // Per key (of a partition): one call at a time, in offset order
    const byKey = new Map<string, Array<Call>>()
    for (const call of calls) {
      if (call.key === null) continue
      const lane = `${call.partition}/${call.key}`
      byKey.set(lane, [...(byKey.get(lane) ?? []), call])
    }
    expect(byKey.size).toBe(new Set(Array.from({ length: N }, (_, i) => keyOf(i)).filter((key) => key !== null)).size)
    const violations: Array<string> = []
    for (const [lane, list] of byKey) {
      const byStart = [...list].sort((a, b) => a.start - b.start)
      for (let i = 1; i < byStart.length; i++) {
        const [before, after] = [byStart[i - 1]!, byStart[i]!]
        if (after.start < before.end || after.offset < before.offset) {
          violations.push(`${lane}: ${after.offset} [${after.start}, ${after.end}) after ${before.offset} [${before.start}, ${before.end})`)
        }
      }
    }
    expect(violations).toEqual([])

    // More than one key in flight at once: the most distinct keys whose calls overlapped
    const events = calls.filter((c) => c.key !== null).flatMap((c) => [
      { at: c.start, lane: `${c.partition}/${c.key}`, delta: 1 },
      { at: c.end, lane: `${c.partition}/${c.key}`, delta: -1 }
    ]).sort((a, b) => a.at - b.at || a.delta - b.delta)
    let inFlight = 0
    let most = 0
    for (const event of events) {
      inFlight += event.delta
      most = Math.max(most, inFlight)
    }
    expect(most).toBeGreaterThan(1)
    console.log(`ordering e2e: at most ${most} keys in flight at once`)

    expect(await broker.committedOffsets(group, topic)).toEqual(new Map(perPartition.map((count, p) => [p, count])))
  })
})

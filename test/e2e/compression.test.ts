/**
 * `--archive-compression gzip` through the CLI on a real broker. An hour's
 * rotation cannot be waited for here, so the closed hours are there before
 * the start: a backup file of a past hour whose last row a crash tore, and a
 * DLQ file of a past hour. The start's sweep compresses them; `zcat` (the
 * system's, as a user would) reads them back, and the run's own hour stays plain.
 */
import { parse } from "csv-parse/sync"
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { backupHeader, backupRow, dlqHeader, encodeRow } from "../../src/domain/Csv.js"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import { countRowsLoosely, readRows } from "../support/archive.js"
import { uniqueName } from "../support/broker.js"
import { awaitExit, cliE2e, jsonValues, logLines, runArgs, spawnCli, waitFor, watching } from "../support/cli.js"
import { produceValues } from "../support/produce.js"

const e2e = cliE2e("compression-e2e")
const { dirs } = e2e

const encoder = new TextEncoder()
const pastRecord = (offset: number): KafkaRecord => ({
  topic: "earlier",
  partition: 0,
  offset,
  timestamp: Date.parse("2020-01-01T00:00:00Z") + offset,
  key: encoder.encode(`k${offset}`),
  value: encoder.encode(`{"i":${offset},"text":"a, \"quoted\"\r\nline"}`),
  headers: []
})

describe("kafka-pipeline run --archive-compression gzip", { timeout: 240_000 }, () => {
  it("the start's sweep gzips the closed hours left in the directories (a torn row cut, with a warning); zcat reads them; the open hour stays plain", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("gzip")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    await produceValues(broker.brokers, topic, jsonValues(100))
    const { backupDir, dlqDir } = await dirs()

    const past = Array.from({ length: 50 }, (_, i) => pastRecord(i))
    const whole = encodeRow(backupHeader) + past.map((r) => encodeRow(backupRow(r))).join("")
    const torn = encodeRow(backupRow(pastRecord(50))).slice(0, 60)
    writeFileSync(join(backupDir, "backup-2020-01-01T00.csv"), whole + torn)
    const dlqRow = [...backupRow(pastRecord(7)), "BadRecord", "bad", "", "1", "2020-01-01T00:10:00.000Z"]
    writeFileSync(join(dlqDir, "dlq-2020-01-01T00.1.csv"), encodeRow(dlqHeader) + encodeRow(dlqRow))

    const run = spawnCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: "builtin:json",
      extra: ["--archive-compression", "gzip"]
    }))
    await waitFor("the closed hours compressed and the records archived", () =>
      existsSync(join(backupDir, "backup-2020-01-01T00.csv.gz")) &&
      !existsSync(join(backupDir, "backup-2020-01-01T00.csv")) &&
      existsSync(join(dlqDir, "dlq-2020-01-01T00.1.csv.gz")) &&
      !existsSync(join(dlqDir, "dlq-2020-01-01T00.1.csv")) &&
      countRowsLoosely(backupDir, "backup") === 100, { timeoutMs: 120_000, ...watching(run) })
    run.child.kill("SIGTERM")
    const res = await awaitExit(run, 60_000)
    expect(res.code, res.stderr.slice(-3000)).toBe(0)

    const zcat = (file: string) => parse(execFileSync("zcat", [file])) as Array<Array<string>>
    expect(zcat(join(backupDir, "backup-2020-01-01T00.csv.gz"))).toEqual([
      [...backupHeader],
      ...past.map((r) => [...backupRow(r)])
    ])
    expect(zcat(join(dlqDir, "dlq-2020-01-01T00.1.csv.gz"))).toEqual([[...dlqHeader], dlqRow])
    const warning = logLines(res.stderr).find((line) => line.text.includes("ends in a torn row"))
    expect(warning?.level).toBe("WARN")
    expect(warning?.annotations).toMatchObject({
      file: join(backupDir, "backup-2020-01-01T00.csv"),
      cutBytes: encoder.encode(torn).byteLength
    })

    // This run's hour is open: plain, and every record there once.
    const plain = readdirSync(backupDir).filter((name) => name.endsWith(".csv"))
    expect(plain).toHaveLength(1)
    expect(readRows(backupDir, "backup").map((row) => Number(row.offset)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i)
    )
    expect(readdirSync(backupDir).filter((name) => name.endsWith(".tmp"))).toEqual([])
  })
})

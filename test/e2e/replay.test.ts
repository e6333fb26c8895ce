/**
 * `kafka-pipeline replay` end to end on a real broker: records dead-lettered by a
 * `kafka-pipeline run` (invalid JSON, a null value, invalid UTF-8 with a binary key, an empty
 * value, headers) are replayed by the CLI as a child process and read back with kcat, byte-exact,
 * with their x-replayed-from header; a dry run sends nothing; a malformed file sends nothing and
 * names file:line; bad flags exit 2.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { parse } from "csv-parse/sync"
import { describe, expect, it } from "vitest"
import { uniqueName } from "../support/broker.js"
import { cliE2e, runArgs, runCli } from "../support/cli.js"
import { kcatConsume, type KcatMessage, kcatProduce, type KcatRecord } from "../support/kcat.js"
import { rowLines } from "../support/replay.js"

const e2e = cliE2e("replay-e2e")

/** Records `builtin:json` dead-letters (all but "ok"), on two partitions. */
const records: ReadonlyArray<KcatRecord> = [
  { key: "bad-json", value: "{\"i\":", headers: { trace: "t-1", tenant: "acme" }, partition: 0 },
  { key: "empty", value: "", partition: 0 },
  { key: "ok", value: "{\"ok\":true}", partition: 0 },
  { key: "null-value", value: null, partition: 1 },
  { key: Buffer.from([0xff, 0x00, 0x01]), value: Buffer.from([0x61, 0xff, 0xfe, 0x00, 0x0d, 0x0a]), partition: 1 },
  { key: "tricky", value: "a,b \"q\"\r\nline 2", headers: { note: "x y" }, partition: 1 }
]

interface Source {
  readonly topic: string
  readonly dlqDir: string
  /** The DLQ files' names, and the line each row starts on by `partition:offset`. */
  readonly files: ReadonlyArray<string>
  readonly lines: ReadonlyMap<string, string>
  /** The records as kcat read them before any replay, by `partition:offset`. */
  readonly originals: ReadonlyMap<string, KcatMessage>
}

let source: Promise<Source> | undefined

/** One dead-lettering run, shared by the tests of this file. */
const deadLettered = (): Promise<Source> =>
  source ??= (async () => {
    const broker = e2e.broker()
    const topic = uniqueName("replay-src")
    await broker.createTopic(topic, 2)
    await kcatProduce(broker.brokers, topic, records)
    const { backupDir, dlqDir } = await e2e.dirs()
    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group: uniqueName("g"), backupDir, dlqDir, processor: "builtin:json", stopAt: [[0, 2], [1, 2]]
    }))
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ processed: 1, deadLettered: 5 })
    const files = (await readdir(dlqDir)).sort()
    const lines = new Map<string, string>()
    for (const file of files) {
      const csv = await readFile(join(dlqDir, file), "utf8")
      const starts = rowLines(csv)
      dlqKeys(csv).forEach((key, i) => lines.set(key, `${file}:${starts[i]}`))
    }
    const originals = new Map((await kcatConsume(broker.brokers, topic)).map((m) => [`${m.partition}:${m.offset}`, m]))
    return { topic, dlqDir, files, lines, originals }
  })()

/** `partition:offset` of each DLQ row, in file order. */
const dlqKeys = (csv: string): Array<string> =>
  (parse(csv, { columns: true }) as Array<{ partition: string; offset: string }>).map((row) => `${row.partition}:${row.offset}`)

const REPLAYED_FROM = "x-replayed-from"

/** The original record a replayed one names in its header, and the header's parts. */
const origin = (message: KcatMessage) => {
  const match = /^([\w.-]+):(\d+):(\d+) (.+)$/.exec(message.headers[REPLAYED_FROM] ?? "")
  expect(match, JSON.stringify(message.headers)).not.toBeNull()
  const [, topic, partition, offset, row] = match!
  return { topic: topic!, key: `${partition}:${offset}`, partition: Number(partition), row: row! }
}

const keyName = (message: KcatMessage) => message.key?.toString("hex")

describe.concurrent("kafka-pipeline replay against a real broker", { timeout: 180_000 }, () => {
  it("replays dead-lettered records to their own topic and partition, byte-exact, with x-replayed-from", async () => {
    const broker = e2e.broker()
    const { dlqDir, lines, originals, topic } = await deadLettered()
    const res = await runCli(["replay", "--brokers", broker.brokers, "--log-format", "json", dlqDir])
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toEqual({
      reason: "completed", files: expect.any(Number), read: 5, selected: 5, skippedByFilter: 0, skippedBeforeResume: 0,
      malformed: 0, sent: 5, resumeFrom: null
    })

    const replayed = (await kcatConsume(broker.brokers, topic)).filter((m) => m.headers[REPLAYED_FROM] !== undefined)
    expect(replayed).toHaveLength(5)
    for (const message of replayed) {
      const from = origin(message)
      const original = originals.get(from.key)!
      expect(from.topic).toBe(topic)
      expect(from.row).toBe(lines.get(from.key))
      expect(message.partition).toBe(original.partition)
      expect(message.offset).toBeGreaterThan(2) // after the originals
      expect(message.key).toEqual(original.key)
      expect(message.value).toEqual(original.value)
      expect(message.headers).toEqual({ ...original.headers, [REPLAYED_FROM]: message.headers[REPLAYED_FROM] })
    }
    expect(replayed.map(keyName).sort()).toEqual(
      [...originals.values()].filter((m) => m.key?.toString() !== "ok").map(keyName).sort()
    )
    const nullValue = replayed.find((m) => m.key?.toString() === "null-value")!
    expect(nullValue.value).toBeNull()
    expect(replayed.find((m) => m.key?.toString() === "empty")!.value).toEqual(Buffer.alloc(0))
  })

  it("--to-topic with --error-type, from gzip-compressed copies of the DLQ files, sent by the platformatic client", async () => {
    const broker = e2e.broker()
    const { dlqDir, files, originals } = await deadLettered()
    const target = uniqueName("replay-retry")
    await broker.createTopic(target, 1)
    const gzipped = join(e2e.scratch(), uniqueName("gz"))
    await mkdir(gzipped)
    for (const file of files) await writeFile(join(gzipped, `${file}.gz`), gzipSync(await readFile(join(dlqDir, file))))

    const res = await runCli([
      "replay", "--brokers", broker.brokers, "--client", "platformatic", "--to-topic", target, "--error-type",
      "SyntaxError,InvalidUtf8", gzipped
    ])
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ reason: "completed", read: 5, selected: 4, skippedByFilter: 1, sent: 4 })
    const replayed = await kcatConsume(broker.brokers, target)
    expect(replayed).toHaveLength(4)
    for (const message of replayed) {
      const from = origin(message)
      expect(from.row).toMatch(/^dlq-.*\.csv\.gz:\d+$/)
      const original = originals.get(from.key)!
      expect(message.key).toEqual(original.key)
      expect(message.value).toEqual(original.value)
    }
    // Everything but the NullValue: bad-json, empty and tricky (SyntaxError), the binary one (InvalidUtf8).
    expect(replayed.map((m) => m.key?.toString()).filter((key) => key === "null-value")).toEqual([])
  })

  it("--dry-run prints one line per record and the counts, needs no broker, and sends nothing", async () => {
    const broker = e2e.broker()
    const { dlqDir } = await deadLettered()
    const target = uniqueName("replay-dry")
    await broker.createTopic(target, 1)
    const res = await runCli(["replay", "--dry-run", "--to-topic", target, "--partition", "1", dlqDir])
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    const lines = res.stdout.trim().split("\n")
    expect(lines).toHaveLength(4)
    for (const line of lines.slice(0, 3)) {
      expect(line).toMatch(new RegExp(`^${dlqDir}/dlq-[^\\t]+\\.csv:\\d+\\t[\\w.-]+:1:\\d\\t→ ${target} \\(partition by key\\)\\tkey \\S+\\tvalue (null|\\d+ bytes)$`))
    }
    expect(res.summary).toMatchObject({ reason: "dryRun", read: 5, selected: 3, skippedByFilter: 2, sent: 0 })
    expect(await kcatConsume(broker.brokers, target)).toEqual([])
  })

  it("a malformed file sends nothing, names file:line, and exits 1", async () => {
    const broker = e2e.broker()
    const { dlqDir, files } = await deadLettered()
    const target = uniqueName("replay-torn")
    await broker.createTopic(target, 1)
    const dir = join(e2e.scratch(), uniqueName("torn"))
    await mkdir(dir)
    for (const file of files) await copyFile(join(dlqDir, file), join(dir, file))
    // A later file whose last row was torn by a crash: no CRLF at its end.
    const torn = "dlq-2999-01-01T00.csv"
    const text = await readFile(join(dlqDir, files[0]!), "utf8")
    await writeFile(join(dir, torn), text.slice(0, -2))
    const lastLine = rowLines(text).at(-1)

    const res = await runCli(["replay", "--brokers", broker.brokers, "--to-topic", target, dir])
    expect(res.code, res.stderr.slice(-3000)).toBe(1)
    expect(res.stderr).toContain("nothing was sent: 1 malformed row (or unreadable files):")
    expect(res.stderr).toContain(`${join(dir, torn)}:${lastLine}: the last row has no line end (a torn row?)`)
    expect(res.stderr).not.toMatch(/^\s+at /m)
    expect(res.summary).toMatchObject({ reason: "malformed", malformed: 1, sent: 0 })
    expect(await kcatConsume(broker.brokers, target)).toEqual([])
  })

  it("bad flags, a path that is not there, no brokers: exit 2 with one message naming what is wrong", async () => {
    const dir = e2e.scratch()
    const cases: Array<[Array<string>, string]> = [
      [["replay", "--dry-run", "--from-offset", "ten", dir], "--from-offset: expected an integer ≥ 0, got \"ten\""],
      [["replay", "--dry-run", "--from-time", "2026-11-22T10:00", dir], "--from-time: expected an ISO 8601 time with its zone"],
      [["replay", "--dry-run", join(dir, "missing")], `paths: "${join(dir, "missing")}" does not exist`],
      [["replay", dir], "brokers: required, got nothing"]
    ]
    for (const [args, message] of cases) {
      const res = await runCli(args, { env: { KAFKA_PIPELINE_BROKERS: "" } })
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr).toContain(message)
      expect(res.stderr).not.toMatch(/^\s+at /m)
      expect(res.stdout.trim()).toBe("")
    }
  })
})

/**
 * `kafka-pipeline archive verify` as a child process, on an archive written by a real
 * `kafka-pipeline run` (backup and DLQ files in one directory, rows with commas, quotes and line
 * breaks), then changed as a directory is over time: a closed hour gzip-compressed, the rows of a
 * restart written again, a foreign file, a torn tail. Its `--json` report agrees with the test's
 * own reading of the files with csv-parse; its exit codes say what the brief says.
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import type { ArchiveReport } from "../../src/domain/ArchiveReport.js"
import { readArchiveDir } from "../support/archive.js"
import { assertReportAgrees, verify } from "../support/archiveVerify.js"
import { uniqueName } from "../support/broker.js"
import { cliE2e, runArgs, runCli } from "../support/cli.js"
import { produceValues } from "../support/produce.js"

const e2e = cliE2e("archive-verify-e2e")

const N = 400
/** Valid JSON, except every 7th record: invalid JSON with a comma, quotes and a line break (dead-lettered). */
const values = Array.from({ length: N }, (_, i) => i % 7 === 3 ? `{"i":${i}, "bad": "a,b\r\n` : `{"i":${i}}`)

let archive: Promise<string> | undefined

/** One pipeline run to the end of the topic, its backup and DLQ archives in one directory; shared by the tests. */
const pipelineArchive = (): Promise<string> =>
  archive ??= (async () => {
    const broker = e2e.broker()
    const topic = uniqueName("verify-src")
    await broker.createTopic(topic, 2)
    await produceValues(broker.brokers, topic, values, (i) => i % 2)
    const { base } = await e2e.dirs()
    const dir = join(base, "archive")
    await mkdir(dir)
    const res = await runCli(runArgs({
      brokers: broker.brokers, topic, group: uniqueName("g"), backupDir: dir, dlqDir: dir,
      processor: "builtin:json", stopAt: [[0, N / 2 - 1], [1, N / 2 - 1]]
    }))
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(res.summary).toMatchObject({ consumed: N, deadLettered: values.filter((v) => v.includes("bad")).length })
    return dir
  })()

/** A copy of the pipeline's archive directory, to change. */
const copyOfArchive = async (): Promise<string> => {
  const source = await pipelineArchive()
  const dir = join((await e2e.dirs()).base, "copy")
  await mkdir(dir)
  for (const name of await readdir(source)) await copyFile(join(source, name), join(dir, name))
  return dir
}

const namesOf = async (dir: string, kind: "backup" | "dlq") => (await readdir(dir)).filter((name) => name.startsWith(`${kind}-`)).sort()

/** `backup-2026-12-03T16.csv` or `….3.csv` → the name of restart `sequence` in the same hour. */
const restartName = (name: string, sequence: number) => name.replace(/(T\d\d)(\.\d+)?\.csv$/, `$1.${sequence}.csv`)

describe.concurrent("kafka-pipeline archive verify", { timeout: 240_000 }, () => {
  it("on the archive of a run: --json agrees with csv-parse; every offset once; exit 0", async () => {
    const dir = await pipelineArchive()
    const res = await verify("--json", dir)
    expect(res.code, res.stderr).toBe(0)
    const report = res.summary as ArchiveReport
    assertReportAgrees(report, readArchiveDir(dir))
    expect(report.skipped).toEqual([])
    // One run, read to the end: each partition's offsets 0–199 once in the backup.
    expect(report.backup.partitions.map((p) => [p.partition, p.rows, p.lowestOffset, p.highestOffset, p.duplicateRows]))
      .toEqual([[0, N / 2, 0, N / 2 - 1, 0], [1, N / 2, 0, N / 2 - 1, 0]])
    const text = await verify(dir)
    expect(text.code).toBe(0)
    expect(text.stdout.trim().split("\n").at(-1)).toMatch(/^OK: \d+ archive files? parsed$/)
  })

  it("a closed hour gzipped, a restart's rows again, a foreign file: agrees with csv-parse; --fail-on-duplicates exits 1", async () => {
    const dir = await copyOfArchive()
    const [firstBackup] = await namesOf(dir, "backup")
    const [firstDlq] = await namesOf(dir, "dlq")
    // The rows of the first backup file written again by a "restart" (compressed); the DLQ hour compressed in place.
    await writeFile(join(dir, `${restartName(firstBackup!, 90)}.gz`), gzipSync(await readFile(join(dir, firstBackup!))))
    await writeFile(join(dir, `${firstDlq}.gz`), gzipSync(await readFile(join(dir, firstDlq!))))
    await rm(join(dir, firstDlq!))
    await writeFile(join(dir, "notes.txt"), "not an archive\n")

    const res = await verify("--json", dir)
    expect(res.code, res.stderr).toBe(0)
    const report = res.summary as ArchiveReport
    assertReportAgrees(report, readArchiveDir(dir))
    expect(report.skipped).toEqual([{ name: "notes.txt", reason: "not an archive file name" }])
    expect(report.files.filter((file) => file.compressed).map((file) => file.name).sort())
      .toEqual([`${restartName(firstBackup!, 90)}.gz`, `${firstDlq}.gz`].sort())
    const duplicated = report.backup.partitions.reduce((sum, p) => sum + p.duplicateRows, 0)
    expect(duplicated).toBe(readArchiveDir(dir).rowsByFile.get(firstBackup!))

    const strict = await verify("--json", "--fail-on-duplicates", dir)
    expect(strict.code).toBe(1)
    expect(strict.summary).toEqual(report)
    expect(strict.stderr).toContain(`archive verify failed: ${duplicated} duplicate rows in the backup archive`)
    const text = await verify("--fail-on-duplicates", dir)
    expect(text.code).toBe(1)
    expect(text.stdout.trim().split("\n").at(-1)).toBe(`FAILED: ${duplicated} duplicate rows in the backup archive`)
  })

  it("a torn tail: exit 1, the file and line named; a directory that is not there: exit 2, one message", async () => {
    const dir = await copyOfArchive()
    const [firstBackup] = await namesOf(dir, "backup")
    const torn = restartName(firstBackup!, 91)
    const csv = await readFile(join(dir, firstBackup!), "utf8")
    await writeFile(join(dir, torn), `${csv}${csv.split("\r\n")[1]!.slice(0, 12)}`)
    const lines = csv.split("\n").length // the torn row starts on the line after the last line end

    const res = await verify("--json", dir)
    expect(res.code).toBe(1)
    expect((res.summary as ArchiveReport).errors).toEqual([
      { file: torn, line: lines, message: "the last row has no line end (a torn row?)" }
    ])
    expect(res.stderr).toContain("archive verify failed: 1 error in 1 file")
    const text = await verify(dir)
    expect(text.code).toBe(1)
    expect(text.stdout).toContain(`  ${torn}:${lines}: the last row has no line end (a torn row?)`)

    const missing = join(dir, "nope")
    const usage = await verify(missing)
    expect(usage.code).toBe(2)
    expect(usage.stdout).toBe("")
    expect(usage.stderr.trim()).toBe(`Invalid configuration:\n  - archive verify: directory "${missing}" does not exist`)
    const noArgument = await verify()
    expect(noArgument.code).toBe(2)
    expect(noArgument.stderr).toContain("Missing required argument: directory")
    expect(noArgument.stderr).not.toMatch(/\n\s+at /)
  })
})

/**
 * `kafka-pipeline archive verify` as a child process, checked against the tests' own reading of
 * the files with csv-parse (`readArchiveDir`), and what the exactly-once tests ask of an archive.
 */
import { expect } from "vitest"
import type { ArchiveReport } from "../../src/domain/ArchiveReport.js"
import { type ArchiveReading, readArchiveDir } from "./archive.js"
import { assertAgrees, naiveOffsets, type NaiveRow } from "./archiveTally.js"
import { runCli, type CliResult } from "./cli.js"

export const verify = (...args: Array<string>): Promise<CliResult> =>
  runCli(["archive", "verify", ...args], { timeoutMs: 120_000 })

/** The report says what csv-parse reads: no error, each file's rows, and per kind and partition rows, ranges, gaps and duplicates. */
export const assertReportAgrees = (report: ArchiveReport, reading: ArchiveReading): void => {
  expect(report.errors).toEqual([])
  expect(new Map(report.files.map((file) => [file.name, file.rows]))).toEqual(reading.rowsByFile)
  expect(report.backup.rows).toBe(reading.backup.length)
  expect(report.dlq.rows).toBe(reading.dlq.length)
  assertAgrees(report.backup.partitions, naiveOffsets(reading.backup))
  assertAgrees(report.dlq.partitions, naiveOffsets(reading.dlq))
}

/**
 * `archive verify --json --fail-on-duplicates dir` exits 0 (every file whole, no offset twice) and
 * its report agrees with csv-parse's reading of the files, which it returns.
 */
export const verifyExactlyOnce = async (dir: string): Promise<ArchiveReading> => {
  const res = await verify("--json", "--fail-on-duplicates", dir)
  expect(res.code, `archive verify ${dir}:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`).toBe(0)
  const reading = readArchiveDir(dir)
  assertReportAgrees(res.summary as ArchiveReport, reading)
  return reading
}

/** `topic:partition` → the offsets of its rows, ascending (a duplicate shows twice). */
export const offsetsByPartition = (rows: ReadonlyArray<NaiveRow>): Map<string, Array<number>> => {
  const byPartition = new Map<string, Array<number>>()
  for (const row of rows) {
    const key = `${row.topic}:${row.partition}`
    const offsets = byPartition.get(key) ?? []
    byPartition.set(key, offsets)
    offsets.push(row.offset)
  }
  for (const offsets of byPartition.values()) offsets.sort((a, b) => a - b)
  return byPartition
}

/** `[3, 4, 5, 9]` → `["3–5", "9"]`: offsets (ascending) as runs, to read in a failure. */
const runs = (offsets: ReadonlyArray<number>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < offsets.length;) {
    let j = i
    while (j + 1 < offsets.length && offsets[j + 1] === offsets[j]! + 1) j++
    out.push(i === j ? `${offsets[i]}` : `${offsets[i]}–${offsets[j]}`)
    i = j + 1
  }
  return out
}

/**
 * How `rows` differ from each expected offset once: per `topic:partition`, the offsets missing,
 * those with more than one row and those not expected, as runs; `{}` when they are exactly the
 * expected offsets, each once.
 */
export const exactlyOnceDiff = (
  rows: ReadonlyArray<NaiveRow>,
  expected: ReadonlyMap<string, ReadonlyArray<number>>
): Record<string, { missing?: Array<string>; twice?: Array<string>; unexpected?: Array<string> }> => {
  const found = offsetsByPartition(rows)
  const diff: ReturnType<typeof exactlyOnceDiff> = {}
  for (const key of new Set([...expected.keys(), ...found.keys()])) {
    const want = new Set(expected.get(key) ?? [])
    const have = found.get(key) ?? []
    const seen = new Set(have)
    const missing = [...want].filter((offset) => !seen.has(offset)).sort((a, b) => a - b)
    const twice = [...new Set(have.filter((offset, i) => have[i - 1] === offset))]
    const unexpected = [...seen].filter((offset) => !want.has(offset))
    if (missing.length + twice.length + unexpected.length === 0) continue
    diff[key] = {
      ...(missing.length > 0 ? { missing: runs(missing) } : {}),
      ...(twice.length > 0 ? { twice: runs(twice) } : {}),
      ...(unexpected.length > 0 ? { unexpected: runs(unexpected) } : {})
    }
  }
  return diff
}

/** `[from, to)`. */
export const range = (from: number, to: number): Array<number> => Array.from({ length: Math.max(to - from, 0) }, (_, i) => from + i)

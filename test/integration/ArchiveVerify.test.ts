/**
 * `ArchiveVerify.run` on real files in a temp directory (node's file system):
 * plain and gzip-compressed files mixed, a restart's duplicates, a gap, a
 * foreign file and a compressed copy skipped; torn, unparseable, empty and
 * wrongly headed files named by file:line; a path that is not a directory.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, PlatformError } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { afterAll } from "vitest"
import { backupHeader, dlqHeader, dlqRow, encodeRow } from "../../src/domain/Csv.js"
import { checkBeforeLoading } from "../../examples/archive-verify.js"
import { ConfigError } from "../../src/domain/Errors.js"
import * as ArchiveVerify from "../../src/streams/ArchiveVerify.js"
import { archived, backupText, dlqText } from "../support/replay.js"

const root = mkdtempSync(join(tmpdir(), "archive-verify-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let dirs = 0
/** A fresh directory holding `files` (a Uint8Array as it is, text as UTF-8). */
const directory = (files: Record<string, string | Uint8Array>): string => {
  const dir = join(root, `d${dirs++}`)
  mkdirSync(dir)
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
  return dir
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const p0 = (offsets: ReadonlyArray<number>) => offsets.map((offset) => archived(offset))
const p1 = (offsets: ReadonlyArray<number>) => offsets.map((offset) => archived(offset, { partition: 1 }))
const gzip = (text: string) => gzipSync(Buffer.from(text))

const verify = (dir: string) => ArchiveVerify.run(dir).pipe(Effect.provide(NodeServices.layer))

const backupHeaderRow = `the header row of a backup archive (${backupHeader.join(",")})`

describe("ArchiveVerify.run on a directory", () => {
  it.effect("plain and gzip files of both archives: rows, ranges, gaps and duplicates per partition; other names skipped", () =>
    Effect.gen(function*() {
      const dlqFirst = dlqText([archived(3), archived(1, { partition: 1 })]) // each row on two lines
      const dir = directory({
        // orders:0 0–4 on lines 2–6, orders:1 0–2 on 7–9, orders:0 5–9 on 10–14
        "backup-2026-12-03T16.csv": backupText([...p0(range(0, 4)), ...p1(range(0, 2)), ...p0(range(5, 9))]),
        // a restart: orders:0 8–12 on lines 2–6 (8 and 9 again), orders:1 5–6
        "backup-2026-12-03T16.1.csv.gz": gzip(backupText([...p0(range(8, 12)), ...p1([5, 6])])),
        "dlq-2026-12-03T16.csv": dlqFirst,
        "dlq-2026-12-03T16.csv.gz": gzip(dlqFirst),
        "dlq-2026-12-03T16.1.csv.gz": gzip(dlqText([archived(3)])),
        "notes.txt": "not an archive"
      })
      const report = yield* verify(dir)
      assert.deepStrictEqual(report, {
        directory: dir,
        files: [
          { name: "backup-2026-12-03T16.csv", kind: "backup", compressed: false, rows: 13, errors: 0 },
          { name: "backup-2026-12-03T16.1.csv.gz", kind: "backup", compressed: true, rows: 7, errors: 0 },
          { name: "dlq-2026-12-03T16.csv", kind: "dlq", compressed: false, rows: 2, errors: 0 },
          { name: "dlq-2026-12-03T16.1.csv.gz", kind: "dlq", compressed: true, rows: 1, errors: 0 }
        ],
        skipped: [
          { name: "dlq-2026-12-03T16.csv.gz", reason: "a compressed copy of dlq-2026-12-03T16.csv, which is read" },
          { name: "notes.txt", reason: "not an archive file name" }
        ],
        errors: [],
        backup: {
          files: 2,
          rows: 20,
          partitions: [
            {
              topic: "orders", partition: 0, rows: 15, offsets: 13, lowestOffset: 0, highestOffset: 12,
              gaps: [], missingOffsets: 0, duplicateRows: 2,
              duplicates: [{
                from: 8,
                to: 9,
                copies: [
                  { file: "backup-2026-12-03T16.csv", fromLine: 13, toLine: 14 },
                  { file: "backup-2026-12-03T16.1.csv.gz", fromLine: 2, toLine: 3 }
                ]
              }]
            },
            {
              topic: "orders", partition: 1, rows: 5, offsets: 5, lowestOffset: 0, highestOffset: 6,
              gaps: [{ from: 3, to: 4 }], missingOffsets: 2, duplicates: [], duplicateRows: 0
            }
          ]
        },
        dlq: {
          files: 2,
          rows: 3,
          partitions: [
            {
              topic: "orders", partition: 0, rows: 2, offsets: 1, lowestOffset: 3, highestOffset: 3,
              gaps: [], missingOffsets: 0, duplicateRows: 1,
              duplicates: [{
                from: 3,
                to: 3,
                copies: [
                  { file: "dlq-2026-12-03T16.csv", fromLine: 2, toLine: 2 },
                  { file: "dlq-2026-12-03T16.1.csv.gz", fromLine: 2, toLine: 2 }
                ]
              }]
            },
            {
              topic: "orders", partition: 1, rows: 1, offsets: 1, lowestOffset: 1, highestOffset: 1,
              gaps: [], missingOffsets: 0, duplicates: [], duplicateRows: 0
            }
          ]
        }
      })
      assert.deepStrictEqual(ArchiveVerify.failures(report), [])
      assert.deepStrictEqual(ArchiveVerify.failures(report, { failOnDuplicates: true }), [
        "2 duplicate rows in the backup archive",
        "1 duplicate row in the dlq archive"
      ])
      // The report is what `--json` prints: plain data.
      assert.deepStrictEqual(JSON.parse(JSON.stringify(report)), report)
    }))

  it.effect("a torn last row, an unparseable row, a wrong, missing or absent header, a torn gzip: each by file:line", () =>
    Effect.gen(function*() {
      const badAttempts = [...dlqRow(archived(7), { errorType: "E", message: "m", detail: "d", attempts: 1 }, 0)]
      badAttempts[12] = "x"
      const wholeGzip = gzip(dlqText(p1(range(100, 299))))
      const dir = directory({
        "backup-2026-12-03T17.csv": `${backupText(p0([0, 1]))}orders,0,2,2026-12-`,
        // DLQ rows (one of them bad) in a file named backup: the header's error comes first, at line 1.
        "backup-2026-12-03T18.csv": `${dlqText([archived(5)])}${encodeRow(badAttempts)}`,
        "backup-2026-12-03T19.csv": "",
        "backup-2026-12-03T20.csv": backupText(p0([9])).slice(encodeRow(backupHeader).length),
        "dlq-2026-12-03T17.csv": `${dlqText([archived(6)])}${encodeRow(badAttempts)}`,
        "dlq-2026-12-03T18.csv.gz": wholeGzip.subarray(0, wholeGzip.length - 12)
      })
      const report = yield* verify(dir)
      const [tornGzip, ...rest] = report.errors.filter((error) => error.file === "dlq-2026-12-03T18.csv.gz")
      assert.strictEqual(rest.length, 0)
      assert.match(tornGzip!.message, /^cannot decompress: /)
      assert.deepStrictEqual(report.errors.filter((error) => error !== tornGzip), [
        { file: "backup-2026-12-03T17.csv", line: 4, message: "the last row has no line end (a torn row?)" },
        {
          file: "backup-2026-12-03T18.csv",
          line: 1,
          message: `expected ${backupHeaderRow}, got the header row of a DLQ archive (${dlqHeader.join(",")})`
        },
        { file: "backup-2026-12-03T18.csv", line: 4, message: "attempts: expected an integer from 0 to 9007199254740991, got \"x\"" },
        { file: "backup-2026-12-03T19.csv", line: 1, message: `expected ${backupHeaderRow}, got an empty file` },
        {
          file: "backup-2026-12-03T20.csv",
          line: 1,
          message: `expected the header row of a DLQ archive (${dlqHeader.join(",")}) or of a backup archive (${
            backupHeader.join(",")
          }), got "orders,0,9,2026-11-22T10:00:09.000Z,k9,utf8,{\\"i\\":9,utf8,[]"`
        },
        {
          file: "dlq-2026-12-03T17.csv",
          line: 4,
          message: "attempts: expected an integer from 0 to 9007199254740991, got \"x\""
        }
      ])
      assert.deepStrictEqual(report.files.map((file) => [file.name, file.rows, file.errors]), [
        ["backup-2026-12-03T17.csv", 2, 1],
        ["backup-2026-12-03T18.csv", 1, 2],
        ["backup-2026-12-03T19.csv", 0, 1],
        ["backup-2026-12-03T20.csv", 0, 1],
        ["dlq-2026-12-03T17.csv", 1, 1],
        ["dlq-2026-12-03T18.csv.gz", report.files[5]!.rows, 1]
      ])
      // The rows read before the gzip ends are counted; the DLQ rows of the file named backup go to the DLQ.
      const beforeTheEnd = report.files[5]!.rows
      assert.isAbove(beforeTheEnd, 0)
      assert.isBelow(beforeTheEnd, 200)
      assert.deepStrictEqual(report.dlq.partitions.map((p) => [p.partition, p.lowestOffset, p.highestOffset, p.rows]), [
        [0, 5, 6, 2],
        [1, 100, 99 + beforeTheEnd, beforeTheEnd]
      ])
      assert.deepStrictEqual(report.backup.partitions.map((p) => [p.partition, p.lowestOffset, p.highestOffset, p.rows]), [[0, 0, 1, 2]])
      assert.deepStrictEqual(ArchiveVerify.failures(report), [
        "7 errors in 6 files (torn, unparseable or without their header)"
      ])
    }))

  it.effect("a directory with no archive file: an empty report that passes", () =>
    Effect.gen(function*() {
      const dir = directory({ "README": "x" })
      const report = yield* verify(dir)
      assert.deepStrictEqual(report.files, [])
      assert.deepStrictEqual(report.backup, { files: 0, rows: 0, partitions: [] })
      assert.deepStrictEqual(ArchiveVerify.failures(report, { failOnDuplicates: true }), [])
    }))

  it.effect("a path that does not exist, is a file, or cannot be listed: a ConfigError naming it", () =>
    Effect.gen(function*() {
      const missing = join(root, "missing")
      const file = join(directory({ "backup-2026-12-03T16.csv": backupText([]) }), "backup-2026-12-03T16.csv")
      const errors = yield* Effect.all([verify(missing), verify(file), verify(`${file}/x`)].map(Effect.flip))
      assert.deepStrictEqual(errors.map((error) => error instanceof ConfigError && error.issues), [
        [`archive verify: directory "${missing}" does not exist`],
        [`archive verify: "${file}" is not a directory (it is a file)`],
        [`archive verify: directory "${file}/x" does not exist (a part of the path is a file)`]
      ])
      // Permission bits do not stop root: a file system that cannot list the directory stands in.
      const unlisted = directory({})
      const fs = yield* FileSystem.FileSystem
      const cannotList = FileSystem.FileSystem.of({
        ...fs,
        readDirectory: (path) =>
          Effect.fail(PlatformError.systemError({
            _tag: "PermissionDenied",
            module: "FileSystem",
            method: "readDirectory",
            pathOrDescriptor: path
          }))
      })
      const denied = yield* ArchiveVerify.run(unlisted).pipe(Effect.provideService(FileSystem.FileSystem, cannotList), Effect.flip)
      assert.instanceOf(denied, ConfigError)
      assert.match(denied.issues[0]!, new RegExp(`^archive verify: directory "${unlisted}" cannot be listed: PermissionDenied`))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("the README's example (examples/archive-verify.ts): ok for every offset once, not ok for one twice", () =>
    Effect.gen(function*() {
      const clean = directory({ "backup-2026-12-03T16.csv": backupText(p0(range(0, 4))) })
      const once = yield* checkBeforeLoading(clean)
      assert.isTrue(once.ok)
      assert.deepStrictEqual(once.partitions.map((p) => [p.rows, p.lowestOffset, p.highestOffset]), [[5, 0, 4]])
      const twice = directory({
        "backup-2026-12-03T16.csv": backupText(p0(range(0, 4))),
        "backup-2026-12-03T16.1.csv": backupText(p0([4]))
      })
      const duplicated = yield* checkBeforeLoading(twice)
      assert.isFalse(duplicated.ok)
      assert.deepStrictEqual(duplicated.failures, ["1 duplicate row in the backup archive"])
    }).pipe(Effect.provide(NodeServices.layer)))
})

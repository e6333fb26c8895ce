import { assert, describe, it } from "@effect/vitest"
import { type ArchiveReport, failures, formatReport, type KindReport } from "../../src/domain/ArchiveReport.js"
import { ArchiveTally, type TalliedRow } from "../../src/domain/ArchiveTally.js"

const kind = (rows: ReadonlyArray<TalliedRow>, files: number): KindReport => {
  const tally = new ArchiveTally()
  for (const row of rows) tally.add(row)
  const partitions = tally.summaries()
  return { files, rows: rows.length, partitions }
}

const row = (file: string, line: number, offset: number, partition = 0): TalliedRow => ({
  topic: "orders",
  partition,
  offset,
  file,
  line
})

const report = (overrides: Partial<ArchiveReport> = {}): ArchiveReport => ({
  directory: "archive",
  files: [],
  skipped: [],
  errors: [],
  backup: kind([], 0),
  dlq: kind([], 0),
  ...overrides
})

const B0 = "backup-2026-12-03T16.csv"
const B1 = "backup-2026-12-03T16.1.csv"

describe("failures", () => {
  it("none for a clean archive; errors always; duplicates only when asked", () => {
    const duplicated = report({
      backup: kind([row(B0, 2, 0), row(B0, 3, 1), row(B1, 2, 1)], 2),
      dlq: kind([row("dlq-2026-12-03T16.csv", 2, 4), row("dlq-2026-12-03T16.csv", 3, 4)], 1)
    })
    assert.deepStrictEqual(failures(duplicated), [])
    assert.deepStrictEqual(failures(duplicated, { failOnDuplicates: true }), [
      "1 duplicate row in the backup archive",
      "1 duplicate row in the dlq archive"
    ])
    const broken = report({
      errors: [
        { file: B0, line: 4, message: "the last row has no line end (a torn row?)" },
        { file: B1, line: 2, message: "offset: expected an integer" },
        { file: B1, line: 3, message: "offset: expected an integer" }
      ]
    })
    assert.deepStrictEqual(failures(broken), ["3 errors in 2 files (torn, unparseable or without their header)"])
  })

  it("every reason in the verdict, one after the other", () => {
    const text = formatReport(
      report({
        errors: [{ file: B1, line: 4, message: "the last row has no line end (a torn row?)" }],
        backup: kind([row(B0, 2, 0), row(B1, 2, 0)], 2)
      }),
      { failOnDuplicates: true }
    )
    assert.strictEqual(
      text.split("\n").at(-1),
      "FAILED: 1 error in 1 file (torn, unparseable or without their header); 1 duplicate row in the backup archive"
    )
  })
})

describe("formatReport", () => {
  it("per archive and partition: rows, range, duplicates with their copies' lines, gaps; skipped; errors; the verdict", () => {
    const text = formatReport(report({
      files: [
        { name: B0, kind: "backup", compressed: false, rows: 4, errors: 0 },
        { name: B1, kind: "backup", compressed: false, rows: 2, errors: 1 }
      ],
      skipped: [{ name: "notes.txt", reason: "not an archive file name" }],
      errors: [{ file: B1, line: 4, message: "the last row has no line end (a torn row?)" }],
      backup: kind([
        row(B0, 2, 0),
        row(B0, 3, 1),
        row(B0, 4, 2),
        row(B0, 5, 7, 1),
        row(B1, 2, 1),
        row(B1, 3, 2)
      ], 2)
    }))
    assert.strictEqual(
      text,
      [
        "archive archive",
        "backup: 2 files, 6 rows",
        "  orders:0  5 rows, offsets 0–2; 2 duplicate rows",
        `    duplicate offsets 1–2 (2) ×2: ${B0}:3–4, ${B1}:2–3`,
        "  orders:1  1 row, offset 7",
        "dlq: 0 files, 0 rows",
        "skipped:",
        "  notes.txt: not an archive file name",
        "errors:",
        `  ${B1}:4: the last row has no line end (a torn row?)`,
        "FAILED: 1 error in 1 file (torn, unparseable or without their header)"
      ].join("\n")
    )
  })

  it("a clean archive passes and says how many duplicate rows --fail-on-duplicates would fail on", () => {
    const clean = report({
      files: [{ name: B0, kind: "backup", compressed: false, rows: 3, errors: 0 }],
      backup: kind([row(B0, 2, 5), row(B0, 3, 5), row(B0, 4, 9)], 1)
    })
    const lines = formatReport(clean).split("\n")
    assert.deepStrictEqual(lines.slice(2, 5), [
      "  orders:0  3 rows, offsets 5–9; 1 duplicate row, 3 offsets missing",
      `    duplicate offset 5 ×2: ${B0}:2, ${B0}:3`,
      "    gap: offsets 6–8 (3)"
    ])
    assert.strictEqual(lines.at(-1), "OK: 1 archive file parsed (1 duplicate row; --fail-on-duplicates fails on them)")
    assert.strictEqual(
      formatReport(clean, { failOnDuplicates: true }).split("\n").at(-1),
      "FAILED: 1 duplicate row in the backup archive"
    )
    assert.strictEqual(formatReport(report()).split("\n").at(-1), "OK: 0 archive files parsed")
  })

  it("nothing skipped and no error: no such section; duplicates in the DLQ archive count in the verdict", () => {
    const D0 = "dlq-2026-12-03T16.csv"
    const text = formatReport(report({
      files: [{ name: D0, kind: "dlq", compressed: false, rows: 2, errors: 0 }],
      dlq: kind([row(D0, 2, 4), row(D0, 3, 4)], 1)
    }))
    assert.strictEqual(
      text,
      [
        "archive archive",
        "backup: 0 files, 0 rows",
        "dlq: 1 file, 2 rows",
        "  orders:0  2 rows, offset 4; 1 duplicate row",
        `    duplicate offset 4 ×2: ${D0}:2, ${D0}:3`,
        "OK: 1 archive file parsed (1 duplicate row; --fail-on-duplicates fails on them)"
      ].join("\n")
    )
  })

  it("lists ten gaps and ten duplicate ranges per partition, then how many more", () => {
    // Offsets 0, 2, 4, …, 40 twice each (two files): 20 gaps, 21 duplicated offsets.
    const even = Array.from({ length: 21 }, (_, i) => 2 * i)
    const text = formatReport(report({
      backup: kind([...even.map((offset, i) => row(B0, 2 + i, offset)), ...even.map((offset, i) => row(B1, 2 + i, offset))], 2)
    }))
    const lines = text.split("\n")
    assert.strictEqual(lines.filter((line) => line.startsWith("    duplicate ")).length, 10)
    assert.strictEqual(lines.filter((line) => line.startsWith("    gap: ")).length, 10)
    assert.include(lines, "    … 11 more duplicate ranges (--json lists all)")
    assert.include(lines, "    … 10 more gaps (--json lists all)")
  })

  it("ten gaps are all listed; eleven, one more", () => {
    // Offsets 0, 2, …, 2·gaps: one gap between each two.
    const gapLines = (gaps: number) =>
      formatReport(report({ backup: kind(Array.from({ length: gaps + 1 }, (_, i) => row(B0, 2 + i, 2 * i)), 1) }))
        .split("\n")
        .filter((line) => line.startsWith("    "))
    assert.deepStrictEqual(gapLines(10), Array.from({ length: 10 }, (_, i) => `    gap: offset ${2 * i + 1}`))
    assert.deepStrictEqual(gapLines(11).slice(10), ["    … 1 more gap (--json lists all)"])
  })
})

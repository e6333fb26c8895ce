import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { HOUR_CLOSE_MARGIN_MS } from "../../src/domain/ArchiveFile.js"
import {
  CompressionError,
  compressedName,
  parseTemporaryName,
  planSweep,
  temporaryName
} from "../../src/domain/ArchiveCompression.js"
import { encodeRow } from "../../src/domain/Csv.js"
import { CsvReader } from "../../src/domain/CsvReader.js"
import { WholeRows } from "../../src/domain/WholeRows.js"
import { listArchiveFiles } from "../../src/domain/ArchiveListing.js"

const at = (iso: string) => Date.parse(iso)
const MINUTE = 60_000

describe("ArchiveCompression", () => {
  describe("names", () => {
    it("a compressed file is the plain name with .gz, which the replay listing reads", () => {
      assert.strictEqual(compressedName("backup-2026-12-03T16.csv"), "backup-2026-12-03T16.csv.gz")
      assert.deepStrictEqual(listArchiveFiles([compressedName("backup-2026-12-03T16.csv")], "backup").files, [
        "backup-2026-12-03T16.csv.gz"
      ])
    })

    it("a temporary is never taken for an archive file, and names its source, kind and start", () => {
      const name = temporaryName("dlq-2026-12-03T16.1.csv", 1_764_777_600_000, "3f9a")
      assert.strictEqual(name, "dlq-2026-12-03T16.1.csv.gz.1764777600000-3f9a.tmp")
      const listing = listArchiveFiles([name], "dlq")
      assert.deepStrictEqual(listing.files, [])
      assert.deepStrictEqual(listing.skipped.map((skipped) => skipped.name), [name])
      assert.deepStrictEqual(parseTemporaryName(name), {
        source: "dlq-2026-12-03T16.1.csv",
        kind: "dlq",
        startedAt: 1_764_777_600_000
      })
    })

    it("other names are not temporaries", () => {
      for (
        const name of [
          "backup-2026-12-03T16.csv.gz",
          "backup-2026-12-03T16.csv.gz.tmp",
          "notes.csv.gz.1-a.tmp",
          "backup-2026-13-03T16.csv.gz.1-a.tmp",
          "backup-2026-12-03T16.csv.gz.99999999999999999999-a.tmp",
          "backup-2026-12-03T16.csv.gz.1-A.tmp"
        ]
      ) assert.isUndefined(parseTemporaryName(name), name)
    })

    it("any start time and token round-trip", () => {
      fc.assert(fc.property(fc.nat({ max: 2 ** 50 }), fc.stringMatching(/^[0-9a-z]{1,12}$/), (startedAt, token) => {
        const parsed = parseTemporaryName(temporaryName("backup-2026-12-03T16.csv", startedAt, token))
        assert.deepStrictEqual(parsed, { source: "backup-2026-12-03T16.csv", kind: "backup", startedAt })
      }))
    })
  })

  describe("planSweep: which files a sweep takes", () => {
    const hour16 = ["backup-2026-12-03T16.csv", "backup-2026-12-03T16.1.csv"]
    const names = [
      "backup-2026-12-03T15.csv",
      ...hour16,
      "backup-2026-12-03T17.csv",
      "backup-2026-12-03T14.csv.gz",
      "dlq-2026-12-03T15.csv",
      "notes.txt",
      "backup-2026-12-03T15.csv.tmp"
    ]

    it("the plain files of an hour that ended more than the margin ago, oldest first, of its own kind only", () => {
      const plan = planSweep(names, "backup", at("2026-12-03T17:00:00Z") + HOUR_CLOSE_MARGIN_MS + 1)
      assert.deepStrictEqual(plan.compress, ["backup-2026-12-03T15.csv", ...hour16])
      assert.deepStrictEqual(planSweep(names, "dlq", at("2026-12-03T17:30:00Z")).compress, ["dlq-2026-12-03T15.csv"])
    })

    it("oldest first whatever the listing's order: by hour, then by restart sequence (10 after 9)", () => {
      const listed = [
        "backup-2026-12-03T16.10.csv",
        "backup-2026-12-03T16.csv",
        "backup-2026-12-03T15.2.csv",
        "backup-2026-12-03T16.9.csv",
        "backup-2026-12-03T14.csv",
        "backup-2026-12-03T15.csv"
      ]
      assert.deepStrictEqual(planSweep(listed, "backup", at("2026-12-04T00:00:00Z")).compress, [
        "backup-2026-12-03T14.csv",
        "backup-2026-12-03T15.csv",
        "backup-2026-12-03T15.2.csv",
        "backup-2026-12-03T16.csv",
        "backup-2026-12-03T16.9.csv",
        "backup-2026-12-03T16.10.csv"
      ])
    })

    it("an hour that ended exactly the margin ago, or less, is left to its writer", () => {
      const plan = planSweep(names, "backup", at("2026-12-03T17:00:00Z") + HOUR_CLOSE_MARGIN_MS)
      assert.deepStrictEqual(plan.compress, ["backup-2026-12-03T15.csv"])
      assert.deepStrictEqual(planSweep(names, "backup", at("2026-12-03T16:10:00Z")).compress, [])
      assert.deepStrictEqual(planSweep(names, "backup", at("2026-12-03T16:10:00Z") + 1).compress, [
        "backup-2026-12-03T15.csv"
      ])
    })

    it("the file a rotation just closed comes first, margin or not, and only if it is there", () => {
      const now = at("2026-12-03T17:00:00Z")
      assert.deepStrictEqual(planSweep(names, "backup", now, "backup-2026-12-03T16.1.csv").compress, [
        "backup-2026-12-03T16.1.csv",
        "backup-2026-12-03T15.csv"
      ])
      assert.deepStrictEqual(planSweep(names, "backup", now, "backup-2026-12-03T16.2.csv").compress, [
        "backup-2026-12-03T15.csv"
      ])
      const later = at("2026-12-03T18:00:00Z")
      assert.deepStrictEqual(planSweep(names, "backup", later, "backup-2026-12-03T16.csv").compress, [
        "backup-2026-12-03T16.csv",
        "backup-2026-12-03T15.csv",
        "backup-2026-12-03T16.1.csv"
      ], "once, even when it is due too")
    })

    it("removes the temporaries of its kind started more than the margin ago, and only those", () => {
      const started = at("2026-12-03T17:01:00Z")
      const old = temporaryName("backup-2026-12-03T16.csv", started, "a1")
      const fresh = temporaryName("backup-2026-12-03T16.csv", started + 5 * MINUTE, "b2")
      const otherKind = temporaryName("dlq-2026-12-03T16.csv", started, "c3")
      const plan = planSweep([old, fresh, otherKind, ...names], "backup", started + HOUR_CLOSE_MARGIN_MS + 1)
      assert.deepStrictEqual(plan.remove, [old])
      assert.deepStrictEqual(planSweep([old], "backup", started + HOUR_CLOSE_MARGIN_MS).remove, [])
    })
  })
})

describe("CompressionError", () => {
  it("says which step failed on which file, why, and that the file stays plain for the next sweep", () => {
    const LATER = "what is not compressed stays plain, and the next sweep (at the next hourly rotation or start) compresses it"
    const file = "/archive/backup-2026-12-03T16.csv"
    const steps = [
      ["list", "list the directory"],
      ["compress", "compress"],
      ["rename", "rename into place the compressed copy of"],
      ["sync", "sync the directory after compressing"],
      ["remove", "remove, once compressed,"]
    ] as const
    for (const [step, words] of steps) {
      const error = new CompressionError({ archive: "dlq", path: file, step, cause: new Error("ENOSPC: no space left on device") })
      assert.strictEqual(error.message, `dlq archive: cannot ${words} ${file}: ENOSPC: no space left on device; ${LATER}`)
    }
  })
})

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (chunks: ReadonlyArray<Uint8Array>) => Buffer.concat(chunks).toString("utf8")

/** Passes `input` through `WholeRows` in chunks of `size`. */
const cut = (input: string, size: number) => {
  const rows = new WholeRows()
  const all = bytes(input)
  const out: Array<Uint8Array> = []
  for (let at = 0; at < all.length; at += size) {
    const pieces = rows.push(all.subarray(at, at + size))
    assert.isTrue(pieces.every((piece) => piece.length > 0), "no empty piece is passed on")
    out.push(...pieces)
  }
  return { whole: text(out), wholeBytes: rows.wholeBytes, cut: rows.end() }
}

describe("WholeRows", () => {
  const header = encodeRow(["topic", "value"])
  const rowA = encodeRow(["t", "a,\"b\"\r\nc"])
  const rowB = encodeRow(["t", "plain"])

  it("passes a file that ends on a row's line end through whole, cutting nothing", () => {
    for (const size of [1, 3, 64]) {
      assert.deepStrictEqual(cut(header + rowA + rowB, size), {
        whole: header + rowA + rowB,
        wholeBytes: bytes(header + rowA + rowB).length,
        cut: 0
      })
    }
  })

  it("cuts a torn tail back to the last whole row: no line end, a lone CR, a quote still open across a line end", () => {
    for (const torn of ["t,pla", "t,plain\r", "t,\"a,\r\nb", "t,\"a\"\"\r\n"]) {
      for (const size of [1, 2, 7, 1024]) {
        const result = cut(header + rowA + torn, size)
        assert.strictEqual(result.whole, header + rowA, `${JSON.stringify(torn)} in chunks of ${size}`)
        assert.strictEqual(result.cut, bytes(torn).length)
      }
    }
  })

  it("a torn header leaves nothing whole", () => {
    assert.deepStrictEqual(cut("topic,va", 4), { whole: "", wholeBytes: 0, cut: 8 })
  })

  it("whatever the rows and the chunking, the whole part parses to every row, and a torn row is cut", () => {
    const field = fc.string({ unit: fc.constantFrom("a", ",", "\"", "\r", "\n", "é") })
    fc.assert(fc.property(
      fc.array(fc.array(field, { minLength: 1, maxLength: 3 }), { maxLength: 5 }),
      fc.nat(),
      fc.integer({ min: 1, max: 9 }),
      (rows, tornAt, size) => {
        const whole = rows.map(encodeRow).join("")
        const last = encodeRow(["x\"y\r\nz", "w"])
        const torn = last.slice(0, tornAt % last.length)
        const result = cut(whole + torn, size)
        assert.strictEqual(result.whole, whole)
        assert.strictEqual(result.cut, bytes(torn).length)
        const reader = new CsvReader()
        const parsed = reader.push(bytes(result.whole))
        assert.isUndefined(reader.end())
        assert.deepStrictEqual(parsed.map((row) => row._tag === "Row" ? row.fields : row), rows)
      }
    ))
  })
})

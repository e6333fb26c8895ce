import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  archiveFileName,
  hourStart,
  nextArchiveSequence,
  nextHourStart,
  parseArchiveFileName
} from "../../src/domain/ArchiveFile.js"

const at = (iso: string) => Date.parse(iso)

/** The range a four-digit year can name. */
const firstMs = at("0000-01-01T00:00:00.000Z")
const lastMs = at("9999-12-31T23:59:59.999Z")

describe("ArchiveFile", () => {
  describe("hours (UTC)", () => {
    it("10:59:50 and 11:00:10 land in different files (seed: Hourly Rotation)", () => {
      const before = at("2026-11-22T10:59:50Z")
      const after = at("2026-11-22T11:00:10Z")
      assert.strictEqual(archiveFileName("backup", before, 0), "backup-2026-11-22T10.csv")
      assert.strictEqual(archiveFileName("backup", after, 0), "backup-2026-11-22T11.csv")
      assert.strictEqual(nextHourStart(before), at("2026-11-22T11:00:00Z"))
      assert.strictEqual(nextHourStart(before) - before, 10_000, "rotation is due 10 s later")
    })

    it("an hour starts at its first millisecond and ends just before the next", () => {
      assert.strictEqual(hourStart(at("2026-11-22T11:00:00.000Z")), at("2026-11-22T11:00:00Z"))
      assert.strictEqual(hourStart(at("2026-11-22T10:59:59.999Z")), at("2026-11-22T10:00:00Z"))
      assert.strictEqual(nextHourStart(at("2026-11-22T11:00:00.000Z")), at("2026-11-22T12:00:00Z"))
      assert.strictEqual(hourStart(0), 0)
      assert.strictEqual(hourStart(-1), -3_600_000, "before the epoch too")
    })

    it("rolls over midnight, month end, leap day and year end", () => {
      const cases: Array<[string, string, string]> = [
        ["2026-11-22T23:59:59.999Z", "dlq-2026-11-22T23.csv", "dlq-2026-11-23T00.csv"],
        ["2026-11-30T23:00:00.000Z", "dlq-2026-11-30T23.csv", "dlq-2026-12-01T00.csv"],
        ["2028-02-28T23:10:00.000Z", "dlq-2028-02-28T23.csv", "dlq-2028-02-29T00.csv"],
        ["2026-12-31T23:30:00.000Z", "dlq-2026-12-31T23.csv", "dlq-2027-01-01T00.csv"]
      ]
      for (const [time, current, next] of cases) {
        assert.strictEqual(archiveFileName("dlq", at(time), 0), current)
        assert.strictEqual(archiveFileName("dlq", nextHourStart(at(time)), 0), next)
      }
    })

    it("names UTC hours, not local ones: a DST switch changes nothing", () => {
      // 2026-03-29 01:00 UTC is the switch to summer time in Europe. (The suite also passes under TZ=Pacific/Chatham, UTC+13:45.)
      const start = at("2026-03-29T01:00:00Z")
      assert.strictEqual(archiveFileName("backup", start, 0), "backup-2026-03-29T01.csv")
      assert.strictEqual(archiveFileName("backup", nextHourStart(start), 0), "backup-2026-03-29T02.csv")
    })
  })

  describe("archiveFileName", () => {
    it("adds the sequence of a restart within the hour", () => {
      const time = at("2026-11-22T10:15:00Z")
      assert.strictEqual(archiveFileName("backup", time, 0), "backup-2026-11-22T10.csv")
      assert.strictEqual(archiveFileName("backup", time, 1), "backup-2026-11-22T10.1.csv")
      assert.strictEqual(archiveFileName("dlq", time, 12), "dlq-2026-11-22T10.12.csv")
    })

    it("pads years, months, days and hours", () => {
      assert.strictEqual(archiveFileName("backup", at("0042-01-02T03:00:00Z"), 0), "backup-0042-01-02T03.csv")
      assert.strictEqual(archiveFileName("backup", firstMs, 0), "backup-0000-01-01T00.csv")
      assert.strictEqual(archiveFileName("backup", lastMs, 0), "backup-9999-12-31T23.csv")
    })

    it("refuses names that could not be parsed back", () => {
      for (const sequence of [-1, 1.5, Number.NaN, 2 ** 53]) {
        assert.throws(() => archiveFileName("backup", 0, sequence), RangeError)
      }
      for (const time of [firstMs - 1, lastMs + 1, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(() => archiveFileName("backup", time, 0), RangeError)
      }
      assert.throws(() => archiveFileName("dlq", 0, -1), "archive file sequence must be a non-negative integer, got -1")
      assert.throws(() => archiveFileName("dlq", lastMs + 1, 0), `archive file time out of range: ${lastMs + 1}`)
    })

    it("reads no name whose sequence is past the safe integers (it could not be written back)", () => {
      assert.isUndefined(parseArchiveFileName("backup-2026-11-22T10.99999999999999999999.csv"))
      assert.strictEqual(parseArchiveFileName("backup-2026-11-22T10.9007199254740991.csv")?.sequence, 2 ** 53 - 1)
    })
  })

  describe("parseArchiveFileName", () => {
    it("reads kind, hour and sequence", () => {
      assert.deepStrictEqual(parseArchiveFileName("backup-2026-11-22T10.csv"), {
        kind: "backup",
        hourStart: at("2026-11-22T10:00:00Z"),
        sequence: 0
      })
      assert.deepStrictEqual(parseArchiveFileName("dlq-2026-11-22T10.3.csv"), {
        kind: "dlq",
        hourStart: at("2026-11-22T10:00:00Z"),
        sequence: 3
      })
      assert.deepStrictEqual(parseArchiveFileName("backup-0012-06-01T00.csv")?.hourStart, at("0012-06-01T00:00:00Z"))
    })

    it("rejects other files, impossible dates and non-canonical forms", () => {
      for (const name of [
        "backup-2026-11-22T10.csv.tmp",
        "notes.txt",
        "archive-2026-11-22T10.csv",
        "backup-2026-11-22T10.0.csv",
        "backup-2026-11-22T10.01.csv",
        "backup-2026-11-22T10.99999999999999999.csv",
        "backup-2026-11-22T1.csv",
        "backup-2026-13-01T00.csv",
        "backup-2026-02-30T00.csv",
        "backup-2026-11-22T24.csv",
        "backup-2026-00-10T00.csv",
        "backup-9999-12-31T24.csv",
        "backup-2026-11-22t10.csv",
        "BACKUP-2026-11-22T10.csv"
      ]) {
        assert.strictEqual(parseArchiveFileName(name), undefined, name)
      }
    })

    it("parse ∘ format is the identity on (kind, hour, sequence) (property)", () => {
      fc.assert(
        fc.property(
          fc.constantFrom("backup" as const, "dlq" as const),
          fc.integer({ min: firstMs, max: lastMs }),
          fc.oneof(fc.constant(0), fc.nat(), fc.maxSafeNat()),
          (kind, time, sequence) => {
            const name = archiveFileName(kind, time, sequence)
            assert.deepStrictEqual(parseArchiveFileName(name), { kind, hourStart: hourStart(time), sequence })
            assert.isAtMost(hourStart(time), time)
            assert.isBelow(time, nextHourStart(time))
            assert.strictEqual(archiveFileName(kind, hourStart(time), sequence), name, "one name per hour")
          }
        ),
        { numRuns: 2000 }
      )
    })

    it("first files of later hours sort after earlier ones (property)", () => {
      fc.assert(
        fc.property(fc.integer({ min: firstMs, max: lastMs }), fc.integer({ min: firstMs, max: lastMs }), (a, b) => {
          fc.pre(hourStart(a) !== hourStart(b))
          const [early, late] = a < b ? [a, b] : [b, a]
          assert.isTrue(archiveFileName("backup", early, 0) < archiveFileName("backup", late, 0))
        })
      )
    })
  })

  describe("nextArchiveSequence", () => {
    const existing = [
      "backup-2026-11-22T10.csv",
      "backup-2026-11-22T10.1.csv",
      "backup-2026-11-22T10.4.csv",
      "dlq-2026-11-22T10.csv",
      "backup-2026-11-22T11.csv",
      "backup-2026-11-22T10.7.csv.partial",
      "README.md"
    ]

    it("is the first sequence past every file of that kind and hour", () => {
      assert.strictEqual(nextArchiveSequence("backup", at("2026-11-22T10:30:00Z"), existing), 5)
      assert.strictEqual(nextArchiveSequence("dlq", at("2026-11-22T10:59:59Z"), existing), 1)
      assert.strictEqual(nextArchiveSequence("backup", at("2026-11-22T11:00:00Z"), existing), 1)
      assert.strictEqual(nextArchiveSequence("dlq", at("2026-11-22T12:00:00Z"), existing), 0)
      assert.strictEqual(nextArchiveSequence("backup", at("2026-11-22T10:00:00Z"), []), 0)
    })

    it("never returns a name that exists (property)", () => {
      const time = at("2026-11-22T10:30:00Z")
      fc.assert(
        fc.property(fc.uniqueArray(fc.nat({ max: 20 })), (sequences) => {
          const names = sequences.map((sequence) => archiveFileName("backup", time, sequence))
          const next = nextArchiveSequence("backup", time, names)
          assert.notInclude(names, archiveFileName("backup", time, next))
        })
      )
    })
  })
})

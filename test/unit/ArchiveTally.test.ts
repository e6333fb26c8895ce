import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { ArchiveTally, type TalliedRow } from "../../src/domain/ArchiveTally.js"
import { assertAgrees, naiveOffsets } from "../support/archiveTally.js"

/** Rows of `file` for `offsets` of orders:0, one per line from `line`. */
const rows = (file: string, offsets: ReadonlyArray<number>, line = 2, partition = 0): Array<TalliedRow> =>
  offsets.map((offset, index) => ({ topic: "orders", partition, offset, file, line: line + index }))

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

const tally = (all: ReadonlyArray<TalliedRow>) => {
  const tally = new ArchiveTally()
  for (const row of all) tally.add(row)
  return tally.summaries()
}

describe("ArchiveTally", () => {
  it("a partition read once: its rows and offset range, no gap, no duplicate", () => {
    assert.deepStrictEqual(tally(rows("a.csv", range(0, 9))), [{
      topic: "orders",
      partition: 0,
      rows: 10,
      offsets: 10,
      lowestOffset: 0,
      highestOffset: 9,
      gaps: [],
      missingOffsets: 0,
      duplicates: [],
      duplicateRows: 0
    }])
  })

  it("a restart that writes offsets again: the duplicated range with the lines of each copy", () => {
    const [summary] = tally([...rows("a.csv", range(0, 99)), ...rows("a.1.csv", range(90, 119))])
    assert.deepStrictEqual(summary!.duplicates, [{
      from: 90,
      to: 99,
      copies: [{ file: "a.csv", fromLine: 92, toLine: 101 }, { file: "a.1.csv", fromLine: 2, toLine: 11 }]
    }])
    assert.strictEqual(summary!.rows, 130)
    assert.strictEqual(summary!.offsets, 120)
    assert.strictEqual(summary!.duplicateRows, 10)
  })

  it("gaps between the lowest and the highest offset, as ranges", () => {
    const [summary] = tally(rows("a.csv", [3, 4, 7, 10, 11, 12]))
    assert.deepStrictEqual(summary!.gaps, [{ from: 5, to: 6 }, { from: 8, to: 9 }])
    assert.strictEqual(summary!.missingOffsets, 4)
    assert.strictEqual(summary!.lowestOffset, 3)
    assert.strictEqual(summary!.highestOffset, 12)
  })

  it("a row spanning lines ends its run: the copies' lines stay right after it", () => {
    const first: Array<TalliedRow> = [
      { topic: "orders", partition: 0, offset: 0, file: "a.csv", line: 2 },
      { topic: "orders", partition: 0, offset: 1, file: "a.csv", line: 3 }, // spans lines 3–5
      { topic: "orders", partition: 0, offset: 2, file: "a.csv", line: 6 }
    ]
    const [summary] = tally([...first, ...rows("b.csv", [0, 1, 2])])
    assert.deepStrictEqual(summary!.duplicates, [
      { from: 0, to: 1, copies: [{ file: "a.csv", fromLine: 2, toLine: 3 }, { file: "b.csv", fromLine: 2, toLine: 3 }] },
      { from: 2, to: 2, copies: [{ file: "a.csv", fromLine: 6, toLine: 6 }, { file: "b.csv", fromLine: 4, toLine: 4 }] }
    ])
  })

  it("the same offset twice in one file is a duplicate too; topics and partitions sorted", () => {
    const summaries = tally([
      { topic: "z", partition: 1, offset: 5, file: "a.csv", line: 2 },
      { topic: "orders", partition: 10, offset: 0, file: "a.csv", line: 3 },
      { topic: "orders", partition: 2, offset: 5, file: "a.csv", line: 4 },
      { topic: "orders", partition: 1, offset: 0, file: "a.csv", line: 5 },
      { topic: "orders", partition: 2, offset: 5, file: "a.csv", line: 6 }
    ])
    assert.deepStrictEqual(summaries.map((s) => `${s.topic}:${s.partition}`), ["orders:1", "orders:2", "orders:10", "z:1"])
    assert.deepStrictEqual(summaries[1]!.duplicates, [{
      from: 5,
      to: 5,
      copies: [{ file: "a.csv", fromLine: 4, toLine: 4 }, { file: "a.csv", fromLine: 6, toLine: 6 }]
    }])
  })

  it("a run does not go on into another file, even on the line that would follow", () => {
    // a.csv: offsets 0–1 on lines 2–3; b.csv: offset 2 on line 4; c.csv: offset 2 again.
    const [summary] = tally([...rows("a.csv", [0, 1]), ...rows("b.csv", [2], 4), ...rows("c.csv", [2])])
    assert.deepStrictEqual(summary!.duplicates, [{
      from: 2,
      to: 2,
      copies: [{ file: "b.csv", fromLine: 4, toLine: 4 }, { file: "c.csv", fromLine: 2, toLine: 2 }]
    }])
  })

  it("nothing added: no partition", () => {
    assert.deepStrictEqual(tally([]), [])
  })
})

// -----------------------------------------------------------------------------
// Against a naive reading: every offset's copies in a Map
// -----------------------------------------------------------------------------

/** Files of batches: runs of consecutive offsets of one partition, rows spanning one line or more. */
const files = fc.array(
  fc.array(
    fc.record({
      topic: fc.constantFrom("a", "b"),
      partition: fc.nat({ max: 2 }),
      start: fc.nat({ max: 60 }),
      spans: fc.array(fc.constantFrom(1, 1, 1, 2, 3), { minLength: 1, maxLength: 8 })
    }),
    { maxLength: 8 }
  ),
  { minLength: 1, maxLength: 4 }
)

const rowsOf = (batchesByFile: ReadonlyArray<ReadonlyArray<{ topic: string; partition: number; start: number; spans: ReadonlyArray<number> }>>) =>
  batchesByFile.flatMap((batches, fileIndex) => {
    let line = 2
    return batches.flatMap((batch) =>
      batch.spans.map((span, index) => {
        const row = { topic: batch.topic, partition: batch.partition, offset: batch.start + index, file: `f${fileIndex}.csv`, line }
        line += span
        return row
      })
    )
  })

describe("ArchiveTally, property", () => {
  it("agrees with a naive Map of every offset's copies", () => {
    fc.assert(
      fc.property(files, (batchesByFile) => {
        const all = rowsOf(batchesByFile)
        assertAgrees(tally(all), naiveOffsets(all))
      }),
      { numRuns: 300 }
    )
  })
})

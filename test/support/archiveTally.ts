/**
 * A naive reading of archive rows, to check `archive verify`'s summaries against: every offset of
 * every partition in a Map with the place of each of its rows.
 */
import { assert } from "vitest"
import type { PartitionSummary } from "../../src/domain/ArchiveTally.js"

export interface NaiveRow {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly file: string
  readonly line: number
}

export interface Place {
  readonly file: string
  readonly line: number
}

/** `topic:partition` → offset → the places of its rows, in the order given. */
export type NaiveOffsets = Map<string, Map<number, Array<Place>>>

export const naiveOffsets = (rows: Iterable<NaiveRow>): NaiveOffsets => {
  const byPartition: NaiveOffsets = new Map()
  for (const row of rows) {
    const key = `${row.topic}:${row.partition}`
    const offsets = byPartition.get(key) ?? new Map<number, Array<Place>>()
    byPartition.set(key, offsets)
    offsets.set(row.offset, [...(offsets.get(row.offset) ?? []), { file: row.file, line: row.line }])
  }
  return byPartition
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/**
 * Asserts that `summaries` say what the naive reading does: the same partitions; per partition
 * the rows, distinct offsets, lowest and highest, every missing offset (gaps maximal, in order)
 * and every duplicated offset with the place of each copy.
 */
export const assertAgrees = (summaries: ReadonlyArray<PartitionSummary>, expected: NaiveOffsets): void => {
  assert.deepStrictEqual(summaries.map((s) => `${s.topic}:${s.partition}`).sort(), [...expected.keys()].sort())
  for (const summary of summaries) {
    const offsets = expected.get(`${summary.topic}:${summary.partition}`)!
    const present = [...offsets.keys()]
    const lowest = Math.min(...present)
    const highest = Math.max(...present)
    assert.strictEqual(summary.rows, [...offsets.values()].reduce((sum, places) => sum + places.length, 0))
    assert.strictEqual(summary.offsets, offsets.size)
    assert.strictEqual(summary.lowestOffset, lowest)
    assert.strictEqual(summary.highestOffset, highest)
    const missing = summary.gaps.flatMap((gap) => range(gap.from, gap.to))
    assert.deepStrictEqual(missing, range(lowest, highest).filter((offset) => !offsets.has(offset)))
    assert.strictEqual(summary.missingOffsets, missing.length)
    summary.gaps.forEach((gap, i) => i > 0 && assert.isAbove(gap.from, summary.gaps[i - 1]!.to + 1))
    const copies = new Map<number, Array<Place>>()
    for (const duplicate of summary.duplicates) {
      for (const copy of duplicate.copies) assert.strictEqual(copy.toLine - copy.fromLine, duplicate.to - duplicate.from)
      for (let offset = duplicate.from; offset <= duplicate.to; offset++) {
        copies.set(offset, duplicate.copies.map((copy) => ({ file: copy.file, line: copy.fromLine + offset - duplicate.from })))
      }
    }
    assert.deepStrictEqual(copies, new Map([...offsets].filter(([, places]) => places.length > 1).sort(([a], [b]) => a - b)))
    assert.strictEqual(summary.duplicateRows, summary.rows - summary.offsets)
  }
}

import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { ArchiveIndex, emptyFound } from "../../src/domain/ArchiveIndex.js"
import { decodeArchivePosition, encodeArchivePosition } from "../../src/domain/ArchivePosition.js"
import { OffsetRanges } from "../../src/domain/OffsetRanges.js"

const hour = (iso: string) => Date.parse(iso)
const at = (offset: number, partition = 0, topic = "t") => ({ topic, partition, offset })

describe("OffsetRanges", () => {
  it("keeps runs as ranges, in any order of adding, and answers like a set", () => {
    const ranges = new OffsetRanges()
    for (const offset of [5, 6, 7, 1, 3, 2, 10, 9, 7, 0]) ranges.add(offset)
    assert.deepStrictEqual(ranges.ranges(), [[0, 3], [5, 7], [9, 10]])
    assert.strictEqual(ranges.size, 9)
    assert.isTrue(ranges.has(0))
    assert.isTrue(ranges.has(6))
    assert.isFalse(ranges.has(4))
    assert.isFalse(ranges.has(8))
    assert.isFalse(ranges.has(11))
    ranges.add(4)
    ranges.add(8)
    assert.deepStrictEqual(ranges.ranges(), [[0, 10]], "filling the holes joins the ranges")
    ranges.dropBelow(6)
    assert.deepStrictEqual(ranges.ranges(), [[6, 10]])
    ranges.dropBelow(20)
    assert.deepStrictEqual(ranges.ranges(), [])
  })

  it("adding an offset a range already holds changes nothing, in any range", () => {
    const ranges = new OffsetRanges()
    for (const offset of [5, 6, 7, 10, 6, 5, 7, 10]) ranges.add(offset)
    assert.deepStrictEqual(ranges.ranges(), [[5, 7], [10, 10]])
    assert.strictEqual(ranges.size, 4)
  })

  it("agrees with a Set (property)", () => {
    fc.assert(fc.property(fc.array(fc.nat(60), { maxLength: 80 }), fc.nat(70), (offsets, cut) => {
      const ranges = new OffsetRanges()
      const set = new Set<number>()
      for (const offset of offsets) {
        ranges.add(offset)
        set.add(offset)
      }
      ranges.dropBelow(cut)
      for (const offset of [...set]) if (offset < cut) set.delete(offset)
      for (let offset = 0; offset <= 70; offset++) assert.strictEqual(ranges.has(offset), set.has(offset), `offset ${offset}`)
      assert.strictEqual(ranges.size, set.size)
      // Disjoint, sorted, and never two ranges that touch.
      const list = ranges.ranges()
      for (let index = 1; index < list.length; index++) assert.isAbove(list[index]![0], list[index - 1]![1] + 1)
    }))
  })
})

describe("ArchiveIndex", () => {
  it("answers what recovery found, per partition, until the partition is lost", () => {
    const index = new ArchiveIndex()
    const found = emptyFound()
    found.backup.add(5)
    found.backup.add(6)
    found.dlq.add(6)
    index.adopt("t", 0, found)
    assert.isTrue(index.hasFound("t", 0))
    assert.isFalse(index.hasFound("t", 1))
    assert.isTrue(index.isArchived("t", 0, 5))
    assert.isFalse(index.isArchived("t", 0, 7))
    assert.isFalse(index.isArchived("t", 1, 5))
    assert.isTrue(index.isDeadLettered("t", 0, 6))
    assert.isFalse(index.isDeadLettered("t", 0, 5))
    index.retain([{ topic: "t", partition: 1 }])
    assert.isFalse(index.isArchived("t", 0, 5), "a lost partition is forgotten")
  })

  it("the position of a commit: the oldest hour holding rows past the offset, else the hour of the commit less the margin", () => {
    const index = new ArchiveIndex()
    const ten = hour("2026-12-03T10:00:00Z")
    const eleven = hour("2026-12-03T11:00:00Z")
    index.noteWritten([at(0), at(1), at(0, 1), at(2)], ten)
    index.noteWritten([at(3), at(4)], eleven)
    // Committed at 11:30: rows 2–4 of partition 0 are past offset 2, row 2 in the 10:00 file.
    const now = hour("2026-12-03T11:30:00Z")
    assert.strictEqual(index.position(at(2), now), ten)
    assert.strictEqual(index.position(at(3), now), eleven, "past the 10:00 rows")
    assert.strictEqual(index.position(at(2), now), eleven, "a position never goes back: the 10:00 mark is gone")
    assert.strictEqual(index.position(at(5), now), eleven, "nothing past 5: the commit's own hour")
    assert.strictEqual(index.position(at(1, 1), now), eleven, "partition 1's row 0 is before its offset 1")
    assert.strictEqual(index.position(at(0, 1), hour("2026-12-03T11:05:00Z")), ten, "row 0 of partition 1 is in the 10:00 file")
    // Within the margin after an hour starts, the previous hour's files may still take rows.
    assert.strictEqual(index.position(at(9, 2), hour("2026-12-03T12:09:59Z")), eleven)
    assert.strictEqual(index.position(at(9, 2), hour("2026-12-03T12:10:00Z")), hour("2026-12-03T12:00:00Z"))
  })

  it("hasFound: a partition with backup rows or DLQ rows found, not one adopted with nothing; unknown partitions have nothing", () => {
    const index = new ArchiveIndex()
    const dlqOnly = emptyFound()
    dlqOnly.dlq.add(3)
    const backupOnly = emptyFound()
    backupOnly.backup.add(4)
    index.adopt("t", 0, dlqOnly)
    index.adopt("t", 1, backupOnly)
    index.adopt("t", 2, emptyFound())
    assert.isTrue(index.hasFound("t", 0))
    assert.isTrue(index.hasFound("t", 1))
    assert.isFalse(index.hasFound("t", 2))
    assert.isFalse(index.isDeadLettered("t", 3, 3), "an unknown partition")
    assert.isFalse(index.isDeadLettered("u", 0, 3), "another topic")
    index.retain([{ topic: "t", partition: 0 }, { topic: "t", partition: 2 }])
    assert.isTrue(index.isDeadLettered("t", 0, 3), "a kept partition keeps what was found")
    assert.isFalse(index.hasFound("t", 1), "a lost one is forgotten")
  })

  it("noteWritten: a batch's rows of each partition, in any order, mark up to their highest offset; partitions and topics apart", () => {
    const index = new ArchiveIndex()
    const ten = hour("2026-12-03T10:00:00Z")
    const eleven = hour("2026-12-03T11:00:00Z")
    const now = hour("2026-12-03T11:30:00Z")
    // Partition 0's run is out of order (5, 3, 4); then partition 1; then topic u, partition 1.
    index.noteWritten([at(5), at(3), at(4), at(7, 1), at(2, 1, "u")], ten)
    assert.strictEqual(index.position(at(5), now), ten, "row 5, not only the run's last (4), is in the 10:00 file")
    assert.strictEqual(index.position(at(7, 1), now), ten, "partition 1's own mark")
    assert.strictEqual(index.position(at(2, 1, "u"), now), ten, "topic u's own mark")
    assert.strictEqual(index.position(at(8, 1), now), eleven)
    assert.strictEqual(index.position(at(6), now), eleven)

    const two = new ArchiveIndex()
    two.noteWritten([at(9), at(0, 1)], ten)
    assert.strictEqual(two.position(at(9), now), ten, "a run of one record before another partition's")
    assert.strictEqual(two.position(at(1, 1), now), eleven, "partition 1 holds no row 9")
  })

  it("marks recovered rows with the hour of the file they were found in", () => {
    const index = new ArchiveIndex()
    const nine = hour("2026-12-03T09:00:00Z")
    index.adopt("t", 0, { ...emptyFound(), marks: [{ from: 7, to: 9, hourStart: nine }] })
    index.noteWritten([at(10)], hour("2026-12-03T11:00:00Z"))
    assert.strictEqual(index.position(at(8), hour("2026-12-03T11:30:00Z")), nine)
    assert.strictEqual(index.position(at(10), hour("2026-12-03T11:30:00Z")), hour("2026-12-03T11:00:00Z"))
  })
})

describe("ArchivePosition", () => {
  it("is the hour as in file names, read back; anything else names no position", () => {
    const start = hour("2026-12-03T16:00:00Z")
    assert.strictEqual(encodeArchivePosition(start), "archive-from=2026-12-03T16")
    assert.strictEqual(decodeArchivePosition("archive-from=2026-12-03T16"), start)
    assert.isUndefined(decodeArchivePosition(undefined))
    assert.isUndefined(decodeArchivePosition(""))
    assert.isUndefined(decodeArchivePosition("2026-12-03T16"))
    assert.isUndefined(decodeArchivePosition("archive-from=2026-02-30T16"), "an impossible date")
    assert.isUndefined(decodeArchivePosition("archive-from=2026-12-03T16:00"))
    assert.isUndefined(encodeArchivePosition(Date.parse("+010000-01-01T00:00:00Z")), "a year a label cannot hold")
  })
})

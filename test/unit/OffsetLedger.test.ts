import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Ack, OffsetLedger } from "../../src/domain/OffsetLedger.js"

// The seed (a Python spec) reports "max contiguous processed offset"; Kafka
// commits the next offset to read, so every expected commit below is the
// seed's expected value + 1.

const T = "orders"
const both = Ack.Processed | Ack.Archived

const processedOnly = () => new OffsetLedger({ requiredAcks: Ack.Processed })

/** A partition whose offsets up to 1000 are handled and committed (the seed's `last_committed = 1000`): Kafka holds 1001. */
const committedThrough1000 = () => {
  const ledger = processedOnly()
  ledger.track(T, 0, 1000)
  ledger.ack(T, 0, 1000, Ack.Processed)
  ledger.markCommitted([{ topic: T, partition: 0, offset: 1001 }])
  return ledger
}

/** Fetches 1001..last and acknowledges `processed` in the given order; the rest stay in flight. */
const fetchAndProcess = (ledger: OffsetLedger, last: number, processed: ReadonlyArray<number>) => {
  for (let offset = 1001; offset <= last; offset++) assert.isTrue(ledger.track(T, 0, offset))
  for (const offset of processed) ledger.ack(T, 0, offset, Ack.Processed)
}

describe("OffsetLedger", () => {
  describe("Max Contiguous (seed scenarios; Kafka commits last handled + 1)", () => {
    it("Perfect Sequence: 1001..1005 handled → commit 1006", () => {
      const ledger = committedThrough1000()
      fetchAndProcess(ledger, 1005, [1001, 1002, 1003, 1004, 1005])
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 1006 }])
    })

    it("Single Gap: 1004 in flight → commit 1004 (seed: 1003)", () => {
      const ledger = committedThrough1000()
      fetchAndProcess(ledger, 1006, [1001, 1002, 1003, 1005, 1006])
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 1004 }])
      assert.strictEqual(ledger.pendingFor(T, 0), 2)
    })

    it("Multiple Gaps: the first gap (1002) stops the watermark → commit 1002 (seed: 1001)", () => {
      const ledger = committedThrough1000()
      fetchAndProcess(ledger, 1007, [1001, 1003, 1005, 1007])
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 1002 }])
      assert.strictEqual(ledger.pendingFor(T, 0), 3)
    })

    it("Empty Set: nothing handled since the commit → nothing to commit, watermark stays 1001", () => {
      const ledger = committedThrough1000()
      fetchAndProcess(ledger, 1005, [])
      assert.deepStrictEqual(ledger.committable(), [])
      assert.strictEqual(ledger.watermark(T, 0), 1001)
      assert.strictEqual(ledger.pending, 5)
    })

    it("Empty Set on a fresh ledger: no watermark at all", () => {
      const ledger = processedOnly()
      assert.deepStrictEqual(ledger.committable(), [])
      assert.strictEqual(ledger.watermark(T, 0), undefined)
      assert.strictEqual(ledger.pending, 0)
      assert.strictEqual(ledger.pendingFor(T, 0), 0)
    })

    it("Single Offset: 1001 handled → commit 1002 (seed: 1001)", () => {
      const ledger = committedThrough1000()
      fetchAndProcess(ledger, 1001, [1001])
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 1002 }])
    })

    it("Gap at Start: 1001 in flight holds everything back → nothing new to commit (stays 1001)", () => {
      const ledger = committedThrough1000()
      fetchAndProcess(ledger, 1004, [1002, 1003, 1004])
      assert.deepStrictEqual(ledger.committable(), [])
      assert.strictEqual(ledger.watermark(T, 0), 1001)
      assert.strictEqual(ledger.pendingFor(T, 0), 3)
    })

    it("Gap at Start on a fresh partition: nothing is committable until the first fetched offset is handled", () => {
      const ledger = processedOnly()
      for (const offset of [0, 1, 2]) ledger.track(T, 0, offset)
      ledger.ack(T, 0, 1, Ack.Processed)
      ledger.ack(T, 0, 2, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [])
      assert.strictEqual(ledger.watermark(T, 0), undefined)
      ledger.ack(T, 0, 0, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 3 }])
    })

    it("Out of Order Input: acks 1005, 1001, 1003, 1002, 1004 → commit 1006, with no sort", () => {
      const ledger = committedThrough1000()
      fetchAndProcess(ledger, 1005, [])
      const seen: Array<number | undefined> = []
      for (const offset of [1005, 1001, 1003, 1002, 1004]) {
        ledger.ack(T, 0, offset, Ack.Processed)
        seen.push(ledger.watermark(T, 0))
      }
      // The watermark moves exactly when the head of the partition is handled.
      assert.deepStrictEqual(seen, [1001, 1002, 1002, 1004, 1006])
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 1006 }])
    })
  })

  describe("Commit Thread (seed scenarios)", () => {
    it("Multi-Partition: each partition commits its own contiguous prefix", () => {
      const ledger = processedOnly()
      for (const partition of [0, 1, 2]) {
        for (let offset = 10; offset < 15; offset++) ledger.track(T, partition, offset)
      }
      // p0: all handled; p1: 12 in flight; p2: head in flight.
      for (const offset of [10, 11, 12, 13, 14]) ledger.ack(T, 0, offset, Ack.Processed)
      for (const offset of [10, 11, 13, 14]) ledger.ack(T, 1, offset, Ack.Processed)
      for (const offset of [11, 12]) ledger.ack(T, 2, offset, Ack.Processed)
      ledger.track("audit", 0, 7)
      ledger.ack("audit", 0, 7, Ack.Processed)
      const byPartition = new Map(ledger.committable().map((tpo) => [`${tpo.topic}:${tpo.partition}`, tpo.offset]))
      assert.deepStrictEqual(byPartition, new Map([[`${T}:0`, 15], [`${T}:1`, 12], ["audit:0", 8]]))
    })

    it("Remove Committed from Tracking: {1001, 1002, 1003, 1005} handled → only 1005 still waits (for 1004)", () => {
      const ledger = committedThrough1000()
      fetchAndProcess(ledger, 1005, [1005, 1002, 1003])
      assert.strictEqual(ledger.pendingFor(T, 0), 3, "1002, 1003, 1005 wait for 1001")
      ledger.ack(T, 0, 1001, Ack.Processed)
      assert.strictEqual(ledger.pendingFor(T, 0), 1, "only 1005 waits, for 1004")
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 1004 }])
      ledger.markCommitted(ledger.committable())
      assert.deepStrictEqual(ledger.committable(), [])
      assert.strictEqual(ledger.pending, 1)
      ledger.ack(T, 0, 1004, Ack.Processed)
      assert.strictEqual(ledger.pendingFor(T, 0), 0)
      assert.strictEqual(ledger.pending, 0)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 1006 }])
    })
  })

  describe("acknowledgements", () => {
    it("with the backup archive on, a record is handled only once processed and archived, in either order", () => {
      const ledger = new OffsetLedger({ requiredAcks: both })
      ledger.track(T, 0, 0)
      ledger.track(T, 0, 1)
      ledger.ack(T, 0, 0, Ack.Processed)
      ledger.ack(T, 0, 1, Ack.Archived)
      assert.strictEqual(ledger.watermark(T, 0), undefined)
      assert.strictEqual(ledger.pending, 2)
      ledger.ack(T, 0, 0, Ack.Archived)
      assert.strictEqual(ledger.watermark(T, 0), 1)
      ledger.ack(T, 0, 1, Ack.Processed)
      assert.strictEqual(ledger.watermark(T, 0), 2)
      assert.strictEqual(ledger.pending, 0)
    })

    it("both flags in one ack handle the record at once", () => {
      const ledger = new OffsetLedger({ requiredAcks: both })
      ledger.track(T, 0, 5)
      ledger.ack(T, 0, 5, both)
      assert.strictEqual(ledger.watermark(T, 0), 6)
    })

    it("repeated acks of a handled offset neither double count nor move anything", () => {
      const ledger = processedOnly()
      for (const offset of [0, 1, 2]) ledger.track(T, 0, offset)
      ledger.ack(T, 0, 1, Ack.Processed)
      ledger.ack(T, 0, 1, Ack.Processed)
      ledger.ack(T, 0, 1, Ack.Archived)
      assert.strictEqual(ledger.pending, 2)
      assert.strictEqual(ledger.pendingFor(T, 0), 1)
      assert.strictEqual(ledger.watermark(T, 0), undefined)
    })

    it("ignores acks for unknown partitions, never-tracked offsets and offsets already behind the watermark", () => {
      const ledger = processedOnly()
      ledger.ack(T, 9, 0, Ack.Processed)
      for (const offset of [0, 1, 5]) ledger.track(T, 0, offset)
      ledger.ack(T, 0, 3, Ack.Processed) // a gap: never fetched
      ledger.ack(T, 0, 7, Ack.Processed) // not fetched yet
      ledger.ack(T, 0, 0, Ack.Processed)
      ledger.ack(T, 0, 0, Ack.Processed) // behind the watermark now
      assert.strictEqual(ledger.watermark(T, 0), 1)
      assert.strictEqual(ledger.pending, 2)
      assert.strictEqual(ledger.pendingFor(T, 0), 0)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 1 }])
    })
  })

  describe("tracking", () => {
    it("a refetch of the same or an earlier offset returns false and is not tracked again", () => {
      const ledger = processedOnly()
      assert.isTrue(ledger.track(T, 0, 10))
      assert.isTrue(ledger.track(T, 0, 11))
      assert.isFalse(ledger.track(T, 0, 11))
      assert.isFalse(ledger.track(T, 0, 10))
      assert.isFalse(ledger.track(T, 0, 3))
      assert.strictEqual(ledger.pending, 2)
      ledger.ack(T, 0, 10, Ack.Processed)
      ledger.ack(T, 0, 11, Ack.Processed)
      // Still a refetch after the originals were handled: they must not be processed twice.
      assert.isFalse(ledger.track(T, 0, 11))
      assert.isTrue(ledger.track(T, 0, 12))
      assert.isTrue(ledger.track(T, 1, 0), "partitions are independent")
    })

    it("untrack forgets the last tracked offset when it was never handed over: a refetch tracks it again", () => {
      const ledger = new OffsetLedger({ requiredAcks: both })
      assert.isTrue(ledger.track(T, 0, 10))
      assert.isTrue(ledger.track(T, 0, 11))
      assert.isTrue(ledger.track(T, 0, 13)) // 12: a compacted offset
      ledger.ack(T, 0, 13, Ack.Archived) // its backup row was written before the hand-over was interrupted
      assert.isTrue(ledger.untrack(T, 0, 13))
      assert.strictEqual(ledger.pending, 2)
      ledger.ack(T, 0, 10, both)
      ledger.ack(T, 0, 11, both)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 12 }], "not held back by 13")
      assert.isFalse(ledger.track(T, 0, 11), "earlier offsets are still refetches")
      assert.isTrue(ledger.track(T, 0, 13), "the refetch is tracked again")
      assert.strictEqual(ledger.pending, 1)
      ledger.ack(T, 0, 13, both)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 14 }])
    })

    it("untrack refuses anything but an unhandled last tracked offset, and works with an empty FIFO", () => {
      const ledger = processedOnly()
      assert.isFalse(ledger.untrack(T, 0, 0), "unknown partition")
      assert.isTrue(ledger.track(T, 0, 5))
      assert.isTrue(ledger.track(T, 0, 6))
      assert.isFalse(ledger.untrack(T, 0, 5), "not the last tracked offset")
      ledger.ack(T, 0, 6, Ack.Processed)
      assert.isFalse(ledger.untrack(T, 0, 6), "already handled (above a gap)")
      ledger.ack(T, 0, 5, Ack.Processed)
      assert.isFalse(ledger.untrack(T, 0, 6), "already passed by the watermark")
      assert.strictEqual(ledger.pending, 0)
      // the FIFO is empty: after untracking 7, the last tracked offset is the watermark's
      assert.isTrue(ledger.track(T, 0, 7))
      assert.isTrue(ledger.untrack(T, 0, 7))
      assert.isFalse(ledger.track(T, 0, 6))
      assert.isTrue(ledger.track(T, 0, 7))
      // a partition whose very first record is untracked starts afresh
      assert.isTrue(ledger.track(T, 1, 40))
      assert.isTrue(ledger.untrack(T, 1, 40))
      assert.isTrue(ledger.track(T, 1, 40))
      assert.strictEqual(ledger.pending, 2)
      assert.strictEqual(ledger.watermark(T, 1), undefined)
    })

    it("an untracked offset's late acknowledgement is ignored, and the counts stay right", () => {
      const ledger = processedOnly()
      for (const offset of [5, 6, 7]) ledger.track(T, 0, offset)
      ledger.ack(T, 0, 6, Ack.Processed)
      assert.isTrue(ledger.untrack(T, 0, 7))
      assert.strictEqual(ledger.pending, 1, "5 is still in flight")
      assert.strictEqual(ledger.pendingFor(T, 0), 1, "6 waits for 5")
      // The record at 7 was never handed over: an ack for it (a stray backup row, say) changes nothing.
      ledger.ack(T, 0, 7, Ack.Processed)
      assert.strictEqual(ledger.pending, 1)
      assert.strictEqual(ledger.pendingFor(T, 0), 1)
      ledger.ack(T, 0, 5, Ack.Processed)
      assert.strictEqual(ledger.pending, 0)
      assert.strictEqual(ledger.watermark(T, 0), 7, "7 is not handled: the next commit reads it again")
    })

    it("partitions of the same number in different topics are kept apart, however the calls interleave", () => {
      const ledger = processedOnly()
      assert.isTrue(ledger.track("a", 0, 0))
      assert.isTrue(ledger.track("b", 0, 0), "b:0 has tracked nothing yet")
      assert.isTrue(ledger.track("a", 0, 1))
      assert.isTrue(ledger.track("b", 0, 1))
      ledger.ack("a", 0, 0, Ack.Processed)
      ledger.ack("b", 0, 1, Ack.Processed)
      ledger.ack("a", 0, 1, Ack.Processed)
      assert.strictEqual(ledger.watermark("a", 0), 2)
      assert.strictEqual(ledger.watermark("b", 0), undefined, "b:0's offset 0 is still in flight")
      assert.strictEqual(ledger.pendingFor("b", 0), 1)
      assert.deepStrictEqual(ledger.committable(), [{ topic: "a", partition: 0, offset: 2 }])
    })

    it("non-contiguous offsets (0,1,2,5,6: compaction/transaction markers) commit 3 after 0-2 and 7 after all", () => {
      const ledger = processedOnly()
      for (const offset of [0, 1, 2, 5, 6]) ledger.track(T, 0, offset)
      for (const offset of [0, 1, 2]) ledger.ack(T, 0, offset, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 3 }])
      ledger.ack(T, 0, 6, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 3 }])
      ledger.ack(T, 0, 5, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 7 }])
    })

    it("a gap between fetches does not hold the commit back", () => {
      const ledger = processedOnly()
      ledger.track(T, 0, 0)
      ledger.ack(T, 0, 0, Ack.Processed)
      ledger.track(T, 0, 40)
      ledger.ack(T, 0, 40, Ack.Processed)
      assert.strictEqual(ledger.watermark(T, 0), 41)
    })

    it("keeps working across FIFO compaction", () => {
      const ledger = processedOnly()
      for (let offset = 0; offset < 200; offset++) ledger.track(T, 0, offset)
      for (let offset = 0; offset < 150; offset++) {
        ledger.ack(T, 0, offset, Ack.Processed)
        assert.strictEqual(ledger.watermark(T, 0), offset + 1)
      }
      assert.strictEqual(ledger.pending, 50)
      ledger.ack(T, 0, 199, Ack.Processed)
      assert.strictEqual(ledger.pendingFor(T, 0), 1)
      for (let offset = 150; offset < 199; offset++) ledger.ack(T, 0, offset, Ack.Processed)
      assert.strictEqual(ledger.watermark(T, 0), 200)
      assert.strictEqual(ledger.pending, 0)
      assert.strictEqual(ledger.pendingFor(T, 0), 0)
      // And tracking continues on the reset queue.
      assert.isTrue(ledger.track(T, 0, 200))
      ledger.ack(T, 0, 200, Ack.Processed)
      assert.strictEqual(ledger.watermark(T, 0), 201)
    })

    it("advancing is linear: 1,000,000 acks in reverse order, then the head ack releases them all", () => {
      const ledger = processedOnly()
      const count = 1_000_000
      for (let offset = 0; offset < count; offset++) ledger.track(T, 0, offset)
      for (let offset = count - 1; offset > 0; offset--) ledger.ack(T, 0, offset, Ack.Processed)
      assert.strictEqual(ledger.watermark(T, 0), undefined)
      assert.strictEqual(ledger.pendingFor(T, 0), count - 1)
      ledger.ack(T, 0, 0, Ack.Processed)
      assert.strictEqual(ledger.watermark(T, 0), count)
      assert.strictEqual(ledger.pending, 0)
      assert.strictEqual(ledger.pendingFor(T, 0), 0)
    })

    it("advancing in order is linear too: 1,000,000 acks in order while the last record stays in flight", () => {
      // The FIFO never empties here, so it is compacted as the watermark passes its slots: each
      // slot is copied a bounded number of times, or this takes hours instead of milliseconds.
      const ledger = processedOnly()
      const count = 1_000_000
      for (let offset = 0; offset <= count; offset++) ledger.track(T, 0, offset)
      for (let offset = 0; offset < count; offset++) ledger.ack(T, 0, offset, Ack.Processed)
      assert.strictEqual(ledger.watermark(T, 0), count)
      assert.strictEqual(ledger.pending, 1)
      assert.strictEqual(ledger.pendingFor(T, 0), 0)
      assert.isFalse(ledger.untrack(T, 0, count - 1), "handled: not the last tracked offset")
      assert.isTrue(ledger.untrack(T, 0, count))
      assert.isTrue(ledger.track(T, 0, count), "after the untrack, the refetch is tracked again")
    })
  })

  describe("commits", () => {
    it("committable reports only partitions whose watermark moved since the last markCommitted", () => {
      const ledger = processedOnly()
      for (const partition of [0, 1]) for (const offset of [0, 1]) ledger.track(T, partition, offset)
      ledger.ack(T, 0, 0, Ack.Processed)
      ledger.ack(T, 1, 0, Ack.Processed)
      ledger.markCommitted(ledger.committable())
      assert.deepStrictEqual(ledger.committable(), [])
      ledger.ack(T, 1, 1, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 1, offset: 2 }])
    })

    it("markCommitted ignores unknown partitions and never moves the mark backwards", () => {
      const ledger = processedOnly()
      for (const offset of [0, 1, 2]) ledger.track(T, 0, offset)
      ledger.ack(T, 0, 0, Ack.Processed)
      ledger.ack(T, 0, 1, Ack.Processed)
      ledger.markCommitted([{ topic: T, partition: 0, offset: 2 }, { topic: "gone", partition: 3, offset: 99 }])
      // A late response for an older commit arrives after the newer one.
      ledger.markCommitted([{ topic: T, partition: 0, offset: 1 }])
      assert.deepStrictEqual(ledger.committable(), [])
      ledger.ack(T, 0, 2, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 3 }])
    })

    it("a partition marked committed elsewhere (e.g. from a previous owner) commits only past that mark", () => {
      const ledger = processedOnly()
      ledger.track(T, 0, 0)
      ledger.markCommitted([{ topic: T, partition: 0, offset: 5 }])
      ledger.ack(T, 0, 0, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [])
    })
  })

  describe("rebalance", () => {
    it("retain drops every partition outside the assignment; their late acks are ignored", () => {
      const ledger = processedOnly()
      for (const partition of [0, 1, 2]) for (const offset of [0, 1]) ledger.track(T, partition, offset)
      ledger.ack(T, 1, 0, Ack.Processed)
      ledger.ack(T, 2, 1, Ack.Processed)
      const dropped = ledger.retain([{ topic: T, partition: 0 }, { topic: "other", partition: 1 }])
      assert.deepStrictEqual(dropped, [{ topic: T, partition: 1 }, { topic: T, partition: 2 }])
      assert.strictEqual(ledger.pending, 2, "only partition 0 remains")
      ledger.ack(T, 2, 0, Ack.Processed)
      ledger.ack(T, 1, 1, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [])
      assert.strictEqual(ledger.watermark(T, 1), undefined)
      assert.strictEqual(ledger.pendingFor(T, 2), 0)
      assert.deepStrictEqual(ledger.retain([{ topic: T, partition: 0 }]), [])
    })

    it("a partition assigned again after being dropped starts afresh from what is fetched", () => {
      const ledger = processedOnly()
      ledger.track(T, 0, 10)
      ledger.ack(T, 0, 10, Ack.Processed)
      ledger.retain([])
      // The new owner may have committed less; the records are fetched and tracked again.
      assert.isTrue(ledger.track(T, 0, 8))
      ledger.ack(T, 0, 8, Ack.Processed)
      assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: 9 }])
    })
  })

  describe("properties", () => {
    /** Increasing offsets with random gaps, per partition. */
    const partitionOffsets = fc
      .record({ start: fc.nat({ max: 1_000 }), steps: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 150, size: "max" }) })
      .map(({ start, steps }) => {
        const offsets: Array<number> = []
        let offset = start
        for (const step of steps) {
          offsets.push(offset)
          offset += step
        }
        return offsets
      })

    const scenario = fc.record({
      requiredAcks: fc.constantFrom<number>(Ack.Processed, both),
      partitions: fc.array(partitionOffsets, { minLength: 1, maxLength: 3 }),
      // How far out of order records complete, like a worker pool of that size; 1000 ≈ any order.
      window: fc.constantFrom(1, 2, 4, 8, 1_000),
      choices: fc.array(fc.nat(), { maxLength: 600, size: "max" })
    })

    type Action =
      | { readonly _tag: "track"; readonly partition: number; readonly count: number }
      | { readonly _tag: "ack"; readonly partition: number; readonly offset: number; readonly bit: number }
      | { readonly _tag: "stray"; readonly partition: number; readonly offset: number }
      | { readonly _tag: "commit" }

    it("never commits past an unhandled tracked offset, and commits the contiguous handled prefix + 1 (any interleaving)", () => {
      fc.assert(
        fc.property(scenario, ({ choices, partitions, requiredAcks, window }) => {
          const ledger = new OffsetLedger({ requiredAcks })
          const bits = requiredAcks === both ? [Ack.Processed, Ack.Archived] : [Ack.Processed]
          const tracked = partitions.map(() => 0) // how many of each partition's offsets are fetched
          const acks = partitions.map((offsets) => offsets.map(() => 0))
          const outstanding: Array<{ partition: number; offset: number; index: number; bit: number }> = []
          const committed: Array<number | undefined> = partitions.map(() => undefined)

          const actions = (count = 1): Array<Action> => {
            const list: Array<Action> = []
            partitions.forEach((offsets, partition) => {
              if (tracked[partition]! < offsets.length) list.push({ _tag: "track", partition, count })
            })
            for (const { bit, offset, partition } of outstanding) list.push({ _tag: "ack", partition, offset, bit })
            return list
          }

          const apply = (action: Action) => {
            switch (action._tag) {
              case "track": {
                // Kafka fetches in batches: track up to `count` next offsets.
                const offsets = partitions[action.partition]!
                const end = Math.min(offsets.length, tracked[action.partition]! + action.count)
                for (let index = tracked[action.partition]!; index < end; index++) {
                  const offset = offsets[index]!
                  assert.isTrue(ledger.track(T, action.partition, offset))
                  assert.isFalse(ledger.track(T, action.partition, offset), "a refetch is refused")
                  for (const bit of bits) outstanding.push({ partition: action.partition, offset, index, bit })
                }
                tracked[action.partition] = end
                break
              }
              case "ack": {
                const at = outstanding.findIndex((o) =>
                  o.partition === action.partition && o.offset === action.offset && o.bit === action.bit
                )
                const [done] = outstanding.splice(at, 1)
                acks[done!.partition]![done!.index]! |= done!.bit
                ledger.ack(T, action.partition, action.offset, action.bit)
                break
              }
              case "stray": {
                // Never fetched (a gap, or not yet fetched): the ledger must ignore it.
                ledger.ack(T, action.partition, action.offset, requiredAcks)
                break
              }
              case "commit": {
                const offsets = ledger.committable()
                ledger.markCommitted(offsets)
                for (const { offset, partition } of offsets) committed[partition] = offset
                break
              }
            }
          }

          const check = () => {
            let pending = 0
            partitions.forEach((offsets, partition) => {
              const fetched = offsets.slice(0, tracked[partition])
              const handled = fetched.map((_, index) => (acks[partition]![index]! & requiredAcks) === requiredAcks)
              let prefix = 0
              while (prefix < fetched.length && handled[prefix]) prefix++
              const expected = prefix > 0 ? fetched[prefix - 1]! + 1 : undefined
              const watermark = ledger.watermark(T, partition)
              assert.strictEqual(watermark, expected)
              const firstUnhandled = fetched[prefix]
              if (watermark !== undefined && firstUnhandled !== undefined) assert.isAtMost(watermark, firstUnhandled)
              const reported = ledger.committable().find((tpo) => tpo.partition === partition)
              const last = committed[partition]
              if (expected !== undefined && (last === undefined || expected > last)) {
                assert.deepStrictEqual(reported, { topic: T, partition, offset: expected })
              } else {
                assert.strictEqual(reported, undefined)
              }
              const unhandled = handled.filter((h) => !h).length
              pending += unhandled
              assert.strictEqual(ledger.pendingFor(T, partition), fetched.length - prefix - unhandled)
            })
            assert.strictEqual(ledger.pending, pending)
          }

          for (const choice of choices) {
            const available = actions(1 + (choice >>> 4) % 100)
            if (available.length === 0) break
            if (choice % 11 === 0) {
              const partition = choice % partitions.length
              const offsets = partitions[partition]!
              const candidate = offsets[0]! + (choice % (offsets.at(-1)! - offsets[0]! + 3))
              // Strays are offsets the ledger does not hold: gaps or beyond what was fetched.
              const fetched = offsets.slice(0, tracked[partition])
              if (!fetched.includes(candidate)) apply({ _tag: "stray", partition, offset: candidate })
            } else if (choice % 13 === 0) {
              apply({ _tag: "commit" })
            } else {
              apply(available[choice % Math.min(window, available.length)]!)
            }
            check()
          }
          // Finish: everything fetched and handled.
          for (let available = actions(); available.length > 0; available = actions()) {
            apply(available[0]!)
            check()
          }
          const final = new Map(ledger.committable().map((tpo) => [tpo.partition, tpo.offset]))
          partitions.forEach((offsets, partition) => {
            assert.strictEqual(ledger.watermark(T, partition), offsets.at(-1)! + 1)
            if (committed[partition] !== offsets.at(-1)! + 1) {
              assert.strictEqual(final.get(partition), offsets.at(-1)! + 1)
            }
          })
          assert.strictEqual(ledger.pending, 0)
        }),
        { numRuns: 200 }
      )
    })

    it("after every tracked offset is acked in any order, the committable offset is the last tracked offset + 1", () => {
      fc.assert(
        fc.property(
          partitionOffsets.chain((offsets) =>
            fc.tuple(fc.constant(offsets), fc.shuffledSubarray(offsets, { minLength: offsets.length }))
          ),
          ([offsets, order]) => {
            const ledger = processedOnly()
            for (const offset of offsets) ledger.track(T, 0, offset)
            for (const offset of order) ledger.ack(T, 0, offset, Ack.Processed)
            assert.deepStrictEqual(ledger.committable(), [{ topic: T, partition: 0, offset: offsets.at(-1)! + 1 }])
            assert.strictEqual(ledger.pending, 0)
            assert.strictEqual(ledger.pendingFor(T, 0), 0)
          }
        ),
        { numRuns: 500 }
      )
    })
  })
})

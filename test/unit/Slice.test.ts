import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import { recordsPerSlice, recordsWorthASlice, sliceBatch } from "../../src/domain/Slice.js"

const record = (offset: number, valueBytes = 10): KafkaRecord => ({
  topic: "orders",
  partition: 0,
  offset,
  timestamp: 0,
  key: null,
  value: new Uint8Array(valueBytes),
  headers: []
})

const batch = (n: number, valueBytes = 10) => Array.from({ length: n }, (_, i) => record(i, valueBytes))
const offsets = (slices: ReturnType<typeof sliceBatch>) => slices.map((slice) => slice.records.map((r) => r.offset))
const roomy = { concurrency: 4, minRecords: 1, maxRecords: 1_000, maxBytes: 1_000_000 }

describe("sliceBatch", () => {
  it("cuts a large batch in `concurrency` slices, one record apart in size at most, in offset order", () => {
    const slices = sliceBatch(batch(10), roomy)
    assert.deepStrictEqual(offsets(slices), [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]])
    assert.deepStrictEqual(slices.map((slice) => slice.bytes), [30, 30, 20, 20])
    assert.deepStrictEqual(offsets(sliceBatch(batch(5), roomy)), [[0, 1], [2], [3], [4]])
  })

  it("with `minRecords` 1 (a slow or unmeasured processor), hands a batch smaller than `concurrency` over record by record", () => {
    assert.deepStrictEqual(offsets(sliceBatch(batch(3), roomy)), [[0], [1], [2]])
    assert.deepStrictEqual(sliceBatch([], roomy), [])
  })

  it("cuts a batch in no more than count / `minRecords` slices (a fast processor's few records go to one worker)", () => {
    assert.deepStrictEqual(offsets(sliceBatch(batch(3), { ...roomy, minRecords: 62 })), [[0, 1, 2]])
    assert.deepStrictEqual(offsets(sliceBatch(batch(10), { ...roomy, minRecords: 4 })), [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]])
    // `concurrency` still caps the count, and `maxRecords` still splits what is longer.
    assert.strictEqual(sliceBatch(batch(1_000), { ...roomy, minRecords: 2 }).length, 4)
    assert.deepStrictEqual(
      sliceBatch(batch(100), { ...roomy, minRecords: 62, maxRecords: 30 }).map((slice) => slice.records.length),
      [25, 25, 25, 25]
    )
  })

  it("never puts more than `maxRecords` records in a slice", () => {
    const slices = sliceBatch(batch(100), { ...roomy, concurrency: 1, maxRecords: 30 })
    assert.deepStrictEqual(slices.map((slice) => slice.records.length), [25, 25, 25, 25])
  })

  it("closes a slice before it would pass `maxBytes`; a record larger than that travels alone", () => {
    const slices = sliceBatch([record(0, 40), record(1, 40), record(2, 500), record(3, 10), record(4, 10)], {
      ...roomy,
      concurrency: 1,
      maxBytes: 100
    })
    assert.deepStrictEqual(offsets(slices), [[0, 1], [2], [3, 4]])
    assert.deepStrictEqual(slices.map((slice) => slice.bytes), [80, 500, 20])
  })

  it("counts keys and headers in a slice's bytes, as the queue does", () => {
    const withExtras: KafkaRecord = {
      ...record(0, 10),
      key: new Uint8Array(5),
      headers: [{ key: "abc", value: new Uint8Array(2) }]
    }
    assert.strictEqual(sliceBatch([withExtras], roomy)[0]!.bytes, 20)
  })

  it("every record once, in order, within the limits (property)", () => {
    fc.assert(fc.property(
      fc.array(fc.nat({ max: 300 }), { maxLength: 200 }),
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 80 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 2_000 }),
      (sizes, concurrency, minRecords, maxRecords, maxBytes) => {
        const records = sizes.map((size, i) => record(i, size))
        const slices = sliceBatch(records, { concurrency, minRecords, maxRecords, maxBytes })
        assert.deepStrictEqual(slices.flatMap((slice) => slice.records), records)
        for (const slice of slices) {
          assert.isAtLeast(slice.records.length, 1)
          assert.isAtMost(slice.records.length, maxRecords)
          assert.strictEqual(slice.bytes, slice.records.reduce((sum, r) => sum + r.value!.byteLength, 0))
          if (slice.records.length > 1) assert.isAtMost(slice.bytes, maxBytes)
        }
        // Enough slices to keep every worker busy when the records are worth it, and no more than needed.
        const worthIt = Math.min(Math.ceil(records.length / minRecords), concurrency)
        assert.isAtLeast(slices.length, worthIt)
        if (maxBytes >= 300 * maxRecords && records.length > 0) {
          assert.strictEqual(slices.length, Math.max(worthIt, Math.ceil(records.length / maxRecords)))
          const lengths = slices.map((slice) => slice.records.length)
          assert.isAtMost(Math.max(...lengths) - Math.min(...lengths), 1)
        }
      }
    ))
  })
})

describe("recordsPerSlice", () => {
  const limits = { targetMs: 50, maxRecords: 62 }

  it("one record per slice until the processor's speed is known", () => {
    assert.strictEqual(recordsPerSlice(undefined, limits), 1)
  })

  it("about targetMs of work per slice: 5 ms a record → 10; slower than the target → 1", () => {
    assert.strictEqual(recordsPerSlice(5, limits), 10)
    assert.strictEqual(recordsPerSlice(20, limits), 2)
    assert.strictEqual(recordsPerSlice(6_500, limits), 1)
  })

  it("a fast processor (even one measured at 0 ms) gets slices up to maxRecords", () => {
    assert.strictEqual(recordsPerSlice(0.002, limits), 62)
    assert.strictEqual(recordsPerSlice(0, limits), 62)
  })
})

describe("recordsWorthASlice", () => {
  const limits = { minMs: 1, maxRecords: 62 }

  it("one record per slice until the processor's speed is known, and for one slower than minMs", () => {
    assert.strictEqual(recordsWorthASlice(undefined, limits), 1)
    assert.strictEqual(recordsWorthASlice(1, limits), 1)
    assert.strictEqual(recordsWorthASlice(5, limits), 1)
  })

  it("about minMs of work per slice for a faster one: 0.1 ms a record → 10", () => {
    assert.strictEqual(recordsWorthASlice(0.1, limits), 10)
    assert.strictEqual(recordsWorthASlice(0.3, limits), 4)
  })

  it("a fast processor (even one measured at 0 ms) up to maxRecords", () => {
    assert.strictEqual(recordsWorthASlice(0.002, limits), 62)
    assert.strictEqual(recordsWorthASlice(0, limits), 62)
  })
})

import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Log from "../../src/layers/kafka/memory/PartitionLog.js"

/** A log of one-byte records at the given offsets (ascending, gaps allowed). */
const logAt = (offsets: ReadonlyArray<number>) => {
  const log = Log.empty()
  for (const offset of offsets) {
    log.next = offset
    Log.append(log, "t", 0, { value: "x" }, 0)
  }
  return log
}

describe("MemoryKafka partition log", () => {
  it("appends at the high watermark, encodes strings and takes the given or current time", () => {
    const log = Log.empty()
    assert.strictEqual(Log.append(log, "t", 3, { key: "k", value: null, headers: [{ key: "h", value: "v" }] }, 42), 0)
    assert.strictEqual(Log.append(log, "t", 3, { value: new Uint8Array([1]), timestamp: 7 }, 42), 1)
    assert.strictEqual(log.next, 2)
    const [first, second] = log.records
    assert.deepStrictEqual(first, {
      topic: "t",
      partition: 3,
      offset: 0,
      timestamp: 42,
      key: new TextEncoder().encode("k"),
      value: null,
      headers: [{ key: "h", value: new TextEncoder().encode("v") }]
    })
    assert.strictEqual(second!.timestamp, 7)
    assert.isNull(second!.key)
  })

  it("a batch starts at the first record at or past the offset, across gaps", () => {
    const log = logAt([0, 1, 5, 6])
    assert.deepStrictEqual(Log.batchFrom(log.records, 2, 500, 1_000)?.map((r) => r.offset), [5, 6])
    assert.deepStrictEqual(Log.batchFrom(log.records, 0, 3, 1_000)?.map((r) => r.offset), [0, 1, 5])
    assert.isUndefined(Log.batchFrom(log.records, 7, 500, 1_000))
  })

  it("a batch stops at maxBytes, but always takes its first record", () => {
    const log = logAt([0, 1, 2])
    assert.deepStrictEqual(Log.batchFrom(log.records, 0, 500, 2)?.map((r) => r.offset), [0, 1])
    assert.deepStrictEqual(Log.batchFrom(log.records, 0, 500, 0)?.map((r) => r.offset), [0])
  })

  it("firstAtOrAfter finds the first record at or past any offset (property)", () => {
    fc.assert(fc.property(fc.uniqueArray(fc.nat(1_000)), fc.nat(1_100), (offsets, offset) => {
      const records = logAt([...offsets].sort((a, b) => a - b)).records
      const expected = records.findIndex((r) => r.offset >= offset)
      assert.strictEqual(Log.firstAtOrAfter(records, offset), expected === -1 ? records.length : expected)
    }))
  })

  it("hashes a key to the same value every time", () => {
    const key = new TextEncoder().encode("same")
    assert.strictEqual(Log.hashKey(key), Log.hashKey(new TextEncoder().encode("same")))
    assert.notStrictEqual(Log.hashKey(key), Log.hashKey(new TextEncoder().encode("other")))
    assert.isAtLeast(Log.hashKey(key), 0)
  })
})

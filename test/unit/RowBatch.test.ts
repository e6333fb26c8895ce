import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { RowBatch } from "../../src/domain/RowBatch.js"
import type { RowBuffer } from "../../src/domain/RowBuffer.js"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** A row per record: the record's text and a line break. */
const writeLine = (out: RowBuffer, record: string) => out.utf8(`${record}\n`)

/** Writes half the row, then throws: a bug in a row writer. */
const writeHalfThenThrow = (out: RowBuffer, record: string) => {
  out.utf8(record.slice(0, record.length >> 1))
  throw new Error(`cannot write ${record}`)
}

const batchOf = (options: Partial<ConstructorParameters<typeof RowBatch>[0]> = {}) =>
  new RowBatch<string>({ maxRows: 3, maxBytes: 1024, ...options })

describe("RowBatch", () => {
  it("holds the rows appended and their records until taken; then it is empty", () => {
    const batch = batchOf()
    assert.strictEqual(batch.size, 0)
    batch.append("a", writeLine)
    batch.append("bb", writeLine)
    assert.strictEqual(batch.size, 2)
    assert.strictEqual(batch.byteLength, 5)

    const taken = batch.take()
    assert.strictEqual(text(taken.rows.contents), "a\nbb\n")
    assert.deepStrictEqual(taken.records, ["a", "bb"])
    assert.strictEqual(batch.size, 0)
    assert.strictEqual(batch.byteLength, 0)
    batch.append("c", writeLine)
    assert.strictEqual(text(taken.rows.contents), "a\nbb\n", "the taken rows are not touched by the next batch")
    assert.deepStrictEqual(taken.records, ["a", "bb"])
  })

  it("keeps what it is given for a row instead of the record, when given something", () => {
    const batch = new RowBatch<{ readonly offset: number }>({ maxRows: 3, maxBytes: 1024 })
    const record = { offset: 7, value: "a large value" }
    batch.append(record, (out, r) => out.utf8(`${r.value}\n`), { offset: 7 })
    const taken = batch.take()
    assert.strictEqual(text(taken.rows.contents), "a large value\n")
    assert.deepStrictEqual(taken.records, [{ offset: 7 }])
  })

  it("is full at maxRows rows, or at maxBytes however few the rows", () => {
    const byRows = batchOf({ maxRows: 3 })
    byRows.append("a", writeLine)
    byRows.append("b", writeLine)
    assert.isFalse(byRows.isFull)
    byRows.append("c", writeLine)
    assert.isTrue(byRows.isFull)

    const byBytes = batchOf({ maxRows: 100, maxBytes: 10 })
    byBytes.append("12345678", writeLine)
    assert.isFalse(byBytes.isFull)
    byBytes.append("x", writeLine)
    assert.isTrue(byBytes.isFull, "10 bytes in 2 rows")

    const exactly = batchOf({ maxRows: 100, maxBytes: 10 })
    exactly.append("1234", writeLine)
    exactly.append("5678", writeLine)
    assert.isTrue(exactly.isFull, "exactly maxBytes")
  })

  it("cuts off a row whose writing throws halfway: the error goes on, the record is not added, the rows around it stay whole", () => {
    const batch = batchOf()
    batch.append("first", writeLine)
    assert.throws(() => batch.append("broken", writeHalfThenThrow), "cannot write broken")
    assert.strictEqual(batch.size, 1)
    assert.strictEqual(batch.byteLength, 6)
    batch.append("last", writeLine)
    const taken = batch.take()
    assert.strictEqual(text(taken.rows.contents), "first\nlast\n")
    assert.deepStrictEqual(taken.records, ["first", "last"])
  })

  it("without a buffer given back, the next batch gets a new one", () => {
    const batch = batchOf()
    batch.append("a", writeLine)
    const first = batch.take()
    batch.append("b", writeLine)
    assert.notStrictEqual(batch.take().rows, first.rows)
  })

  it("a written batch's buffer, given back, is the one after next's (two buffers take turns), emptied", () => {
    const batch = batchOf()
    batch.append("a", writeLine)
    const first = batch.take() // the next batch fills a second buffer meanwhile
    batch.append("b", writeLine)
    batch.recycle(first.rows)
    assert.strictEqual(first.rows.length, 0)
    const second = batch.take()
    assert.notStrictEqual(second.rows, first.rows)
    assert.strictEqual(text(second.rows.contents), "b\n")

    batch.append("c", writeLine)
    const third = batch.take()
    assert.strictEqual(third.rows, first.rows)
    assert.strictEqual(text(third.rows.contents), "c\n")
    assert.deepStrictEqual(third.records, ["c"])
  })

  it("does not keep a buffer that a burst left far larger than its batch needed (over maxKeptCapacity and twice what it held)", () => {
    const batch = batchOf({ minCapacity: 16, maxKeptCapacity: 1024 })
    batch.append("x".repeat(4999), writeLine) // a large record: the buffer grows to 5000 bytes
    const burst = batch.take()
    assert.isAtLeast(burst.rows.capacity, 5000)
    batch.recycle(burst.rows)
    batch.take()

    batch.append("small", writeLine)
    const small = batch.take()
    assert.strictEqual(small.rows, burst.rows, "kept while its batch used most of it")
    batch.recycle(small.rows) // 5000 bytes for a 6-byte batch
    batch.take()
    assert.notStrictEqual(batch.take().rows, burst.rows, "dropped: it would hold that memory for good")
  })

  it("keeps a buffer of exactly maxKeptCapacity, however little it held", () => {
    const batch = batchOf({ minCapacity: 1024, maxKeptCapacity: 1024 })
    batch.append("a", writeLine)
    const taken = batch.take()
    assert.strictEqual(taken.rows.capacity, 1024)
    batch.recycle(taken.rows)
    batch.take()
    assert.strictEqual(batch.take().rows, taken.rows)
  })

  it("keeps any buffer up to maxKeptCapacity, however little it held", () => {
    const batch = batchOf({ minCapacity: 512, maxKeptCapacity: 1024 })
    batch.append("a", writeLine)
    const taken = batch.take()
    batch.recycle(taken.rows)
    batch.take()
    assert.strictEqual(batch.take().rows, taken.rows)
  })

  it("property: the batches taken hold, in order, exactly the rows that were written whole, with their records", () => {
    const step = fc.oneof(
      fc.record({ _tag: fc.constant("append" as const), record: fc.string({ maxLength: 40 }), breaks: fc.boolean() }),
      fc.record({ _tag: fc.constant("take" as const), recycle: fc.boolean() })
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 16, max: 256 }), (steps, capacity) => {
        const batch = new RowBatch<string>({ maxRows: 5, maxBytes: 100, minCapacity: capacity, maxKeptCapacity: 64 })
        const expected: Array<string> = []
        let written = ""
        let records: Array<string> = []
        const takeAll = (recycle: boolean) => {
          const taken = batch.take()
          written += text(taken.rows.contents)
          records = records.concat(taken.records)
          if (recycle) batch.recycle(taken.rows)
        }
        for (const s of steps) {
          if (s._tag === "take") takeAll(s.recycle)
          else if (s.breaks) assert.throws(() => batch.append(s.record, writeHalfThenThrow))
          else {
            batch.append(s.record, writeLine)
            expected.push(s.record)
          }
          assert.strictEqual(batch.isFull, batch.size >= 5 || batch.byteLength >= 100)
        }
        takeAll(false)
        assert.strictEqual(written, expected.map((record) => `${record}\n`).join(""))
        assert.deepStrictEqual(records, expected)
      })
    )
  })
})

describe("RowBatch.retain", () => {
  it("drops the rows of the records refused, keeping the others' bytes in order", () => {
    const batch = new RowBatch<{ readonly id: number; readonly keep: boolean }>({ maxRows: 100, maxBytes: 1 << 20, minCapacity: 16 })
    const write = (out: RowBuffer, record: { readonly id: number }) => out.utf8(`row ${record.id}\r\n`)
    for (let id = 0; id < 6; id++) batch.append({ id, keep: id % 3 !== 1 }, write)
    assert.strictEqual(batch.retain((record) => record.keep), 2)
    assert.strictEqual(batch.size, 4)
    assert.strictEqual(batch.retain(() => true), 0, "nothing to drop")
    batch.append({ id: 6, keep: true }, write)
    const taken = batch.take()
    assert.deepStrictEqual(taken.records.map((record) => record.id), [0, 2, 3, 5, 6])
    assert.strictEqual(new TextDecoder().decode(taken.rows.contents), "row 0\r\nrow 2\r\nrow 3\r\nrow 5\r\nrow 6\r\n")
    assert.strictEqual(batch.byteLength, 0)
  })

  it("a second retain, and a retain after a take, still cut at each kept row's end", () => {
    const batch = new RowBatch<{ readonly id: number; readonly partition: number }>({ maxRows: 100, maxBytes: 1 << 20 })
    const write = (out: RowBuffer, record: { readonly id: number }) => out.utf8(`row ${record.id}\r\n`)
    for (let id = 0; id < 6; id++) batch.append({ id, partition: id % 3 }, write)
    assert.strictEqual(batch.retain((record) => record.partition !== 1), 2)
    assert.strictEqual(batch.retain((record) => record.partition !== 2), 2)
    assert.strictEqual(text(batch.take().rows.contents), "row 0\r\nrow 3\r\n")
    for (let id = 10; id < 14; id++) batch.append({ id, partition: id % 2 }, write)
    assert.strictEqual(batch.retain((record) => record.partition === 1), 2)
    const taken = batch.take()
    assert.deepStrictEqual(taken.records.map((record) => record.id), [11, 13])
    assert.strictEqual(text(taken.rows.contents), "row 11\r\nrow 13\r\n")
  })
})

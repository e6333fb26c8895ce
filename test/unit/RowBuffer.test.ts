import { assert, describe, it } from "@effect/vitest"
import { RowBuffer } from "../../src/domain/RowBuffer.js"

const text = (buffer: RowBuffer) => new TextDecoder().decode(buffer.contents)

describe("RowBuffer", () => {
  it("holds 64 KiB before it grows, or the capacity asked for, 16 bytes at least", () => {
    assert.strictEqual(new RowBuffer().capacity, 64 * 1024)
    assert.strictEqual(new RowBuffer(1_000).capacity, 1_000)
    assert.strictEqual(new RowBuffer(0).capacity, 16)
  })

  it("fills up to its capacity without growing, then doubles (rows are appended in amortised constant time)", () => {
    const buffer = new RowBuffer(16)
    buffer.bytes(new Uint8Array(16).fill(0x61))
    assert.strictEqual(buffer.capacity, 16)
    buffer.ascii("b")
    assert.strictEqual(buffer.capacity, 32)
    assert.strictEqual(buffer.length, 17)
    assert.strictEqual(text(buffer), "a".repeat(16) + "b")
    buffer.utf8("é".repeat(40)) // 80 bytes: more than doubling gives
    assert.strictEqual(buffer.capacity, 97)
    assert.strictEqual(text(buffer), "a".repeat(16) + "b" + "é".repeat(40))
  })

  it("truncate cuts back what was written, never forward; clear keeps the memory", () => {
    const buffer = new RowBuffer(16)
    buffer.ascii("abcdef")
    buffer.truncate(3)
    assert.strictEqual(text(buffer), "abc")
    buffer.truncate(10)
    assert.strictEqual(text(buffer), "abc")
    buffer.clear()
    assert.strictEqual(buffer.length, 0)
    assert.strictEqual(buffer.capacity, 16)
  })
})

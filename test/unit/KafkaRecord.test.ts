import { assert, describe, it } from "@effect/vitest"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import { recordSize } from "../../src/domain/KafkaRecord.js"
import { fnv1a32, keyHash } from "../../src/domain/KeyHash.js"
import { Input } from "../../src/domain/Processor.js"

const text = new TextEncoder()

const record = (overrides: Partial<KafkaRecord> = {}): KafkaRecord => ({
  topic: "orders",
  partition: 0,
  offset: 0,
  timestamp: 0,
  key: text.encode("k1"),
  value: text.encode("value"),
  headers: [],
  ...overrides
})

describe("recordSize", () => {
  it("counts the key, the value and every header's key and value, in bytes", () => {
    assert.strictEqual(recordSize(record()), 7)
    assert.strictEqual(recordSize(record({ headers: [{ key: "trace", value: text.encode("abc") }] })), 15)
  })

  it("counts a null key, value or header value as nothing (a tombstone has a size)", () => {
    assert.strictEqual(recordSize(record({ key: null, value: null })), 0)
    assert.strictEqual(recordSize(record({ value: null, headers: [{ key: "h", value: null }] })), 3)
  })
})

describe("keyHash", () => {
  it("tells apart keys whose 32-bit FNV-1a hashes collide: it has 53 bits", () => {
    const [a, b] = [text.encode("declinate"), text.encode("macallums")]
    assert.strictEqual(fnv1a32(a), fnv1a32(b))
    assert.notStrictEqual(keyHash(a), keyHash(b))
  })
})

describe("a processor's input", () => {
  it("has null text for a null value, and the value's text otherwise (decoded when read)", () => {
    assert.isNull(new Input(record({ value: null }), true).text)
    assert.strictEqual(new Input(record(), true).text, "value")
    assert.isNull(new Input(record(), false).text)
  })
})

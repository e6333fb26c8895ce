import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { backupHeader, backupRow, dlqHeader, dlqRow, encodeRow } from "../../src/domain/Csv.js"
import { CsvReader } from "../../src/domain/CsvReader.js"
import { type KafkaRecord, recordSize } from "../../src/domain/KafkaRecord.js"
import {
  archiveKindOfHeader,
  type ArchivedRecord,
  decodeRow,
  decodeRowIdentity,
  describeReplay,
  keyPreview,
  REPLAYED_FROM_HEADER,
  replayedFrom,
  replayMessage
} from "../../src/domain/ReplayRow.js"

const utf8 = (text: string) => new TextEncoder().encode(text)

const payload = fc.oneof(
  fc.constant(null),
  fc.constant(new Uint8Array()),
  fc.uint8Array({ maxLength: 40 }),
  fc.string({ unit: "grapheme" }).map(utf8),
  fc.constantFrom("a,\"b\"\r\nc", " padded ", "\uFEFFbom", "{\"json\":1}").map(utf8)
)

const record: fc.Arbitrary<KafkaRecord> = fc.record({
  topic: fc.stringMatching(/^[a-zA-Z0-9._-]{1,20}$/).filter((topic) => topic !== "." && topic !== ".."),
  partition: fc.integer({ min: 0, max: 2_147_483_647 }),
  offset: fc.maxSafeNat(),
  timestamp: fc.integer({ min: -1, max: 4_102_444_800_000 }),
  key: payload,
  value: payload,
  headers: fc.array(fc.record({ key: fc.string(), value: payload }), { maxLength: 4 })
})

const failure = fc.record({
  errorType: fc.string(),
  message: fc.string(),
  detail: fc.string(),
  attempts: fc.nat()
})

/** A row written by Csv.ts, read back by CsvReader: its fields. */
const readBack = (fields: ReadonlyArray<string>): ReadonlyArray<string> => {
  const items = new CsvReader().push(utf8(encodeRow(fields)))
  assert.strictEqual(items.length, 1)
  const [item] = items
  assert.strictEqual(item!._tag, "Row")
  return (item as { fields: ReadonlyArray<string> }).fields
}

const bytesOf = (value: Uint8Array | null) => value === null ? null : [...value]
const comparable = (r: Pick<KafkaRecord, "topic" | "partition" | "offset" | "timestamp" | "key" | "value" | "headers">) => ({
  topic: r.topic,
  partition: r.partition,
  offset: r.offset,
  timestamp: r.timestamp,
  key: bytesOf(r.key),
  value: bytesOf(r.value),
  headers: r.headers.map((header) => ({ key: header.key, value: bytesOf(header.value) }))
})

const base: KafkaRecord = {
  topic: "orders",
  partition: 3,
  offset: 1042,
  timestamp: Date.UTC(2026, 10, 22, 10, 59, 50, 123),
  key: utf8("customer-7"),
  value: utf8("{\"total\":12.5}"),
  headers: [{ key: "trace", value: utf8("t-1") }]
}
const dlqFields = (overrides: Partial<Record<string, string>> = {}) => {
  const row = dlqRow(base, { errorType: "SyntaxError", message: "bad", detail: "at x", attempts: 1 }, Date.UTC(2026, 10, 22, 11))
  return dlqHeader.map((column, index) => overrides[column] ?? row[index]!)
}

describe("decodeRow", () => {
  it("reads DLQ and backup rows back to their records, byte-exact (property)", () => {
    fc.assert(
      fc.property(record, failure, fc.integer({ min: 0, max: 4_102_444_800_000 }), (written, why, failedAt) => {
        const dlq = decodeRow("dlq", readBack(dlqRow(written, why, failedAt)))
        assert.deepStrictEqual(comparable(dlq as ArchivedRecord), comparable(written))
        assert.strictEqual((dlq as ArchivedRecord).errorType, why.errorType)
        assert.strictEqual((dlq as ArchivedRecord).failedAt, failedAt)
        const backup = decodeRow("backup", readBack(backupRow(written)))
        assert.deepStrictEqual(comparable(backup as ArchivedRecord), comparable(written))
        assert.strictEqual((backup as ArchivedRecord).errorType, undefined)
      }),
      { numRuns: 300 }
    )
  })

  it("reads the plain number written for a timestamp no Date can hold", () => {
    const row = backupRow({ ...base, timestamp: 9_000_000_000_000_000 })
    assert.strictEqual((decodeRow("backup", row) as ArchivedRecord).timestamp, 9_000_000_000_000_000)
  })

  it("names the column, the value and what was expected", () => {
    const cases: Array<[Partial<Record<string, string>>, string, string]> = [
      [{ topic: "or ders" }, "topic", "expected a topic name (1–249 of a-z A-Z 0-9 . _ -), got \"or ders\""],
      [{ partition: "-1" }, "partition", "expected an integer from 0 to 2147483647, got \"-1\""],
      [{ partition: "2147483648" }, "partition", "expected an integer from 0 to 2147483647, got \"2147483648\""],
      [{ offset: "1.5" }, "offset", "expected an integer from 0 to 9007199254740991, got \"1.5\""],
      [{ timestamp: "2026-11-22 10:00" }, "timestamp", "expected an ISO 8601 UTC time such as 2026-11-22T10:59:50.123Z, got \"2026-11-22 10:00\""],
      [{ timestamp: "2026-02-31T10:00:00.000Z" }, "timestamp", "expected an ISO 8601 UTC time such as 2026-11-22T10:59:50.123Z, got \"2026-02-31T10:00:00.000Z\""],
      [{ key_encoding: "hex" }, "key_encoding", "expected utf8, base64 or null, got \"hex\""],
      [{ key: "not base64!", key_encoding: "base64" }, "key", "expected base64, got \"not base64!\""],
      [{ value_encoding: "hex" }, "value_encoding", "expected utf8, base64 or null, got \"hex\""],
      [{ value_encoding: "null" }, "value", "expected an empty field (the encoding is null), got \"{\\\"total\\\":12.5}\""],
      [{ value: "not base64!", value_encoding: "base64" }, "value", "expected base64, got \"not base64!\""],
      [{ headers: "{}" }, "headers", "expected a JSON array of { \"key\", \"value\", \"encoding\" }, got \"{}\""],
      [{ headers: "[oops" }, "headers", "expected a JSON array of { \"key\", \"value\", \"encoding\" }, got \"[oops\""],
      [{ headers: "[1]" }, "headers[0]", "expected an object, got 1"],
      [{ headers: "[null]" }, "headers[0]", "expected an object, got null"],
      [{ headers: "[{\"value\":\"x\",\"encoding\":\"utf8\"}]" }, "headers[0].key", "expected a string, got nothing"],
      [{ headers: "[{\"key\":\"k\",\"value\":1,\"encoding\":\"utf8\"}]" }, "headers[0].value", "expected a string, got 1"],
      [{ headers: "[{\"key\":\"k\",\"value\":\"x\",\"encoding\":7}]" }, "headers[0].encoding", "expected utf8, base64 or null, got 7"],
      [{ headers: "[{\"key\":\"k\",\"value\":\"x\",\"encoding\":\"hex\"}]" }, "headers[0].encoding", "expected utf8, base64 or null, got \"hex\""],
      [{ headers: "[{\"key\":\"k\",\"value\":\"x\"}]" }, "headers[0].encoding", "expected utf8, base64 or null, got nothing"],
      [
        { headers: "[{\"key\":\"k\",\"value\":\"x\",\"encoding\":\"null\"}]" },
        "headers[0].value",
        "expected an empty field (the encoding is null), got \"x\""
      ],
      [{ attempts: "x" }, "attempts", "expected an integer from 0 to 9007199254740991, got \"x\""],
      [{ failed_at: "yesterday" }, "failed_at", "expected an ISO 8601 UTC time such as 2026-11-22T10:59:50.123Z, got \"yesterday\""]
    ]
    for (const [overrides, column, message] of cases) {
      assert.deepStrictEqual(decodeRow("dlq", dlqFields(overrides)), { column, message }, JSON.stringify(overrides))
    }
  })

  it("cuts a long value in the message", () => {
    const problem = decodeRow("dlq", dlqFields({ topic: "x".repeat(300) }))
    assert.strictEqual((problem as { message: string }).message, `expected a topic name (1–249 of a-z A-Z 0-9 . _ -), got "${"x".repeat(60)}…"`)
  })

  it("cuts a value only when it is longer than 60 characters", () => {
    const sixty = `${"x".repeat(58)} y`
    const problem = decodeRow("dlq", dlqFields({ topic: sixty }))
    assert.strictEqual((problem as { message: string }).message, `expected a topic name (1–249 of a-z A-Z 0-9 . _ -), got "${sixty}"`)
  })

  it("takes the largest partition and offset, and nothing larger", () => {
    const largest = decodeRow("dlq", dlqFields({ partition: "2147483647", offset: "9007199254740991" })) as ArchivedRecord
    assert.strictEqual(largest.partition, 2_147_483_647)
    assert.strictEqual(largest.offset, Number.MAX_SAFE_INTEGER)
    assert.deepStrictEqual(decodeRow("dlq", dlqFields({ offset: "9007199254740992" })), {
      column: "offset",
      message: "expected an integer from 0 to 9007199254740991, got \"9007199254740992\""
    })
  })

  it("insists on the archive's number of columns", () => {
    assert.deepStrictEqual(decodeRow("backup", dlqFields()), { column: "row", message: "expected 9 columns (a backup archive), got 14" })
  })
})

describe("decodeRowIdentity", () => {
  it("is the identity decodeRow gives, and fails where decodeRow fails on those columns", () => {
    const row = [...backupRow({ ...base, topic: "orders", partition: 3, offset: 41 })]
    assert.deepStrictEqual(decodeRowIdentity("backup", row), { topic: "orders", partition: 3, offset: 41 })
    const dlq = [...dlqRow(base, { errorType: "X", message: "m", detail: "d", attempts: 1 }, 0)]
    assert.deepStrictEqual(decodeRowIdentity("dlq", dlq), { topic: base.topic, partition: base.partition, offset: base.offset })
    assert.deepStrictEqual(decodeRowIdentity("dlq", row), { column: "row", message: "expected 14 columns (a dlq archive), got 9" })
    for (const [column, index, text] of [["topic", 0, "a b"], ["partition", 1, "-1"], ["offset", 2, "1.5"]] as const) {
      const broken = [...row]
      broken[index] = text
      const identity = decodeRowIdentity("backup", broken)
      const whole = decodeRow("backup", broken)
      assert.deepStrictEqual(identity, whole, column)
      assert.strictEqual("column" in identity ? identity.column : undefined, column)
    }
  })
})

describe("archiveKindOfHeader", () => {
  it("tells a DLQ header from a backup header, a leading byte-order mark allowed; anything else is neither", () => {
    assert.strictEqual(archiveKindOfHeader(dlqHeader), "dlq")
    assert.strictEqual(archiveKindOfHeader(backupHeader), "backup")
    assert.strictEqual(archiveKindOfHeader([`\uFEFF${dlqHeader[0]}`, ...dlqHeader.slice(1)]), "dlq")
    assert.strictEqual(archiveKindOfHeader(["topic", "partition"]), undefined)
    assert.strictEqual(archiveKindOfHeader([...dlqHeader.slice(0, -1), "failed"]), undefined, "the right number of columns, one name wrong")
    assert.strictEqual(archiveKindOfHeader([]), undefined)
  })
})

describe("replayMessage", () => {
  const archived = decodeRow("dlq", dlqFields()) as ArchivedRecord
  const text = (value: Uint8Array | null) => value === null ? null : new TextDecoder().decode(value)

  it("goes back to the record's own topic and partition, its headers followed by x-replayed-from", () => {
    const message = replayMessage(archived, "dlq-2026-11-22T11.csv", 17, undefined)
    assert.strictEqual(message.topic, "orders")
    assert.strictEqual(message.partition, 3)
    assert.deepStrictEqual(message.headers.map((header) => [header.key, text(header.value)]), [
      ["trace", "t-1"],
      [REPLAYED_FROM_HEADER, "orders:3:1042 dlq-2026-11-22T11.csv:17"]
    ])
    assert.strictEqual(replayedFrom(archived, "f.csv", 2), "orders:3:1042 f.csv:2")
  })

  it("to another topic, leaves the partition to the partitioner; to its own topic named again, keeps it", () => {
    assert.strictEqual(replayMessage(archived, "f.csv", 2, "audit").partition, undefined)
    assert.strictEqual(replayMessage(archived, "f.csv", 2, "audit").topic, "audit")
    assert.strictEqual(replayMessage(archived, "f.csv", 2, "orders").partition, 3)
  })

  it("measures keys, values and headers", () => {
    const message = replayMessage({ ...archived, key: null, headers: [{ key: "k", value: null }] }, "f.csv", 2, undefined)
    assert.strictEqual(recordSize(message), 14 + 1 + REPLAYED_FROM_HEADER.length + "orders:3:1042 f.csv:2".length)
  })

  it("describes a record for a dry run", () => {
    assert.strictEqual(
      describeReplay("dlq/f.csv", 2, archived, replayMessage(archived, "f.csv", 2, undefined)),
      "dlq/f.csv:2\torders:3:1042\t→ orders:3\tkey \"customer-7\"\tvalue 14 bytes"
    )
    const keyless = { ...archived, key: null, value: null }
    assert.strictEqual(
      describeReplay("f.csv", 9, keyless, replayMessage(keyless, "f.csv", 9, "audit")),
      "f.csv:9\torders:3:1042\t→ audit (partition by key)\tkey null\tvalue null"
    )
  })
})

describe("keyPreview", () => {
  it("shows text quoted (cut when long), binary and control characters as base64, null as null", () => {
    assert.strictEqual(keyPreview(null), "null")
    assert.strictEqual(keyPreview(utf8("k-1")), "\"k-1\"")
    assert.strictEqual(keyPreview(utf8("é".repeat(70))), `"${"é".repeat(60)}…"`)
    assert.strictEqual(keyPreview(Uint8Array.of(0xff, 0x00)), "base64:/wA=")
    assert.strictEqual(keyPreview(utf8("a\nb")), "base64:YQpi")
    assert.strictEqual(keyPreview(new Uint8Array(60).fill(0xff)), `base64:${"/".repeat(60)}…`)
    assert.strictEqual(keyPreview(new Uint8Array(45).fill(0xff)), `base64:${"/".repeat(60)}`, "60 characters of base64: not cut")
  })
})

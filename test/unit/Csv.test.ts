import { assert, describe, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import * as fc from "fast-check"
import {
  backupHeader,
  backupRow,
  decodeBytes,
  dlqHeader,
  dlqRow,
  encodeBytes,
  encodeField,
  encodeRow,
  writeBackupRow,
  writeDlqRow
} from "../../src/domain/Csv.js"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import { RowBuffer } from "../../src/domain/RowBuffer.js"

// Every round trip goes through csv-parse, a real RFC 4180 reader with its
// default options: what an operator would use on the archives.
const readCsv = (text: string): Array<Array<string>> => parse(text)

const utf8 = (text: string) => new TextEncoder().encode(text)
const bytes = (...values: Array<number>) => new Uint8Array(values)

/** Invalid UTF-8: a lone continuation byte, an overlong "/", a UTF-16 surrogate, a truncated sequence. */
const invalidUtf8 = bytes(0x80, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x41, 0xe2, 0x82)

const tricky = [
  "plain",
  "",
  "a,b",
  "say \"hi\"",
  "\"",
  "\"\"",
  "line\rbreak",
  "line\nbreak",
  "line\r\nbreak",
  "\r\n",
  " leading",
  "trailing ",
  " ",
  "\ttab\t",
  "🎉 party, \"quoted\"",
  "日本語のテキスト",
  "naïve café",
  "{\"json\":[1,2,\"x,y\"]}",
  "\uFEFFbom first"
]

const record = (overrides: Partial<KafkaRecord> = {}): KafkaRecord => ({
  topic: "orders",
  partition: 3,
  offset: 1042,
  timestamp: Date.UTC(2026, 10, 22, 10, 59, 50, 123),
  key: utf8("customer-7"),
  value: utf8("{\"total\":12.5}"),
  headers: [],
  ...overrides
})

describe("Csv", () => {
  describe("encodeField", () => {
    it("leaves plain fields alone", () => {
      assert.strictEqual(encodeField("plain"), "plain")
      assert.strictEqual(encodeField(""), "")
      assert.strictEqual(encodeField("in side"), "in side")
      assert.strictEqual(encodeField("日本語"), "日本語")
    })

    it("quotes commas, CR, LF and leading/trailing spaces, and doubles quotes", () => {
      assert.strictEqual(encodeField("a,b"), "\"a,b\"")
      assert.strictEqual(encodeField("a\rb"), "\"a\rb\"")
      assert.strictEqual(encodeField("a\nb"), "\"a\nb\"")
      assert.strictEqual(encodeField(" a"), "\" a\"")
      assert.strictEqual(encodeField("a "), "\"a \"")
      assert.strictEqual(encodeField("say \"hi\", then go"), "\"say \"\"hi\"\", then go\"")
      assert.strictEqual(encodeField("\""), "\"\"\"\"")
    })
  })

  describe("encodeRow", () => {
    it("ends rows with CRLF", () => {
      assert.strictEqual(encodeRow(["a", "b,c", ""]), "a,\"b,c\",\r\n")
    })

    it("round-trips every tricky value through a real CSV parser, field by field", () => {
      const text = encodeRow(tricky) + encodeRow(tricky.toReversed())
      assert.deepStrictEqual(readCsv(text), [tricky, tricky.toReversed()])
    })

    it("a row of one empty field is a quoted empty string, not an empty line", () => {
      assert.strictEqual(encodeRow([""]), "\"\"\r\n")
      assert.strictEqual(encodeRow(["", ""]), ",\r\n")
    })

    it("round-trips each tricky value alone, including a row of one empty field", () => {
      for (const value of tricky) {
        assert.deepStrictEqual(readCsv(encodeRow([value]) + encodeRow(["after"])), [[value], ["after"]], JSON.stringify(value))
      }
    })

    it("round-trips random rows (property)", () => {
      const special = fc.constantFrom(",", "\"", "\r", "\n", "\r\n", " ", "a", "é", "🎉", "中")
      const field = fc.oneof(
        fc.string({ unit: fc.oneof(special, fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), maxLength: 12 }),
        fc.string()
      )
      // Archives have a fixed number of columns, and the parser insists on it.
      const rows = fc
        .integer({ min: 1, max: 8 })
        .chain((columns) => fc.array(fc.array(field, { minLength: columns, maxLength: columns }), { minLength: 1, maxLength: 5 }))
      fc.assert(
        fc.property(rows, (rows) => {
          assert.deepStrictEqual(readCsv(rows.map(encodeRow).join("")), rows)
        }),
        { numRuns: 500 }
      )
    })
  })

  describe("encodeBytes / decodeBytes", () => {
    it("writes valid UTF-8 as text, including emoji, CJK and an empty payload", () => {
      for (const text of ["hello", "🎉🎉", "日本語", "", "a,\"b\"\r\n"]) {
        assert.deepStrictEqual(encodeBytes(utf8(text)), { text, encoding: "utf8" })
      }
    })

    it("writes invalid UTF-8 as base64 and reads it back byte-exact", () => {
      const encoded = encodeBytes(invalidUtf8)
      assert.strictEqual(encoded.encoding, "base64")
      assert.deepStrictEqual(decodeBytes(encoded.text, encoded.encoding), invalidUtf8)
    })

    it("keeps a leading byte-order mark, so the bytes come back the same", () => {
      const withBom = bytes(0xef, 0xbb, 0xbf, 0x41)
      const encoded = encodeBytes(withBom)
      assert.deepStrictEqual(encoded, { text: "\uFEFFA", encoding: "utf8" })
      assert.deepStrictEqual(decodeBytes(encoded.text, encoded.encoding), withBom)
    })

    it("encodes a view into a larger buffer by its own bytes only", () => {
      const backing = bytes(0xff, 0x61, 0x62, 0xff, 0xfe, 0x00)
      assert.deepStrictEqual(encodeBytes(backing.subarray(1, 3)), { text: "ab", encoding: "utf8" })
      const invalid = encodeBytes(backing.subarray(3, 5))
      assert.deepStrictEqual(invalid, { text: "//4=", encoding: "base64" })
    })

    it("marks null apart from empty", () => {
      assert.deepStrictEqual(encodeBytes(null), { text: "", encoding: "null" })
      assert.strictEqual(decodeBytes("", "null"), null)
      assert.deepStrictEqual(decodeBytes("", "utf8"), new Uint8Array(0))
    })

    it("round-trips any bytes (property)", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (payload) => {
          const encoded = encodeBytes(payload)
          assert.deepStrictEqual(decodeBytes(encoded.text, encoded.encoding), payload)
        }),
        { numRuns: 1000 }
      )
    })
  })

  describe("backup rows", () => {
    it("the header is the documented columns", () => {
      assert.deepStrictEqual(backupHeader, [
        "topic",
        "partition",
        "offset",
        "timestamp",
        "key",
        "key_encoding",
        "value",
        "value_encoding",
        "headers"
      ])
      assert.deepStrictEqual(readCsv(encodeRow(backupHeader)), [[...backupHeader]])
    })

    it("writes a record column by column, timestamp in ISO 8601 UTC with ms", () => {
      assert.deepStrictEqual(backupRow(record()), [
        "orders",
        "3",
        "1042",
        "2026-11-22T10:59:50.123Z",
        "customer-7",
        "utf8",
        "{\"total\":12.5}",
        "utf8",
        "[]"
      ])
    })

    it("writes null key and value as empty, marked null", () => {
      const row = backupRow(record({ key: null, value: null }))
      assert.deepStrictEqual(row.slice(4, 8), ["", "null", "", "null"])
    })

    it("writes headers as JSON, binary values in base64", () => {
      const row = backupRow(
        record({
          headers: [
            { key: "trace-id", value: utf8("abc,\"1\"") },
            { key: "blob", value: invalidUtf8 },
            { key: "empty", value: null },
            { key: "trace-id", value: utf8("repeated keys are kept") }
          ]
        })
      )
      assert.deepStrictEqual(JSON.parse(row[8]!), [
        { key: "trace-id", value: "abc,\"1\"", encoding: "utf8" },
        { key: "blob", value: Buffer.from(invalidUtf8).toString("base64"), encoding: "base64" },
        { key: "empty", value: "", encoding: "null" },
        { key: "trace-id", value: "repeated keys are kept", encoding: "utf8" }
      ])
    })

    it("does not throw on a timestamp no Date can hold", () => {
      assert.strictEqual(backupRow(record({ timestamp: Number.NaN }))[3], "NaN")
      assert.strictEqual(backupRow(record({ timestamp: 9e15 }))[3], "9000000000000000")
      assert.strictEqual(backupRow(record({ timestamp: -1 }))[3], "1969-12-31T23:59:59.999Z")
    })

    it("reads back byte-exact through a real CSV parser: tricky text, invalid UTF-8, null, binary headers", () => {
      const records: Array<KafkaRecord> = [
        record({ key: utf8(" spaced key "), value: utf8("multi\r\nline, \"quoted\" 🎉 日本語") }),
        record({ key: null, value: invalidUtf8, offset: 1043 }),
        record({ key: new Uint8Array(0), value: null, offset: 1044, headers: [{ key: "bin", value: bytes(0, 0xff, 0x0d, 0x0a) }] }),
        record({ value: utf8(""), offset: 1045, headers: [{ key: "k,\"\n", value: utf8("v\r\n, ") }] })
      ]
      const [header, ...rows] = readCsv(encodeRow(backupHeader) + records.map((r) => encodeRow(backupRow(r))).join(""))
      assert.deepStrictEqual(header, [...backupHeader])
      assert.strictEqual(rows.length, records.length)
      rows.forEach((row, index) => {
        const original = records[index]!
        const column = (name: string) => row[backupHeader.indexOf(name)]!
        assert.strictEqual(column("topic"), original.topic)
        assert.strictEqual(Number(column("partition")), original.partition)
        assert.strictEqual(Number(column("offset")), original.offset)
        assert.strictEqual(Date.parse(column("timestamp")), original.timestamp)
        assert.deepStrictEqual(decodeBytes(column("key"), column("key_encoding") as never), original.key)
        assert.deepStrictEqual(decodeBytes(column("value"), column("value_encoding") as never), original.value)
        const headers = (JSON.parse(column("headers")) as Array<{ key: string; value: string; encoding: never }>).map(
          (header) => ({ key: header.key, value: decodeBytes(header.value, header.encoding) })
        )
        assert.deepStrictEqual(headers, original.headers)
      })
    })
  })

  describe("writeBackupRow (rows as bytes)", () => {
    const written = (records: ReadonlyArray<KafkaRecord>, capacity?: number) => {
      const out = new RowBuffer(capacity)
      for (const r of records) writeBackupRow(out, r)
      return out.contents
    }
    const asText = (records: ReadonlyArray<KafkaRecord>) => utf8(records.map((r) => encodeRow(backupRow(r))).join(""))

    it("writes plain UTF-8 keys and values as they are", () => {
      const r = record({ key: utf8("naïve-🎉"), value: utf8("{total: 12.5} 日本語") })
      assert.deepStrictEqual(
        new TextDecoder().decode(written([r])),
        "orders,3,1042,2026-11-22T10:59:50.123Z,naïve-🎉,utf8,{total: 12.5} 日本語,utf8,[]\r\n"
      )
    })

    it("gives the bytes of the text row for every kind of record: quoted, base64, null, empty, headers, odd timestamps", () => {
      const records = [
        ...tricky.map((text, i) => record({ offset: i, key: utf8(text), value: utf8(text.toUpperCase()) })),
        record({ key: null, value: invalidUtf8 }),
        record({ key: invalidUtf8, value: null }),
        record({ key: new Uint8Array(0), value: new Uint8Array(0) }),
        record({ headers: [{ key: "k", value: utf8("v") }] }),
        record({ timestamp: Number.NaN }),
        record({ timestamp: 9e15 }),
        record({ timestamp: 1.5 }),
        record({ timestamp: -1 })
      ]
      assert.deepStrictEqual(written(records), asText(records))
    })

    it("quotes or encodes a key or value with one special byte anywhere, short (up to 32 bytes) or long", () => {
      const specials: Array<[string, number]> = [["quote", 0x22], ["comma", 0x2c], ["CR", 0x0d], ["LF", 0x0a], ["a lone 0x80", 0x80]]
      const records: Array<KafkaRecord> = []
      for (const [, special] of specials) {
        for (const length of [1, 2, 32, 33, 100]) {
          for (const at of new Set([0, length >> 1, length - 1])) {
            const payload = new Uint8Array(length).fill(0x61)
            payload[at] = special
            // The other field null: a row whose other field needs the general way takes it whole.
            records.push(record({ offset: records.length, key: payload, value: null }))
            records.push(record({ offset: records.length, key: null, value: payload }))
          }
        }
      }
      for (const r of records) {
        assert.deepStrictEqual(written([r]), asText([r]), JSON.stringify([...(r.key ?? [])].concat([...(r.value ?? [])])))
      }
    })

    it("gives the bytes of the text row for any record, however many share a buffer (property)", () => {
      const payload = fc.oneof(
        fc.constant(null),
        fc.uint8Array({ maxLength: 40 }),
        fc.string({ unit: "binary", maxLength: 40 }).map(utf8),
        fc.constantFrom(...tricky).map(utf8)
      )
      const arbitraryRecord = fc.record({
        topic: fc.constantFrom("orders", "a.b-c_d"),
        partition: fc.nat(100),
        offset: fc.nat(),
        // Runs of records in one second, and jumps across seconds, minutes, years and the epoch.
        timestamp: fc.oneof(
          fc.integer({ min: Date.UTC(2026, 10, 22, 10, 59, 58), max: Date.UTC(2026, 10, 22, 11, 0, 1) }),
          fc.integer({ min: -8.64e15, max: 8.64e15 })
        ),
        key: payload,
        value: payload,
        headers: fc.array(fc.record({ key: fc.string({ maxLength: 5 }), value: payload }), { maxLength: 2 })
      })
      fc.assert(
        fc.property(fc.array(arbitraryRecord, { maxLength: 20 }), fc.integer({ min: 1, max: 256 }), (records, capacity) => {
          assert.deepStrictEqual(written(records, capacity), asText(records))
        }),
        { numRuns: 500 }
      )
    })

    it("formats any run of timestamps like Date#toISOString (property)", () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: -2000, max: 2000 })),
            { minLength: 1, maxLength: 8 }
          ),
          (stamps) => {
            for (const timestamp of stamps) {
              assert.strictEqual(backupRow(record({ timestamp }))[3], new Date(timestamp).toISOString())
            }
          }
        ),
        { numRuns: 1000 }
      )
    })

    it("formats the timestamps of consecutive records like Date, within a second and across one", () => {
      const start = Date.UTC(2026, 10, 22, 10, 59, 59, 990)
      const stamps = Array.from({ length: 30 }, (_, i) => start + i)
      const rows = readCsv(new TextDecoder().decode(written(stamps.map((timestamp) => record({ timestamp })))))
      assert.deepStrictEqual(rows.map((row) => row[3]), stamps.map((t) => new Date(t).toISOString()))
    })
  })

  describe("DLQ rows", () => {
    const failure = {
      errorType: "ProcessorError",
      message: "total must be positive, got \"-1\"",
      detail: "Error: total must be positive\n    at process (processor.js:3:11)\r\n    at async",
      attempts: 3
    }
    const failedAt = Date.UTC(2026, 10, 22, 11, 0, 10, 5)

    it("the header is the backup columns plus the failure columns", () => {
      assert.deepStrictEqual(dlqHeader, [
        ...backupHeader,
        "error_type",
        "error_message",
        "error_detail",
        "attempts",
        "failed_at"
      ])
    })

    it("writes the record, why it failed and when", () => {
      const row = dlqRow(record(), failure, failedAt)
      assert.deepStrictEqual(row, [
        ...backupRow(record()),
        "ProcessorError",
        failure.message,
        failure.detail,
        "3",
        "2026-11-22T11:00:10.005Z"
      ])
    })

    it("reads back through a real CSV parser with the stack trace intact", () => {
      const out = new RowBuffer()
      writeDlqRow(out, record({ value: invalidUtf8 }), failure, failedAt)
      const text = encodeRow(dlqHeader) + new TextDecoder().decode(out.contents)
      const [header, row] = readCsv(text)
      assert.deepStrictEqual(header, [...dlqHeader])
      assert.strictEqual(row!.length, dlqHeader.length)
      assert.strictEqual(row![dlqHeader.indexOf("error_detail")], failure.detail)
      assert.strictEqual(row![dlqHeader.indexOf("error_message")], failure.message)
      assert.deepStrictEqual(decodeBytes(row![6]!, "base64"), invalidUtf8)
    })
  })
})

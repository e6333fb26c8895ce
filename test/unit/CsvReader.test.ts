import { assert, describe, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import * as fc from "fast-check"
import { encodeRow } from "../../src/domain/Csv.js"
import { type CsvItem, CsvReader, parseRow } from "../../src/domain/CsvReader.js"

const utf8 = (text: string) => new TextEncoder().encode(text)

/** Reads `bytes` cut at `cuts` (byte offsets), then the end of the input. */
const readAll = (bytes: Uint8Array, cuts: ReadonlyArray<number> = [], reader = new CsvReader()): Array<CsvItem> => {
  const items: Array<CsvItem> = []
  let at = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    items.push(...reader.push(bytes.subarray(at, cut)))
    at = cut
  }
  items.push(...reader.push(bytes.subarray(at)))
  const end = reader.end()
  if (end !== undefined) items.push(end)
  return items
}

const rowsOf = (items: ReadonlyArray<CsvItem>) => items.map((item) => item._tag === "Row" ? item.fields : item)

const special = fc.constantFrom(",", "\"", "\r", "\n", "\r\n", " ", "a", "é", "🎉", "中", "\uFEFF")
const field = fc.oneof(
  fc.string({ unit: fc.oneof(special, fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), maxLength: 12 }),
  fc.string()
)
/** Rows of one width, as an archive has. */
const table = fc
  .integer({ min: 1, max: 8 })
  .chain((columns) => fc.array(fc.array(field, { minLength: columns, maxLength: columns }), { minLength: 1, maxLength: 6 }))

/** Rows with the byte offsets to cut their encoding at. */
const cutTable = table.chain((rows) => {
  const bytes = utf8(rows.map(encodeRow).join(""))
  return fc.tuple(fc.constant(rows), fc.constant(bytes), fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 6 }))
})

describe("CsvReader", () => {
  it("reads what Csv.ts writes as csv-parse does, however the bytes are chunked (property)", () => {
    fc.assert(
      fc.property(cutTable, ([rows, bytes, cuts]) => {
        const items = readAll(bytes, cuts)
        assert.deepStrictEqual(rowsOf(items), rows)
        assert.deepStrictEqual(rowsOf(items), parse(Buffer.from(bytes)) as Array<Array<string>>)
      }),
      { numRuns: 500 }
    )
  })

  it("unfinishedBytes: the bytes after the last row's line end, with the fields read or bounds only, however chunked (property)", () => {
    fc.assert(
      fc.property(cutTable, fc.nat(), ([rows, bytes, cuts], tornAt) => {
        const last = utf8(encodeRow(rows[0]!))
        const torn = last.subarray(0, tornAt % last.length)
        const input = new Uint8Array(bytes.length + torn.length)
        input.set(bytes)
        input.set(torn, bytes.length)
        for (const reader of [new CsvReader(), new CsvReader({ boundsOnly: true })]) {
          let at = 0
          const items: Array<CsvItem> = []
          for (const cut of [...cuts, input.length].sort((a, b) => a - b)) {
            items.push(...reader.push(input.subarray(at, cut)))
            at = cut
          }
          assert.strictEqual(reader.unfinishedBytes, torn.length)
          assert.strictEqual(reader.end() === undefined, torn.length === 0)
          assert.strictEqual(reader.unfinishedBytes, 0, "the end drops the open row")
        }
      }),
      { numRuns: 300 }
    )
  })

  it("boundsOnly gives no rows and no issues: only where they end", () => {
    const reader = new CsvReader({ boundsOnly: true })
    assert.deepStrictEqual(reader.push(utf8("a,b\r\n\"x\ny\",z\r\nbad\"quote\r\n\"open")), [])
    assert.strictEqual(reader.unfinishedBytes, 5)
  })

  it("gives each row the line it starts on (lines end at LF, inside quotes too) (property)", () => {
    fc.assert(
      fc.property(cutTable, ([rows, bytes, cuts]) => {
        let line = 1
        const expected = rows.map((row) => {
          const start = line
          line += encodeRow(row).split("\n").length - 1
          return start
        })
        assert.deepStrictEqual(readAll(bytes, cuts).map((item) => item.line), expected)
      }),
      { numRuns: 300 }
    )
  })

  it("never half-reads a torn file: a cut anywhere gives the whole rows before it and, unless at a row's end, a torn-row issue (property)", () => {
    fc.assert(
      fc.property(cutTable.chain(([rows, bytes]) => fc.tuple(fc.constant(rows), fc.constant(bytes), fc.integer({ min: 0, max: bytes.length }))), ([rows, bytes, cut]) => {
        const items = readAll(bytes.subarray(0, cut))
        const ends: Array<number> = []
        let at = 0
        for (const row of rows) ends.push((at += utf8(encodeRow(row)).length))
        const whole = ends.filter((end) => end <= cut).length
        assert.deepStrictEqual(rowsOf(items.slice(0, whole)), rows.slice(0, whole))
        const torn = items.slice(whole)
        if (ends.includes(cut) || cut === 0) assert.deepStrictEqual(torn, [])
        else {
          assert.strictEqual(torn.length, 1)
          assert.match((torn[0] as { message: string }).message, /torn row/)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("reports a last row without its line end, and a quote never closed, at the line they start on", () => {
    assert.deepStrictEqual(readAll(utf8("a,b\r\nc,d")), [
      { _tag: "Row", line: 1, fields: ["a", "b"] },
      { _tag: "Issue", line: 2, message: "the last row has no line end (a torn row?)" }
    ])
    assert.deepStrictEqual(readAll(utf8("a,b\r\nc,\"d\r\ne")).slice(1), [
      { _tag: "Issue", line: 2, message: "a quoted field is not closed at the end of the file (a torn row?)" }
    ])
    assert.deepStrictEqual(readAll(utf8("a,\"b\"")).slice(0), [
      { _tag: "Issue", line: 1, message: "the last row has no line end (a torn row?)" }
    ])
    assert.deepStrictEqual(readAll(utf8("a,b\r")), [
      { _tag: "Issue", line: 1, message: "the last row has no line end (a torn row?)" }
    ])
  })

  it("accepts rows ending in a bare LF, a CRLF split between chunks, and an empty input", () => {
    assert.deepStrictEqual(rowsOf(readAll(utf8("a,b\nc,d\r\n"), [4, 8])), [["a", "b"], ["c", "d"]])
    assert.deepStrictEqual(readAll(new Uint8Array()), [])
  })

  it("names the line and column of a malformed row and goes on with the next one", () => {
    const text = "h1,h2\r\nab\"c,d\r\n\"x\"y,z\r\nok,row\r\na\rb,c\r\n"
    assert.deepStrictEqual(readAll(utf8(text)), [
      { _tag: "Row", line: 1, fields: ["h1", "h2"] },
      { _tag: "Issue", line: 2, column: 1, message: "a quote inside an unquoted field (such a field must be quoted)" },
      { _tag: "Issue", line: 3, column: 1, message: "expected a comma or the line end after the closing quote" },
      { _tag: "Row", line: 4, fields: ["ok", "row"] },
      { _tag: "Issue", line: 5, column: 1, message: "a CR outside quotes that does not end the row" }
    ])
  })

  it("rejects invalid UTF-8 in a field, quoted or not, naming the column", () => {
    const row = (...parts: Array<Uint8Array>) => Uint8Array.from(parts.flatMap((part) => [...part]))
    assert.deepStrictEqual(readAll(row(utf8("a,"), Uint8Array.of(0xff), utf8("\r\n"))), [
      { _tag: "Issue", line: 1, column: 2, message: "the field is not valid UTF-8" }
    ])
    assert.deepStrictEqual(readAll(row(utf8("\""), Uint8Array.of(0xc3), utf8("\",b\r\n"))), [
      { _tag: "Issue", line: 1, column: 1, message: "the field is not valid UTF-8" }
    ])
  })

  it("reports a row longer than its bound (here a quote never closed) and reads on after the next line end", () => {
    const reader = new CsvReader({ maxRowBytes: 8 })
    const items = readAll(utf8("a,b\r\n\"0123456789\r\n0123456789\r\nc,d\r\n"), [8, 12, 20], reader)
    assert.deepStrictEqual(items.map((item) => item._tag === "Row" ? item.fields : item.message), [
      ["a", "b"],
      "the row is longer than 8 bytes (a quote never closed?); skipped to the next line end",
      "the rest of the overlong row ends here",
      ["c", "d"]
    ])
  })
})

describe("CsvReader bounds", () => {
  it("an overlong row spread over many chunks is one issue, then the end of its skipped part; rows after it read on", () => {
    const reader = new CsvReader({ maxRowBytes: 4 })
    const items = [
      ...reader.push(utf8("abcde")),
      ...reader.push(utf8("fgh")),
      ...reader.push(utf8("ijk")),
      ...reader.push(utf8("l\r\nx,y\r\nz"))
    ]
    assert.deepStrictEqual(items, [
      { _tag: "Issue", line: 1, message: "the row is longer than 4 bytes (a quote never closed?); skipped to the next line end" },
      { _tag: "Issue", line: 1, message: "the rest of the overlong row ends here" },
      { _tag: "Row", line: 2, fields: ["x", "y"] }
    ])
    assert.strictEqual(reader.unfinishedBytes, 1, "the bytes after the last line end: \"z\"")

    const skippedLast = new CsvReader({ maxRowBytes: 4 })
    skippedLast.push(utf8("abcde"))
    skippedLast.push(utf8("fgh\r\nz"))
    assert.strictEqual(skippedLast.unfinishedBytes, 1, "also when the skipped part's line end is the last")
  })

  it("a row of exactly maxRowBytes bytes before its line end is a row", () => {
    const reader = new CsvReader({ maxRowBytes: 4 })
    assert.deepStrictEqual(reader.push(utf8("ab,c")), [])
    assert.deepStrictEqual(reader.push(utf8("\n")), [{ _tag: "Row", line: 1, fields: ["ab", "c"] }])
  })

  it("keeps its own copy of a row's bytes: the caller may reuse its chunk", () => {
    const reader = new CsvReader()
    const chunk = utf8("ab,")
    assert.deepStrictEqual(reader.push(chunk), [])
    chunk.set(utf8("zz,"))
    assert.deepStrictEqual(reader.push(utf8("cd\n")), [{ _tag: "Row", line: 1, fields: ["ab", "cd"] }])
  })

  it("boundsOnly: no bound on a row's length, and the torn row at the end names the line it starts on", () => {
    const reader = new CsvReader({ boundsOnly: true, maxRowBytes: 4 })
    assert.deepStrictEqual(reader.push(utf8("abcdefgh\n\"x\ny\"\nlast row")), [])
    assert.strictEqual(reader.unfinishedBytes, 8)
    assert.deepStrictEqual(reader.end(), { _tag: "Issue", line: 4, message: "the last row has no line end (a torn row?)" })
  })
})

describe("parseRow", () => {
  const fields = (text: string) => parseRow(utf8(text))

  it("splits a row into fields: quoted, doubled quotes, empty ones, a trailing comma", () => {
    assert.deepStrictEqual(fields("a,\"b,c\",\"say \"\"hi\"\"\",,\r"), ["a", "b,c", "say \"hi\"", "", ""])
    assert.deepStrictEqual(fields(""), [""])
    assert.deepStrictEqual(fields("\"\""), [""])
    assert.deepStrictEqual(fields("a,"), ["a", ""])
    assert.deepStrictEqual(fields("\"a\r\nb\",c"), ["a\r\nb", "c"])
  })

  it("reports a quoted field that is not closed", () => {
    assert.deepStrictEqual(fields("a,\"b"), { column: 2, message: "a quoted field is not closed" })
    assert.deepStrictEqual(fields("\"b\"\"\r"), { column: 1, message: "a quoted field is not closed" })
  })
})

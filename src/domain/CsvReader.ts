/**
 * An incremental RFC 4180 reader for the archives (pure: bytes in, rows out):
 * the inverse of `Csv.ts`'s `encodeRow`. Bytes arrive in chunks of any size
 * (a file stream, a gunzip stream); each whole row comes out with the line it
 * starts on, its fields decoded as UTF-8.
 *
 * It reads what `Csv.ts` writes, strictly: quoted fields with commas, doubled
 * quotes, CR and LF inside; rows ending in CRLF (a bare LF is accepted too).
 * Anything else in a row (a quote inside an unquoted field, text after a
 * closing quote, a CR outside quotes, invalid UTF-8) makes that row an issue
 * naming its line and column, and reading goes on at the next line end. A
 * last row without its line end, or with a quote still open at the end of
 * the input, is what a torn write leaves: an issue too, never a short row.
 *
 * Two steps: finding where a row ends needs only a little state (inside
 * quotes or not, at a field's start or not), kept across chunks, so a row
 * spread over many chunks is scanned once; the row's bytes are then split
 * into fields in one go.
 */

const QUOTE = 0x22
const COMMA = 0x2c
const CR = 0x0d
const LF = 0x0a

/** Rows longer than this are reported, not buffered on (an unterminated quote would otherwise hold the rest of a file). */
export const MAX_ROW_BYTES = 256 * 1024 * 1024

export interface CsvRow {
  readonly _tag: "Row"
  /** 1-based line of the input the row starts on (lines end at LF). */
  readonly line: number
  readonly fields: ReadonlyArray<string>
}

export interface CsvIssue {
  readonly _tag: "Issue"
  readonly line: number
  /** 1-based field of the row, when the issue is in one field. */
  readonly column?: number
  readonly message: string
}

export type CsvItem = CsvRow | CsvIssue

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** Where the row scan is: outside quotes, inside a quoted field, or just after a quote inside one (closing, or the first of a pair). */
const enum Quote {
  Outside,
  Inside,
  AfterQuote
}

export class CsvReader {
  readonly #maxRowBytes: number
  /** The line the row being read starts on. */
  #line = 1
  /** LFs inside quotes so far in the row being read. */
  #linesInRow = 0
  #quote = Quote.Outside
  #atFieldStart = true
  /** Bytes of the row being read from earlier chunks (copies). */
  #pieces: Array<Uint8Array> = []
  #rowBytes = 0
  /** After an overlong row: its bytes are dropped up to the next line end. */
  #skipping = false
  /** Bytes of input read so far. */
  #consumed = 0
  /** Bytes of input up to the line end of the last row that ended (whole or an issue). */
  #rowsEnd = 0

  /** Only where rows end (`unfinishedBytes`): no row or issue comes out, no byte is kept. */
  readonly #boundsOnly: boolean

  constructor(options: { readonly maxRowBytes?: number; readonly boundsOnly?: boolean } = {}) {
    this.#maxRowBytes = options.maxRowBytes ?? MAX_ROW_BYTES
    this.#boundsOnly = options.boundsOnly ?? false
  }

  /** Reads `chunk`; returns the rows (and issues) it completes, in order. */
  push(chunk: Uint8Array): Array<CsvItem> {
    const items: Array<CsvItem> = []
    let rowStart = 0
    /** The chunk's first LF at or after the quoted bytes being skipped (its length when none), found once per LF. */
    let lineEnd = -1
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index]!
      if (this.#skipping) {
        if (byte === LF) {
          items.push(this.#endRow(chunk.subarray(rowStart, index)))
          rowStart = index + 1
          this.#rowsEnd = this.#consumed + rowStart
        }
        continue
      }
      if (this.#quote === Quote.Inside) {
        // Most of an archive's bytes are inside quotes (the values): jump to the next quote natively.
        const close = chunk.indexOf(QUOTE, index)
        const end = close < 0 ? chunk.length : close
        if (lineEnd < index) lineEnd = nextLineEnd(chunk, index)
        for (; lineEnd < end; lineEnd = nextLineEnd(chunk, lineEnd + 1)) this.#linesInRow++
        if (close >= 0) this.#quote = Quote.AfterQuote
        index = end
        continue
      }
      if (this.#quote === Quote.AfterQuote) {
        if (byte === QUOTE) {
          this.#quote = Quote.Inside
          continue
        }
        this.#quote = Quote.Outside
      }
      if (byte === LF) {
        if (this.#boundsOnly) this.#reset(this.#linesInRow + 1)
        else items.push(this.#endRow(chunk.subarray(rowStart, index)))
        rowStart = index + 1
        this.#rowsEnd = this.#consumed + rowStart
      } else if (byte === COMMA) {
        this.#atFieldStart = true
      } else {
        // A quote that does not open a field is left to `parseRow` to report.
        if (byte === QUOTE && this.#atFieldStart) this.#quote = Quote.Inside
        this.#atFieldStart = false
      }
    }
    this.#keep(chunk.subarray(rowStart), items)
    this.#consumed += chunk.length
    return items
  }

  /**
   * Bytes read since the line end of the last row that ended: the row still
   * open, which is torn if the input ends here (0 when the input so far ends
   * on a row's line end).
   */
  get unfinishedBytes(): number {
    return this.#consumed - this.#rowsEnd
  }

  /**
   * The end of the input: a row still open is torn (no line end, or a quote
   * never closed), and reported as such.
   */
  end(): CsvIssue | undefined {
    if (this.#rowBytes === 0 && this.#quote === Quote.Outside) return undefined
    const message = this.#quote === Quote.Inside
      ? "a quoted field is not closed at the end of the file (a torn row?)"
      : "the last row has no line end (a torn row?)"
    const line = this.#line
    this.#reset(0)
    this.#rowsEnd = this.#consumed
    return { _tag: "Issue", line, message }
  }

  /** Keeps the tail of a chunk that belongs to the row still open. */
  #keep(tail: Uint8Array, items: Array<CsvItem>): void {
    if (tail.length === 0) return
    if (this.#skipping) return
    this.#rowBytes += tail.length
    if (this.#boundsOnly) return
    if (this.#rowBytes > this.#maxRowBytes) {
      items.push({
        _tag: "Issue",
        line: this.#line,
        message: `the row is longer than ${this.#maxRowBytes} bytes (a quote never closed?); skipped to the next line end`
      })
      this.#pieces = []
      // Whatever the quotes said, the next LF ends the skipped part.
      this.#skipping = true
      return
    }
    this.#pieces.push(tail.slice())
  }

  #endRow(last: Uint8Array): CsvItem {
    const line = this.#line
    const skipped = this.#skipping
    const bytes = this.#pieces.length === 0 ? last : concat(this.#pieces, last, this.#rowBytes)
    this.#reset(this.#linesInRow + 1)
    if (skipped) return { _tag: "Issue", line, message: "the rest of the overlong row ends here" }
    const parsed = parseRow(bytes)
    return Array.isArray(parsed)
      ? { _tag: "Row", line, fields: parsed }
      : { _tag: "Issue", line, column: parsed.column, message: parsed.message }
  }

  #reset(lines: number): void {
    this.#line += lines
    this.#linesInRow = 0
    this.#quote = Quote.Outside
    this.#atFieldStart = true
    this.#pieces = []
    this.#rowBytes = 0
    this.#skipping = false
  }
}

const nextLineEnd = (chunk: Uint8Array, from: number): number => {
  const at = chunk.indexOf(LF, from)
  return at < 0 ? chunk.length : at
}

const concat = (pieces: ReadonlyArray<Uint8Array>, last: Uint8Array, size: number): Uint8Array => {
  const bytes = new Uint8Array(size + last.length)
  let at = 0
  for (const piece of pieces) {
    bytes.set(piece, at)
    at += piece.length
  }
  bytes.set(last, at)
  return bytes
}

interface FieldIssue {
  readonly column: number
  readonly message: string
}

/** Field text, or undefined when its bytes are not UTF-8. */
const decode = (bytes: Uint8Array): string | undefined => {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * A row's bytes (without its LF) as fields: a CR right before the LF ends the
 * row (CRLF); quoted fields lose their quotes and have their doubled quotes
 * halved.
 */
export const parseRow = (row: Uint8Array): Array<string> | FieldIssue => {
  const end = row.length > 0 && row[row.length - 1] === CR ? row.length - 1 : row.length
  const fields: Array<string> = []
  let at = 0
  for (;;) {
    const column = fields.length + 1
    const field = row[at] === QUOTE && at < end ? quotedField(row, at, end, column) : unquotedField(row, at, end, column)
    if ("message" in field) return field
    fields.push(field.text)
    if (field.next >= end) return fields
    at = field.next + 1 // past the comma
    if (at === end) {
      fields.push("") // a trailing comma: one more, empty, field
      return fields
    }
  }
}

interface Field {
  readonly text: string
  /** Index of the comma after the field, or the row's end. */
  readonly next: number
}

const quotedField = (row: Uint8Array, at: number, end: number, column: number): Field | FieldIssue => {
  let escaped = false
  let close = at + 1
  for (;;) {
    close = row.indexOf(QUOTE, close)
    if (close < 0 || close >= end) return { column, message: "a quoted field is not closed" }
    if (row[close + 1] !== QUOTE || close + 1 >= end) break
    escaped = true
    close += 2
  }
  const after = close + 1
  if (after < end && row[after] !== COMMA) {
    return { column, message: "expected a comma or the line end after the closing quote" }
  }
  const text = decode(row.subarray(at + 1, close))
  if (text === undefined) return { column, message: "the field is not valid UTF-8" }
  return { text: escaped ? text.replaceAll("\"\"", "\"") : text, next: after }
}

const unquotedField = (row: Uint8Array, at: number, end: number, column: number): Field | FieldIssue => {
  let next = row.indexOf(COMMA, at)
  if (next < 0 || next > end) next = end
  const bytes = row.subarray(at, next)
  if (bytes.includes(QUOTE)) return { column, message: "a quote inside an unquoted field (such a field must be quoted)" }
  if (bytes.includes(CR)) return { column, message: "a CR outside quotes that does not end the row" }
  const text = decode(bytes)
  if (text === undefined) return { column, message: "the field is not valid UTF-8" }
  return { text, next }
}

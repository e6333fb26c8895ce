import { isUtf8 } from "node:buffer"
import type { KafkaRecord, RecordHeader } from "./KafkaRecord.js"
import type { RowBuffer } from "./RowBuffer.js"

/*
 * RFC 4180 rows for the backup and DLQ archives. Runs once per record on the
 * hot path: a field is checked with one regex test (a native scan, ~40× faster
 * than a charCodeAt loop over a 1 KiB value; see docs/BENCHMARKS.md) and rows
 * are built by string concatenation, without intermediate arrays.
 *
 * A backup row, written for every record, goes straight into the batch's bytes
 * (`writeBackupRow`): keys and values that are valid UTF-8 with nothing to
 * quote (the common case) are copied as they are, never decoded and encoded
 * again; any other row is written from its fields as text, the same bytes.
 */

const SPACE = 0x20
/** A character that forces quoting (no `g` flag: `test` keeps no state). */
const SPECIAL = /[",\r\n]/

/**
 * One field: quoted when it holds `,` `"` CR or LF, or starts/ends with a
 * space (which lenient readers would trim); quotes inside are doubled.
 */
export const encodeField = (value: string): string => {
  const length = value.length
  if (length === 0) return value
  if (!SPECIAL.test(value)) {
    return value.charCodeAt(0) === SPACE || value.charCodeAt(length - 1) === SPACE ? `"${value}"` : value
  }
  return value.includes("\"") ? `"${value.replaceAll("\"", "\"\"")}"` : `"${value}"`
}

/** One row, CRLF-terminated. */
export const encodeRow = (fields: ReadonlyArray<string>): string => {
  // A lone empty field would be an empty line, which readers skip: quote it.
  if (fields.length === 1 && fields[0] === "") return "\"\"\r\n"
  let line = ""
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) line += ","
    line += encodeField(fields[i]!)
  }
  return line + "\r\n"
}

/** How a byte payload is written in a text column. */
export type BytesEncoding = "utf8" | "base64" | "null"

export interface EncodedBytes {
  readonly text: string
  readonly encoding: BytesEncoding
}

// Fatal: invalid UTF-8 must be detected, not replaced by U+FFFD (which would lose bytes).
// ignoreBOM: a leading BOM is kept as U+FEFF so the text encodes back to the same bytes.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

const NULL_BYTES: EncodedBytes = { text: "", encoding: "null" }

/**
 * Bytes as column text that can be read back byte-exact: valid UTF-8 as
 * itself, anything else as base64, null as "" marked "null" (an empty payload
 * is "" marked "utf8").
 */
export const encodeBytes = (bytes: Uint8Array | null): EncodedBytes => {
  if (bytes === null) return NULL_BYTES
  try {
    return { text: utf8Decoder.decode(bytes), encoding: "utf8" }
  } catch {
    return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"), encoding: "base64" }
  }
}

/** The inverse of `encodeBytes`. */
export const decodeBytes = (text: string, encoding: BytesEncoding): Uint8Array | null => {
  switch (encoding) {
    case "null":
      return null
    case "utf8":
      return utf8Encoder.encode(text)
    case "base64": {
      const buffer = Buffer.from(text, "base64")
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    }
  }
}

/** The last second `isoTimestamp` formatted, and its text up to the milliseconds ("…:SS."). */
let isoSecond = Number.NaN
let isoSecondPrefix = ""

/**
 * ISO 8601 UTC with milliseconds; a timestamp no Date can hold is written as the number, never
 * thrown on. Consecutive records share their second: its text is formatted once, and only the
 * milliseconds are appended.
 */
const isoTimestamp = (epochMs: number): string => {
  if (!Number.isInteger(epochMs) || Math.abs(epochMs) > MAX_DATE_MS) {
    const date = new Date(epochMs)
    return Number.isNaN(date.getTime()) ? String(epochMs) : date.toISOString()
  }
  const second = Math.floor(epochMs / 1000)
  if (second !== isoSecond) {
    isoSecondPrefix = new Date(second * 1000).toISOString().slice(0, -4)
    isoSecond = second
  }
  const millis = epochMs - second * 1000
  return isoSecondPrefix + (millis < 10 ? "00" : millis < 100 ? "0" : "") + millis + "Z"
}

/** The largest distance from the epoch a Date can hold (ECMA-262 §21.4.1.22). */
const MAX_DATE_MS = 8.64e15

const headersJson = (headers: ReadonlyArray<RecordHeader>): string => {
  if (headers.length === 0) return "[]"
  let json = "["
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i]!
    const value = encodeBytes(header.value)
    if (i > 0) json += ","
    json += `{"key":${JSON.stringify(header.key)},"value":${JSON.stringify(value.text)},"encoding":"${value.encoding}"}`
  }
  return json + "]"
}

/** Columns of the backup archive: one row per consumed record. */
export const backupHeader: ReadonlyArray<string> = [
  "topic",
  "partition",
  "offset",
  "timestamp",
  "key",
  "key_encoding",
  "value",
  "value_encoding",
  "headers"
]

/** Fills the backup columns; the DLQ row appends to the same array. */
const recordFields = (record: KafkaRecord): Array<string> => {
  const key = encodeBytes(record.key)
  const value = encodeBytes(record.value)
  return [
    record.topic,
    String(record.partition),
    String(record.offset),
    isoTimestamp(record.timestamp),
    key.text,
    key.encoding,
    value.text,
    value.encoding,
    headersJson(record.headers)
  ]
}

/** A record as a backup row, in `backupHeader` order. */
export const backupRow = (record: KafkaRecord): ReadonlyArray<string> => recordFields(record)

/** Why a record ended in the DLQ. */
export interface DlqFailure {
  readonly errorType: string
  readonly message: string
  /** Stack trace or cause chain. */
  readonly detail: string
  readonly attempts: number
}

/** Columns of the DLQ archive: the backup columns, then why and when the record failed. */
export const dlqHeader: ReadonlyArray<string> = [
  ...backupHeader,
  "error_type",
  "error_message",
  "error_detail",
  "attempts",
  "failed_at"
]

/** A failed record as a DLQ row, in `dlqHeader` order; `failedAt` in epoch milliseconds. */
export const dlqRow = (record: KafkaRecord, failure: DlqFailure, failedAt: number): ReadonlyArray<string> => {
  const fields = recordFields(record)
  fields.push(failure.errorType, failure.message, failure.detail, String(failure.attempts), isoTimestamp(failedAt))
  return fields
}

const COMMA = 0x2c
const QUOTE = 0x22
const CR = 0x0d
const LF = 0x0a

/** Bytes that `encodeBytes` would give as UTF-8 text that `encodeField` leaves unquoted: they are written as they are. */
const isPlainUtf8 = (bytes: Uint8Array): boolean => {
  const length = bytes.byteLength
  if (length === 0) return true
  if (bytes[0] === SPACE || bytes[length - 1] === SPACE) return false
  if (length <= 32) {
    // Short (keys, mostly): one pass by hand costs less than four native calls.
    let ascii = true
    for (let index = 0; index < length; index++) {
      const byte = bytes[index]!
      if (byte === QUOTE || byte === COMMA || byte === CR || byte === LF) return false
      if (byte >= 0x80) ascii = false
    }
    return ascii || isUtf8(bytes)
  }
  // Buffer's indexOf is a native scan; a Uint8Array's is several times slower.
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, length)
  return view.indexOf(QUOTE) < 0 && view.indexOf(COMMA) < 0 && view.indexOf(CR) < 0 && view.indexOf(LF) < 0 &&
    isUtf8(view)
}

/** The last topic written by `writeBackupRow`, and its column as bytes (a batch is one topic's). */
let lastTopic = ""
let lastTopicColumn = new Uint8Array(0)

/**
 * Writes `record`'s backup row into `out`: the UTF-8 bytes of `encodeRow(backupRow(record))`.
 * Most rows take the direct way, their key and value copied as they are.
 */
export const writeBackupRow = (out: RowBuffer, record: KafkaRecord): void => {
  const { key, value } = record
  if (
    record.headers.length > 0 ||
    (key !== null && !isPlainUtf8(key)) ||
    (value !== null && !isPlainUtf8(value))
  ) {
    return out.utf8(encodeRow(backupRow(record)))
  }
  if (record.topic !== lastTopic) {
    lastTopicColumn = Buffer.from(encodeField(record.topic), "utf8")
    lastTopic = record.topic
  }
  out.bytes(lastTopicColumn)
  out.ascii(`,${record.partition},${record.offset},${isoTimestamp(record.timestamp)},`)
  if (key !== null) out.bytes(key)
  out.ascii(key === null ? ",null," : ",utf8,")
  if (value !== null) out.bytes(value)
  out.ascii(value === null ? ",null,[]\r\n" : ",utf8,[]\r\n")
}

/** Writes the DLQ row of a failed record into `out` (DLQ rows are few: written from their fields as text). */
export const writeDlqRow = (out: RowBuffer, record: KafkaRecord, failure: DlqFailure, failedAt: number): void =>
  out.utf8(encodeRow(dlqRow(record, failure, failedAt)))

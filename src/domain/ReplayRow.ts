/**
 * An archive row back into the record it was written from (pure): the
 * inverse of `Csv.ts`'s `backupRow` / `dlqRow`. Keys, values and header values
 * come back byte-exact from their `utf8` / `base64` / `null` encodings; each
 * column is checked, and a bad one is named with the value found and what
 * was expected.
 *
 * Also here: the message a replayed record is produced as, with the header
 * that says where it was replayed from.
 */
import type { ArchiveKind } from "./ArchiveFile.js"
import { isTopicName } from "./ConfigValues.js"
import { backupHeader, type BytesEncoding, decodeBytes, dlqHeader } from "./Csv.js"
import type { KafkaRecord, RecordHeader, TopicPartitionOffset } from "./KafkaRecord.js"

/** A record read back from an archive row (its `timestamp` from the `timestamp` column). */
export interface ArchivedRecord extends KafkaRecord {
  /** DLQ rows only: `error_type` and `failed_at` (epoch ms). */
  readonly errorType: string | undefined
  readonly failedAt: number | undefined
}

/** Why a row cannot be read back: the column and what is wrong with it. */
export interface RowProblem {
  readonly column: string
  readonly message: string
}

const sameFields = (fields: ReadonlyArray<string>, header: ReadonlyArray<string>): boolean =>
  fields.length === header.length && fields.every((field, index) => field === header[index])

/** Which archive a header row belongs to (a leading byte-order mark is allowed), or undefined. */
export const archiveKindOfHeader = (fields: ReadonlyArray<string>): ArchiveKind | undefined => {
  const unmarked = fields.length > 0 && fields[0]!.startsWith("\uFEFF") ? [fields[0]!.slice(1), ...fields.slice(1)] : fields
  if (sameFields(unmarked, dlqHeader)) return "dlq"
  if (sameFields(unmarked, backupHeader)) return "backup"
  return undefined
}

/** What a file's first row must be, for messages. */
export const expectedHeaders = `the header row of a DLQ archive (${dlqHeader.join(",")}) or of a backup archive (${
  backupHeader.join(",")
})`

const MAX_SHOWN = 60

/** A value as a message shows it: quoted, cut after 60 characters. */
export const showText = (text: string): string =>
  JSON.stringify(text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text)

class Problem {
  constructor(readonly column: string, readonly message: string) {}
}

/** Fails the row: `got` is the column's text (shown quoted), or with `json` a value of the headers' JSON (shown as JSON). */
const expected = (column: string, what: string, got: string, json = false): never => {
  throw new Problem(column, `expected ${what}, got ${json ? got : showText(got)}`)
}

const jsonText = (value: unknown): string => JSON.stringify(value) ?? "nothing"

const DIGITS = /^\d+$/
const MAX_PARTITION = 2_147_483_647

const integer = (column: string, text: string, max: number): number => {
  const value = Number(text)
  return DIGITS.test(text) && value <= max ? value : expected(column, `an integer from 0 to ${max}`, text)
}

const ISO_UTC = /^(?:\d{4}|[+-]\d{6})-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const EPOCH_MS = /^-?\d+$/

/**
 * A timestamp column: ISO 8601 UTC with milliseconds, as the archive writes it, or the plain
 * number it writes for a time no Date can hold.
 */
const timestamp = (column: string, text: string): number => {
  if (EPOCH_MS.test(text)) return Number(text)
  const millis = ISO_UTC.test(text) ? Date.parse(text) : Number.NaN
  return Number.isNaN(millis) || new Date(millis).toISOString() !== text
    ? expected(column, "an ISO 8601 UTC time such as 2026-11-22T10:59:50.123Z", text)
    : millis
}

const ENCODINGS: ReadonlyArray<string> = ["utf8", "base64", "null"]

const encoding = (column: string, text: string): BytesEncoding =>
  ENCODINGS.includes(text) ? text as BytesEncoding : expected(column, "utf8, base64 or null", text)

const isCanonicalBase64 = (decoded: Uint8Array, text: string): boolean =>
  Buffer.from(decoded.buffer, decoded.byteOffset, decoded.byteLength).toString("base64") === text

/** The bytes of a column and its encoding; base64 must be canonical (what `encodeBytes` writes), null must be empty. */
const bytes = (column: string, text: string, how: BytesEncoding): Uint8Array | null => {
  if (how === "null" && text !== "") return expected(column, "an empty field (the encoding is null)", text)
  const decoded = decodeBytes(text, how)
  if (how === "base64" && !isCanonicalBase64(decoded!, text)) return expected(column, "base64", text)
  return decoded
}

const HEADERS_SHAPE = "a JSON array of { \"key\", \"value\", \"encoding\" }"

const headerOf = (item: unknown, index: number): RecordHeader => {
  const column = `headers[${index}]`
  if (typeof item !== "object" || item === null) return expected(column, "an object", jsonText(item), true)
  const { encoding: how, key, value } = item as Record<string, unknown>
  if (typeof key !== "string") return expected(`${column}.key`, "a string", jsonText(key), true)
  if (typeof value !== "string") return expected(`${column}.value`, "a string", jsonText(value), true)
  if (typeof how !== "string") return expected(`${column}.encoding`, "utf8, base64 or null", jsonText(how), true)
  return { key, value: bytes(`${column}.value`, value, encoding(`${column}.encoding`, how)) }
}

const headers = (text: string): ReadonlyArray<RecordHeader> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return expected("headers", HEADERS_SHAPE, text)
  }
  return Array.isArray(parsed) ? parsed.map(headerOf) : expected("headers", HEADERS_SHAPE, text)
}

const topic = (text: string): string =>
  isTopicName(text) ? text : expected("topic", "a topic name (1–249 of a-z A-Z 0-9 . _ -)", text)

/**
 * The record of a data row of a `kind` archive, whose columns are that
 * archive's header; or the first column that is not what the archive writes.
 */
export const decodeRow = (kind: ArchiveKind, fields: ReadonlyArray<string>): ArchivedRecord | RowProblem => {
  const header = kind === "dlq" ? dlqHeader : backupHeader
  if (fields.length !== header.length) {
    return { column: "row", message: `expected ${header.length} columns (a ${kind} archive), got ${fields.length}` }
  }
  const [topicText, partition, offset, time, key, keyHow, value, valueHow, headerList, errorType, , , attempts, failedAt] =
    fields as ReadonlyArray<string> as Array<string>
  try {
    if (kind === "dlq") integer("attempts", attempts!, Number.MAX_SAFE_INTEGER)
    return {
      topic: topic(topicText!),
      partition: integer("partition", partition!, MAX_PARTITION),
      offset: integer("offset", offset!, Number.MAX_SAFE_INTEGER),
      timestamp: timestamp("timestamp", time!),
      key: bytes("key", key!, encoding("key_encoding", keyHow!)),
      value: bytes("value", value!, encoding("value_encoding", valueHow!)),
      headers: headers(headerList!),
      errorType: kind === "dlq" ? errorType : undefined,
      failedAt: kind === "dlq" ? timestamp("failed_at", failedAt!) : undefined
    }
  } catch (problem) {
    if (problem instanceof Problem) return { column: problem.column, message: problem.message }
    throw problem
  }
}

/**
 * Only the record's identity (topic, partition, offset) of a data row of a `kind` archive, checked as
 * `decodeRow` checks it: what the archive's recovery needs of a row, at a fraction of the cost.
 */
export const decodeRowIdentity = (
  kind: ArchiveKind,
  fields: ReadonlyArray<string>
): TopicPartitionOffset | RowProblem => {
  const header = kind === "dlq" ? dlqHeader : backupHeader
  if (fields.length !== header.length) {
    return { column: "row", message: `expected ${header.length} columns (a ${kind} archive), got ${fields.length}` }
  }
  try {
    return {
      topic: topic(fields[0]!),
      partition: integer("partition", fields[1]!, MAX_PARTITION),
      offset: integer("offset", fields[2]!, Number.MAX_SAFE_INTEGER)
    }
  } catch (problem) {
    if (problem instanceof Problem) return { column: problem.column, message: problem.message }
    throw problem
  }
}

export const isRowProblem = <A extends object>(row: A | RowProblem): row is RowProblem => "message" in row

// -----------------------------------------------------------------------------
// The replayed record
// -----------------------------------------------------------------------------

/** The header a replayed record carries, appended after its own. */
export const REPLAYED_FROM_HEADER = "x-replayed-from"

/**
 * `<topic>:<partition>:<offset> <file>:<line>`: the original record, then the
 * archive row it was replayed from (the file's name, without its directory).
 * Topic names hold no space, so the first space splits the two.
 */
export const replayedFrom = (record: ArchivedRecord, fileName: string, line: number): string =>
  `${record.topic}:${record.partition}:${record.offset} ${fileName}:${line}`

const textEncoder = new TextEncoder()

export interface ReplayMessage {
  readonly topic: string
  /** The original partition when replayed to the original topic; else the producer's partitioner picks one by key. */
  readonly partition: number | undefined
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<RecordHeader>
}

/** The message that replays `record` (read from `fileName`, at `line`) to `toTopic`, or to its own topic. */
export const replayMessage = (
  record: ArchivedRecord,
  fileName: string,
  line: number,
  toTopic: string | undefined
): ReplayMessage => {
  const topic = toTopic ?? record.topic
  return {
    topic,
    partition: topic === record.topic ? record.partition : undefined,
    key: record.key,
    value: record.value,
    headers: [
      ...record.headers,
      { key: REPLAYED_FROM_HEADER, value: textEncoder.encode(replayedFrom(record, fileName, line)) }
    ]
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
const PRINTABLE = /^[\x20-\x7e\u00a0-\uffff]*$/

/** A key as a dry run shows it: `null`, quoted text (cut after 60 characters), or `base64:…`. */
export const keyPreview = (key: Uint8Array | null): string => {
  if (key === null) return "null"
  try {
    const text = utf8.decode(key)
    if (PRINTABLE.test(text)) return showText(text)
  } catch {
    // not text: shown as base64 below
  }
  const base64 = Buffer.from(key).toString("base64")
  return `base64:${base64.length > MAX_SHOWN ? `${base64.slice(0, MAX_SHOWN)}…` : base64}`
}

/**
 * One line of a dry run, tab-separated: the archive row, the original record,
 * where it goes, its key and the size of its value.
 * `dlq/dlq-2026-11-22T10.csv:17  orders:3:1042  → orders:3  key "customer-7"  value 14 bytes`
 */
export const describeReplay = (file: string, line: number, record: ArchivedRecord, message: ReplayMessage): string => {
  const target = message.partition === undefined ? `${message.topic} (partition by key)` : `${message.topic}:${message.partition}`
  const value = message.value === null ? "null" : `${message.value.byteLength} bytes`
  return [
    `${file}:${line}`,
    `${record.topic}:${record.partition}:${record.offset}`,
    `→ ${target}`,
    `key ${keyPreview(message.key)}`,
    `value ${value}`
  ].join("\t")
}

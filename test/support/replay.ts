/** Archive files written for replay tests into the in-memory file system, and what a replay produced. */
import { Effect } from "effect"
import { gzipSync } from "node:zlib"
import { backupHeader, backupRow, dlqHeader, dlqRow, encodeRow } from "../../src/domain/Csv.js"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import type { ReplaySummary } from "../../src/streams/Replay.js"
import { MemoryFileSystem } from "./MemoryFileSystem.js"

export const utf8 = (text: string) => new TextEncoder().encode(text)
export const text = (bytes: Uint8Array | null) => bytes === null ? null : new TextDecoder().decode(bytes)
export const bytesOf = (bytes: Uint8Array | null) => bytes === null ? null : [...bytes]

export const FAILED_AT = Date.UTC(2026, 10, 22, 10, 30)

/** An archived record of `orders`, partition 0 unless told. */
export const archived = (offset: number, overrides: Partial<KafkaRecord> = {}): KafkaRecord => ({
  topic: "orders",
  partition: 0,
  offset,
  timestamp: Date.UTC(2026, 10, 22, 10, 0, offset),
  key: utf8(`k${offset}`),
  value: utf8(`{"i":${offset}`),
  headers: [],
  ...overrides
})

/**
 * A DLQ file's text: the header, then a row per record (error type `SyntaxError` and failed at
 * `FAILED_AT` unless told), its detail on two lines.
 */
export const dlqText = (rows: ReadonlyArray<KafkaRecord | readonly [KafkaRecord, string, number?]>): string =>
  [
    encodeRow(dlqHeader),
    ...rows.map((row) => {
      const [record, errorType, failedAt = FAILED_AT] = Array.isArray(row) ? row : [row as KafkaRecord, "SyntaxError"]
      return encodeRow(dlqRow(record, { errorType, message: "bad", detail: "at line 1\nat line 2", attempts: 1 }, failedAt))
    })
  ].join("")

export const backupText = (records: ReadonlyArray<KafkaRecord>): string =>
  [encodeRow(backupHeader), ...records.map((record) => encodeRow(backupRow(record)))].join("")

/** Writes a file of the in-memory file system (text as UTF-8; `gzip` compresses it). */
export const writeFile = (path: string, content: string | Uint8Array, options: { readonly gzip?: boolean } = {}) =>
  Effect.gen(function*() {
    const fs = yield* MemoryFileSystem
    const bytes = typeof content === "string" ? utf8(content) : content
    fs.files.set(path, options.gzip === true ? new Uint8Array(gzipSync(bytes)) : bytes)
  })

export { rowLines } from "./archive.js"

/** The records of a topic, from `from` (an offset of each partition's log, all partitions) on. */
export const recordsOf = (topic: string) =>
  Effect.flatMap(MemoryKafka, (kafka) => kafka.records(topic))

/** A `ReplaySummary` with every count zero but those given. */
export const summaryOf = (fields: Partial<ReplaySummary>): ReplaySummary => ({
  reason: "completed",
  files: 1,
  read: 0,
  selected: 0,
  skippedByFilter: 0,
  skippedBeforeResume: 0,
  malformed: 0,
  sent: 0,
  resumeFrom: null,
  ...fields
})

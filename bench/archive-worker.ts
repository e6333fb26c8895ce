/**
 * The backup archive of the bench's `kafkajs-archive-worker` variant, on a worker thread: the
 * rows of each batch (the pipeline's bytes, `writeBackupRow`) written to one CSV file, synced at
 * most once a second; each batch acknowledged to the main thread once written. The records'
 * keys and values come in one `SharedArrayBuffer` per batch (the main thread copies them once,
 * as the pipeline copies every batch), their offsets, timestamps and positions in a transferred
 * `Float64Array`: no per-record message, no second copy.
 */
import { Buffer } from "node:buffer"
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs"
import { parentPort, workerData } from "node:worker_threads"
import { backupHeader, encodeRow, writeBackupRow } from "../src/domain/Csv.js"
import type { KafkaRecord } from "../src/domain/KafkaRecord.js"
import { RowBuffer } from "../src/domain/RowBuffer.js"

/** Per record in `meta`: offset, timestamp, key start, key length (-1: null), value start, value length (-1: null). */
export const META_FIELDS = 6

export type ToWorker =
  | {
    readonly _tag: "batch"
    readonly id: number
    readonly topic: string
    readonly partition: number
    readonly bytes: Uint8Array
    readonly meta: Float64Array
  }
  | { readonly _tag: "close" }

if (parentPort !== null) {
  const port = parentPort
  const fd = openSync((workerData as { readonly file: string }).file, "wx")
  const rows = new RowBuffer()
  const writeAll = (contents: Uint8Array) => {
    for (let at = 0; at < contents.byteLength;) at += writeSync(fd, contents, at)
  }
  writeAll(Buffer.from(encodeRow(backupHeader), "utf8"))
  let syncedAt = performance.now()
  const view = (bytes: Uint8Array, start: number, length: number) =>
    length < 0 ? null : bytes.subarray(start, start + length)
  port.on("message", (message: ToWorker) => {
    if (message._tag === "close") {
      fsyncSync(fd)
      closeSync(fd)
      port.postMessage(-1)
      return
    }
    const { bytes, meta, partition, topic } = message
    rows.clear()
    for (let at = 0; at < meta.length; at += META_FIELDS) {
      const record: KafkaRecord = {
        topic,
        partition,
        offset: meta[at]!,
        timestamp: meta[at + 1]!,
        key: view(bytes, meta[at + 2]!, meta[at + 3]!),
        value: view(bytes, meta[at + 4]!, meta[at + 5]!),
        headers: [] // the bench's records have none
      }
      writeBackupRow(rows, record)
    }
    writeAll(rows.contents)
    if (performance.now() - syncedAt >= 1_000) {
      fsyncSync(fd)
      syncedAt = performance.now()
    }
    port.postMessage(message.id)
  })
}

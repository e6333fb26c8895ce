/**
 * How long the caller of `ArchiveSink.append` (the pipeline's poll loop) waits
 * for the disk: 100,000 backup rows of ~1.1 KB in batches of 1,000 on the
 * real file system (write + fsync per batch).
 *
 *   npx tsx bench/archive-sink.ts
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { writeBackupRow } from "../src/domain/Csv.js"
import type { KafkaRecord } from "../src/domain/KafkaRecord.js"
import * as ArchiveSink from "../src/streams/ArchiveSink.js"
const encoder = new TextEncoder()
const record = (offset: number): KafkaRecord => ({
  topic: "t",
  partition: 0,
  offset,
  timestamp: Date.parse("2026-11-22T10:00:00Z") + offset,
  key: encoder.encode(`key-${offset}`),
  value: encoder.encode("x".repeat(1024)),
  headers: []
})
const N = 100_000
const program = Effect.scoped(Effect.gen(function*() {
  const dir = mkdtempSync(join(tmpdir(), "ekp-archive-sink-"))
  let flushed = 0
  const sink = yield* ArchiveSink.make({
    kind: "backup",
    dir,
    header: ["a"],
    batchSize: 1000,
    flushIntervalMs: 1000,
    maxPendingBytes: 64 * 1024 * 1024, // the pipeline's default queueBytes
    onFlushed: (records) => Effect.sync(() => {
      flushed += records.length
    }),
    onFatal: () => Effect.void
  })
  let blocked = 0
  const t0 = performance.now()
  for (let i = 0; i < N; i++) {
    const s = performance.now()
    yield* sink.append(record(i), writeBackupRow)
    const d = performance.now() - s
    if (d > 0.5) blocked += d
  }
  const appendMs = performance.now() - t0
  yield* sink.close
  console.log(
    `append loop ${appendMs.toFixed(0)} ms, caller blocked ${blocked.toFixed(0)} ms, ` +
      `total ${(performance.now() - t0).toFixed(0)} ms, flushed ${flushed}`
  )
  rmSync(dir, { recursive: true })
}))
await Effect.runPromise(program.pipe(Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))))

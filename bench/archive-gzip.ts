/**
 * What compressing a closed archive hour costs (`archiveCompression: gzip`):
 * a backup file of 100,000 rows of ~1 KiB JSON-like values (orders with ids,
 * names, items, prices, timestamps; seeded, so every run compresses the same
 * bytes) gzipped at levels 1, 6 (the level the pipeline uses) and 9, file to
 * file as the compressor streams it; then the pipeline's own compressor
 * (`ArchiveCompressor`: the row scan that cuts a torn tail, gzip, fsync,
 * rename) on the same file. Ratio, MB/s (wall) and CPU ms per MB (the
 * process's user + system time: zlib runs on libuv's threads, counted too).
 *
 *   npx tsx bench/archive-gzip.ts [rows] [rounds]
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, Layer, Logger } from "effect"
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { pipeline } from "node:stream/promises"
import { createGzip } from "node:zlib"
import { GZIP_LEVEL } from "../src/domain/ArchiveCompression.js"
import { backupHeader, backupRow, encodeRow } from "../src/domain/Csv.js"
import type { KafkaRecord } from "../src/domain/KafkaRecord.js"
import * as ArchiveCompressor from "../src/streams/ArchiveCompressor.js"

const ROWS = Number(process.argv[2] ?? 100_000)
const ROUNDS = Number(process.argv[3] ?? 3)
const loadBefore = os.loadavg()
const encoder = new TextEncoder()

/** mulberry32: the same values every run. */
const random = (() => {
  let state = 0x5eed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
})()
const pick = <A>(values: ReadonlyArray<A>): A => values[Math.floor(random() * values.length)]!
const hex = (length: number) => Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join("")
const words = ["express", "gift", "fragile", "leave at door", "call first", "weekend", "priority", "standard", "return"]
const names = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"]
const statuses = ["created", "paid", "packed", "shipped", "delivered", "cancelled"]

/** An order of ~1 KiB, as a producer would send it. */
const orderValue = (i: number): string => {
  const value: Record<string, unknown> = {
    orderId: `ord-${String(i).padStart(9, "0")}`,
    traceId: hex(32),
    createdAt: new Date(Date.parse("2026-12-03T16:00:00Z") + i * 36).toISOString(),
    status: pick(statuses),
    customer: { id: `c-${Math.floor(random() * 1e6)}`, name: pick(names), email: `user${Math.floor(random() * 1e5)}@example.com` },
    shipping: { street: `${Math.floor(random() * 999)} Main Street`, city: pick(["Lyon", "Berlin", "Austin", "Osaka"]), zip: hex(5) },
    items: [] as Array<unknown>,
    note: Array.from({ length: 3 }, () => pick(words)).join(", ")
  }
  const items = value.items as Array<unknown>
  while (JSON.stringify(value).length < 1000) {
    items.push({ sku: `SKU-${hex(6)}`, qty: 1 + Math.floor(random() * 5), price: Math.round(random() * 20000) / 100 })
  }
  return JSON.stringify(value)
}

const record = (i: number): KafkaRecord => ({
  topic: "orders",
  partition: i % 6,
  offset: Math.floor(i / 6),
  timestamp: Date.parse("2026-12-03T16:00:00Z") + i * 36,
  key: encoder.encode(`key-${i % 10_000}`),
  value: encoder.encode(orderValue(i)),
  headers: [{ key: "trace", value: encoder.encode(hex(16)) }]
})

interface Measured {
  readonly variant: string
  readonly plainBytes: number
  readonly compressedBytes: number
  readonly wallMs: number
  readonly cpuMs: number
}

const measure = async (variant: string, plainBytes: number, run: () => Promise<number>): Promise<Measured> => {
  const cpu = process.cpuUsage()
  const start = performance.now()
  const compressedBytes = await run()
  const wallMs = performance.now() - start
  const used = process.cpuUsage(cpu)
  return { variant, plainBytes, compressedBytes, wallMs, cpuMs: (used.user + used.system) / 1000 }
}

const dir = mkdtempSync(join(os.tmpdir(), "ekp-archive-gzip-"))
try {
  const name = "backup-2026-12-03T16.csv"
  const source = join(dir, name)
  const rows = [encodeRow(backupHeader)]
  for (let i = 0; i < ROWS; i++) rows.push(encodeRow(backupRow(record(i))))
  const plain = rows.join("")
  writeFileSync(source, plain)
  const plainBytes = statSync(source).size

  const variants: Array<readonly [string, () => Promise<number>]> = [1, 6, 9].map((level) =>
    [`zlib level ${level}`, async () => {
      const target = join(dir, `level-${level}.csv.gz`)
      await pipeline(createReadStream(source), createGzip({ level }), createWriteStream(target))
      return statSync(target).size
    }] as const
  )
  const compress = Effect.scoped(Effect.gen(function*() {
    const compressor = yield* ArchiveCompressor.make({ kind: "backup", dir })
    yield* compressor.sweep(source)
    yield* compressor.idle
    return statSync(`${source}.gz`).size
  })).pipe(Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, Logger.layer([]))))
  variants.push([`ArchiveCompressor (level ${GZIP_LEVEL})`, () => Effect.runPromise(compress)])
  /** The compressor replaces the file: put it back (untimed) before each run. */
  const prepare = () => {
    rmSync(`${source}.gz`, { force: true })
    writeFileSync(source, plain)
  }

  // Alternating rounds (reversed every other one); the median of each variant.
  const runs = new Map<string, Array<Measured>>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const [variant, run] of round % 2 === 0 ? variants : [...variants].reverse()) {
      prepare()
      runs.set(variant, [...(runs.get(variant) ?? []), await measure(variant, plainBytes, run)])
    }
  }
  const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

  const mb = plainBytes / 1e6
  console.log(`${ROWS} rows, ${mb.toFixed(1)} MB plain (${(plainBytes / ROWS).toFixed(0)} B a row); median of ${ROUNDS} rounds`)
  console.log(`load average ${loadBefore.map((l) => l.toFixed(1)).join(" ")} → ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} on ${os.availableParallelism()} cores`)
  console.log("| variant | compressed | ratio | MB/s (wall) | CPU ms per MB |")
  console.log("|---|---|---|---|---|")
  for (const [variant, measured] of runs) {
    const compressedBytes = measured[0]!.compressedBytes
    const wallMs = median(measured.map((m) => m.wallMs))
    const cpuMs = median(measured.map((m) => m.cpuMs))
    console.log(
      `| ${variant} | ${(compressedBytes / 1e6).toFixed(1)} MB | ${(plainBytes / compressedBytes).toFixed(2)}× | ` +
        `${(mb / (wallMs / 1000)).toFixed(0)} | ${(cpuMs / mb).toFixed(1)} |`
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

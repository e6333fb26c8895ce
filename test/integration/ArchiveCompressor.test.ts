/**
 * Compression of closed archive hours (`ArchiveCompressor`), with the sink that
 * rotates (`ArchiveSink`), over the in-memory FileSystem with TestClock driving
 * rotations, and over a real temporary directory where members race. Files
 * are read back with node:zlib's gunzip and csv-parse, as `zcat` would give them.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { Deferred, Effect, Exit, Layer, Path, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as nodeFs from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { temporaryName } from "../../src/domain/ArchiveCompression.js"
import { HOUR_CLOSE_MARGIN_MS } from "../../src/domain/ArchiveFile.js"
import { backupHeader, backupRow, encodeRow, writeBackupRow } from "../../src/domain/Csv.js"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import * as ArchiveCompressor from "../../src/streams/ArchiveCompressor.js"
import * as ArchiveReader from "../../src/streams/ArchiveReader.js"
import * as ArchiveSink from "../../src/streams/ArchiveSink.js"
import { captureLogs } from "../support/logs.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"

const at = (iso: string) => Date.parse(iso)
const encoder = new TextEncoder()
const DIR = "/archive"
const file = (hour: string, suffix = ".csv") => `${DIR}/backup-2026-11-22T${hour}${suffix}`

const record = (offset: number): KafkaRecord => ({
  topic: "orders",
  partition: 0,
  offset,
  timestamp: at("2026-11-22T09:00:00Z") + offset,
  key: encoder.encode(`key-${offset}`),
  // Commas, quotes and a line end: a row that spans lines, as real values do.
  value: encoder.encode(`{"i":${offset},"note":"a, \"b\"\r\nc"}`),
  headers: []
})
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => record(from + i))

/** A plain archive file's text: the header, then a row per record. */
const csvText = (records: ReadonlyArray<KafkaRecord>) =>
  encodeRow(backupHeader) + records.map((r) => encodeRow(backupRow(r))).join("")

/** What `zcat` gives, parsed with csv-parse (a torn row would throw). */
const gunzipRows = (bytes: Uint8Array | undefined): Array<Array<string>> => {
  assert.isDefined(bytes, "the .csv.gz is there")
  return parse(gunzipSync(bytes!), { relax_column_count: false }) as Array<Array<string>>
}
const expectedRows = (records: ReadonlyArray<KafkaRecord>) => [[...backupHeader], ...records.map((r) => [...backupRow(r)])]

const withMemory = <A, E, R>(effect: (logs: ReturnType<typeof captureLogs>) => Effect.Effect<A, E, R>) => {
  const logs = captureLogs()
  return effect(logs).pipe(Effect.provide(Layer.mergeAll(MemoryFileSystem.layer, Path.layer, logs.layer)))
}

const makeCompressor = (compressed: Array<[string, number, number]> = [], dir = DIR) =>
  ArchiveCompressor.make({
    kind: "backup",
    dir,
    onCompressed: (path, plainBytes, compressedBytes) => compressed.push([path, plainBytes, compressedBytes])
  })

const makeSink = (compressor: ArchiveCompressor.ArchiveCompressor) =>
  ArchiveSink.make({
    kind: "backup",
    dir: DIR,
    header: backupHeader,
    batchSize: 10,
    flushIntervalMs: 60_000,
    maxPendingBytes: ArchiveSink.MAX_BATCH_BYTES,
    onFlushed: () => Effect.void,
    onFatal: () => Effect.void,
    onRotated: compressor.sweep
  })

describe("ArchiveCompressor", () => {
  it.effect("a rotation compresses the closed hour in the background: synced, renamed, the .csv removed; the open hour stays plain, also after a stop", () =>
    withMemory(() =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        yield* TestClock.setTime(at("2026-11-22T10:59:00Z"))
        const compressed: Array<[string, number, number]> = []
        const scope = yield* Scope.make()
        const compressor = yield* makeCompressor(compressed).pipe(Scope.provide(scope))
        const sink = yield* makeSink(compressor).pipe(Scope.provide(scope))
        const before = range(0, 25)
        yield* sink.appendAll(before, writeBackupRow)
        yield* sink.flush
        yield* compressor.idle
        assert.deepStrictEqual(files.paths(), [file("10")], "nothing closed, nothing compressed")

        yield* TestClock.adjust(60_000) // 11:00: rotation
        yield* sink.appendAll(range(25, 5), writeBackupRow)
        yield* sink.flush
        yield* compressor.idle
        assert.deepStrictEqual(files.paths(), [file("10", ".csv.gz"), file("11")])
        assert.deepStrictEqual(gunzipRows(files.files.get(file("10", ".csv.gz"))), expectedRows(before))
        const plainBytes = encoder.encode(csvText(before)).byteLength
        assert.deepStrictEqual(compressed, [[file("10"), plainBytes, files.files.get(file("10", ".csv.gz"))!.byteLength]])
        assert.isBelow(compressed[0]![2], plainBytes)
        // The temporary was synced before the rename, the directory after it.
        const temporary = files.synced.findIndex((path) => /backup-2026-11-22T10\.csv\.gz\.\d+-[0-9a-f]+\.tmp$/.test(path))
        assert.isAtLeast(temporary, 0)
        assert.isAbove(files.synced.lastIndexOf(DIR), temporary)

        yield* Scope.close(scope, Exit.void) // a stop
        yield* TestClock.adjust(HOUR_CLOSE_MARGIN_MS * 2)
        assert.deepStrictEqual(files.paths(), [file("10", ".csv.gz"), file("11")], "the stopped run's hour is not compressed")
      })
    ))

  it.effect("the sweep at the start compresses a stopped run's hour once it ended more than the margin ago, and not before", () =>
    withMemory(() =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        files.files.set(file("10"), encoder.encode(csvText(range(0, 3))))
        files.files.set(file("10", ".1.csv"), encoder.encode(csvText(range(3, 2))))
        yield* TestClock.setTime(at("2026-11-22T11:00:00Z") + HOUR_CLOSE_MARGIN_MS)
        yield* Effect.scoped(Effect.gen(function*() {
          const compressor = yield* makeCompressor()
          yield* makeSink(compressor)
          yield* compressor.idle
        }))
        assert.deepStrictEqual(files.paths(), [file("10", ".1.csv"), file("10")])

        yield* TestClock.adjust(1)
        yield* Effect.scoped(Effect.gen(function*() {
          const compressor = yield* makeCompressor()
          yield* makeSink(compressor)
          yield* compressor.idle
        }))
        assert.deepStrictEqual(files.paths(), [file("10", ".1.csv.gz"), file("10", ".csv.gz")])
        assert.deepStrictEqual(gunzipRows(files.files.get(file("10", ".csv.gz"))), expectedRows(range(0, 3)))
        assert.deepStrictEqual(gunzipRows(files.files.get(file("10", ".1.csv.gz"))), expectedRows(range(3, 2)))
      })
    ))

  it.effect("a torn last row is cut back to the last whole row before compressing, with a warning naming the file and the bytes cut", () =>
    withMemory((logs) =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        const whole = csvText(range(0, 4))
        const row = encodeRow(backupRow(record(4)))
        const torn = row.slice(0, row.indexOf("\r\n") + 3) // inside the quoted value, past its line end
        files.files.set(file("08"), encoder.encode(whole + torn))
        files.files.set(file("07"), encoder.encode("topic,parti")) // a torn header: nothing whole
        yield* TestClock.setTime(at("2026-11-22T10:00:00Z"))
        yield* Effect.scoped(Effect.gen(function*() {
          const compressor = yield* makeCompressor()
          yield* compressor.sweep(undefined)
          yield* compressor.idle
        }))
        assert.deepStrictEqual(files.paths(), [file("08", ".csv.gz")])
        assert.deepStrictEqual(gunzipRows(files.files.get(file("08", ".csv.gz"))), expectedRows(range(0, 4)))
        assert.isTrue(logs.has("Warn", `${file("08")} ends in a torn row (a crash mid-write): cut ${encoder.encode(torn).byteLength} bytes`), logs.lines.join("\n"))
        assert.isTrue(logs.has("Warn", `${file("07")} ends in a torn row (a crash mid-write): cut 11 bytes`))
        assert.isTrue(logs.has("Warn", "which leaves no row: the file is removed"))
      })
    ))

  it.effect("a crash's leftover temporary is removed first, once started more than the margin ago; a fresh one (a member compressing) is left", () =>
    withMemory((logs) =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        const now = at("2026-11-22T12:00:00Z")
        const leftover = `${DIR}/${temporaryName("backup-2026-11-22T10.csv", now - HOUR_CLOSE_MARGIN_MS - 1, "dead")}`
        const running = `${DIR}/${temporaryName("backup-2026-11-22T11.csv", now - 60_000, "live")}`
        files.files.set(leftover, new Uint8Array([0x1f, 0x8b, 0x08])) // a torn gzip member
        files.files.set(running, new Uint8Array([0x1f, 0x8b, 0x08]))
        files.files.set(file("10"), encoder.encode(csvText(range(0, 2))))
        yield* TestClock.setTime(now)
        yield* Effect.scoped(Effect.gen(function*() {
          const compressor = yield* makeCompressor()
          yield* compressor.sweep(undefined)
          yield* compressor.idle
        }))
        assert.deepStrictEqual(files.paths(), [file("10", ".csv.gz"), running])
        assert.deepStrictEqual(gunzipRows(files.files.get(file("10", ".csv.gz"))), expectedRows(range(0, 2)))
        assert.isTrue(logs.has("Info", `removed ${leftover}, left by a compression that did not end`))
      })
    ))

  it.effect("a file that fails to compress (disk full) stays plain, is logged, leaves no temporary, and the next sweep compresses it", () =>
    withMemory((logs) =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        files.files.set(file("09"), encoder.encode(csvText(range(0, 3))))
        files.failWrites = (path) => path.endsWith(".tmp")
        yield* TestClock.setTime(at("2026-11-22T10:59:00Z"))
        const scope = yield* Scope.make()
        const compressor = yield* makeCompressor().pipe(Scope.provide(scope))
        const sink = yield* makeSink(compressor).pipe(Scope.provide(scope))
        yield* sink.appendAll(range(3, 2), writeBackupRow)
        yield* sink.flush
        yield* compressor.idle
        assert.deepStrictEqual(files.paths(), [file("09"), file("10")])
        assert.isTrue(logs.has("Warn", `backup archive: cannot compress ${file("09")}`), logs.lines.join("\n"))
        assert.isTrue(logs.has("Warn", "no space left on device"))

        files.failWrites = undefined
        yield* TestClock.adjust(60_000) // 11:00: the rotation's sweep
        yield* compressor.idle
        assert.deepStrictEqual(files.paths(), [file("09", ".csv.gz"), file("10", ".csv.gz")])
        assert.deepStrictEqual(gunzipRows(files.files.get(file("09", ".csv.gz"))), expectedRows(range(0, 3)))
        assert.deepStrictEqual(gunzipRows(files.files.get(file("10", ".csv.gz"))), expectedRows(range(3, 2)))
        yield* Scope.close(scope, Exit.void)
      })
    ))

  it.effect("a stop interrupts the compression under way: its temporary is removed, the file stays plain for the next start", () =>
    withMemory(() =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        files.files.set(file("09"), encoder.encode(csvText(range(0, 3))))
        const written = yield* Deferred.make<void>()
        files.writeGate = Effect.andThen(Deferred.succeed(written, undefined), Effect.never)
        yield* TestClock.setTime(at("2026-11-22T11:00:00Z"))
        const scope = yield* Scope.make()
        const compressor = yield* makeCompressor().pipe(Scope.provide(scope))
        yield* compressor.sweep(undefined)
        yield* Deferred.await(written)
        assert.isTrue(files.paths().some((path) => path.endsWith(".tmp")), "compressing")
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(files.paths(), [file("09")])
      })
    ))

  it.effect("a file another member compressed between the listing and the reading: nothing to do, no warning, its .csv.gz kept", () =>
    withMemory((logs) =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        files.files.set(file("09"), encoder.encode(csvText(range(0, 3))))
        const theirs = gzipSync(csvText(range(0, 3)))
        // The other member renames its copy in and removes the .csv as this one starts on it.
        files.failOpens = (path) => {
          if (path.endsWith(".tmp") && files.files.has(file("09"))) {
            files.files.set(file("09", ".csv.gz"), theirs)
            files.files.delete(file("09"))
          }
          return false
        }
        yield* TestClock.setTime(at("2026-11-22T11:00:00Z"))
        yield* Effect.scoped(Effect.gen(function*() {
          const compressor = yield* makeCompressor()
          yield* compressor.sweep(undefined)
          yield* compressor.idle
        }))
        assert.deepStrictEqual(files.paths(), [file("09", ".csv.gz")])
        assert.deepStrictEqual(gunzipRows(files.files.get(file("09", ".csv.gz"))), expectedRows(range(0, 3)))
        assert.deepStrictEqual(logs.lines.filter((line) => line.startsWith("Warn")), [])
      })
    ))

  it.effect("a failure after the rename (the directory cannot be synced) leaves both files, the same rows; the next sweep ends it", () =>
    withMemory((logs) =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        files.files.set(file("09"), encoder.encode(csvText(range(0, 3))))
        files.failOpens = (path) => path === DIR
        yield* TestClock.setTime(at("2026-11-22T11:00:00Z"))
        const sweep = Effect.scoped(Effect.gen(function*() {
          const compressor = yield* makeCompressor()
          yield* compressor.sweep(undefined)
          yield* compressor.idle
        }))
        yield* sweep
        assert.deepStrictEqual(files.paths(), [file("09"), file("09", ".csv.gz")])
        assert.deepStrictEqual(gunzipRows(files.files.get(file("09", ".csv.gz"))), files.rows(file("09")))
        assert.isTrue(logs.has("Warn", `cannot sync the directory after compressing ${file("09")}`), logs.lines.join("\n"))
        files.failOpens = undefined
        yield* sweep
        assert.deepStrictEqual(files.paths(), [file("09", ".csv.gz")])
        assert.deepStrictEqual(gunzipRows(files.files.get(file("09", ".csv.gz"))), expectedRows(range(0, 3)))
      })
    ))

  it.effect("a directory that cannot be listed (removed) is a warning, not a failure", () =>
    withMemory((logs) =>
      Effect.gen(function*() {
        yield* Effect.scoped(Effect.gen(function*() {
          const compressor = yield* makeCompressor()
          yield* compressor.sweep(undefined)
          yield* compressor.idle
        }))
        assert.isTrue(logs.has("Warn", `backup archive: cannot list the directory ${DIR}: `), logs.lines.join("\n"))
      })
    ))

  it.effect("replay's reader takes a directory of compressed and plain hours, in the order written, every record once", () =>
    withMemory(() =>
      Effect.gen(function*() {
        const files = yield* MemoryFileSystem
        files.files.set(file("08"), encoder.encode(csvText(range(0, 3))))
        files.files.set(file("09"), encoder.encode(csvText(range(3, 3))))
        yield* TestClock.setTime(at("2026-11-22T09:30:00Z"))
        yield* Effect.scoped(Effect.gen(function*() {
          const compressor = yield* makeCompressor()
          yield* compressor.sweep(undefined)
          yield* compressor.idle
        }))
        files.files.set(file("09", ".1.csv"), encoder.encode(csvText(range(6, 2))))
        assert.deepStrictEqual(files.paths(), [file("08", ".csv.gz"), file("09", ".1.csv"), file("09")])

        const inputs = yield* ArchiveReader.listInputs([DIR], "backup")
        assert.deepStrictEqual(inputs.map((input) => input.path), [file("08", ".csv.gz"), file("09"), file("09", ".1.csv")])
        const offsets: Array<number> = []
        for (const input of inputs) {
          yield* ArchiveReader.readArchive(input, (items) =>
            Effect.sync(() => {
              for (const item of items) {
                assert.strictEqual(item._tag, "Record", JSON.stringify(item))
                if (item._tag === "Record") offsets.push(item.record.offset)
              }
              return true
            }))
        }
        assert.deepStrictEqual(offsets, [0, 1, 2, 3, 4, 5, 6, 7])
      })
    ))
})

describe("ArchiveCompressor on a real directory shared by members", () => {
  /** 2 MiB of rows: long enough to compress that two compressions overlap. */
  const big = range(0, 8_000)

  it.effect("two members sweeping the same closed file at once both succeed and leave exactly one .csv.gz with the same rows", () => {
    const logs = captureLogs()
    const dir = nodeFs.mkdtempSync(join(os.tmpdir(), "compress-race-"))
    return Effect.gen(function*() {
      yield* TestClock.setTime(at("2026-12-01T00:00:00Z"))
      for (let round = 0; round < 5; round++) {
        const name = `backup-2026-11-2${round}T10.csv`
        nodeFs.writeFileSync(join(dir, name), csvText(big))
        yield* Effect.scoped(Effect.gen(function*() {
          const compressed: Array<[string, number, number]> = []
          const members = [yield* makeCompressor(compressed, dir), yield* makeCompressor(compressed, dir)]
          yield* Effect.forEach(members, (member) => member.sweep(undefined), { discard: true })
          yield* Effect.forEach(members, (member) => member.idle, { discard: true })
          assert.isAtLeast(compressed.length, 1, logs.lines.join("\n"))
        }))
        assert.deepStrictEqual(nodeFs.readdirSync(dir).filter((f) => f.startsWith(name)), [`${name}.gz`])
        assert.deepStrictEqual(gunzipRows(nodeFs.readFileSync(join(dir, `${name}.gz`))), expectedRows(big))
      }
      assert.deepStrictEqual(logs.lines.filter((line) => line.startsWith("Warn")), [], "neither member failed")
    }).pipe(
      Effect.ensuring(Effect.sync(() => nodeFs.rmSync(dir, { recursive: true, force: true }))),
      Effect.provide(Layer.mergeAll(NodeFileSystem.layer, Path.layer, logs.layer))
    )
  }, 60_000)
})

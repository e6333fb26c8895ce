/**
 * Reading archive files back, for a replay: the paths given (files, and
 * directories of archive files) as the list of files to read, and one file
 * as a stream of its records, row by row, never whole in memory.
 *
 * A file is gzip-compressed when it starts with gzip's magic bytes (1f 8b),
 * whatever its name; it is decompressed as it streams (node:zlib). Its first
 * row says which archive it is (backup or DLQ); each row after it comes out
 * as a record, or as a problem naming the line and column. A file that cannot
 * be read (or decompressed) to its end ends with a problem too.
 */
import { NodeStream } from "@effect/platform-node"
import { Effect, FileSystem, Path, Stream } from "effect"
import { createGunzip } from "node:zlib"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { listArchiveFiles } from "../domain/ArchiveListing.js"
import { backupHeader, dlqHeader } from "../domain/Csv.js"
import { type CsvItem, CsvReader } from "../domain/CsvReader.js"
import { ConfigError } from "../domain/Errors.js"
import { showValue } from "../domain/PipelineConfig.js"
import {
  archiveKindOfHeader,
  type ArchivedRecord,
  decodeRow,
  expectedHeaders,
  isRowProblem,
  type RowProblem,
  showText
} from "../domain/ReplayRow.js"

/** A file to read. */
export interface ArchiveInput {
  /** As the user can open it: a file as named, a directory's file joined to the directory. */
  readonly path: string
  /** The file's name without its directory, which the replay header gives. */
  readonly name: string
}

/**
 * The files `paths` name, in order: a file as it is, a directory as its
 * archive files of `kind` in the order they were written (other names are
 * skipped, with a log line). A path named twice is read once. A path that is
 * not there is a `ConfigError`, all of them at once.
 */
export const listInputs = Effect.fnUntraced(function*(paths: ReadonlyArray<string>, kind: ArchiveKind) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const inputs: Array<ArchiveInput> = []
  const issues: Array<string> = []
  const seen = new Set<string>()
  const add = (file: string) => {
    const resolved = path.resolve(file)
    if (seen.has(resolved)) return Effect.logInfo(`replay: ${file} is named more than once; it is read once`)
    seen.add(resolved)
    inputs.push({ path: file, name: path.basename(file) })
    return Effect.void
  }
  for (const given of paths) {
    const info = yield* Effect.result(fs.stat(given))
    if (info._tag === "Failure") {
      issues.push(
        info.failure.reason._tag === "NotFound"
          ? `paths: ${showValue(given)} does not exist`
          : `paths: ${showValue(given)} cannot be read: ${info.failure.message}`
      )
    } else if (info.success.type === "Directory") {
      const names = yield* fs.readDirectory(given).pipe(Effect.result)
      if (names._tag === "Failure") {
        issues.push(`paths: directory ${showValue(given)} cannot be listed: ${names.failure.message}`)
        continue
      }
      const listing = listArchiveFiles(names.success, kind)
      for (const skipped of listing.skipped) {
        yield* Effect.logInfo(`replay: skipped ${path.join(given, skipped.name)}: ${skipped.reason}`)
      }
      for (const name of listing.files) yield* add(path.join(given, name))
    } else {
      yield* add(given)
    }
  }
  if (issues.length > 0) return yield* new ConfigError({ issues })
  return inputs as ReadonlyArray<ArchiveInput>
})

/** What reading a file gives, row by row: each row decoded (by default, as the whole record). */
export type ArchiveItem<A = ArchivedRecord> =
  | { readonly _tag: "Record"; readonly line: number; readonly record: A }
  | { readonly _tag: "Problem"; readonly line: number; readonly message: string }

const GZIP_MAGIC = [0x1f, 0x8b] as const

const isGzip = (fs: FileSystem.FileSystem, file: string) =>
  fs.stream(file, { bytesToRead: 2 }).pipe(
    Stream.runCollect,
    Effect.map((chunks) => {
      const head = chunks.flatMap((chunk) => [...chunk])
      return head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]
    })
  )

/** Reading a file (or decompressing it) failed: a problem at the line reached. */
class ReadFailure {
  constructor(readonly message: string) {}
}

const isReadFailure = (error: unknown): error is ReadFailure => error instanceof ReadFailure

/** A file's bytes, decompressed when it is gzip. */
const fileBytes = (fs: FileSystem.FileSystem, file: string): Stream.Stream<Uint8Array, ReadFailure> =>
  Stream.unwrap(Effect.map(isGzip(fs, file), (gzip) => {
    const raw = fs.stream(file)
    return gzip
      ? NodeStream.pipeThroughDuplex(raw, {
        evaluate: createGunzip,
        onError: (cause) => new ReadFailure(`cannot decompress: ${describe(cause)}`)
      })
      : raw
  })).pipe(
    Stream.mapError((error) => isReadFailure(error) ? error : new ReadFailure(`cannot read: ${describe(error)}`))
  )

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** `key: ` for a column of a known archive, `column 5: ` before the header is known. */
const columnName = (kind: ArchiveKind | undefined, column: number | undefined): string => {
  if (column === undefined) return ""
  const header = kind === undefined ? undefined : kind === "dlq" ? dlqHeader : backupHeader
  return `${header?.[column - 1] ?? `column ${column}`}: `
}

/** Reads CSV rows as archive items: the first row must be an archive's header, each row after it a record. */
class ItemReader<A extends object> {
  constructor(readonly decode: (kind: ArchiveKind, fields: ReadonlyArray<string>) => A | RowProblem) {}
  kind: ArchiveKind | undefined
  /** The line reached, for a read failure. */
  line = 1
  /** A header that is not an archive's, or torn: the rows after it cannot be told apart. */
  stopped = false

  /** The items of `rows`, in order; none after a bad header. */
  items(rows: ReadonlyArray<CsvItem>): Array<ArchiveItem<A>> {
    const items: Array<ArchiveItem<A>> = []
    for (const row of rows) {
      if (this.stopped) break
      const item = this.item(row)
      if (item !== undefined) items.push(item)
    }
    return items
  }

  item(csv: CsvItem): ArchiveItem<A> | undefined {
    this.line = csv.line
    if (csv._tag === "Issue") {
      if (this.kind === undefined) this.stopped = true
      return { _tag: "Problem", line: csv.line, message: `${columnName(this.kind, csv.column)}${csv.message}` }
    }
    if (this.kind === undefined) {
      this.kind = archiveKindOfHeader(csv.fields)
      if (this.kind !== undefined) return undefined
      this.stopped = true
      return { _tag: "Problem", line: csv.line, message: `expected ${expectedHeaders}, got ${showText(csv.fields.join(","))}` }
    }
    const decoded = this.decode(this.kind, csv.fields)
    return isRowProblem(decoded)
      ? { _tag: "Problem", line: csv.line, message: `${decoded.column}: ${decoded.message}` }
      : { _tag: "Record", line: csv.line, record: decoded }
  }
}

/**
 * Streams `input`'s rows to `onItems`, a chunk's worth at a time, in order,
 * until the file ends or `onItems` answers false. A header row that is not
 * an archive's is a problem that ends the file. Returns the archive its
 * header row says, or undefined when there is none (an empty file, or a
 * first row that is not a header: a problem then).
 */
export const readArchive = <E, R, A extends object = ArchivedRecord>(
  input: ArchiveInput,
  onItems: (items: ReadonlyArray<ArchiveItem<A>>) => Effect.Effect<boolean, E, R>,
  decode: (kind: ArchiveKind, fields: ReadonlyArray<string>) => A | RowProblem =
    decodeRow as unknown as (kind: ArchiveKind, fields: ReadonlyArray<string>) => A | RowProblem
): Effect.Effect<ArchiveKind | undefined, E, R | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const csv = new CsvReader()
    const reader = new ItemReader<A>(decode)
    const problem = (line: number, message: string) => onItems([{ _tag: "Problem", line, message }])

    let finished = true
    let failed = false
    yield* fileBytes(fs, input.path).pipe(
      Stream.runForEachWhile((bytes) => {
        const items = reader.items(csv.push(bytes))
        const more = items.length === 0 ? Effect.succeed(true) : onItems(items)
        return Effect.map(more, (goOn) => (finished = goOn && !reader.stopped))
      }),
      Effect.catchIf(isReadFailure, (failure) => {
        failed = true
        return problem(reader.line, failure.message)
      })
    )
    if (failed || !finished) return reader.kind
    const torn = csv.end()
    if (torn !== undefined) yield* onItems([reader.item(torn)!])
    return reader.kind
  })

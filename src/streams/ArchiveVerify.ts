/**
 * `archive verify`: every archive file of a directory (backup and DLQ, plain
 * and gzip-compressed) read back row by row, as a replay reads them, and
 * summed up per archive and topic partition: rows, offset range, gaps,
 * duplicates; and every row that cannot be read back, torn last row or
 * wrong header named by file and line. Files are streamed, never loaded
 * whole; what is kept grows with runs of offsets, not rows (`ArchiveTally`).
 */
import { Effect, FileSystem, Path } from "effect"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { listArchiveDirectory } from "../domain/ArchiveListing.js"
import type { ArchiveFileError, ArchiveReport, KindReport, VerifiedFile } from "../domain/ArchiveReport.js"
import { ArchiveTally } from "../domain/ArchiveTally.js"
import { backupHeader, dlqHeader } from "../domain/Csv.js"
import { ConfigError } from "../domain/Errors.js"
import { showValue } from "../domain/PipelineConfig.js"
import type { ArchivedRecord } from "../domain/ReplayRow.js"
import { directoryIssue } from "../layers/config/ConfigLoader.js"
import { readArchive } from "./ArchiveReader.js"

export { failures, formatReport } from "../domain/ArchiveReport.js"
export type {
  ArchiveFileError,
  ArchiveReport,
  KindReport,
  VerifiedFile,
  VerifyOptions
} from "../domain/ArchiveReport.js"
export type { DuplicateRange, OffsetRange, PartitionSummary, RowCopy } from "../domain/ArchiveTally.js"

const KINDS: ReadonlyArray<ArchiveKind> = ["backup", "dlq"]

const headerOf = (kind: ArchiveKind) =>
  `the header row of a ${kind === "dlq" ? "DLQ" : "backup"} archive (${(kind === "dlq" ? dlqHeader : backupHeader).join(",")})`

/** Only DLQ rows have a `failed_at` column. */
const kindOfRow = (record: ArchivedRecord): ArchiveKind => record.failedAt === undefined ? "backup" : "dlq"

/** The directory's names, or a `ConfigError` saying why it is not a directory that can be listed. */
const directoryNames = Effect.fnUntraced(function*(directory: string) {
  const fs = yield* FileSystem.FileSystem
  const issue = yield* directoryIssue(fs, "archive verify", directory)
  if (issue !== undefined) return yield* new ConfigError({ issues: [issue] })
  return yield* fs.readDirectory(directory).pipe(
    Effect.mapError((error) =>
      new ConfigError({ issues: [`archive verify: directory ${showValue(directory)} cannot be listed: ${error.message}`] })
    )
  )
})

/**
 * The report on `directory`'s archive files. Fails only with a `ConfigError`
 * when the directory does not exist, is not one, or cannot be listed: what is
 * wrong inside the files is in the report's `errors`.
 */
export const run = Effect.fnUntraced(function*(
  directory: string
): Effect.fn.Return<ArchiveReport, ConfigError, FileSystem.FileSystem | Path.Path> {
  const path = yield* Path.Path
  const listing = listArchiveDirectory(yield* directoryNames(directory))
  const tallies = { backup: new ArchiveTally(), dlq: new ArchiveTally() }
  const errors: Array<ArchiveFileError> = []
  const files: Array<VerifiedFile> = []

  for (const kind of KINDS) {
    for (const name of listing[kind]) {
      let rows = 0
      const inFile: Array<ArchiveFileError> = []
      const error = (line: number, message: string) => inFile.push({ file: name, line, message })
      const header = yield* readArchive({ path: path.join(directory, name), name }, (items) =>
        Effect.sync(() => {
          for (const item of items) {
            if (item._tag === "Problem") {
              error(item.line, item.message)
              continue
            }
            rows++
            const { offset, partition, topic } = item.record
            tallies[kindOfRow(item.record)].add({ topic, partition, offset, file: name, line: item.line })
          }
          return true
        }))
      if (header === undefined && inFile.length === 0) error(1, `expected ${headerOf(kind)}, got an empty file`)
      if (header !== undefined && header !== kind) error(1, `expected ${headerOf(kind)}, got ${headerOf(header)}`)
      errors.push(...inFile.sort((a, b) => a.line - b.line))
      files.push({ name, kind, compressed: name.endsWith(".gz"), rows, errors: inFile.length })
    }
  }

  const kindReport = (kind: ArchiveKind): KindReport => {
    const partitions = tallies[kind].summaries()
    return {
      files: listing[kind].length,
      rows: partitions.reduce((sum, partition) => sum + partition.rows, 0),
      partitions
    }
  }
  return { directory, files, skipped: listing.skipped, errors, backup: kindReport("backup"), dlq: kindReport("dlq") }
})

/**
 * What `archive verify` found in an archive directory (pure): the report's
 * shape (which `--json` prints as it is), whether it fails, and the text
 * summary printed by default.
 */
import type { ArchiveKind } from "./ArchiveFile.js"
import type { SkippedFile } from "./ArchiveListing.js"
import type { DuplicateRange, OffsetRange, PartitionSummary } from "./ArchiveTally.js"

export interface VerifiedFile {
  readonly name: string
  /** The kind its name says (its header row must say the same). */
  readonly kind: ArchiveKind
  /** A `.csv.gz` name (the content is decompressed when it starts with gzip's magic bytes, whatever the name). */
  readonly compressed: boolean
  /** Data rows read back as records. */
  readonly rows: number
  /** Errors found in it. */
  readonly errors: number
}

/** A row that cannot be read back, a torn last row, a wrong or missing header, a file that cannot be read. */
export interface ArchiveFileError {
  readonly file: string
  readonly line: number
  readonly message: string
}

export interface KindReport {
  readonly files: number
  readonly rows: number
  readonly partitions: ReadonlyArray<PartitionSummary>
}

export interface ArchiveReport {
  readonly directory: string
  /** Backup files, then DLQ files, each kind in the order written. */
  readonly files: ReadonlyArray<VerifiedFile>
  readonly skipped: ReadonlyArray<SkippedFile>
  readonly errors: ReadonlyArray<ArchiveFileError>
  readonly backup: KindReport
  readonly dlq: KindReport
}

export interface VerifyOptions {
  /** Duplicates fail the verification too (by default they are reported only). */
  readonly failOnDuplicates?: boolean | undefined
}

const noun = (count: number, one: string) => count === 1 ? one : `${one}s`
const plural = (count: number, one: string) => `${count} ${noun(count, one)}`

const duplicateRows = (kind: KindReport) => kind.partitions.reduce((sum, partition) => sum + partition.duplicateRows, 0)

/** Why the verification fails: none when every file parses (and, with `failOnDuplicates`, no offset is there twice). */
export const failures = (report: ArchiveReport, options: VerifyOptions = {}): Array<string> => {
  const reasons: Array<string> = []
  if (report.errors.length > 0) {
    const files = new Set(report.errors.map((error) => error.file)).size
    reasons.push(`${plural(report.errors.length, "error")} in ${plural(files, "file")} (torn, unparseable or without their header)`)
  }
  if (options.failOnDuplicates === true) {
    for (const kind of ["backup", "dlq"] as const) {
      const rows = duplicateRows(report[kind])
      if (rows > 0) reasons.push(`${plural(rows, "duplicate row")} in the ${kind} archive`)
    }
  }
  return reasons
}

/** Gaps and duplicates listed per partition in the text; `--json` lists them all. */
const MAX_LISTED = 10

/** `offset 7`, `offsets 5–9`, with `counted` `offsets 5–9 (5)`. */
const offsets = (range: OffsetRange, counted = true) =>
  range.from === range.to
    ? `offset ${range.from}`
    : `offsets ${range.from}–${range.to}${counted ? ` (${range.to - range.from + 1})` : ""}`

const lines = (from: number, to: number) => from === to ? `${from}` : `${from}–${to}`

const duplicateLine = (duplicate: DuplicateRange) =>
  `    duplicate ${offsets(duplicate)} ×${duplicate.copies.length}: ${
    duplicate.copies.map((copy) => `${copy.file}:${lines(copy.fromLine, copy.toLine)}`).join(", ")
  }`

const listed = <A>(items: ReadonlyArray<A>, show: (item: A) => string, what: string): Array<string> => [
  ...items.slice(0, MAX_LISTED).map(show),
  ...(items.length > MAX_LISTED
    ? [`    … ${items.length - MAX_LISTED} more ${noun(items.length - MAX_LISTED, what)} (--json lists all)`]
    : [])
]

const partitionLines = (partition: PartitionSummary): Array<string> => {
  const notes = [
    ...(partition.duplicateRows > 0 ? [plural(partition.duplicateRows, "duplicate row")] : []),
    ...(partition.missingOffsets > 0 ? [`${plural(partition.missingOffsets, "offset")} missing`] : [])
  ]
  return [
    `  ${partition.topic}:${partition.partition}  ${plural(partition.rows, "row")}, ${
      offsets({ from: partition.lowestOffset, to: partition.highestOffset }, false)
    }${notes.length === 0 ? "" : `; ${notes.join(", ")}`}`,
    ...listed(partition.duplicates, duplicateLine, "duplicate range"),
    ...listed(partition.gaps, (gap) => `    gap: ${offsets(gap)}`, "gap")
  ]
}

const kindLines = (name: string, kind: KindReport): Array<string> => [
  `${name}: ${plural(kind.files, "file")}, ${plural(kind.rows, "row")}`,
  ...kind.partitions.flatMap(partitionLines)
]

/** The readable summary: per archive and partition, then what was skipped, the errors, and the verdict. */
export const formatReport = (report: ArchiveReport, options: VerifyOptions = {}): string => {
  const reasons = failures(report, options)
  const duplicates = duplicateRows(report.backup) + duplicateRows(report.dlq)
  const verdict = reasons.length > 0
    ? `FAILED: ${reasons.join("; ")}`
    : `OK: ${plural(report.files.length, "archive file")} parsed${
      duplicates > 0 ? ` (${plural(duplicates, "duplicate row")}; --fail-on-duplicates fails on them)` : ""
    }`
  return [
    `archive ${report.directory}`,
    ...kindLines("backup", report.backup),
    ...kindLines("dlq", report.dlq),
    ...(report.skipped.length === 0
      ? []
      : ["skipped:", ...report.skipped.map((skipped) => `  ${skipped.name}: ${skipped.reason}`)]),
    ...(report.errors.length === 0
      ? []
      : ["errors:", ...report.errors.map((error) => `  ${error.file}:${error.line}: ${error.message}`)]),
    verdict
  ].join("\n")
}

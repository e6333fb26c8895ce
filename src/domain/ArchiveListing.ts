/**
 * Which files of a directory a replay reads, and in which order (pure): the
 * archive files of one kind, `.csv` or gzip-compressed `.csv.gz`, in the
 * order they were written (by hour, then by restart sequence: `…T10.csv`,
 * `…T10.1.csv`, …, `…T10.10.csv`, then `…T11.csv`), which the names' text
 * order is not. Every other name is skipped, with the reason.
 */
import { type ArchiveKind, parseArchiveFileName } from "./ArchiveFile.js"

export interface SkippedFile {
  readonly name: string
  readonly reason: string
}

export interface ArchiveListing {
  /** Names to read, oldest first. */
  readonly files: ReadonlyArray<string>
  readonly skipped: ReadonlyArray<SkippedFile>
}

const GZ = ".gz"

/** The archive file a name is, gzip-compressed (`….csv.gz`) or not; undefined for any other name. */
export const parseListedName = (name: string) => {
  const compressed = name.endsWith(GZ)
  const parsed = parseArchiveFileName(compressed ? name.slice(0, -GZ.length) : name)
  return parsed === undefined ? undefined : { ...parsed, name, compressed }
}

/** The files of `kind` among a directory's `names`, in the order they were written. */
export const listArchiveFiles = (names: ReadonlyArray<string>, kind: ArchiveKind): ArchiveListing => {
  const skipped: Array<SkippedFile> = []
  const parsed = names.flatMap((name) => {
    const file = parseListedName(name)
    if (file === undefined) {
      skipped.push({ name, reason: "not an archive file name" })
      return []
    }
    if (file.kind !== kind) {
      skipped.push({ name, reason: `a ${file.kind} archive file (this replay reads ${kind} files)` })
      return []
    }
    return [file]
  })
  const plain = new Set(parsed.filter((file) => !file.compressed).map((file) => file.name))
  const files = parsed.filter((file) => {
    const original = file.name.slice(0, -GZ.length)
    // `gzip -k` leaves both: the same rows twice would be replayed twice.
    if (file.compressed && plain.has(original)) {
      skipped.push({ name: file.name, reason: `a compressed copy of ${original}, which is read` })
      return false
    }
    return true
  })
  files.sort((a, b) => a.hourStart - b.hourStart || a.sequence - b.sequence)
  return { files: files.map((file) => file.name), skipped }
}

export interface ArchiveDirectoryListing {
  /** Each kind's files, oldest first. */
  readonly backup: ReadonlyArray<string>
  readonly dlq: ReadonlyArray<string>
  /** Names that are not archive files, and compressed copies of plain files that are read. */
  readonly skipped: ReadonlyArray<SkippedFile>
}

/** Both kinds' files among a directory's `names`, by the same rules as `listArchiveFiles`. */
export const listArchiveDirectory = (names: ReadonlyArray<string>): ArchiveDirectoryListing => {
  const backup = listArchiveFiles(names, "backup")
  const dlq = listArchiveFiles(names, "dlq")
  // Each listing skips the other kind's files: those are kept from the listing of their own kind, the names
  // of neither kind from the backup listing (once). Names in a
  // directory are unique, so the sort never compares a name with itself.
  const ownOrForeign = (kind: ArchiveKind) => (skipped: SkippedFile) => {
    const file = parseListedName(skipped.name)
    return file === undefined ? kind === "backup" : file.kind === kind
  }
  const skipped = [...backup.skipped.filter(ownOrForeign("backup")), ...dlq.skipped.filter(ownOrForeign("dlq"))]
  return { backup: backup.files, dlq: dlq.files, skipped: skipped.sort((a, b) => (a.name < b.name ? -1 : 1)) }
}

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

/** The archive file a name is, gzip-compressed or not. */
const parse = (name: string) => {
  const compressed = name.endsWith(GZ)
  const parsed = parseArchiveFileName(compressed ? name.slice(0, -GZ.length) : name)
  return parsed === undefined ? undefined : { ...parsed, name, compressed }
}

/** The files of `kind` among a directory's `names`, in the order they were written. */
export const listArchiveFiles = (names: ReadonlyArray<string>, kind: ArchiveKind): ArchiveListing => {
  const skipped: Array<SkippedFile> = []
  const parsed = names.flatMap((name) => {
    const file = parse(name)
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

/**
 * Compression of closed archive hours (pure: names and times, no I/O).
 *
 * A closed hour's file is gzipped into a temporary name, which no reader takes
 * for an archive file (`backup-2026-12-03T16.csv.gz.1764777600000-3f9a.tmp`),
 * then renamed to `backup-2026-12-03T16.csv.gz` and the `.csv` removed. The
 * temporary name carries when it was started (on the `Clock`) and a token of
 * its own, so that members sharing a directory never write the same one, and
 * a sweep can tell a crashed compression's leftover from a running one.
 *
 * A sweep takes the plain files of hours that ended more than
 * `HOUR_CLOSE_MARGIN_MS` ago (the time a file may still take rows after its
 * hour: a late rotation, clock skew between hosts sharing the directory):
 * those left by a crashed or stopped run, or by a member whose rotation did
 * not get to them; and the leftover temporaries started longer ago than that
 * (another member's compression may still be running before).
 */
import { Schema } from "effect"
import { type ArchiveKind, HOUR_CLOSE_MARGIN_MS, nextHourStart, parseArchiveFileName } from "./ArchiveFile.js"
import { describeCause } from "./ArchiveFailure.js"

export const ArchiveCompressions = ["none", "gzip"] as const
export type ArchiveCompression = (typeof ArchiveCompressions)[number]

/** gzip's own default: see docs/BENCHMARKS.md for its ratio and cost against 1 and 9. */
export const GZIP_LEVEL = 6

const GZ = ".gz"

/** The name a plain archive file has once compressed. */
export const compressedName = (name: string): string => `${name}${GZ}`

/** The temporary `name` is compressed into, started at `startedAt` (epoch ms) by the compression `token` names. */
export const temporaryName = (name: string, startedAt: number, token: string): string =>
  `${name}${GZ}.${startedAt}-${token}.tmp`

const TEMPORARY = /^(.+\.csv)\.gz\.(\d+)-([0-9a-z]+)\.tmp$/

export interface TemporaryFile {
  /** The plain archive file it is being compressed from. */
  readonly source: string
  readonly kind: ArchiveKind
  readonly startedAt: number
}

/** The parts of a temporary name, or undefined for any other name. */
export const parseTemporaryName = (name: string): TemporaryFile | undefined => {
  const match = TEMPORARY.exec(name)
  if (match === null) return undefined
  const source = parseArchiveFileName(match[1]!)
  const startedAt = Number(match[2])
  if (source === undefined || !Number.isSafeInteger(startedAt)) return undefined
  return { source: match[1]!, kind: source.kind, startedAt }
}

export interface SweepPlan {
  /** Leftover temporaries to remove first. */
  readonly remove: ReadonlyArray<string>
  /** Plain files to compress, oldest first. */
  readonly compress: ReadonlyArray<string>
}

/**
 * What a sweep of a directory holding `names` does at `now` for the archive
 * of `kind`: `closed`, the file a rotation just closed (if any), is compressed
 * whatever its hour, first; then every plain file of an hour that ended more
 * than the margin ago, and the temporaries started longer ago than that.
 */
export const planSweep = (
  names: ReadonlyArray<string>,
  kind: ArchiveKind,
  now: number,
  closed?: string
): SweepPlan => {
  const remove = names.filter((name) => {
    const temporary = parseTemporaryName(name)
    return temporary !== undefined && temporary.kind === kind && now - temporary.startedAt > HOUR_CLOSE_MARGIN_MS
  })
  const due = names.flatMap((name) => {
    const parsed = parseArchiveFileName(name)
    if (parsed === undefined || parsed.kind !== kind || name === closed) return []
    return now - nextHourStart(parsed.hourStart) > HOUR_CLOSE_MARGIN_MS ? [{ ...parsed, name }] : []
  })
  due.sort((a, b) => a.hourStart - b.hourStart || a.sequence - b.sequence)
  const first = closed !== undefined && names.includes(closed) ? [closed] : []
  return { remove, compress: [...first, ...due.map((file) => file.name)] }
}

/** A step of compressing a file failed: the file stays plain, for the next sweep. Never fatal. */
export class CompressionError extends Schema.TaggedError<CompressionError>()("CompressionError", {
  archive: Schema.Literals(["backup", "dlq"]),
  path: Schema.String,
  step: Schema.Literals(["list", "compress", "rename", "sync", "remove"]),
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `${this.archive} archive: cannot ${steps[this.step]} ${this.path}: ${describeCause(this.cause)}; ` +
      "what is not compressed stays plain, and the next sweep (at the next hourly rotation or start) compresses it"
  }
}

const steps: Readonly<Record<CompressionError["step"], string>> = {
  list: "list the directory",
  compress: "compress",
  rename: "rename into place the compressed copy of",
  sync: "sync the directory after compressing",
  remove: "remove, once compressed,"
}

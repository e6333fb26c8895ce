/*
 * Archive files are named by the UTC hour their rows were written in:
 * `backup-2026-11-22T10.csv`, then `backup-2026-11-22T10.1.csv`, `.2`, … when
 * the pipeline restarts within the same hour. A restart never appends to an
 * existing file, whose tail may be a row torn by a crash.
 */

export type ArchiveKind = "backup" | "dlq"

export interface ArchiveFileName {
  readonly kind: ArchiveKind
  /** Epoch milliseconds of the UTC hour's start. */
  readonly hourStart: number
  readonly sequence: number
}

const HOUR_MS = 3_600_000

/** Start of the UTC hour holding `epochMs`. UTC hours are whole multiples of an hour since the epoch (no leap seconds in epoch time). */
export const hourStart = (epochMs: number): number => Math.floor(epochMs / HOUR_MS) * HOUR_MS

/** Start of the next UTC hour: when the current file is rotated. */
export const nextHourStart = (epochMs: number): number => hourStart(epochMs) + HOUR_MS

const pad = (value: number, width: number): string => String(value).padStart(width, "0")

/**
 * How long after its hour ends a file may still take rows: a rotation that runs late, and the
 * clocks of hosts that share a directory, which may differ by as much.
 */
export const HOUR_CLOSE_MARGIN_MS = 10 * 60_000

/** `yyyy-mm-ddThh`, or undefined outside years 0000–9999 (which a four-digit name cannot hold). */
export const hourLabel = (epochMs: number): string | undefined => {
  const date = new Date(epochMs)
  const year = date.getUTCFullYear()
  if (!(year >= 0 && year <= 9999)) return undefined
  return `${pad(year, 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}T${pad(date.getUTCHours(), 2)}`
}

/**
 * The file for rows written at `epochMs`: sequence 0 is the hour's first file,
 * n > 0 the one opened by the n-th restart within that hour.
 *
 * Throws a RangeError for a sequence that is not a non-negative safe integer
 * or a time outside years 0000–9999: such a name could not be parsed back,
 * and a name the sequence search cannot see could be reused.
 */
export const archiveFileName = (kind: ArchiveKind, epochMs: number, sequence: number): string => {
  if (!Number.isSafeInteger(sequence) || sequence < 0) {
    throw new RangeError(`archive file sequence must be a non-negative integer, got ${sequence}`)
  }
  const name = formatName(kind, epochMs, sequence)
  if (name === undefined) throw new RangeError(`archive file time out of range: ${epochMs}`)
  return name
}

const formatName = (kind: ArchiveKind, epochMs: number, sequence: number): string | undefined => {
  const label = hourLabel(epochMs)
  if (label === undefined) return undefined
  return sequence === 0 ? `${kind}-${label}.csv` : `${kind}-${label}.${sequence}.csv`
}

const NAME = /^(backup|dlq)-(\d{4}-\d{2}-\d{2}T\d{2})(?:\.([1-9]\d*))?\.csv$/
const LABEL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})$/

/** The start of the hour a `yyyy-mm-ddThh` label names, or undefined for any other text (an impossible date too). */
export const parseHourLabel = (label: string): number | undefined => {
  const match = LABEL.exec(label)
  if (match === null) return undefined
  const [, year, month, day, hour] = match
  // Date.UTC maps years 0–99 to 1900–1999, so set the year on its own.
  const date = new Date(0)
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day))
  date.setUTCHours(Number(hour))
  const start = date.getTime()
  // Month 13, 31 February or hour 24 roll over into another hour: the label would not be ours.
  return hourLabel(start) === label ? start : undefined
}

/** The parts of an archive file name, or undefined for any other name (including impossible dates and non-canonical forms). */
export const parseArchiveFileName = (name: string): ArchiveFileName | undefined => {
  const match = NAME.exec(name)
  if (match === null) return undefined
  const [, kind, label, sequenceText] = match
  const sequence = sequenceText === undefined ? 0 : Number(sequenceText)
  if (!Number.isSafeInteger(sequence)) return undefined
  const start = parseHourLabel(label!)
  return start === undefined ? undefined : { kind: kind as ArchiveKind, hourStart: start, sequence }
}

/** The first sequence not taken by `existingNames` for the hour holding `epochMs`. */
export const nextArchiveSequence = (kind: ArchiveKind, epochMs: number, existingNames: Iterable<string>): number => {
  const start = hourStart(epochMs)
  let next = 0
  for (const name of existingNames) {
    const parsed = parseArchiveFileName(name)
    if (parsed !== undefined && parsed.kind === kind && parsed.hourStart === start && parsed.sequence >= next) {
      next = parsed.sequence + 1
    }
  }
  return next
}

/**
 * The archive position a commit carries in its metadata: the hour of the
 * oldest archive file that may hold a row of the partition at or past the
 * committed offset, as `archive-from=2026-12-03T16`. The next owner of the
 * partition reads the archive from that hour on to find what is already
 * written; a commit without one (made by another tool, or before the archive
 * had positions) makes it read every file.
 */
import { hourLabel, parseHourLabel } from "./ArchiveFile.js"

const PREFIX = "archive-from="

export const encodeArchivePosition = (hourStart: number): string | undefined => {
  const label = hourLabel(hourStart)
  return label === undefined ? undefined : `${PREFIX}${label}`
}

/** The hour start a commit's metadata names, or undefined when it names none. */
export const decodeArchivePosition = (metadata: string | undefined): number | undefined =>
  metadata === undefined || !metadata.startsWith(PREFIX) ? undefined : parseHourLabel(metadata.slice(PREFIX.length))

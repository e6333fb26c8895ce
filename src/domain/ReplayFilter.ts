/**
 * Which archived records a replay sends (pure): the filter as data, its
 * predicate, and the `kafka-pipeline replay` flags read into it, each bad
 * value an issue line naming the flag, the value and what was expected.
 */
import { isTopicName, TOPIC_RULE } from "./ConfigValues.js"
import type { ArchivedRecord } from "./ReplayRow.js"
import { showText } from "./ReplayRow.js"

/** Which column `fromTime` / `toTime` compare: the record's own `timestamp`, or `failed_at` (DLQ rows). */
export type TimeColumn = "timestamp" | "failed_at"
export const TimeColumns: ReadonlyArray<TimeColumn> = ["timestamp", "failed_at"]

/** Every field that is set must hold for a record to be sent; an empty filter sends everything. */
export interface ReplayFilter {
  /** DLQ `error_type`s; a backup row (no error type) never matches. */
  readonly errorTypes?: ReadonlyArray<string> | undefined
  /** The records' original topics. */
  readonly topics?: ReadonlyArray<string> | undefined
  /** The records' original partitions. */
  readonly partitions?: ReadonlyArray<number> | undefined
  /** Original offsets, both ends included. */
  readonly fromOffset?: number | undefined
  readonly toOffset?: number | undefined
  /** Epoch ms: `fromTime` included, `toTime` excluded, compared with `timeColumn`. */
  readonly fromTime?: number | undefined
  readonly toTime?: number | undefined
  /** Default `timestamp`. */
  readonly timeColumn?: TimeColumn | undefined
}

/** Whether `filter` selects `record`. */
export const matches = (filter: ReplayFilter, record: ArchivedRecord): boolean => {
  if (filter.errorTypes !== undefined && (record.errorType === undefined || !filter.errorTypes.includes(record.errorType))) {
    return false
  }
  if (filter.topics !== undefined && !filter.topics.includes(record.topic)) return false
  if (filter.partitions !== undefined && !filter.partitions.includes(record.partition)) return false
  if (filter.fromOffset !== undefined && record.offset < filter.fromOffset) return false
  if (filter.toOffset !== undefined && record.offset > filter.toOffset) return false
  if (filter.fromTime === undefined && filter.toTime === undefined) return true
  const time = (filter.timeColumn ?? "timestamp") === "timestamp" ? record.timestamp : record.failedAt
  if (time === undefined) return false
  return (filter.fromTime === undefined || time >= filter.fromTime) && (filter.toTime === undefined || time < filter.toTime)
}

/** How an issue names a filter's field: by its name in code, or by the flag that sets it. */
export type FieldLabel = (field: keyof ReplayFilter) => string

const FLAGS: Record<keyof ReplayFilter, string> = {
  errorTypes: "--error-type",
  topics: "--topic",
  partitions: "--partition",
  fromOffset: "--from-offset",
  toOffset: "--to-offset",
  fromTime: "--from-time",
  toTime: "--to-time",
  timeColumn: "--time-column"
}

/** Labels issues with the flags' names. */
export const flagLabel: FieldLabel = (field) => FLAGS[field]

/** The problems of a filter built in code (the ranges' ends in order, integers where integers go). */
export const filterIssues = (filter: ReplayFilter, label: FieldLabel = (field) => field): Array<string> => {
  const issues: Array<string> = []
  const check = (field: keyof ReplayFilter, value: number | undefined, integer: boolean) => {
    if (value === undefined) return
    if (integer ? !Number.isSafeInteger(value) || value < 0 : !Number.isFinite(value)) {
      issues.push(`${label(field)}: expected ${integer ? "an integer ≥ 0" : "a time in epoch ms"}, got ${value}`)
    }
  }
  check("fromOffset", filter.fromOffset, true)
  check("toOffset", filter.toOffset, true)
  for (const partition of filter.partitions ?? []) check("partitions", partition, true)
  check("fromTime", filter.fromTime, false)
  check("toTime", filter.toTime, false)
  if (filter.fromOffset !== undefined && filter.toOffset !== undefined && filter.fromOffset > filter.toOffset) {
    issues.push(
      `${label("toOffset")}: expected an offset ≥ ${label("fromOffset")} (${filter.fromOffset}), got ${filter.toOffset}`
    )
  }
  if (filter.fromTime !== undefined && filter.toTime !== undefined && filter.fromTime >= filter.toTime) {
    issues.push(
      `${label("toTime")}: expected a time after ${label("fromTime")} (${isoOf(filter.fromTime)}), got ${isoOf(filter.toTime)}`
    )
  }
  for (const topic of filter.topics ?? []) {
    if (!isTopicName(topic)) issues.push(`${label("topics")}: expected a topic name (${TOPIC_RULE}), got ${showText(topic)}`)
  }
  if (filter.timeColumn !== undefined && !TimeColumns.includes(filter.timeColumn)) {
    issues.push(`${label("timeColumn")}: expected ${TimeColumns.join(" or ")}, got ${showText(filter.timeColumn)}`)
  }
  return issues
}

const isoOf = (epochMs: number): string => {
  const date = new Date(epochMs)
  return Number.isNaN(date.getTime()) ? String(epochMs) : date.toISOString()
}

// -----------------------------------------------------------------------------
// ISO 8601 times
// -----------------------------------------------------------------------------

const ISO_TIME = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?(Z|([+-])(\d\d):?(\d\d)))?$/

/**
 * An ISO 8601 date (`2026-11-22`: midnight UTC) or date-time with its zone
 * (`2026-11-22T10:00:00Z`, `…T12:00+02:00`) in epoch ms; undefined for
 * anything else, impossible dates (31 February) included.
 */
export const parseIsoTime = (text: string): number | undefined => {
  const match = ISO_TIME.exec(text)
  if (match === null) return undefined
  const [, year, month, day, hour = "0", minute = "0", second = "0", fraction = "", , sign, zoneHours, zoneMinutes] =
    match
  const date = new Date(0)
  // setUTCFullYear: Date.UTC would take years 0–99 as 1900–1999.
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day))
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return undefined
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined
  if (Number(zoneHours ?? 0) > 23 || Number(zoneMinutes ?? 0) > 59) return undefined
  const zone = sign === undefined ? 0 : (sign === "-" ? -1 : 1) * (Number(zoneHours) * 60 + Number(zoneMinutes))
  const millis = Math.floor(Number(`0.${fraction}0`) * 1000)
  return date.getTime() + ((Number(hour) * 60 + Number(minute) - zone) * 60 + Number(second)) * 1000 + millis
}

// -----------------------------------------------------------------------------
// The flags
// -----------------------------------------------------------------------------

/** The replay flags as given on the command line (text), by flag name without `--`. */
export interface ReplayFlagValues {
  readonly "error-type"?: string | undefined
  readonly topic?: string | undefined
  readonly partition?: string | undefined
  readonly "from-offset"?: string | undefined
  readonly "to-offset"?: string | undefined
  readonly "from-time"?: string | undefined
  readonly "to-time"?: string | undefined
  readonly "time-column"?: string | undefined
  readonly "to-topic"?: string | undefined
  readonly "resume-from"?: string | undefined
}

/** Where a replay that stopped part-way goes on: the first row not confirmed, as `file:line`. */
export interface ResumePoint {
  readonly file: string
  readonly line: number
}

export interface ReplaySelection {
  readonly filter: ReplayFilter
  readonly toTopic: string | undefined
  readonly resumeFrom: ResumePoint | undefined
}

const items = (text: string): Array<string> => text.split(",").map((item) => item.trim()).filter((item) => item !== "")

const INTEGER = /^\d+$/

/** `dlq/dlq-2026-11-22T10.csv:17` → the file and the line (the last colon splits them). */
export const parseResumePoint = (text: string): ResumePoint | undefined => {
  const colon = text.lastIndexOf(":")
  const line = text.slice(colon + 1)
  if (colon <= 0 || !INTEGER.test(line) || Number(line) < 1 || !Number.isSafeInteger(Number(line))) return undefined
  return { file: text.slice(0, colon), line: Number(line) }
}

/**
 * Reads the flags into a selection, or the issue lines of every bad one:
 * `--from-offset: expected an integer ≥ 0, got "ten"`.
 */
export const parseReplayFlags = (flags: ReplayFlagValues): ReplaySelection | { readonly issues: Array<string> } => {
  const issues: Array<string> = []
  const bad = (flag: string, what: string, value: string) => {
    issues.push(`--${flag}: expected ${what}, got ${showText(value)}`)
    return undefined
  }
  const offset = (flag: "from-offset" | "to-offset") => {
    const text = flags[flag]?.trim()
    if (text === undefined) return undefined
    return INTEGER.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : bad(flag, "an integer ≥ 0", text)
  }
  const time = (flag: "from-time" | "to-time") => {
    const text = flags[flag]?.trim()
    if (text === undefined) return undefined
    return parseIsoTime(text) ?? bad(flag, "an ISO 8601 time with its zone, e.g. 2026-11-22T10:00:00Z", text)
  }
  /** A comma-separated flag's items; none is an issue (an empty list would select nothing). */
  const list = (flag: "error-type" | "topic" | "partition" | "to-topic", what: string) => {
    const text = flags[flag]
    if (text === undefined) return undefined
    const values = items(text)
    if (values.length === 0) bad(flag, what, text)
    return values
  }
  const names = (flag: "topic" | "to-topic") =>
    list(flag, "topic names, comma-separated")?.flatMap((topic) =>
      isTopicName(topic) ? [topic] : (bad(flag, `a topic name (${TOPIC_RULE})`, topic), [])
    )
  const partitions = list("partition", "partition numbers, comma-separated")?.flatMap((partition) =>
    INTEGER.test(partition) && Number(partition) <= 2_147_483_647
      ? [Number(partition)]
      : (bad("partition", "a partition number (an integer ≥ 0)", partition), [])
  )
  const timeColumn = flags["time-column"]?.trim()
  if (timeColumn !== undefined && !TimeColumns.includes(timeColumn as TimeColumn)) {
    bad("time-column", TimeColumns.join(" or "), timeColumn)
  }
  const toTopics = names("to-topic")
  if (toTopics !== undefined && toTopics.length > 1) bad("to-topic", "one topic name", flags["to-topic"]!)
  const resumeText = flags["resume-from"]
  const resumeFrom = resumeText === undefined
    ? undefined
    : parseResumePoint(resumeText.trim()) ?? bad("resume-from", "file:line (the row to start at)", resumeText)
  const filter: ReplayFilter = {
    errorTypes: list("error-type", "error types, comma-separated"),
    topics: names("topic"),
    partitions,
    fromOffset: offset("from-offset"),
    toOffset: offset("to-offset"),
    fromTime: time("from-time"),
    toTime: time("to-time"),
    timeColumn: timeColumn as TimeColumn | undefined
  }
  // Each value is checked above; what is left is the ranges' ends.
  if (issues.length === 0) issues.push(...filterIssues(filter, flagLabel))
  return issues.length > 0 ? { issues } : { filter, toTopic: toTopics?.[0], resumeFrom }
}

/**
 * Why a replay sent nothing, or stopped part-way. Each says how much was
 * sent and, when something was, where to resume.
 */
import { Schema } from "effect"

/** Rows that cannot be read back (or files that cannot be read): the replay sent nothing. */
export class MalformedArchive extends Schema.TaggedError<MalformedArchive>()("MalformedArchive", {
  /** `file:line: what is wrong`, the first ones found. */
  problems: Schema.Array(Schema.String),
  /** How many there are in all. */
  count: Schema.Number
}) {
  override get message(): string {
    const more = this.count > this.problems.length ? [`  … and ${this.count - this.problems.length} more`] : []
    return [
      `nothing was sent: ${this.count} malformed ${this.count === 1 ? "row" : "rows"} (or unreadable files):`,
      ...this.problems.map((problem) => `  ${problem}`),
      ...more
    ].join("\n")
  }
}

/** A target topic is missing, or lacks a partition the records go to: the replay sent nothing. */
export class ReplayTargetError extends Schema.TaggedError<ReplayTargetError>()("ReplayTargetError", {
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return ["nothing was sent: the target topics cannot take the records:", ...this.issues.map((i) => `  ${i}`)].join("\n")
  }
}

/** Producing (or reading a file again) failed part-way: what was confirmed, and where to go on. */
export class ReplayIncomplete extends Schema.TaggedError<ReplayIncomplete>()("ReplayIncomplete", {
  sent: Schema.Number,
  selected: Schema.Number,
  /** `file:line` for `--resume-from`: the first record not confirmed. */
  resumeFrom: Schema.String,
  /** Records of the request that failed: they may have reached the topic all the same. */
  inFlight: Schema.Number,
  reason: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    const inFlight = this.inFlight === 0
      ? ""
      : ` The ${this.inFlight} records from there on were being sent when it failed and may have reached the topic:` +
        " resuming sends them again."
    return `replay stopped: ${this.reason}. Sent ${this.sent} of ${this.selected} selected records;` +
      ` the rest: --resume-from ${shellWord(this.resumeFrom)}.${inFlight}`
  }
}

/** Text as one shell word, to paste: quoted when it holds anything but the usual path characters. */
export const shellWord = (text: string): string =>
  /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`

export type ReplayError = MalformedArchive | ReplayTargetError | ReplayIncomplete

/**
 * A replay's first pass: every row of every file is read and checked before
 * anything is sent, so that a malformed row (or a file that cannot be read)
 * stops the replay with nothing sent. It counts what the second pass will
 * send, and which topics and partitions that needs.
 */
import { Effect } from "effect"
import type { FileSystem } from "effect"
import type { ReplayFilter } from "../domain/ReplayFilter.js"
import { matches } from "../domain/ReplayFilter.js"
import type { ArchivedRecord } from "../domain/ReplayRow.js"
import { type ArchiveInput, readArchive } from "./ArchiveReader.js"

/** Where the replay starts: a file of the list (by index) and a line in it. */
export interface StartPoint {
  readonly fileIndex: number
  readonly line: number
}

export type Verdict = "selected" | "filtered" | "beforeResume"

/** The one rule both passes apply to a row: before the resume point, filtered out, or sent. */
export const verdict = (
  filter: ReplayFilter,
  start: StartPoint | undefined,
  fileIndex: number,
  line: number,
  record: ArchivedRecord
): Verdict => {
  if (start !== undefined && (fileIndex < start.fileIndex || (fileIndex === start.fileIndex && line < start.line))) {
    return "beforeResume"
  }
  return matches(filter, record) ? "selected" : "filtered"
}

/** The counts of a replay, filled in as it goes. */
export interface ReplayCounts {
  /** Data rows read back as records (header rows and malformed rows not counted). */
  read: number
  selected: number
  skippedByFilter: number
  skippedBeforeResume: number
  /** Malformed rows, and files that could not be read to their end. */
  malformed: number
  sent: number
}

export interface Survey {
  readonly counts: ReplayCounts
  /** Records read from each file (the second pass reads no more: rows appended since are not sent). */
  readonly records: ReadonlyArray<number>
  /** The first problems found, as `file:line: what`. */
  readonly problems: ReadonlyArray<string>
  /** Each target topic, and the highest partition records are sent to by number (-1: none, the partitioner picks). */
  readonly targets: ReadonlyMap<string, number>
}

export interface SurveyOptions {
  readonly inputs: ReadonlyArray<ArchiveInput>
  readonly filter: ReplayFilter
  readonly start: StartPoint | undefined
  readonly toTopic: string | undefined
  /** How many problems are kept for the message (all are counted). */
  readonly maxProblems: number
}

export const survey = (
  options: SurveyOptions,
  counts: ReplayCounts
): Effect.Effect<Survey, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const problems: Array<string> = []
    const targets = new Map<string, number>()
    const records: Array<number> = []
    for (const [fileIndex, input] of options.inputs.entries()) {
      let inFile = 0
      let problemsInFile = 0
      const kind = yield* readArchive(input, (items) =>
        Effect.sync(() => {
          for (const item of items) {
            if (item._tag === "Problem") {
              problemsInFile++
              counts.malformed++
              if (problems.length < options.maxProblems) problems.push(`${input.path}:${item.line}: ${item.message}`)
              continue
            }
            inFile++
            counts.read++
            const outcome = verdict(options.filter, options.start, fileIndex, item.line, item.record)
            if (outcome === "beforeResume") counts.skippedBeforeResume++
            else if (outcome === "filtered") counts.skippedByFilter++
            else {
              counts.selected++
              const topic = options.toTopic ?? item.record.topic
              const partition = topic === item.record.topic ? item.record.partition : -1
              targets.set(topic, Math.max(targets.get(topic) ?? -1, partition))
            }
          }
          return true
        }))
      if (kind === undefined && problemsInFile === 0) {
        yield* Effect.logInfo(`replay: ${input.path} is empty (not even a header row)`)
      }
      records.push(inFile)
    }
    return { counts, records, problems, targets }
  })

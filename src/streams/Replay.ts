/**
 * Replaying archived records (`kafka-pipeline replay`): DLQ (or backup)
 * archive files read back and their records produced again, byte-exact, each
 * with an `x-replayed-from` header saying where it came from.
 *
 * Two passes over the files. The first reads and checks every row: if any is
 * malformed (or a file cannot be read), nothing is sent and the problems are
 * listed by file and line. The second sends the selected records, in file
 * and row order, in batches through the project's (idempotent) producer;
 * when a batch fails, the replay stops and says how many were sent and where
 * to resume. `plan` is the dry run: the same passes, nothing sent.
 */
import { Effect, Exit, Path } from "effect"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { ConfigError } from "../domain/Errors.js"
import type { ReplayFilter, ResumePoint } from "../domain/ReplayFilter.js"
import { filterIssues } from "../domain/ReplayFilter.js"
import { MalformedArchive, ReplayIncomplete } from "../domain/ReplayErrors.js"
import type { ArchivedRecord, ReplayMessage } from "../domain/ReplayRow.js"
import { replayMessage } from "../domain/ReplayRow.js"
import { KafkaClient } from "../layers/kafka/KafkaClient.js"
import { type ArchiveInput, listInputs, readArchive } from "./ArchiveReader.js"
import { makeSender, type Sender, type SenderOptions } from "./ReplaySender.js"
import { type ReplayCounts, type StartPoint, survey, type Survey, verdict } from "./ReplaySurvey.js"

export type { ReplayFilter, ResumePoint } from "../domain/ReplayFilter.js"
export { REPLAYED_FROM_HEADER } from "../domain/ReplayRow.js"

export interface ReplayOptions {
  /** Archive files and directories, read in this order (a directory's files in the order they were written). */
  readonly paths: ReadonlyArray<string>
  /** Which files of a directory are read (default `dlq`); files named one by one are read whatever they hold. */
  readonly archive?: ArchiveKind | undefined
  /** Which records are sent; default all. */
  readonly filter?: ReplayFilter | undefined
  /** Send every record to this topic (the producer's partitioner picks the partition); default each record's own topic and partition. */
  readonly toTopic?: string | undefined
  /** Skip the rows before this one (the `resumeFrom` of a replay that stopped part-way). */
  readonly resumeFrom?: ResumePoint | undefined
  /** Records per produce request (default 500) and their bytes (default 512 KiB; a larger record goes alone). */
  readonly batchRecords?: number | undefined
  readonly batchBytes?: number | undefined
  /** Malformed rows listed in the error (default 20; all are counted). */
  readonly maxProblems?: number | undefined
  /** Receives the summary however the replay ends: completed, malformed input, a failure, interrupted. */
  readonly onStopped?: ((summary: ReplaySummary) => Effect.Effect<void>) | undefined
}

/** A record the replay sends (or, in a dry run, would send). */
export interface PlannedRecord {
  /** The archive file (as listed) and the line its row starts on. */
  readonly file: string
  readonly line: number
  readonly record: ArchivedRecord
  readonly message: ReplayMessage
}

export interface PlanOptions extends ReplayOptions {
  /** Receives each record the replay would send, in order. */
  readonly onRecord: (planned: PlannedRecord) => Effect.Effect<void>
}

export type ReplayStopReason = "completed" | "dryRun" | "malformed" | "failed" | "interrupted"

export interface ReplaySummary extends Readonly<ReplayCounts> {
  readonly reason: ReplayStopReason
  /** Archive files read. */
  readonly files: number
  /** Where to go on (`file:line`, for `resumeFrom` / `--resume-from`) when some records were sent and not all; else null. */
  readonly resumeFrom: string | null
}

const DEFAULTS = { batchRecords: 500, batchBytes: 512 * 1024, maxProblems: 20 }

/**
 * Replays the records of the archive files: checks every row first (nothing
 * is sent if one is malformed: `MalformedArchive`), checks that the target
 * topics have the partitions the records go to (`ReplayTargetError`), then
 * produces them. Fails with `ReplayIncomplete` (how many were sent, where to
 * resume) when producing fails part-way; with `ConfigError` for bad options.
 */
export const run = Effect.fn("Replay.run")(function*(options: ReplayOptions) {
  const kafka = yield* KafkaClient
  return yield* Effect.scoped(replay(options, "completed", (prepared) =>
    makeSender({ ...senderOptions(options), kafka, counts: prepared.counts, survey: prepared.survey })))
})

/** The dry run of {@link run}: the same checks and selection, each record handed to `onRecord` instead of sent. */
export const plan = Effect.fn("Replay.plan")(function*(options: PlanOptions) {
  return yield* replay(options, "dryRun", () =>
    Effect.succeed<Sender>({
      add: (planned) => options.onRecord(planned),
      flush: Effect.void,
      resumeFrom: () => null
    }))
})

const senderOptions = (options: ReplayOptions): Omit<SenderOptions, "kafka" | "counts" | "survey"> => ({
  batchRecords: options.batchRecords ?? DEFAULTS.batchRecords,
  batchBytes: options.batchBytes ?? DEFAULTS.batchBytes
})

interface Prepared {
  readonly inputs: ReadonlyArray<ArchiveInput>
  readonly start: StartPoint | undefined
  readonly counts: ReplayCounts
  readonly survey: Survey
}

const replay = <E, R>(
  options: ReplayOptions,
  completed: "completed" | "dryRun",
  makeDelivery: (prepared: Prepared) => Effect.Effect<Sender, E, R>
) =>
  Effect.gen(function*() {
    const { inputs, start } = yield* prepare(options)
    const counts: ReplayCounts = { read: 0, selected: 0, skippedByFilter: 0, skippedBeforeResume: 0, malformed: 0, sent: 0 }
    let sender: Sender | undefined
    const summary = (exit: Exit.Exit<unknown, unknown>): ReplaySummary => ({
      reason: reasonOf(exit, completed),
      files: inputs.length,
      ...counts,
      resumeFrom: Exit.isSuccess(exit) ? null : sender?.resumeFrom() ?? null
    })
    return yield* Effect.gen(function*() {
      const checked = yield* survey({
        inputs,
        start,
        filter: options.filter ?? {},
        toTopic: options.toTopic,
        maxProblems: options.maxProblems ?? DEFAULTS.maxProblems
      }, counts)
      if (counts.malformed > 0) return yield* new MalformedArchive({ problems: checked.problems, count: counts.malformed })
      sender = yield* makeDelivery({ inputs, start, counts, survey: checked })
      yield* send({ inputs, start, counts, survey: checked }, options, sender)
    }).pipe(
      Effect.onExit((exit) => {
        const result = summary(exit)
        return options.onStopped === undefined ? Effect.void : options.onStopped(result)
      }),
      Effect.map(() => summary(Exit.void))
    )
  })

const reasonOf = (exit: Exit.Exit<unknown, unknown>, completed: "completed" | "dryRun"): ReplayStopReason => {
  if (Exit.isSuccess(exit)) return completed
  if (exit.cause.reasons.every((reason) => reason._tag === "Interrupt")) return "interrupted"
  return exit.cause.reasons.some((reason) => reason._tag === "Fail" && reason.error instanceof MalformedArchive)
    ? "malformed"
    : "failed"
}

/** The options checked, the files listed and the resume point found among them. */
const prepare = Effect.fnUntraced(function*(options: ReplayOptions) {
  const path = yield* Path.Path
  const issues = filterIssues(options.filter ?? {}).map((issue) => `filter.${issue}`)
  if (options.paths.length === 0) issues.push("paths: expected at least one archive file or directory")
  if (issues.length > 0) return yield* new ConfigError({ issues })
  const inputs = yield* listInputs(options.paths, options.archive ?? "dlq")
  const resume = options.resumeFrom
  if (resume === undefined) return { inputs, start: undefined }
  const fileIndex = inputs.findIndex((input) => path.resolve(input.path) === path.resolve(resume.file))
  if (fileIndex < 0) {
    return yield* new ConfigError({
      issues: [`resumeFrom (--resume-from): ${JSON.stringify(resume.file)} is not one of the files read`]
    })
  }
  return { inputs, start: { fileIndex, line: resume.line } }
})

/** A file reads differently than in the first pass (a row, or at `line` 0 the whole file): it changed in between. */
const changed = (
  prepared: Prepared,
  sender: Sender,
  input: ArchiveInput,
  { line, message }: { readonly line: number; readonly message: string }
) => {
  const where = line === 0 ? input.path : `${input.path}:${line}`
  return Effect.fail(
    new ReplayIncomplete({
      sent: prepared.counts.sent,
      selected: prepared.counts.selected,
      // Nothing confirmed: from the start, as if never run.
      resumeFrom: sender.resumeFrom() ?? `${prepared.inputs[prepared.start?.fileIndex ?? 0]!.path}:${prepared.start?.line ?? 1}`,
      inFlight: 0,
      reason: `${where} changed since it was checked: ${message}`
    })
  )
}

/** The second pass: each file again, up to the records the first pass read, the selected ones to the sender. */
const send = (prepared: Prepared, options: ReplayOptions, sender: Sender) =>
  Effect.gen(function*() {
    const filter = options.filter ?? {}
    for (const [fileIndex, input] of prepared.inputs.entries()) {
      let left = prepared.survey.records[fileIndex] ?? 0
      if (left === 0 || (prepared.start !== undefined && fileIndex < prepared.start.fileIndex)) continue
      yield* readArchive(input, (items) =>
        Effect.gen(function*() {
          for (const item of items) {
            if (left === 0) return false
            if (item._tag === "Problem") return yield* changed(prepared, sender, input, item)
            left--
            if (verdict(filter, prepared.start, fileIndex, item.line, item.record) !== "selected") continue
            yield* sender.add({
              file: input.path,
              line: item.line,
              record: item.record,
              message: replayMessage(item.record, input.name, item.line, options.toTopic)
            })
          }
          return left > 0
        }))
      if (left > 0) return yield* changed(prepared, sender, input, { line: 0, message: "it has fewer rows than it had" })
    }
    yield* sender.flush
  })

/**
 * Archive recovery: when partitions are assigned (at the start, or moving
 * here from another member), finds the rows the archive already holds of
 * them past their committed offsets, so that intake writes none of them
 * again (and processes no dead-lettered record again).
 *
 * Which files: those of the hour each commit's archive position names and
 * later (`ArchivePosition`), in the backup and the DLQ directories; every
 * file when a commit has no position. A file is read to its end; a torn last
 * row (a crash mid-write, or a member writing it right now) is not a row,
 * and a malformed one is logged and skipped: only whole rows count as
 * written. A file compressed meanwhile (`.csv` → `.csv.gz`) is read
 * compressed.
 */
import { Effect, FileSystem, Path } from "effect"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import type { Found, HourMark } from "../domain/ArchiveIndex.js"
import { OffsetRanges } from "../domain/OffsetRanges.js"
import { compressedName } from "../domain/ArchiveCompression.js"
import { listArchiveFiles, parseListedName } from "../domain/ArchiveListing.js"
import { decodeArchivePosition } from "../domain/ArchivePosition.js"
import type { CommittedOffset, TopicPartition, TopicPartitionOffset } from "../domain/KafkaRecord.js"
import { decodeRowIdentity } from "../domain/ReplayRow.js"
import { partitionKey } from "../domain/KafkaRecord.js"
import type { KafkaClient } from "../layers/kafka/KafkaClient.js"
import { type ArchiveItem, readArchive } from "./ArchiveReader.js"

export interface RecoveryOptions {
  readonly groupId: string
  readonly backupDir: string | undefined
  readonly dlqDir: string
}

/** Where a partition's recovery starts: its committed offset and the hour of its archive position. */
interface Start {
  readonly committed: number
  /** Undefined: the commit names no position, every file is read. */
  readonly fromHour: number | undefined
  readonly backup: OffsetRanges
  readonly dlq: OffsetRanges
  readonly marks: Array<HourMark>
}

interface ArchiveFileToRead {
  readonly kind: ArchiveKind
  readonly dir: string
  readonly name: string
  readonly hourStart: number
}


/** The committed offset and archive position of each partition (offset 0 and no position without a commit). */
const startsOf = Effect.fnUntraced(function*(
  kafka: KafkaClient["Service"],
  groupId: string,
  partitions: ReadonlyArray<TopicPartition>
) {
  const starts = new Map<string, Start>()
  for (const topic of new Set(partitions.map((p) => p.topic))) {
    const committed = yield* kafka.committedOffsets(groupId, topic).pipe(
      Effect.catch((error) =>
        Effect.logWarning(
          `archive recovery: cannot read the committed offsets of topic ${topic} (${error.message}); ` +
            "reading every archive file"
        ).pipe(Effect.as([] as ReadonlyArray<CommittedOffset>))
      )
    )
    const byPartition = new Map(committed.map((c) => [c.partition, c]))
    for (const { partition } of partitions.filter((p) => p.topic === topic)) {
      const commit = byPartition.get(partition)
      starts.set(partitionKey(topic, partition), {
        committed: commit?.offset ?? 0,
        fromHour: decodeArchivePosition(commit?.metadata),
        backup: new OffsetRanges(),
        dlq: new OffsetRanges(),
        marks: []
      })
    }
  }
  return starts
})

/** The archive files of both kinds from `fromHour` on (all of them without one), oldest first. */
const filesToRead = Effect.fnUntraced(function*(options: RecoveryOptions, fromHour: number | undefined) {
  const fs = yield* FileSystem.FileSystem
  const dirs: Array<[ArchiveKind, string]> = [["dlq", options.dlqDir]]
  if (options.backupDir !== undefined) dirs.unshift(["backup", options.backupDir])
  const files: Array<ArchiveFileToRead> = []
  for (const [kind, dir] of dirs) {
    const names = yield* fs.readDirectory(dir).pipe(
      Effect.catch((error) =>
        Effect.logWarning(`archive recovery: cannot list ${dir}: ${error.message}`).pipe(Effect.as([] as Array<string>))
      )
    )
    for (const name of listArchiveFiles(names, kind).files) {
      const hourStart = parseListedName(name)!.hourStart
      if (fromHour === undefined || hourStart >= fromHour) files.push({ kind, dir, name, hourStart })
    }
  }
  return files
})

/** Reads one file's rows into the starts of the partitions they belong to. */
const readFile = Effect.fnUntraced(function*(file: ArchiveFileToRead, starts: ReadonlyMap<string, Start>) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  let name = file.name
  // Compressed since it was listed: the same rows, under the compressed name.
  if (!parseListedName(name)!.compressed && !(yield* fs.exists(path.join(file.dir, name)).pipe(Effect.orElseSucceed(() => false)))) {
    name = compressedName(name)
  }
  const filePath = path.join(file.dir, name)
  const problems: Array<{ readonly line: number; readonly message: string }> = []
  // The lowest and highest offset found of each partition: one mark per partition and file.
  const spans = new Map<Start, { from: number; to: number }>()
  let rows = 0
  yield* readArchive({ path: filePath, name }, (items: ReadonlyArray<ArchiveItem<TopicPartitionOffset>>) =>
    Effect.sync(() => {
      for (const item of items) {
        if (item._tag === "Problem") {
          problems.push(item)
          continue
        }
        const { offset, partition, topic } = item.record
        const start = starts.get(partitionKey(topic, partition))
        if (start === undefined || offset < start.committed) continue
        ;(file.kind === "backup" ? start.backup : start.dlq).add(offset)
        const span = spans.get(start)
        if (span === undefined) spans.set(start, { from: offset, to: offset })
        else {
          span.from = Math.min(span.from, offset)
          span.to = Math.max(span.to, offset)
        }
        rows++
      }
      return true
    }), decodeRowIdentity).pipe(Effect.catch((error) => Effect.logWarning(`archive recovery: cannot read ${filePath}: ${String(error)}`)))
  for (const [start, span] of spans) start.marks.push({ ...span, hourStart: file.hourStart })
  // The last problem of a file may be its torn tail: a row being written, or cut by a crash.
  const last = problems[problems.length - 1]
  for (const problem of problems) {
    const log = problem === last ? Effect.logDebug : Effect.logWarning
    yield* log(`archive recovery: ${filePath}:${problem.line}: ${problem.message} (not counted as written)`)
  }
  return rows
})

/**
 * What the archive holds of `partitions` past their committed offsets, by `partitionKey`.
 * Never fails: what cannot be read is logged and counts as not written (then written again).
 */
export const recover = Effect.fn("ArchiveRecovery.recover")(function*(
  kafka: KafkaClient["Service"],
  options: RecoveryOptions,
  partitions: ReadonlyArray<TopicPartition>
) {
  const starts = yield* startsOf(kafka, options.groupId, partitions)
  let fromHour: number | undefined = Infinity
  for (const start of starts.values()) {
    fromHour = start.fromHour === undefined || fromHour === undefined ? undefined : Math.min(fromHour, start.fromHour)
  }
  const files = yield* filesToRead(options, fromHour)
  let rows = 0
  for (const file of files) rows += yield* readFile(file, starts)
  const found = new Map<string, Found>()
  for (const [key, start] of starts) found.set(key, { backup: start.backup, dlq: start.dlq, marks: start.marks })
  yield* Effect.logInfo("archive recovery").pipe(
    Effect.annotateLogs({
      partitions: [...starts.keys()].join(","),
      filesRead: files.length,
      rowsPastCommitted: rows
    })
  )
  return found
})

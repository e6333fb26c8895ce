/**
 * What the archive holds of each partition this member owns, past its
 * committed offset: what lets a restart, or a partition moving between
 * members, write no row twice.
 *
 * - The offsets already found in backup and DLQ files when the partition was
 *   assigned (by `ArchiveRecovery`): intake does not back them up again, and
 *   does not process a dead-lettered one again.
 * - Where the partition's rows past an offset are: for runs of offsets, the
 *   hour of the file holding their rows. A commit carries the oldest such hour
 *   past its offset (its archive position, `ArchivePosition`), and the next
 *   owner's recovery reads the files from that hour on, not the whole archive.
 */
import { HOUR_CLOSE_MARGIN_MS, hourStart } from "./ArchiveFile.js"
import type { TopicPartition, TopicPartitionOffset } from "./KafkaRecord.js"
import { partitionKey } from "./KafkaRecord.js"
import { OffsetRanges } from "./OffsetRanges.js"

/** Offsets `from`–`to` of a partition have rows in files of hour `hourStart` (or later). */
export interface HourMark {
  readonly from: number
  readonly to: number
  readonly hourStart: number
}

/** What recovery found of one partition, past its committed offset. */
export interface Found {
  readonly backup: OffsetRanges
  readonly dlq: OffsetRanges
  readonly marks: ReadonlyArray<HourMark>
}

interface PartitionState {
  readonly backup: OffsetRanges
  readonly dlq: OffsetRanges
  marks: Array<HourMark>
}

export const emptyFound = (): Found => ({ backup: new OffsetRanges(), dlq: new OffsetRanges(), marks: [] })

export class ArchiveIndex {
  readonly #partitions = new Map<string, PartitionState>()
  #deadLetteredFound = false

  /**
   * Whether recovery found any DLQ row (most often not): a worker asks `isDeadLettered` of a
   * record only then.
   */
  get mayHoldDeadLettered(): boolean {
    return this.#deadLetteredFound
  }

  /** Takes what recovery found for a partition just assigned (replacing what was known of it). */
  adopt(topic: string, partition: number, found: Found): void {
    if (found.dlq.size > 0) this.#deadLetteredFound = true
    this.#partitions.set(partitionKey(topic, partition), {
      backup: found.backup,
      dlq: found.dlq,
      marks: [...found.marks]
    })
  }

  /** Whether the record's backup row was found in the archive. */
  isArchived(topic: string, partition: number, offset: number): boolean {
    const state = this.#partitions.get(partitionKey(topic, partition))
    return state !== undefined && state.backup.has(offset)
  }

  /** Whether the record's DLQ row was found in the archive: it was handled. */
  isDeadLettered(topic: string, partition: number, offset: number): boolean {
    const state = this.#partitions.get(partitionKey(topic, partition))
    return state !== undefined && state.dlq.has(offset)
  }

  /** Whether recovery found anything of the partition (most often not: a fast path). */
  hasFound(topic: string, partition: number): boolean {
    const state = this.#partitions.get(partitionKey(topic, partition))
    return state !== undefined && (state.backup.size > 0 || state.dlq.size > 0)
  }

  /** Rows of `records` were written to a file of the hour starting at `hour`. */
  noteWritten(records: ReadonlyArray<TopicPartitionOffset>, hour: number): void {
    let start = 0
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!
      const next = records[index + 1]
      if (next !== undefined && next.partition === record.partition && next.topic === record.topic) continue
      let from = record.offset
      let to = record.offset
      for (let run = start; run < index; run++) {
        const offset = records[run]!.offset
        if (offset < from) from = offset
        if (offset > to) to = offset
      }
      this.#mark(record.topic, record.partition, { from, to, hourStart: hour })
      start = index + 1
    }
  }

  /**
   * The archive position to commit with `offset`: the oldest hour that may hold a row of the
   * partition at or past it. Rows written from `now` on go to files of this hour or later, but a
   * file of the previous hour may still take rows for `HOUR_CLOSE_MARGIN_MS` (a late rotation,
   * another host's clock).
   */
  position(committed: TopicPartitionOffset, now: number): number {
    let oldest = hourStart(now - HOUR_CLOSE_MARGIN_MS)
    const state = this.#partitions.get(partitionKey(committed.topic, committed.partition))
    if (state === undefined) return oldest
    state.marks = state.marks.filter((mark) => mark.to >= committed.offset)
    for (const mark of state.marks) if (mark.hourStart < oldest) oldest = mark.hourStart
    return oldest
  }

  /** Keeps only the partitions of `assignment`. */
  retain(assignment: ReadonlyArray<TopicPartition>): void {
    const kept = new Set(assignment.map((p) => partitionKey(p.topic, p.partition)))
    for (const key of this.#partitions.keys()) if (!kept.has(key)) this.#partitions.delete(key)
  }

  #mark(topic: string, partition: number, mark: HourMark): void {
    const key = partitionKey(topic, partition)
    let state = this.#partitions.get(key)
    if (state === undefined) {
      state = { backup: new OffsetRanges(), dlq: new OffsetRanges(), marks: [] }
      this.#partitions.set(key, state)
    }
    const last = state.marks[state.marks.length - 1]
    // One mark per file hour in the usual case: a partition's rows go to one file at a time.
    if (last !== undefined && last.hourStart === mark.hourStart) {
      state.marks[state.marks.length - 1] = {
        from: Math.min(last.from, mark.from),
        to: Math.max(last.to, mark.to),
        hourStart: mark.hourStart
      }
      return
    }
    state.marks.push(mark)
  }
}

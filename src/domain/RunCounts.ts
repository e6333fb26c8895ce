import type { ArchiveKind } from "./ArchiveFile.js"
import type { TopicPartitionOffset } from "./KafkaRecord.js"
import { partitionKey } from "./KafkaRecord.js"
import type { Outcome } from "./Outcome.js"
import { failedAttempts, retries } from "./Outcome.js"

export interface ArchiveCompressed {
  files: number
  plainBytes: number
  compressedBytes: number
}

/**
 * What a run has done so far. The run's summary, its metrics and its progress
 * line are all read from here; the pipeline's stages are the only writers.
 *
 * Mutable, updated synchronously (atomic on the single JS thread): counting
 * is per record, and must cost no more than a field increment.
 */
export class RunCounts {
  /** Records taken from Kafka (refetched duplicates excluded). */
  consumed = 0
  /** Key, value and header bytes of the records consumed. */
  bytesConsumed = 0
  processed = 0
  deadLettered = 0
  retries = 0
  /** Failed processing attempts, those retried included. */
  processingFailures = 0
  /** Records left unhandled while they waited for the circuit breaker or the rate limit (a stop, a rebalance). */
  abandoned = 0
  /** Changes of the circuit breaker's state, by the state it changed to. */
  readonly breakerTransitions = { Closed: 0, Open: 0, HalfOpen: 0 }
  /** Time the circuit breaker spent open or half-open, in ms (up to its last change). */
  breakerOpenMs = 0
  /** Time processor calls waited for the rate limit, in ms (summed over the calls). */
  throttledMs = 0
  /** Offset commits made (in devMode: the commits skipped). */
  commits = 0
  readonly deadLetteredByType = new Map<string, number>()
  readonly commitFailures = { rebalance: 0, error: 0 }
  readonly archivedRows: Record<ArchiveKind, number> = { backup: 0, dlq: 0 }
  /** Closed hours' files compressed, with their bytes before (whole rows) and after. */
  readonly compressed: Record<ArchiveKind, ArchiveCompressed> = {
    backup: { files: 0, plainBytes: 0, compressedBytes: 0 },
    dlq: { files: 0, plainBytes: 0, compressedBytes: 0 }
  }
  /** Every archive file opened, oldest first. */
  readonly files: Record<ArchiveKind, Array<string>> = { backup: [], dlq: [] }
  /** The last offset committed per partition (or, in devMode, that would have been). */
  readonly committed = new Map<string, TopicPartitionOffset>()

  /** Records that reached an outcome: processed, or sent to the DLQ. */
  get handled(): number {
    return this.processed + this.deadLettered
  }

  /** Hourly rotations of an archive: every file after the first. */
  rotations(kind: ArchiveKind): number {
    return Math.max(0, this.files[kind].length - 1)
  }

  recordConsumed(records: number, bytes: number): void {
    this.consumed += records
    this.bytesConsumed += bytes
  }

  recordOutcome(outcome: Outcome): void {
    this.retries += retries(outcome)
    this.processingFailures += failedAttempts(outcome)
    if (outcome._tag === "Processed") {
      this.processed++
    } else if (outcome._tag === "Abandoned") {
      this.abandoned++
    } else {
      this.deadLettered++
      const type = outcome.failure.errorType
      this.deadLetteredByType.set(type, (this.deadLetteredByType.get(type) ?? 0) + 1)
    }
  }

  recordCommit(offsets: ReadonlyArray<TopicPartitionOffset>): void {
    this.commits++
    for (const offset of offsets) this.committed.set(partitionKey(offset.topic, offset.partition), offset)
  }

  recordCommitFailure(rebalance: boolean): void {
    this.commitFailures[rebalance ? "rebalance" : "error"]++
  }

  recordArchived(kind: ArchiveKind, rows: number): void {
    this.archivedRows[kind] += rows
  }

  recordCompressed(kind: ArchiveKind, plainBytes: number, compressedBytes: number): void {
    const compressed = this.compressed[kind]
    compressed.files++
    compressed.plainBytes += plainBytes
    compressed.compressedBytes += compressedBytes
  }

  recordFileOpened(kind: ArchiveKind, path: string): void {
    this.files[kind].push(path)
  }
}

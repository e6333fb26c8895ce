/**
 * The pipeline's metrics (README, "Metrics"): their definitions, the counters
 * and gauges brought up to date from the run state, and the poll→commit
 * latency histogram.
 */
import type { Context } from "effect"
import { Metric } from "effect"
import type { ArchiveKind } from "../../domain/ArchiveFile.js"
import type { BreakerStateName } from "../../domain/CircuitBreaker.js"
import { stateLabel } from "../../domain/CircuitBreaker.js"
import type { KafkaRecord, TopicPartitionOffset } from "../../domain/KafkaRecord.js"
import { partitionKey } from "../../domain/KafkaRecord.js"
import type { RunSnapshot } from "../RunState.js"

const counter = (name: string, description: string, attributes?: Record<string, string>) =>
  Metric.counter(name, { description, incremental: true, ...(attributes === undefined ? {} : { attributes }) })

const gauge = (name: string, description: string, attributes?: Record<string, string>) =>
  Metric.gauge(name, { description, ...(attributes === undefined ? {} : { attributes }) })

/** One metric per label value, created once. */
const labelled = <M>(make: (value: string) => M) => {
  const cache = new Map<string, M>()
  return (value: string): M => {
    let metric = cache.get(value)
    if (metric === undefined) cache.set(value, metric = make(value))
    return metric
  }
}

const secondsBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

const partitionGauge = (name: string, description: string) =>
  labelled((key: string) => {
    const separator = key.lastIndexOf(":")
    return gauge(name, description, { topic: key.slice(0, separator), partition: key.slice(separator + 1) })
  })

/** The pipeline's metrics, by name; README's "Metrics" section describes each. */
export const PipelineMetrics = {
  consumed: counter("kafka_pipeline_records_consumed_total", "Records taken from Kafka (refetched duplicates excluded)."),
  bytesConsumed: counter("kafka_pipeline_bytes_consumed_total", "Bytes (key + value + headers) of the records consumed."),
  handled: counter("kafka_pipeline_records_handled_total", "Records that reached an outcome: processed, or sent to the DLQ."),
  processed: counter("kafka_pipeline_records_processed_total", "Records the processor handled successfully."),
  deadLettered: labelled((errorType: string) =>
    counter("kafka_pipeline_records_dead_lettered_total", "Records sent to the DLQ, by error type.", {
      error_type: errorType
    })
  ),
  processingFailures: counter(
    "kafka_pipeline_processing_failures_total",
    "Failed processing attempts, those retried included."
  ),
  retries: counter("kafka_pipeline_retries_total", "Processing retries."),
  commits: counter("kafka_pipeline_commits_total", "Offset commits made (in devMode: the commits skipped)."),
  commitFailures: labelled((reason: string) =>
    counter("kafka_pipeline_commit_failures_total", "Offset commits that failed (reason: rebalance or error); retried.", {
      reason
    })
  ),
  inFlight: gauge("kafka_pipeline_records_in_flight", "Records taken by the workers and not yet handled."),
  queueDepth: gauge(
    "kafka_pipeline_queue_depth",
    "Records waiting between polling and processing: ready for a worker, or behind an earlier record of their key."
  ),
  waitingBehindKey: gauge(
    "kafka_pipeline_records_waiting_behind_key",
    "Queued records waiting for an earlier record of their key (ordering=key) or partition (ordering=partition) to finish."
  ),
  keysInFlight: gauge(
    "kafka_pipeline_keys_in_flight",
    "Keys (ordering=key) or partitions (ordering=partition) with a record being processed."
  ),
  committedOffset: partitionGauge(
    "kafka_pipeline_committed_offset",
    "The group's committed offset (the next offset to read) of each assigned partition."
  ),
  highWatermark: partitionGauge("kafka_pipeline_high_watermark", "The end offset of each assigned partition."),
  lag: partitionGauge("kafka_pipeline_consumer_lag", "High watermark − committed offset of each assigned partition."),
  processingSeconds: Metric.histogram("kafka_pipeline_processing_duration_seconds", {
    description: "Time from a worker taking a record to its outcome (retries included).",
    boundaries: secondsBoundaries
  }),
  pollToCommitSeconds: Metric.histogram("kafka_pipeline_poll_to_commit_seconds", {
    description: "Time from taking a record from Kafka to committing its offset.",
    boundaries: secondsBoundaries
  }),
  archiveRows: labelled((archive: string) =>
    counter("kafka_pipeline_archive_rows_written_total", "CSV rows written and synced, by archive (backup, dlq).", {
      archive
    })
  ),
  archiveRotations: labelled((archive: string) =>
    counter("kafka_pipeline_archive_files_rotated_total", "Hourly rotations of an archive to a new file.", { archive })
  ),
  archiveFilesCompressed: labelled((archive: string) =>
    counter("kafka_pipeline_archive_files_compressed_total", "Closed hours' files compressed (archiveCompression), by archive.", {
      archive
    })
  ),
  archivePlainBytesCompressed: labelled((archive: string) =>
    counter(
      "kafka_pipeline_archive_compressed_plain_bytes_total",
      "Bytes of the plain files compressed (their whole rows), by archive.",
      { archive }
    )
  ),
  archiveCompressedBytes: labelled((archive: string) =>
    counter("kafka_pipeline_archive_compressed_bytes_total", "Bytes of the .csv.gz files they were compressed into, by archive.", {
      archive
    })
  ),
  breakerState: labelled((state: string) =>
    gauge(
      "kafka_pipeline_circuit_breaker_state",
      "1 for the circuit breaker's current state (closed, open, half-open), 0 for the others.",
      { state }
    )
  ),
  breakerTransitions: labelled((to: string) =>
    counter("kafka_pipeline_circuit_breaker_transitions_total", "Changes of the circuit breaker's state, by the state changed to.", {
      to
    })
  ),
  breakerOpenSeconds: counter(
    "kafka_pipeline_circuit_breaker_open_seconds_total",
    "Time the circuit breaker has spent open or half-open (no record starting but a probe)."
  ),
  throttledSeconds: counter(
    "kafka_pipeline_rate_limit_throttled_seconds_total",
    "Time processor calls have waited for the rate limit, summed over the calls."
  ),
  abandoned: counter(
    "kafka_pipeline_records_abandoned_total",
    "Records left unhandled (uncommitted, for the next reader) by a stop or a rebalance while they waited for the circuit breaker or the rate limit."
  )
} as const

/**
 * Counters brought up to the run state's counts. The counts are the truth
 * (they are what the summary says); each counter is incremented by what its
 * count has grown since it was last brought up to date, so the counters keep
 * growing across runs when the registry outlives a run.
 */
class CounterSync {
  readonly #reported = new Map<Metric.Metric<number, unknown>, number>()

  constructor(readonly context: Context.Context<never>) {}

  set(metric: Metric.Metric<number, unknown>, count: number): void {
    const before = this.#reported.get(metric) ?? 0
    if (count > before) metric.updateUnsafe(count - before, this.context)
    this.#reported.set(metric, count)
  }

  /** A new run counts from zero. */
  reset(): void {
    this.#reported.clear()
  }
}

const archiveKinds: ReadonlyArray<ArchiveKind> = ["backup", "dlq"]
const breakerStates: ReadonlyArray<BreakerStateName> = ["Closed", "Open", "HalfOpen"]

type WorkGauges = Pick<RunSnapshot, "inFlight" | "queued" | "waitingBehindKey" | "keysInFlight">

const idle: WorkGauges = { inFlight: 0, queued: 0, waitingBehindKey: 0, keysInFlight: 0 }

/** The counters and gauges read from a run's state, in one metric registry. */
export class RunMetrics {
  readonly #counters: CounterSync

  constructor(readonly context: Context.Context<never>) {
    this.#counters = new CounterSync(context)
  }

  /** A new run counts from zero (the counters keep growing). */
  reset(): void {
    this.#counters.reset()
  }

  /** Brings the counters up to the run's counts and sets the gauges. */
  sync(run: RunSnapshot): void {
    const m = PipelineMetrics
    const counters = this.#counters
    counters.set(m.consumed, run.consumed)
    counters.set(m.bytesConsumed, run.bytesConsumed)
    counters.set(m.handled, run.handled)
    counters.set(m.processed, run.processed)
    for (const [errorType, count] of run.deadLetteredByType) counters.set(m.deadLettered(errorType), count)
    counters.set(m.processingFailures, run.processingFailures)
    counters.set(m.retries, run.retries)
    counters.set(m.commits, run.commits)
    counters.set(m.commitFailures("rebalance"), run.commitFailures.rebalance)
    counters.set(m.commitFailures("error"), run.commitFailures.error)
    for (const kind of archiveKinds) {
      counters.set(m.archiveRows(kind), run.archivedRows[kind])
      counters.set(m.archiveRotations(kind), run.rotations[kind])
      counters.set(m.archiveFilesCompressed(kind), run.compressed[kind].files)
      counters.set(m.archivePlainBytesCompressed(kind), run.compressed[kind].plainBytes)
      counters.set(m.archiveCompressedBytes(kind), run.compressed[kind].compressedBytes)
    }
    for (const name of breakerStates) {
      counters.set(m.breakerTransitions(stateLabel(name)), run.breakerTransitions[name])
      m.breakerState(stateLabel(name)).updateUnsafe(run.breaker._tag === name ? 1 : 0, this.context)
    }
    counters.set(m.breakerOpenSeconds, run.breakerOpenMs / 1000)
    counters.set(m.throttledSeconds, run.throttledMs / 1000)
    counters.set(m.abandoned, run.abandoned)
    this.#setWork(run)
  }

  /** No run: nothing queued or in flight. */
  idle(): void {
    this.#setWork(idle)
  }

  #setWork(work: WorkGauges): void {
    const m = PipelineMetrics
    m.inFlight.updateUnsafe(work.inFlight, this.context)
    m.queueDepth.updateUnsafe(work.queued, this.context)
    m.waitingBehindKey.updateUnsafe(work.waitingBehindKey, this.context)
    m.keysInFlight.updateUnsafe(work.keysInFlight, this.context)
  }
}

/** Poll times of the records not yet committed, per partition, in offset order. */
class PollTimes {
  offsets: Array<number> = []
  times: Array<number> = []
  head = 0

  push(offset: number, at: number) {
    // A partition fetched again after a rebalance starts over from its committed offset.
    if (this.offsets.length > this.head && this.offsets[this.offsets.length - 1]! >= offset) this.clear()
    this.offsets.push(offset)
    this.times.push(at)
  }

  /** Calls `f` with the poll time of each record below `committed`, and forgets them. */
  commit(committed: number, f: (at: number) => void) {
    while (this.head < this.offsets.length && this.offsets[this.head]! < committed) f(this.times[this.head++]!)
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets = this.offsets.slice(this.head)
      this.times = this.times.slice(this.head)
      this.head = 0
    }
  }

  clear() {
    this.offsets = []
    this.times = []
    this.head = 0
  }
}

/** The poll→commit latency histogram: each record's poll time, observed when its offset is committed. */
export class PollToCommit {
  readonly #partitions = new Map<string, PollTimes>()

  constructor(readonly context: Context.Context<never>) {}

  /** Records taken from Kafka (one partition's, in offset order) at `at`. */
  polled(records: ReadonlyArray<KafkaRecord>, at: number): void {
    if (records.length === 0) return
    const { partition, topic } = records[0]!
    const key = partitionKey(topic, partition)
    let times = this.#partitions.get(key)
    if (times === undefined) this.#partitions.set(key, times = new PollTimes())
    for (const record of records) times.push(record.offset, at)
  }

  committed(offsets: ReadonlyArray<TopicPartitionOffset>, at: number): void {
    const observe = (polledAt: number) => PipelineMetrics.pollToCommitSeconds.updateUnsafe((at - polledAt) / 1000, this.context)
    for (const offset of offsets) this.#partitions.get(partitionKey(offset.topic, offset.partition))?.commit(offset.offset, observe)
  }

  clear(): void {
    this.#partitions.clear()
  }
}

/**
 * Operating the pipeline: Prometheus metrics, `/health` and `/ready`, the
 * consumer lag, a progress line on a terminal, and spans exported over OTLP.
 *
 * `Observability` is a `Context.Reference`: without a layer the pipeline gets
 * the no-op default and pays for nothing. `Observability.layer(config)` (what
 * the CLI provides around `Pipeline.run`, so its lifetime is the run's):
 *
 * - records the metrics of {@link PipelineMetrics} in the `Metric.MetricRegistry`
 *   of the context it is built in (the processor's own metrics land there too);
 * - with `metricsPort` set, serves `/metrics` (Prometheus text format),
 *   `/health` and `/ready` on that port (0: any free port; the URL is logged);
 * - with `metricsPort` set or a progress output given, reads the group's lag
 *   of each assigned partition every `lagIntervalMs` (the logic of
 *   `kafka-pipeline offsets`, {@link groupLag});
 * - with a progress output (the CLI and the demo pass {@link terminalProgress}
 *   on a TTY), rewrites one status line every second and prints the last one
 *   when the run ends — all on the `Clock`, so `TestClock` drives it;
 * - with `otlpEndpoint` set (or `spans: true` with a tracer of your own),
 *   wraps each record in a root span `Pipeline.record` (topic, partition,
 *   offset attributes); commits (`Pipeline.commit`) and rotations
 *   (`ArchiveSink.rotate`) always have spans. Off, the record path has no span
 *   at all: a span per record is not free.
 */
import { NodeHttpServer } from "@effect/platform-node"
import type { Scope } from "effect"
import { Clock, Context, Effect, Layer, Metric, Schedule, SubscriptionRef } from "effect"
import { FetchHttpClient, HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { OtlpSerialization, OtlpTracer, PrometheusMetrics } from "effect/observability"
import { createServer } from "node:http"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { ConfigError } from "../domain/Errors.js"
import type { KafkaRecord, TopicPartitionOffset } from "../domain/KafkaRecord.js"
import { partitionKey } from "../domain/KafkaRecord.js"
import type { PipelineConfig } from "../domain/PipelineConfig.js"
import type { KafkaClient } from "./kafka/KafkaClient.js"
import { groupLag } from "./kafka/KafkaClient.js"
import type { RunSnapshot, RunState } from "./RunState.js"

// -----------------------------------------------------------------------------
// Metrics
// -----------------------------------------------------------------------------

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
  )
} as const

// -----------------------------------------------------------------------------
// The service
// -----------------------------------------------------------------------------

/** What a running pipeline shows of itself to `/health`, `/ready`, the metrics, the lag reader and the progress line. */
export interface RunProbe {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  readonly runState: RunState["Service"]
  readonly isInGroup: Effect.Effect<boolean>
}

export interface ObservabilityService {
  /**
   * Shows a running pipeline to the endpoints and starts reading its lag and
   * writing progress; undone (with a last progress line) when the scope closes.
   */
  readonly attach: (probe: RunProbe) => Effect.Effect<void, never, Scope.Scope | KafkaClient>
  /** Records taken from Kafka, of one partition in offset order (the start of their poll→commit time). */
  readonly consumed: (records: ReadonlyArray<KafkaRecord>) => void
  /** A worker starts a record: returns the start time for {@link ObservabilityService.finished}. */
  readonly started: () => number
  /** A worker has the record's outcome. */
  readonly finished: (startedAt: number) => void
  /** Offsets committed (or, in devMode, skipped). */
  readonly committed: (offsets: ReadonlyArray<TopicPartitionOffset>) => void
  /** Whether each record gets a span: the pipeline then runs every record as an Effect, under {@link ObservabilityService.traceRecord}. */
  readonly tracesRecords: boolean
  /** Wraps one record's work in its span when record spans are on; else returns it as it is. */
  readonly traceRecord: (record: KafkaRecord) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

const noop: ObservabilityService = {
  attach: () => Effect.void,
  consumed: () => {},
  started: () => 0,
  finished: () => {},
  committed: () => {},
  tracesRecords: false,
  traceRecord: () => (effect) => effect
}

/** Where the progress line goes: `update` rewrites the live line, `done` writes the last one. */
export interface ProgressOutput {
  readonly update: (line: string) => Effect.Effect<void>
  readonly done: (line: string) => Effect.Effect<void>
}

export interface ObservabilityOptions {
  /** The live progress line; none when undefined (the CLI passes {@link terminalProgress}, undefined off a TTY). */
  readonly progress?: ProgressOutput | undefined
  /** A span per record even without `otlpEndpoint` (for a tracer provided by the application or a test). */
  readonly spans?: boolean | undefined
  /** How often the progress line is rewritten, in ms (default 1000). */
  readonly progressIntervalMs?: number | undefined
}

/** A live line on a terminal stream (`\r` + clear line), or undefined when the stream is not a TTY. */
export const terminalProgress = (
  stream: { readonly isTTY?: boolean | undefined; write(text: string): unknown }
): ProgressOutput | undefined =>
  stream.isTTY === true
    ? {
      update: (line) => Effect.sync(() => void stream.write(`\r\x1b[2K${line}`)),
      done: (line) => Effect.sync(() => void stream.write(`\r\x1b[2K${line}\n`))
    }
    : undefined

const formatCount = (n: number) => n.toLocaleString("en-US")

export class Observability extends Context.Reference<ObservabilityService>("effect-kafka-pipeline/Observability", {
  defaultValue: () => noop
}) {
  /**
   * Metrics, endpoints, lag, progress and tracing per `config` (see the module
   * doc). Fails with a `ConfigError` naming `metricsPort` when the port cannot
   * be listened on.
   */
  static readonly layer = (
    config: PipelineConfig,
    options: ObservabilityOptions = {}
  ): Layer.Layer<never, ConfigError> => {
    const observability = Layer.effect(Observability, make(config, options))
    return config.otlpEndpoint === undefined
      ? observability
      : Layer.merge(observability, otlpTracer(config.otlpEndpoint, config.clientId))
  }

  /** The no-op service: what `Pipeline.run` uses without a layer. */
  static readonly noop: Layer.Layer<never> = Layer.succeed(Observability, noop)
}

/** Where spans go: `{endpoint}/v1/traces`, as OTLP/HTTP clients read `OTEL_EXPORTER_OTLP_ENDPOINT` (a full traces URL is kept). */
export const otlpTracesUrl = (endpoint: string): string =>
  endpoint.endsWith("/v1/traces") ? endpoint : `${endpoint.replace(/\/+$/, "")}/v1/traces`

/** OTLP/HTTP (JSON) trace export. */
const otlpTracer = (endpoint: string, serviceName: string) =>
  OtlpTracer.layer({ url: otlpTracesUrl(endpoint), resource: { serviceName } }).pipe(
    Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer])
  )

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

const make = Effect.fnUntraced(function*(config: PipelineConfig, options: ObservabilityOptions) {
  const context = yield* Effect.context<never>()
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const m = PipelineMetrics
  const spans = options.spans === true || config.otlpEndpoint !== undefined
  const counters = new CounterSync(context)

  let probe: RunProbe | undefined = undefined
  /** The total lag of the assigned partitions, as last read (undefined: unknown). */
  let lag: number | undefined = undefined
  const pollTimes = new Map<string, PollTimes>()
  /** Partitions whose lag gauges are set, to remove them when the partition goes. */
  let lagPartitions = new Set<string>()

  /** The metrics read from the run state: counters brought up to date, gauges set. */
  const syncMetrics = (run: RunSnapshot) => {
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
    }
    setWorkGauges(run)
  }
  const setWorkGauges = (work: Pick<RunSnapshot, "inFlight" | "queued" | "waitingBehindKey" | "keysInFlight">) => {
    m.inFlight.updateUnsafe(work.inFlight, context)
    m.queueDepth.updateUnsafe(work.queued, context)
    m.waitingBehindKey.updateUnsafe(work.waitingBehindKey, context)
    m.keysInFlight.updateUnsafe(work.keysInFlight, context)
  }

  const service: ObservabilityService = {
    consumed: (records) => {
      if (records.length === 0) return
      const at = now()
      const { partition, topic } = records[0]!
      const key = partitionKey(topic, partition)
      let times = pollTimes.get(key)
      if (times === undefined) pollTimes.set(key, times = new PollTimes())
      for (const record of records) times.push(record.offset, at)
    },
    started: now,
    finished: (startedAt) => m.processingSeconds.updateUnsafe((now() - startedAt) / 1000, context),
    committed: (offsets) => {
      const at = now()
      const observe = (polledAt: number) => m.pollToCommitSeconds.updateUnsafe((at - polledAt) / 1000, context)
      for (const offset of offsets) pollTimes.get(partitionKey(offset.topic, offset.partition))?.commit(offset.offset, observe)
    },
    tracesRecords: spans,
    traceRecord: (record) => (effect) =>
      spans
        ? Effect.withSpan(effect, "Pipeline.record", {
          root: true,
          kind: "consumer",
          attributes: {
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.kafka.partition": record.partition,
            "messaging.kafka.offset": record.offset
          }
        })
        : effect,
    attach: (attached) =>
      Effect.gen(function*() {
        probe = attached
        counters.reset()
        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            // The run's last counts reach the counters; the gauges read as idle until the next run.
            syncMetrics(yield* attached.runState.snapshot)
            setWorkGauges({ inFlight: 0, queued: 0, waitingBehindKey: 0, keysInFlight: 0 })
            probe = undefined
            lag = undefined
            pollTimes.clear()
          })
        )
        if (config.metricsPort !== undefined || options.progress !== undefined) {
          yield* refreshLag(attached).pipe(
            Effect.repeat(Schedule.spaced(config.lagIntervalMs)),
            Effect.forkScoped
          )
        }
        if (options.progress !== undefined) yield* progress(options.progress, attached.runState)
      })
  }

  const refreshLag = (running: RunProbe) =>
    Effect.gen(function*() {
      const assignment = yield* SubscriptionRef.get(running.runState.assignment)
      const assigned = new Set(assignment.map((tp) => partitionKey(tp.topic, tp.partition)))
      const seen = new Set<string>()
      let total = 0
      for (const topic of running.topics) {
        for (const row of yield* groupLag(running.groupId, topic)) {
          const key = partitionKey(row.topic, row.partition)
          if (!assigned.has(key)) continue
          seen.add(key)
          total += row.lag
          m.highWatermark(key).updateUnsafe(row.end, context)
          m.lag(key).updateUnsafe(row.lag, context)
          if (row.committed !== undefined) m.committedOffset(key).updateUnsafe(row.committed, context)
        }
      }
      for (const key of lagPartitions) {
        if (seen.has(key)) continue
        for (const metric of [m.highWatermark(key), m.lag(key), m.committedOffset(key)]) Metric.removeUnsafe(metric, context)
      }
      lagPartitions = seen
      // Unknown until this member has partitions (not 0: nothing says it is caught up).
      lag = seen.size === 0 ? undefined : total
    }).pipe(
      Effect.catch((error) => Effect.logWarning(`could not read the consumer lag: ${error.message}`))
    )

  const progressLine = (run: RunSnapshot, rate: number) =>
    [
      `consumed ${formatCount(run.consumed)} (${formatCount(Math.round(rate))}/s)`,
      `handled ${formatCount(run.handled)}`,
      `DLQ ${formatCount(run.deadLettered)}`,
      `lag ${lag === undefined ? "?" : formatCount(lag)}`
    ].join("  ")

  const progress = (output: ProgressOutput, runState: RunState["Service"]) =>
    Effect.gen(function*() {
      const intervalMs = options.progressIntervalMs ?? 1000
      const startedAt = now()
      let last = { at: startedAt, consumed: 0 }
      yield* Effect.gen(function*() {
        const run = yield* runState.snapshot
        const at = now()
        const rate = ((run.consumed - last.consumed) * 1000) / (at - last.at)
        last = { at, consumed: run.consumed }
        yield* output.update(progressLine(run, rate))
      }).pipe(Effect.delay(intervalMs), Effect.forever, Effect.forkScoped)
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(runState.snapshot, (run) =>
          // the average over the whole run (at least 1 ms)
          output.done(progressLine(run, (run.consumed * 1000) / Math.max(now() - startedAt, 1))))
      )
    })

  // ---- HTTP ------------------------------------------------------------------

  const json = (status: number, body: unknown) => HttpServerResponse.jsonUnsafe(body, { status })

  const metricsRoute = HttpRouter.add(
    "GET",
    "/metrics",
    Effect.gen(function*() {
      if (probe !== undefined) syncMetrics(yield* probe.runState.snapshot)
      return HttpServerResponse.text(PrometheusMetrics.formatUnsafe(context), {
        contentType: "text/plain; version=0.0.4; charset=utf-8"
      })
    })
  )

  const fiberStates = (running: RunProbe) =>
    Object.fromEntries(
      Array.from(running.runState.fibers, ([name, fiber]) => [name, fiber.pollUnsafe() === undefined ? "running" : "ended"])
    )

  const healthRoute = HttpRouter.add(
    "GET",
    "/health",
    Effect.gen(function*() {
      const running = probe
      if (running === undefined) return json(200, { status: "starting" })
      const phase = yield* SubscriptionRef.get(running.runState.phase)
      if (phase._tag === "Starting") return json(200, { status: "starting" })
      const fibers = fiberStates(running)
      if (phase._tag !== "Running") return json(200, { status: "stopping", fibers })
      const ended = Object.values(fibers).includes("ended")
      return json(ended ? 503 : 200, { status: ended ? "failed" : "running", fibers })
    })
  )

  const readyRoute = HttpRouter.add(
    "GET",
    "/ready",
    Effect.gen(function*() {
      const running = probe
      if (running === undefined) return json(503, { status: "not ready", reason: "starting" })
      const phase = yield* SubscriptionRef.get(running.runState.phase)
      if (phase._tag === "Starting") return json(503, { status: "not ready", reason: "starting" })
      if (phase._tag !== "Running") return json(503, { status: "not ready", reason: "stopping" })
      const assignment = (yield* SubscriptionRef.get(running.runState.assignment)).map((tp) =>
        partitionKey(tp.topic, tp.partition)
      )
      if (!(yield* running.isInGroup)) {
        return json(503, { status: "not ready", reason: "not in the consumer group (or the broker is unreachable)" })
      }
      if (assignment.length === 0) return json(503, { status: "not ready", reason: "no partitions assigned" })
      return json(200, { status: "ready", assignment })
    })
  )

  if (config.metricsPort !== undefined) {
    const port = config.metricsPort
    const server = yield* Layer.build(
      HttpRouter.serve(Layer.mergeAll(metricsRoute, healthRoute, readyRoute), {
        disableLogger: true,
        disableListenLog: true
      }).pipe(Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { port })))
    ).pipe(
      Effect.mapError((error) =>
        new ConfigError({
          issues: [`metricsPort: cannot listen on port ${port}: ${String(error.cause)}`]
        })
      )
    )
    // A TCP listener on every interface (a port was given): the logged URL names this host's loopback.
    const address = Context.get(server, HttpServer.HttpServer).address as { readonly port: number }
    const url = `http://localhost:${address.port}`
    yield* Effect.logInfo(`serving ${url}/metrics, /health and /ready`).pipe(
      Effect.annotateLogs({ metricsUrl: `${url}/metrics` })
    )
  }

  return service
})

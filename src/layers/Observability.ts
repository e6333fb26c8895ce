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
import type { Scope } from "effect"
import { Clock, Context, Effect, Layer, Metric, Ref, Schedule, SubscriptionRef } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"
import type { ConfigError } from "../domain/Errors.js"
import type { KafkaRecord, TopicPartitionOffset } from "../domain/KafkaRecord.js"
import { partitionKey } from "../domain/KafkaRecord.js"
import type { PipelineConfig } from "../domain/PipelineConfig.js"
import type { KafkaClient } from "./kafka/KafkaClient.js"
import { groupLag } from "./kafka/KafkaClient.js"
import type { RunProbe } from "./observability/Endpoints.js"
import * as Endpoints from "./observability/Endpoints.js"
import { PipelineMetrics, PollToCommit, RunMetrics } from "./observability/PipelineMetrics.js"
import type { ProgressOutput } from "./observability/Progress.js"
import { writeProgress } from "./observability/Progress.js"

export { PipelineMetrics }
export type { ProgressOutput, RunProbe }
export { terminalProgress } from "./observability/Progress.js"

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

export interface ObservabilityOptions {
  /** The live progress line; none when undefined (the CLI passes {@link terminalProgress}, undefined off a TTY). */
  readonly progress?: ProgressOutput | undefined
  /** A span per record even without `otlpEndpoint` (for a tracer provided by the application or a test). */
  readonly spans?: boolean | undefined
  /** How often the progress line is rewritten, in ms (default 1000). */
  readonly progressIntervalMs?: number | undefined
}

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

const recordSpan = (record: KafkaRecord) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.withSpan(effect, "Pipeline.record", {
    root: true,
    kind: "consumer",
    attributes: {
      "messaging.system": "kafka",
      "messaging.destination.name": record.topic,
      "messaging.kafka.partition": record.partition,
      "messaging.kafka.offset": record.offset
    }
  })

const make = Effect.fnUntraced(function*(config: PipelineConfig, options: ObservabilityOptions) {
  const context = yield* Effect.context<never>()
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const spans = options.spans === true || config.otlpEndpoint !== undefined
  const metrics = new RunMetrics(context)
  const pollToCommit = new PollToCommit(context)
  /** The run shown to the endpoints, if one is attached. */
  const attached = yield* Ref.make<RunProbe | undefined>(undefined)
  /** Partitions whose lag gauges are set, to remove them when the partition goes. */
  let lagPartitions = new Set<string>()

  const readLag = (run: RunProbe) =>
    Effect.gen(function*() {
      const assigned = new Set((yield* SubscriptionRef.get(run.runState.assignment)).map((tp) => partitionKey(tp.topic, tp.partition)))
      const seen = new Set<string>()
      let total = 0
      for (const topic of run.topics) {
        for (const row of yield* groupLag(run.groupId, topic)) {
          const key = partitionKey(row.topic, row.partition)
          if (!assigned.has(key)) continue
          seen.add(key)
          total += row.lag
          PipelineMetrics.highWatermark(key).updateUnsafe(row.end, context)
          PipelineMetrics.lag(key).updateUnsafe(row.lag, context)
          if (row.committed !== undefined) PipelineMetrics.committedOffset(key).updateUnsafe(row.committed, context)
        }
      }
      for (const key of lagPartitions) {
        if (seen.has(key)) continue
        for (const metric of [PipelineMetrics.highWatermark(key), PipelineMetrics.lag(key), PipelineMetrics.committedOffset(key)]) {
          Metric.removeUnsafe(metric, context)
        }
      }
      lagPartitions = seen
      // Unknown until this member has partitions (not 0: nothing says it is caught up).
      yield* SubscriptionRef.set(run.runState.lag, seen.size === 0 ? undefined : total)
    }).pipe(
      Effect.catch((error) => Effect.logWarning(`could not read the consumer lag: ${error.message}`))
    )

  const attach = (run: RunProbe) =>
    Effect.gen(function*() {
      yield* Ref.set(attached, run)
      metrics.reset()
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          // The run's last counts reach the counters; the gauges read as idle until the next run.
          metrics.sync(yield* run.runState.snapshot)
          metrics.idle()
          yield* Ref.set(attached, undefined)
          pollToCommit.clear()
        })
      )
      if (config.metricsPort !== undefined || options.progress !== undefined) {
        yield* readLag(run).pipe(Effect.repeat(Schedule.spaced(config.lagIntervalMs)), Effect.forkScoped)
      }
      if (options.progress !== undefined) {
        yield* writeProgress(options.progress, run.runState, options.progressIntervalMs ?? 1000)
      }
    })

  if (config.metricsPort !== undefined) yield* Endpoints.serve(config.metricsPort, attached, metrics)

  return {
    attach,
    consumed: (records) => pollToCommit.polled(records, now()),
    started: now,
    finished: (startedAt) => PipelineMetrics.processingSeconds.updateUnsafe((now() - startedAt) / 1000, context),
    committed: (offsets) => pollToCommit.committed(offsets, now()),
    tracesRecords: spans,
    traceRecord: (record) => spans ? recordSpan(record) : (effect) => effect
  } satisfies ObservabilityService
})

/**
 * Operating the pipeline over the in-memory Kafka with virtual time: the
 * Prometheus text served on /metrics checked against what the run did (CSV
 * rows, commits), /health and /ready status codes as the member leaves and
 * rejoins, lag gauges, the progress line, and spans from a test tracer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Metric, Path, Tracer } from "effect"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type { PipelineConfigInput } from "../../src/domain/PipelineConfig.js"
import type { Processor } from "../../src/domain/Processor.js"
import { ConfigError } from "../../src/domain/Errors.js"
import { DownstreamUnavailable } from "../../src/domain/Failure.js"
import { recordSize } from "../../src/domain/KafkaRecord.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import type { ObservabilityOptions, ProgressOutput, RunProbe } from "../../src/layers/Observability.js"
import { Observability, otlpTracesUrl, terminalProgress } from "../../src/layers/Observability.js"
import { PipelineSettings } from "../../src/layers/config/PipelineSettings.js"
import { RunState } from "../../src/layers/RunState.js"
import * as Pipeline from "../../src/streams/Pipeline.js"
import { captureLogs } from "../support/logs.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import {
  advanceUntil,
  archiveRows,
  committedAt,
  GROUP,
  produce,
  settings as baseSettings,
  test,
  TOPIC
} from "../support/memoryPipeline.js"
import { parsePrometheus } from "../support/prometheus.js"
import { recordingTracer } from "../support/tracing.js"

/** Endpoints on a free port, two retries, the lag read every 5 s. */
const settings = (overrides: Partial<PipelineConfigInput> = {}) =>
  baseSettings({ maxRetries: 2, lagIntervalMs: 5_000, metricsPort: 0, ...overrides })

/**
 * Builds `Observability.layer` in the test's scope (with a fresh metric
 * registry), then runs the pipeline with it in the background. Returns the
 * pipeline's fiber and the port the endpoints listen on (logged by the layer).
 */
const start = (
  logs: ReturnType<typeof captureLogs>,
  processor: Processor,
  overrides: Partial<PipelineConfigInput> = {},
  options: ObservabilityOptions = {}
) =>
  Effect.gen(function*() {
    const config = yield* settings(overrides)
    const observability = yield* Layer.build(Observability.layer(config, options)).pipe(
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
    const served = logs.lines.findLast((line) => line.includes("/metrics, /health and /ready"))
    const port = served === undefined ? undefined : Number(/localhost:(\d+)\//.exec(served)![1])
    const fiber = yield* Pipeline.run(processor).pipe(
      Effect.provide(observability),
      Effect.provide(PipelineSettings.layer(config)),
      Effect.forkChild
    )
    return { fiber, port: port! }
  })

const get = (port: number, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, body: await response.text() }
  })

const scrape = (port: number) =>
  Effect.gen(function*() {
    const { body, status } = yield* get(port, "/metrics")
    assert.strictEqual(status, 200)
    return parsePrometheus(body)
  })

const ok: Processor = () => Effect.void

/** Lets the event loop run (real I/O: zlib's callbacks) until `done` holds; no timer, no virtual time. */
const untilTrue = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let turn = 0; turn < 100_000 && !done(); turn++) {
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    }
    assert.isTrue(done(), "not reached")
  })

describe("Observability — /metrics", () => {
  test("the counters, histograms and gauges match what the run did (CSV rows, DLQ rows, commits)", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const invalid = new Uint8Array([0xff, 0xfe])
      const values = [
        ...Array.from({ length: 15 }, (_, i) => `ok${i}`),
        "flaky",
        "flaky",
        "bad",
        null,
        invalid
      ]
      yield* produce(0, values)
      const tried = new Set<number>()
      const processor: Processor = (input) =>
        Effect.suspend(() => {
          if (input.text === "bad") return Effect.fail(new Error("bad record"))
          if (input.text === "flaky" && !tried.has(input.offset)) {
            tried.add(input.offset)
            return Effect.fail(new Error("try again"))
          }
          return Effect.void
        })
      const { fiber, port } = yield* start(logs, processor)
      yield* kafka.failNextCommits(1)
      yield* kafka.failNextCommits(1, { rebalance: true })
      yield* advanceUntil(committedAt(0, values.length))
      yield* TestClock.adjust(5_000) // one more lag reading, after the commit

      const metrics = yield* scrape(port)
      const backup = yield* archiveRows("/backup")
      const dlq = yield* archiveRows("/dlq")
      const records = yield* kafka.records(TOPIC)
      const commits = yield* kafka.commits(GROUP)

      assert.strictEqual(metrics.get("kafka_pipeline_records_consumed_total"), backup.length)
      assert.strictEqual(backup.length, values.length)
      assert.strictEqual(
        metrics.get("kafka_pipeline_bytes_consumed_total"),
        records.reduce((sum, record) => sum + recordSize(record), 0)
      )
      assert.strictEqual(metrics.get("kafka_pipeline_records_handled_total"), values.length)
      assert.strictEqual(metrics.get("kafka_pipeline_records_processed_total"), values.length - dlq.length)
      const byType = new Map<string, number>()
      for (const row of dlq) byType.set(row.error_type!, (byType.get(row.error_type!) ?? 0) + 1)
      assert.deepStrictEqual(
        new Map(metrics.all("kafka_pipeline_records_dead_lettered_total").map((s) => [s.labels.error_type!, s.value])),
        byType
      )
      assert.deepStrictEqual([...byType.keys()].sort(), ["Error", "InvalidUtf8", "NullValue"])
      // flaky: one failed attempt and one retry each; bad: three failed attempts, two retries
      assert.strictEqual(metrics.get("kafka_pipeline_retries_total"), 2 + 2)
      assert.strictEqual(metrics.get("kafka_pipeline_processing_failures_total"), 2 + 3)
      assert.strictEqual(
        metrics.get("kafka_pipeline_commits_total"),
        commits.filter((call) => call.rejected === undefined).length
      )
      assert.strictEqual(metrics.get("kafka_pipeline_commit_failures_total", { reason: "error" }), 1)
      assert.strictEqual(metrics.get("kafka_pipeline_commit_failures_total", { reason: "rebalance" }), 1)
      assert.strictEqual(metrics.get("kafka_pipeline_archive_rows_written_total", { archive: "backup" }), backup.length)
      assert.strictEqual(metrics.get("kafka_pipeline_archive_rows_written_total", { archive: "dlq" }), dlq.length)
      assert.strictEqual(metrics.get("kafka_pipeline_processing_duration_seconds_count"), values.length)
      assert.strictEqual(metrics.get("kafka_pipeline_poll_to_commit_seconds_count"), values.length)
      assert.strictEqual(metrics.get("kafka_pipeline_records_in_flight"), 0)
      assert.strictEqual(metrics.get("kafka_pipeline_queue_depth"), 0)
      const partition = { topic: TOPIC, partition: "0" }
      assert.strictEqual(metrics.get("kafka_pipeline_high_watermark", partition), values.length)
      assert.strictEqual(metrics.get("kafka_pipeline_committed_offset", partition), values.length)
      assert.strictEqual(metrics.get("kafka_pipeline_consumer_lag", partition), 0)
      assert.strictEqual(metrics.types.get("kafka_pipeline_records_consumed_total"), "counter")
      assert.strictEqual(metrics.types.get("kafka_pipeline_consumer_lag"), "gauge")
      assert.strictEqual(metrics.types.get("kafka_pipeline_poll_to_commit_seconds"), "histogram")
      yield* Fiber.interrupt(fiber)
    }))

  test("lag, in-flight and queue depth while a slow processor holds records back; rotations by the hour", (logs) =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      yield* produce(0, Array.from({ length: 30 }, (_, i) => `v${i}`))
      const { fiber, port } = yield* start(logs, () => Deferred.await(release), {
        concurrency: 2,
        queueSize: 10
      })
      yield* TestClock.adjust(5_000)
      const held = yield* scrape(port)
      const partition = { topic: TOPIC, partition: "0" }
      // One record with each worker, ten in the queue, the rest waiting for room.
      assert.strictEqual(held.get("kafka_pipeline_records_in_flight"), 2)
      assert.strictEqual(held.get("kafka_pipeline_queue_depth"), 10)
      assert.strictEqual(held.get("kafka_pipeline_high_watermark", partition), 30)
      // nothing committed yet: the lag is the whole log and there is no committed offset
      assert.strictEqual(held.get("kafka_pipeline_consumer_lag", partition), 30)
      assert.isUndefined(held.get("kafka_pipeline_committed_offset", partition))

      yield* Deferred.succeed(release, undefined)
      yield* advanceUntil(committedAt(0, 30))
      yield* TestClock.adjust(60 * 60 * 1000)
      yield* produce(0, ["next-hour"])
      yield* advanceUntil(committedAt(0, 31))
      const done = yield* scrape(port)
      assert.strictEqual(done.get("kafka_pipeline_consumer_lag", partition), 0)
      assert.strictEqual(done.get("kafka_pipeline_records_in_flight"), 0)
      assert.strictEqual(done.get("kafka_pipeline_archive_files_rotated_total", { archive: "backup" }), 1)
      assert.strictEqual(done.get("kafka_pipeline_archive_files_rotated_total", { archive: "dlq" }) ?? 0, 0, "no DLQ rows: no DLQ file")
      yield* Fiber.interrupt(fiber)
    }))

  test("archiveCompression gzip: the hour a rotation closes is compressed, backup and DLQ, and counted with its bytes", (logs) =>
    Effect.gen(function*() {
      const files = yield* MemoryFileSystem
      // Every 20th value null: dead-lettered (NullValue), so that both archives have a file.
      yield* produce(0, Array.from({ length: 200 }, (_, i) => i % 20 === 0 ? null : `{"i":${i},"pad":"${"x".repeat(200)}"}`))
      const { fiber, port } = yield* start(logs, ok, { archiveCompression: "gzip" })
      yield* advanceUntil(committedAt(0, 200))
      const closed = ["/backup/backup-1970-01-01T00.csv", "/dlq/dlq-1970-01-01T00.csv"]
      const plainBytes = closed.map((path) => files.files.get(path)!.byteLength)
      yield* TestClock.adjust(60 * 60 * 1000)
      // The compression runs on zlib's threads, in real time: wait for its files, not for time.
      yield* untilTrue(() => closed.every((path) => files.files.has(`${path}.gz`) && !files.files.has(path)))
      const metrics = yield* scrape(port)
      for (const [index, archive] of (["backup", "dlq"] as const).entries()) {
        assert.strictEqual(metrics.get("kafka_pipeline_archive_files_compressed_total", { archive }), 1)
        assert.strictEqual(metrics.get("kafka_pipeline_archive_compressed_plain_bytes_total", { archive }), plainBytes[index])
        assert.strictEqual(
          metrics.get("kafka_pipeline_archive_compressed_bytes_total", { archive }),
          files.files.get(`${closed[index]}.gz`)!.byteLength
        )
      }
      assert.isBelow(files.files.get(`${closed[0]}.gz`)!.byteLength, plainBytes[0]! / 5)
      yield* produce(0, ["late"])
      yield* advanceUntil(committedAt(0, 201))
      assert.isTrue(files.files.has("/backup/backup-1970-01-01T01.csv"), "the open hour stays plain")
      assert.isFalse(files.files.has("/backup/backup-1970-01-01T01.csv.gz"))
      yield* Fiber.interrupt(fiber)
    }))

  test("poll→commit latency: one observation per committed record, thousands at a time", (logs) =>
    Effect.gen(function*() {
      yield* produce(0, Array.from({ length: 3_000 }, (_, i) => `v${i}`))
      const { fiber, port } = yield* start(logs, ok, { backupDir: undefined })
      yield* advanceUntil(committedAt(0, 3_000))
      const metrics = yield* scrape(port)
      assert.strictEqual(metrics.get("kafka_pipeline_poll_to_commit_seconds_count"), 3_000)
      assert.strictEqual(metrics.get("kafka_pipeline_poll_to_commit_seconds_bucket", { le: "+Inf" }), 3_000)
      yield* produce(0, ["late"])
      yield* advanceUntil(committedAt(0, 3_001))
      assert.strictEqual((yield* scrape(port)).get("kafka_pipeline_poll_to_commit_seconds_count"), 3_001)
      yield* Fiber.interrupt(fiber)
    }))

  test("a partition that is no longer assigned loses its lag gauges", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* (yield* KafkaClient).createTopic(TOPIC, 2)
      yield* produce(0, ["a"])
      yield* produce(1, ["b"])
      const { fiber, port } = yield* start(logs, ok)
      yield* advanceUntil(committedAt(1, 1))
      yield* TestClock.adjust(5_000)
      assert.strictEqual((yield* scrape(port)).all("kafka_pipeline_consumer_lag").length, 2)
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }])
      yield* TestClock.adjust(5_000)
      assert.deepStrictEqual((yield* scrape(port)).all("kafka_pipeline_consumer_lag"), [
        { labels: { topic: TOPIC, partition: "0" }, value: 0 }
      ])
      yield* Fiber.interrupt(fiber)
    }))

  test("a failing lag reading is logged and retried, and the pipeline goes on", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* produce(0, ["a"])
      const { fiber, port } = yield* start(logs, ok)
      yield* advanceUntil(committedAt(0, 1))
      yield* kafka.failNextAdmin(1, "coordinator not available")
      yield* TestClock.adjust(5_000)
      assert.isTrue(logs.has("Warn", "could not read the consumer lag: coordinator not available"))
      yield* TestClock.adjust(5_000)
      assert.strictEqual((yield* scrape(port)).get("kafka_pipeline_consumer_lag", { topic: TOPIC, partition: "0" }), 0)
      assert.strictEqual((yield* scrape(port)).get("kafka_pipeline_records_consumed_total"), 1)
      yield* Fiber.interrupt(fiber)
    }))
})

describe("Observability — /health and /ready", () => {
  test("200 once the member is in the group with partitions; 503 while fetches fail or after a crash, and while stopping", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const release = yield* Deferred.make<void>()
      yield* produce(0, ["a"])
      // Unordered: the three records (one key each call, all `k0`) are in the processor at once.
      const { fiber, port } = yield* start(logs, () => Deferred.await(release), { ordering: "unordered" })
      yield* TestClock.adjust(100)
      const ready = yield* get(port, "/ready")
      assert.strictEqual(ready.status, 200)
      assert.deepStrictEqual(JSON.parse(ready.body), { status: "ready", assignment: [`${TOPIC}:0`] })
      const health = yield* get(port, "/health")
      assert.strictEqual(health.status, 200)
      assert.deepStrictEqual(JSON.parse(health.body), {
        status: "running",
        fibers: { poll: "running", workers: "running", commit: "running" }
      })

      // the broker stops answering: fetches fail and are retried with backoff
      yield* kafka.failNextFetches(3, "broker not available")
      yield* produce(0, ["b"])
      yield* TestClock.adjust(100)
      const unreachable = yield* get(port, "/ready")
      assert.strictEqual(unreachable.status, 503)
      assert.match(JSON.parse(unreachable.body).reason, /not in the consumer group/)
      assert.strictEqual((yield* get(port, "/health")).status, 200)
      yield* TestClock.adjust(5_000)
      assert.strictEqual((yield* get(port, "/ready")).status, 200)

      // a crash leaves the group until the restart rejoins
      yield* kafka.crash("connection reset", { times: 1 })
      yield* produce(0, ["c"])
      yield* TestClock.adjust(10)
      assert.strictEqual((yield* get(port, "/ready")).status, 503)
      yield* TestClock.adjust(2_000)
      assert.strictEqual((yield* get(port, "/ready")).status, 200)

      // a member without partitions is not ready
      yield* kafka.rebalance(GROUP, [])
      yield* TestClock.adjust(100)
      const empty = yield* get(port, "/ready")
      assert.strictEqual(empty.status, 503)
      assert.strictEqual(JSON.parse(empty.body).reason, "no partitions assigned")
      yield* kafka.rebalance(GROUP, [{ topic: TOPIC, partition: 0 }])
      yield* TestClock.adjust(100)
      assert.strictEqual((yield* get(port, "/ready")).status, 200)

      // stopping: the worker still holds a record
      const stopping = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* TestClock.adjust(100)
      const notReady = yield* get(port, "/ready")
      assert.strictEqual(notReady.status, 503)
      assert.strictEqual(JSON.parse(notReady.body).reason, "stopping")
      const stoppingHealth = yield* get(port, "/health")
      assert.strictEqual(stoppingHealth.status, 200)
      assert.strictEqual(JSON.parse(stoppingHealth.body).status, "stopping")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(stopping)

      // after the run: the endpoints stay until the layer's scope closes, as before a run
      assert.deepStrictEqual(JSON.parse((yield* get(port, "/health")).body), { status: "starting" })
      assert.strictEqual((yield* get(port, "/ready")).status, 503)
      const after = yield* scrape(port)
      assert.strictEqual(after.get("kafka_pipeline_queue_depth"), 0)
      // the rebalance to no partitions dropped the three in flight: taken and handled again (at least once)
      assert.strictEqual(after.get("kafka_pipeline_records_consumed_total"), 6)
      assert.strictEqual(after.get("kafka_pipeline_records_handled_total"), 6)
    }))

  test("while the circuit breaker is open: /ready 503 naming it, /health 200; its state, transitions and open time in /metrics", (logs) =>
    Effect.gen(function*() {
      yield* produce(0, ["a", "b", "c"])
      let down = true
      const processor: Processor = () => down ? Effect.fail(new DownstreamUnavailable({ message: "refused" })) : Effect.void
      const { fiber, port } = yield* start(logs, processor, { breakerThreshold: 3, breakerOpenMs: 10_000 })
      yield* TestClock.adjust(100)
      const ready = yield* get(port, "/ready")
      assert.strictEqual(ready.status, 503)
      const body = JSON.parse(ready.body)
      assert.strictEqual(body.breaker, "open")
      assert.match(body.reason, /circuit breaker is open/)
      assert.strictEqual((yield* get(port, "/health")).status, 200)
      yield* TestClock.adjust(2_000)
      const open = yield* scrape(port)
      assert.strictEqual(open.get("kafka_pipeline_circuit_breaker_state", { state: "open" }), 1)
      assert.strictEqual(open.get("kafka_pipeline_circuit_breaker_state", { state: "closed" }), 0)
      assert.strictEqual(open.get("kafka_pipeline_circuit_breaker_transitions_total", { to: "open" }), 1)
      assert.isAtLeast(open.get("kafka_pipeline_circuit_breaker_open_seconds_total")!, 2)

      down = false
      yield* TestClock.adjust(10_000)
      assert.strictEqual((yield* get(port, "/ready")).status, 200)
      const closed = yield* scrape(port)
      assert.strictEqual(closed.get("kafka_pipeline_circuit_breaker_state", { state: "closed" }), 1)
      assert.strictEqual(closed.get("kafka_pipeline_circuit_breaker_transitions_total", { to: "half-open" }), 1)
      assert.strictEqual(closed.get("kafka_pipeline_circuit_breaker_transitions_total", { to: "closed" }), 1)
      assert.strictEqual(closed.get("kafka_pipeline_records_processed_total"), 3)
      assert.strictEqual(closed.sum("kafka_pipeline_records_dead_lettered_total"), 0)
      yield* Fiber.interrupt(fiber)
    }))

  test("/health is 503 (failed) when one of the pipeline's fibers has ended while it is not stopping", (logs) =>
    Effect.gen(function*() {
      const config = yield* settings()
      const context = yield* Layer.build(Observability.layer(config))
      const port = Number(/localhost:(\d+)\//.exec(logs.lines.findLast((line) => line.includes("/metrics"))!)![1])
      const ended = yield* Effect.forkChild(Effect.void)
      yield* Fiber.await(ended)
      const running = yield* Effect.forkChild(Effect.never)
      const runState = yield* RunState.make({ ordering: "key", backup: false, stopAtOffsets: [] })
      yield* runState.advance({ _tag: "Started" })
      runState.fibers.set("poll", ended)
      runState.fibers.set("workers", running)
      const probe: RunProbe = { groupId: GROUP, topics: [TOPIC], runState, isInGroup: Effect.succeed(false) }
      yield* Context.get(context, Observability).attach(probe).pipe(Effect.scoped)
      // detached again when its scope closed
      assert.strictEqual((yield* get(port, "/health")).status, 200)
      yield* Context.get(context, Observability).attach(probe)
      const health = yield* get(port, "/health")
      assert.strictEqual(health.status, 503)
      assert.deepStrictEqual(JSON.parse(health.body), { status: "failed", fibers: { poll: "ended", workers: "running" } })
    }))

  test("a port already in use is a ConfigError naming metricsPort", () =>
    Effect.gen(function*() {
      const blocker = http.createServer()
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => blocker.listen(0, resolve))),
        () => Effect.promise(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
      )
      const port = (blocker.address() as AddressInfo).port
      const config = yield* settings({ metricsPort: port })
      const exit = yield* Effect.exit(Layer.build(Observability.layer(config)))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.isTrue(error?._tag === "Fail" && error.error instanceof ConfigError)
      const issues = (error as { error: ConfigError }).error.issues
      assert.strictEqual(issues.length, 1)
      assert.match(issues[0]!, new RegExp(`^metricsPort: cannot listen on port ${port}: .*EADDRINUSE`))
    }))

  test("without metricsPort nothing is served and no lag is read", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      yield* produce(0, ["a"])
      const { fiber, port } = yield* start(logs, ok, { metricsPort: "off" })
      assert.isUndefined(port)
      yield* advanceUntil(committedAt(0, 1))
      yield* TestClock.adjust(20_000)
      assert.isFalse(logs.has("Warn", "lag"))
      assert.strictEqual((yield* kafka.commits(GROUP)).length, 1)
      yield* Fiber.interrupt(fiber)
    }))
})

describe("Observability — progress line", () => {
  const collect = () => {
    const updates: Array<string> = []
    const done: Array<string> = []
    const output: ProgressOutput = {
      update: (line) => Effect.sync(() => void updates.push(line)),
      done: (line) => Effect.sync(() => void done.push(line))
    }
    return { updates, done, output }
  }

  test("one line a second (records/s, handled, DLQ, lag), and the last one when the run ends", (logs) =>
    Effect.gen(function*() {
      const progress = collect()
      yield* produce(0, [...Array.from({ length: 40 }, (_, i) => `v${i}`), null])
      const { fiber } = yield* start(logs, ok, { metricsPort: "off", lagIntervalMs: 400 }, {
        progress: progress.output
      })
      yield* TestClock.adjust(999)
      assert.deepStrictEqual(progress.updates, [])
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(progress.updates, ["consumed 41 (41/s)  handled 41  DLQ 1  lag 41"])
      yield* TestClock.adjust(1_000)
      assert.strictEqual(progress.updates[1], "consumed 41 (0/s)  handled 41  DLQ 1  lag 0")
      yield* TestClock.adjust(2_000)
      assert.strictEqual(progress.updates.length, 4)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(progress.done, ["consumed 41 (10/s)  handled 41  DLQ 1  lag 0"])
    }))

  test("before the first lag reading the line says lag ?", (logs) =>
    Effect.gen(function*() {
      const progress = collect()
      yield* (yield* MemoryKafka).failNextAdmin(1, "coordinator loading")
      yield* produce(0, ["a", "b"])
      const { fiber } = yield* start(logs, ok, { metricsPort: "off" }, { progress: progress.output })
      yield* TestClock.adjust(1_000)
      assert.deepStrictEqual(progress.updates, ["consumed 2 (2/s)  handled 2  DLQ 0  lag ?"])
      yield* Fiber.interrupt(fiber)
    }))

  it("terminalProgress rewrites one line on a TTY and is off elsewhere", () => {
    const written: Array<string> = []
    const stream = { isTTY: true, write: (text: string) => written.push(text) }
    const output = terminalProgress(stream)!
    Effect.runSync(output.update("a"))
    Effect.runSync(output.done("b"))
    assert.deepStrictEqual(written, ["\r\x1b[2Ka", "\r\x1b[2Kb\n"])
    assert.isUndefined(terminalProgress({ isTTY: false, write: () => true }))
    assert.isUndefined(terminalProgress({ write: () => true }))
  })
})

describe("Observability — spans", () => {
  it("the OTLP traces URL: {endpoint}/v1/traces, or the endpoint when it already is one", () => {
    assert.strictEqual(otlpTracesUrl("http://collector:4318"), "http://collector:4318/v1/traces")
    assert.strictEqual(otlpTracesUrl("http://collector:4318/"), "http://collector:4318/v1/traces")
    assert.strictEqual(otlpTracesUrl("https://collector/otlp/v1/traces"), "https://collector/otlp/v1/traces")
  })

  test("a root span per record with topic/partition/offset, one per commit and per rotation", (logs) =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* produce(0, ["a", "b", "c"])
      const { fiber } = yield* start(logs, ok, { metricsPort: "off" }, { spans: true }).pipe(
        Effect.provideService(Tracer.Tracer, tracer)
      )
      yield* advanceUntil(committedAt(0, 3))
      yield* TestClock.adjust(60 * 60 * 1000)
      yield* Fiber.interrupt(fiber)

      const records = spans.filter((span) => span.name === "Pipeline.record")
      assert.deepStrictEqual(records.map((span) => span.attributes.get("messaging.kafka.offset")).sort(), [0, 1, 2])
      for (const span of records) {
        assert.strictEqual(span.attributes.get("messaging.destination.name"), TOPIC)
        assert.strictEqual(span.attributes.get("messaging.kafka.partition"), 0)
        assert.strictEqual(span.kind, "consumer")
        assert.isTrue(span.parent._tag === "None")
        assert.strictEqual(span.status._tag, "Ended")
      }
      const commits = spans.filter((span) => span.name === "Pipeline.commit")
      assert.isAbove(commits.length, 0)
      assert.strictEqual(commits[0]!.attributes.get("offsets"), `${TOPIC}:0=3`)
      assert.isTrue(commits[0]!.parent._tag === "None")
      const rotations = spans.filter((span) => span.name === "ArchiveSink.rotate")
      assert.deepStrictEqual(rotations.map((span) => span.attributes.get("archive")).sort(), ["backup", "dlq"])
      const backupRotation = rotations.find((span) => span.attributes.get("archive") === "backup")!
      assert.match(String(backupRotation.attributes.get("file")), /T00\.csv$/, "the file the rotation closed")
    }))

  test("no record spans unless tracing is on", (logs) =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* produce(0, ["a"])
      const { fiber } = yield* start(logs, ok, { metricsPort: "off" }).pipe(Effect.provideService(Tracer.Tracer, tracer))
      yield* advanceUntil(committedAt(0, 1))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(spans.filter((span) => span.name === "Pipeline.record"), [])
      assert.isAbove(spans.filter((span) => span.name === "Pipeline.commit").length, 0)
    }))

  it.live("with otlpEndpoint the spans are exported to the collector over OTLP/HTTP", () =>
    Effect.gen(function*() {
      const bodies: Array<{ readonly path: string; readonly body: string }> = []
      const collector = http.createServer((request, response) => {
        let body = ""
        request.on("data", (chunk) => (body += chunk))
        request.on("end", () => {
          bodies.push({ path: request.url ?? "", body })
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve))),
        () => Effect.promise(() => new Promise<void>((resolve) => collector.close(() => resolve())))
      )
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`
      const logs = captureLogs()
      yield* Effect.gen(function*() {
        yield* produce(0, ["a", "b"])
        const config = yield* settings({
          metricsPort: "off",
          otlpEndpoint: endpoint,
          commitIntervalMs: 10,
          stopAtOffsets: [{ topic: TOPIC, partition: 0, offset: 1 }]
        })
        const summary = yield* Pipeline.run(ok).pipe(
          Effect.provide(Observability.layer(config)),
          Effect.provide(PipelineSettings.layer(config))
        )
        assert.strictEqual(summary.reason, "stopAtOffsets")
      }).pipe(Effect.provide(Layer.mergeAll(MemoryKafka.layer, MemoryFileSystem.layer, Path.layer, logs.layer)))

      // the exporter flushes when the layer's scope closes
      assert.isAbove(bodies.length, 0)
      assert.isTrue(bodies.every((b) => b.path === "/v1/traces"))
      const spans = bodies.flatMap((b) =>
        JSON.parse(b.body).resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans))
      )
      const records = spans.filter((span: any) => span.name === "Pipeline.record")
      assert.strictEqual(records.length, 2)
      const offsets = records.map((span: any) =>
        span.attributes.find((a: any) => a.key === "messaging.kafka.offset").value.intValue
      )
      assert.deepStrictEqual(offsets.map(Number).sort(), [0, 1])
      const service = JSON.parse(bodies[0]!.body).resourceSpans[0].resource.attributes.find((a: any) =>
        a.key === "service.name"
      )
      assert.strictEqual(service.value.stringValue, "effect-kafka-pipeline")
    }))
})

/**
 * Operating the CLI against a real broker (issue 5): `/metrics` of the child
 * process scraped during a run and checked against the CSV archives it wrote,
 * and `/ready` flipping to 503 while the broker is away and back to 200 when it
 * returns; the kafkajs client's membership as readiness sees it. Each run
 * listens on a free port (`--metrics-port 0`, read from the logged `metricsUrl`).
 */
import { Effect, Exit, Fiber, Schedule, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import * as KafkaJs from "../../src/layers/kafka/KafkaJs.js"
import { readRows } from "../support/archive.js"
import { sharedBroker, startBroker, uniqueName, type Broker } from "../support/broker.js"
import { type CliRun, runArgs, runCli, spawnCli } from "../support/cli.js"
import { produceValues } from "../support/produce.js"
import { parsePrometheus, type Samples } from "../support/prometheus.js"
import { makeScratch, type Scratch } from "../support/scratch.js"

let scratch: Scratch

beforeAll(async () => {
  scratch = await makeScratch("observability-e2e-")
})

afterAll(() => scratch.remove())

const dirs = () => scratch.dirs()

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns a value other than undefined; fails with `what` and the CLI's stderr at the deadline. */
const until = async <A>(run: CliRun, what: string, check: () => Promise<A | undefined>, timeoutMs = 60_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    if (run.child.exitCode !== null) throw new Error(`CLI exited before ${what}:\n${run.stderr().slice(-3000)}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${run.stderr().slice(-3000)}`)
    await sleep(200)
  }
}

/** The port of the run's endpoints, from its JSON log line. */
const metricsPort = (run: CliRun) =>
  until(run, "the metrics URL in the logs", async () => {
    const match = /"metricsUrl":"http:\/\/localhost:(\d+)\/metrics"/.exec(run.stderr())
    return match === null ? undefined : Number(match[1])
  })

const get = async (port: number, path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: response.status, body: await response.text() }
}

const scrape = async (port: number): Promise<Samples> => parsePrometheus((await get(port, "/metrics")).body)

const stop = async (run: CliRun) => {
  run.child.kill("SIGTERM")
  const killer = setTimeout(() => run.child.kill("SIGKILL"), 40_000)
  const result = await run.done
  clearTimeout(killer)
  return result
}

describe.concurrent("operating the CLI against a real broker", { timeout: 120_000 }, () => {
  it("KafkaJs isInGroup: false before run, true once joined, false after the consumer has left its group", async () => {
    const broker = await sharedBroker()
    const topic = uniqueName("obs-member")
    await broker.createTopic(topic, 1)
    const states = await Effect.runPromise(Effect.gen(function*() {
      const kafka = yield* KafkaClient
      const scope = yield* Scope.make()
      const consumer = yield* kafka.consumer({
        groupId: uniqueName("g"),
        topics: [topic],
        fromBeginning: true,
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 1_000,
        maxBytesPerPartition: 1_048_576,
        restartBudgetMs: 30_000
      }).pipe(Scope.provide(scope))
      const before = yield* consumer.isInGroup
      const running = yield* consumer.run({ onBatch: () => Effect.void, onAssignment: () => Effect.void }).pipe(
        Effect.forkChild
      )
      const joined = yield* consumer.isInGroup.pipe(
        Effect.repeat({ until: (inGroup) => inGroup, schedule: Schedule.spaced("200 millis") }),
        Effect.timeout("60 seconds")
      )
      yield* Fiber.interrupt(running)
      yield* Scope.close(scope, Exit.void)
      return { before, joined, after: yield* consumer.isInGroup }
    }).pipe(Effect.scoped, Effect.provide(KafkaJs.layer({ brokers: broker.brokers.split(","), clientId: "obs-e2e" }))))
    expect(states).toEqual({ before: false, joined: true, after: false })
  }, 90_000)

  it("/metrics during a run: consumed = backup rows, dead-lettered = DLQ rows by type, lag reaches 0 (as `offsets` prints it); no progress line off a TTY", async () => {
    const broker: Broker = await sharedBroker()
    const topic = uniqueName("obs-metrics")
    const group = uniqueName("g")
    const N = 600
    await broker.createTopic(topic, 2)
    const values = Array.from({ length: N }, (_, i) =>
      i % 100 === 7 ? null : i % 25 === 3 ? `{"broken": ${i}` : JSON.stringify({ order: i }))
    await produceValues(broker.brokers, topic, values, (i) => i % 2)
    const { backupDir, dlqDir } = await dirs()
    const run = spawnCli(runArgs({
      brokers: broker.brokers,
      topic,
      group,
      backupDir,
      dlqDir,
      processor: "builtin:json",
      metricsPort: "0",
      extra: ["--lag-interval-ms", "500"]
    }))
    try {
      const port = await metricsPort(run)
      // Everything consumed, handled and committed: the lag of both partitions is 0.
      const metrics = await until(run, "consumed = N and lag 0 on both partitions", async () => {
        const metrics = await scrape(port)
        const lags = metrics.all("kafka_pipeline_consumer_lag")
        return metrics.get("kafka_pipeline_records_consumed_total") === N && lags.length === 2 &&
            lags.every((lag) => lag.value === 0)
          ? metrics
          : undefined
      })
      const ready = await get(port, "/ready")
      expect(ready.status).toBe(200)
      expect(JSON.parse(ready.body).assignment).toEqual([`${topic}:0`, `${topic}:1`])
      expect((await get(port, "/health")).status).toBe(200)
      const result = await stop(run)
      expect(result.code, result.stderr.slice(-3000)).toBe(0)

      const backup = readRows(backupDir, "backup")
      const dlq = readRows(dlqDir, "dlq")
      expect(metrics.get("kafka_pipeline_records_consumed_total")).toBe(backup.length)
      expect(metrics.get("kafka_pipeline_records_handled_total")).toBe(N)
      expect(metrics.sum("kafka_pipeline_records_dead_lettered_total")).toBe(dlq.length)
      expect(metrics.get("kafka_pipeline_records_processed_total")).toBe(N - dlq.length)
      const byType: Record<string, number> = {}
      for (const row of dlq) byType[row.error_type!] = (byType[row.error_type!] ?? 0) + 1
      expect(Object.fromEntries(
        metrics.all("kafka_pipeline_records_dead_lettered_total").map((s) => [s.labels.error_type, s.value])
      )).toEqual(byType)
      expect(Object.keys(byType).sort()).toEqual(["NullValue", "SyntaxError"])
      expect(metrics.get("kafka_pipeline_archive_rows_written_total", { archive: "backup" })).toBe(backup.length)
      expect(metrics.get("kafka_pipeline_archive_rows_written_total", { archive: "dlq" })).toBe(dlq.length)
      expect(metrics.get("kafka_pipeline_poll_to_commit_seconds_count")).toBe(N)
      expect(metrics.get("kafka_pipeline_commits_total")).toBeGreaterThan(0)
      const committed = await broker.committedOffsets(group, topic)
      for (const partition of [0, 1]) {
        const labels = { topic, partition: String(partition) }
        expect(metrics.get("kafka_pipeline_high_watermark", labels)).toBe(N / 2)
        expect(metrics.get("kafka_pipeline_committed_offset", labels)).toBe(committed.get(partition))
      }
      expect(result.stderr).not.toContain("\r")

      // `kafka-pipeline offsets` reads the lag the same way: committed = end, lag 0 per partition.
      const offsets = await runCli(["offsets", "--brokers", broker.brokers, "--group-id", group, "--topic", topic])
      expect(offsets.code, offsets.stderr).toBe(0)
      expect(offsets.stdout.trim().split("\n")).toEqual([
        "partition\tcommitted\tend\tlag",
        `0\t${N / 2}\t${N / 2}\t0`,
        `1\t${N / 2}\t${N / 2}\t0`
      ])
    } finally {
      run.child.kill("SIGKILL")
    }
  }, 120_000)

  it.skipIf(process.env["KAFKA_BROKERS"])(
    "/ready is 503 while the broker is away and 200 again when it is back; /health stays 200",
    async () => {
      const broker = await startBroker()
      try {
        const topic = uniqueName("obs-ready")
        await broker.createTopic(topic, 1)
        await produceValues(broker.brokers, topic, ["{}", "{}", "{}"])
        const { backupDir, dlqDir } = await dirs()
        const run = spawnCli(runArgs({
          brokers: broker.brokers,
          topic,
          group: uniqueName("g"),
          backupDir,
          dlqDir,
          processor: "builtin:json",
          metricsPort: "0",
          extra: ["--session-timeout-ms", "6000", "--heartbeat-interval-ms", "1000", "--restart-budget-ms", "600000"]
        }))
        try {
          const port = await metricsPort(run)
          await until(run, "/ready 200", async () => (await get(port, "/ready")).status === 200 || undefined)
          await broker.stop()
          const away = await until(run, "/ready 503 with the broker away", async () => {
            const ready = await get(port, "/ready")
            return ready.status === 503 ? ready : undefined
          })
          expect(JSON.parse(away.body).reason).toMatch(/not in the consumer group/)
          expect((await get(port, "/health")).status).toBe(200)
          await broker.start()
          await until(run, "/ready 200 with the broker back", async () => (await get(port, "/ready")).status === 200 || undefined, 120_000)
          const result = await stop(run)
          expect(result.code, result.stderr.slice(-3000)).toBe(0)
        } finally {
          run.child.kill("SIGKILL")
        }
      } finally {
        await broker.close()
      }
    },
    300_000
  )
})

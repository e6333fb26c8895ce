import { assert, describe, it } from "@effect/vitest"
import type { CliMemoryRun } from "../../bench/cli-memory.js"
import type { LatencyPoint, Report, Run } from "../../bench/report.js"
import { targetRows } from "../../bench/targets.js"

const run = (name: string, recordsPerSec: number, checksumOk = true): Run => ({
  name,
  records: 1_000_000,
  recordsPerSec,
  mbPerSec: 0,
  cpuMicrosPerRecord: 0,
  peakRssMb: 400,
  checksumOk,
  rounds: 3,
  recordsPerSecByRound: [recordsPerSec, recordsPerSec, recordsPerSec],
  spreadPct: 0
})

const point = (variant: string, load: number, p99Ms: number, checksumOk = true): LatencyPoint => ({
  variant,
  load,
  rate: 50_000 * load * 2,
  p50Ms: 5,
  p95Ms: 10,
  p99Ms,
  commitP50Ms: null,
  commitP99Ms: null,
  checksumOk
})

/** A full run's results: every variant, latency and memory, with the figures given. */
const fullRun = (runs: ReadonlyArray<Run>, byLoad: ReadonlyArray<LatencyPoint>, memory: Report["memory"]): Report => ({
  when: "2026-12-04T10:00:00.000Z",
  node: "v24.21.0",
  kafka: "Apache Kafka 4.3.1",
  machine: { cores: 2, memoryGiB: 24, cpu: "test", loadAverageBefore: [0, 0, 0], loadAverageAfter: [0, 0, 0] },
  settings: { mode: "full", records: 1_000_000, ioRecords: 300_000, rounds: 3 },
  skipped: {},
  runs,
  latency: {
    byLoad,
    rate: 50_000,
    seconds: 60,
    p50Ms: 5,
    p95Ms: 10,
    p99Ms: byLoad[0]?.p99Ms ?? 0,
    commitP50Ms: 0,
    commitP99Ms: 0,
    commitIntervalMs: 1000,
    warmupMs: 2000,
    samples: 1
  },
  ...(memory === undefined ? {} : { memory })
})

const cliRun = (
  client: CliMemoryRun["client"],
  peakRssMb: number,
  queueBytes?: number,
  checksumOk = true,
  withoutBinFlags = false
): CliMemoryRun => ({
  client,
  queueBytes,
  withoutBinFlags,
  records: 200_000,
  peakRssMb,
  wallSec: 8,
  cpuMicrosPerRecord: 30,
  checksumOk
})

const memory = (
  largePeakRssMb: number,
  platformaticPeakRssMb: number,
  cli: ReadonlyArray<CliMemoryRun> = []
): Report["memory"] => ({
  rssGrowthPct: 1,
  largeRecords: 1000,
  largeValueBytes: 9_500_000,
  largePeakRssMb,
  largeKafkajsRawPeakRssMb: 400,
  largeChecksumOk: true,
  largePlatformatic: { peakRssMb: platformaticPeakRssMb, recordsPerSec: 100, checksumOk: true },
  cli
})

const statuses = (report: Report) => targetRows(report).map((t) => t.status)

describe("bench targets", () => {
  it("says met or missed for every target the run measured, the figure beside it", () => {
    const report = fullRun(
      [
        run("kafkajs-raw", 250_000),
        run("kafkajs-archive", 120_000),
        run("pipeline-full", 100_000),
        run("pipeline-full-platformatic", 300_000),
        run("pipeline-io", 17_000)
      ],
      [point("pipeline-full", 0.5, 430), point("pipeline-full-platformatic", 0.5, 40), point("pipeline-full", 0.25, 20)],
      // The runs at a smaller queue bound and without the bin's flags are not the target's.
      memory(720, 560, [
        cliRun("kafkajs", 400, undefined, true, true),
        cliRun("kafkajs", 300),
        cliRun("platformatic", 250),
        cliRun("kafkajs", 200, 16 * 2 ** 20)
      ])
    )
    const rows = targetRows(report)
    assert.deepStrictEqual(rows.map((t) => t.status), [
      "met", // 300k against 250k
      "missed", // 100k against 120k
      "missed", // p99 430 ms at half load (the quarter-load point's 20 ms is not the target's)
      "met", // p99 40 ms
      "missed", // 17k against 18k
      "missed", // 720 MB against 1.5 × 400
      "met", // 560 MB
      "missed", // the CLI on kafkajs: 300 MB
      "met" // on platformatic: 250 MB
    ])
    assert.strictEqual(rows[0]!.figure, "1.20 × (300,000 against 250,000 rec/s)")
    assert.strictEqual(rows[1]!.figure, "0.83 × (100,000 against 120,000 rec/s)")
    assert.strictEqual(rows[2]!.figure, "430 ms at 50,000 rec/s")
    assert.strictEqual(rows[4]!.figure, "0.85 × (17,000 rec/s)")
    assert.strictEqual(rows[5]!.figure, "1.80 × (720 against 400 MB)")
    assert.strictEqual(rows[7]!.figure, "300 MB")
  })

  it("meets a target exactly at its bound, and misses a p99 of 50 ms", () => {
    const report = fullRun(
      [
        run("kafkajs-raw", 200_000),
        run("kafkajs-archive", 100_000),
        run("pipeline-full", 100_000),
        run("pipeline-full-platformatic", 200_000),
        run("pipeline-io", 18_000)
      ],
      [point("pipeline-full", 0.5, 50), point("pipeline-full-platformatic", 0.5, 49)],
      memory(600, 600, [cliRun("kafkajs", 256), cliRun("platformatic", 255)])
    )
    assert.deepStrictEqual(statuses(report), ["met", "met", "missed", "met", "met", "met", "met", "missed", "met"])
  })

  it("says not measured yet for what a run left out (--only, or a run from before a variant existed)", () => {
    const { latency: _latency, ...report } = fullRun([run("kafkajs-raw", 250_000), run("pipeline-full", 100_000)], [], undefined)
    assert.deepStrictEqual(statuses(report), Array(9).fill("not measured yet"))
    assert.isTrue(targetRows(report).every((t) => t.figure === undefined))
  })

  it("gives no verdict on runs whose checksum failed", () => {
    const report = fullRun(
      [run("kafkajs-raw", 250_000), run("pipeline-full-platformatic", 300_000, false), run("kafkajs-archive", 120_000), run("pipeline-full", 130_000)],
      [point("pipeline-full", 0.5, 10, false)],
      { ...memory(500, 500, [cliRun("kafkajs", 200, undefined, false)])!, largeChecksumOk: false }
    )
    assert.deepStrictEqual(statuses(report).slice(0, 3), ["checksum failed", "met", "checksum failed"])
    assert.strictEqual(statuses(report)[5], "checksum failed")
    assert.strictEqual(statuses(report)[7], "checksum failed")
  })
})

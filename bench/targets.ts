/**
 * The speed targets of issue 18, met or missed in one results file: each from figures measured
 * side by side in the same run, or "not measured yet" when the run has none of them (a run with
 * `--only`, one from before a variant existed, or a target the bench does not measure).
 * Benchmarks are not tests: this says what a run reached, it asserts nothing.
 */
import type { CliMemoryRun } from "./cli-memory.js"
import type { LatencyPoint, Report, Run } from "./report.js"

/** Little's law for `pipeline-io`: 100 records in flight, 5 ms each. */
export const LITTLE_RATE = 20_000

export type TargetStatus = "met" | "missed" | "not measured yet" | "checksum failed"

export interface TargetRow {
  /** The target, as markdown. */
  readonly target: string
  /** What the run measured, as markdown; undefined when it measured nothing for this target. */
  readonly figure: string | undefined
  readonly status: TargetStatus
}

/** A measured figure: the value compared with the target, how it reads, and whether its runs checked out. */
interface Measured {
  readonly value: number
  readonly figure: string
  readonly checksumOk: boolean
}

const n = (value: number) => value.toLocaleString("en-US")

const row = (target: string, measured: Measured | undefined, meets: (value: number) => boolean): TargetRow =>
  measured === undefined
    ? { target, figure: undefined, status: "not measured yet" }
    : {
      target,
      figure: measured.figure,
      status: !measured.checksumOk ? "checksum failed" : meets(measured.value) ? "met" : "missed"
    }

/** One variant's rate against another's, both from the throughput rounds of the run. */
const rateRatio = (of: Run | undefined, against: Run | undefined): Measured | undefined =>
  of === undefined || against === undefined ? undefined : {
    value: of.recordsPerSec / against.recordsPerSec,
    figure: `${(of.recordsPerSec / against.recordsPerSec).toFixed(2)} × (${n(of.recordsPerSec)} against ${n(against.recordsPerSec)} rec/s)`,
    checksumOk: of.checksumOk && against.checksumOk
  }

const p99 = (point: LatencyPoint | undefined): Measured | undefined =>
  point === undefined ? undefined : { value: point.p99Ms, figure: `${point.p99Ms} ms at ${n(point.rate)} rec/s`, checksumOk: point.checksumOk }

const peakRatio = (
  peakRssMb: number | undefined,
  rawPeakRssMb: number | undefined,
  checksumOk: boolean
): Measured | undefined =>
  peakRssMb === undefined || rawPeakRssMb === undefined ? undefined : {
    value: peakRssMb / rawPeakRssMb,
    figure: `${(peakRssMb / rawPeakRssMb).toFixed(2)} × (${n(peakRssMb)} against ${n(rawPeakRssMb)} MB)`,
    checksumOk
  }

/** `kafka-pipeline run` at default settings with one client (`bench/cli-memory.ts`). */
const cliRow = (runs: ReadonlyArray<CliMemoryRun> | undefined, client: CliMemoryRun["client"]): TargetRow => {
  const run = runs?.find((r) => r.client === client && r.queueBytes === undefined && !r.withoutBinFlags)
  return row(
    `\`kafka-pipeline run --client ${client}\`, 200,000 records of 1 KiB, no-op processor, backup on, default settings: peak RSS < 256 MB`,
    run === undefined ? undefined : { value: run.peakRssMb, figure: `${n(run.peakRssMb)} MB`, checksumOk: run.checksumOk },
    (mb) => mb < 256
  )
}

export const targetRows = (report: Report): ReadonlyArray<TargetRow> => {
  const run = (name: string) => report.runs.find((r) => r.name === name)
  const halfLoad = (variant: string) => report.latency?.byLoad?.find((p) => p.variant === variant && p.load === 0.5)
  const io = run("pipeline-io")
  const memory = report.memory
  const rawLarge = memory?.largeKafkajsRawPeakRssMb
  return [
    row(
      "`pipeline-full-platformatic` ≥ 1.0 × `kafkajs-raw` records/s",
      rateRatio(run("pipeline-full-platformatic"), run("kafkajs-raw")),
      (ratio) => ratio >= 1
    ),
    row(
      "`pipeline-full` (kafkajs) ≥ 1.0 × `kafkajs-archive` records/s",
      rateRatio(run("pipeline-full"), run("kafkajs-archive")),
      (ratio) => ratio >= 1
    ),
    row("p99 produce → handled < 50 ms at half load: `pipeline-full` (kafkajs)", p99(halfLoad("pipeline-full")), (ms) => ms < 50),
    row(
      "p99 produce → handled < 50 ms at half load: `pipeline-full-platformatic`",
      p99(halfLoad("pipeline-full-platformatic")),
      (ms) => ms < 50
    ),
    row(
      `\`pipeline-io\` ≥ 0.9 × Little's law (${n(LITTLE_RATE)} rec/s: 100 in flight / 5 ms)`,
      io === undefined ? undefined : {
        value: io.recordsPerSec / LITTLE_RATE,
        figure: `${(io.recordsPerSec / LITTLE_RATE).toFixed(2)} × (${n(io.recordsPerSec)} rec/s)`,
        checksumOk: io.checksumOk
      },
      (ratio) => ratio >= 0.9
    ),
    row(
      "9.5 MB records: peak RSS of `pipeline-full` (kafkajs) ≤ 1.5 × `kafkajs-raw`'s",
      peakRatio(memory?.largePeakRssMb, rawLarge, memory?.largeChecksumOk ?? false),
      (ratio) => ratio <= 1.5
    ),
    row(
      "9.5 MB records: peak RSS of `pipeline-full-platformatic` ≤ 1.5 × `kafkajs-raw`'s",
      peakRatio(memory?.largePlatformatic?.peakRssMb, rawLarge, memory?.largePlatformatic?.checksumOk ?? false),
      (ratio) => ratio <= 1.5
    ),
    cliRow(memory?.cli, "kafkajs"),
    cliRow(memory?.cli, "platformatic")
  ]
}

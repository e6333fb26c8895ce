/**
 * The shape of a results file (bench/results/latest.json) as the renderer and the targets read
 * it: what `bench/run.ts` writes, with the fields older runs lack marked optional.
 */
import type { CliMemoryRun } from "./cli-memory.js"
import type { ConsumeResult, MachineLoad } from "./common.js"

export interface Run {
  readonly name: string
  readonly records: number
  readonly recordsPerSec: number
  readonly mbPerSec: number
  readonly cpuMicrosPerRecord: number
  /** Absent in runs before it was measured, and for kcat. */
  readonly mainThreadBusyPct?: number
  readonly peakRssMb: number
  readonly checksumOk: boolean
  readonly rounds: number
  readonly recordsPerSecByRound: ReadonlyArray<number>
  readonly spreadPct: number
  /** `pipeline-io-slow-key`: the slow key's records, and the other keys' rate (median). */
  readonly slowKeyRecords?: number
  readonly othersRecordsPerSec?: number
}

export interface LatencyPoint {
  readonly variant: string
  readonly load: number
  readonly rate: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
  readonly commitP50Ms: number | null
  readonly commitP99Ms: number | null
  /** Absent in runs before it was sampled. */
  readonly machine?: MachineLoad
  /** The consumer's event loop delay and GC pauses during the run; absent in runs before they were measured. */
  readonly eventLoopDelay?: ConsumeResult["eventLoopDelay"]
  readonly checksumOk: boolean
}

export interface Report {
  readonly when: string
  readonly node: string
  readonly kafka: string
  readonly machine: {
    readonly cores: number
    readonly memoryGiB: number
    readonly cpu: string
    readonly loadAverageBefore: ReadonlyArray<number>
    readonly loadAverageAfter: ReadonlyArray<number>
    /** Absent in runs before it was measured, and without `/proc`. */
    readonly stealPct?: number
  }
  readonly settings: {
    readonly mode: string
    readonly records: number
    readonly ioRecords: number
    readonly rounds: number
    /** Absent in runs before the records had repeated keys (every key was distinct). */
    readonly keys?: number
    readonly ioMs?: number
    readonly slowKey?: string
    readonly slowKeyMs?: number
  }
  readonly skipped: Record<string, string>
  readonly runs: ReadonlyArray<Run>
  readonly latency?: {
    readonly byLoad?: ReadonlyArray<LatencyPoint>
    readonly rate: number
    /** Absent in runs made before the paced producer could be kcat: those were kafkajs. */
    readonly producer?: "kcat" | "kafkajs"
    readonly seconds: number
    readonly p50Ms: number
    readonly p95Ms: number
    readonly p99Ms: number
    readonly commitP50Ms: number
    readonly commitP99Ms: number
    readonly commitIntervalMs: number
    readonly warmupMs: number
    readonly samples: number
    /** The unmeasured run before the others; absent in runs made before there was one. */
    readonly warmupRun?: { readonly variant: string; readonly seconds: number; readonly p99Ms: number; readonly checksumOk: boolean }
  }
  readonly memory?: {
    readonly rssGrowthPct: number
    readonly largeRecords: number
    readonly largeValueBytes: number
    readonly largePeakRssMb: number
    readonly largeKafkajsRawPeakRssMb?: number
    readonly largeChecksumOk: boolean
    /** `pipeline-full-platformatic` on the same records; absent in runs before it was measured. */
    readonly largePlatformatic?: { readonly peakRssMb: number; readonly recordsPerSec: number; readonly checksumOk: boolean }
    /** `kafka-pipeline run` itself (`bench/cli-memory.ts`); absent in runs before it was measured. */
    readonly cli?: ReadonlyArray<CliMemoryRun>
  }
}

/**
 * What the benchmark's parent (`bench/run.ts`) and its child processes
 * (`bench/child.ts`) share: the job each child is given, the result it sends
 * back, and the measuring helpers.
 *
 * Benchmarks are not tests: nothing here asserts a time.
 */
import { readFileSync } from "node:fs"
import type { EventLoopUtilization } from "node:perf_hooks"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { crc32 } from "node:zlib"
import type { KafkaClientName } from "../src/domain/ConfigValues.js"

/** The consumer variants compared side by side. */
export const variantNames = [
  "kafkajs-raw",
  "kafkajs-archive",
  "kafkajs-archive-worker",
  "pipeline-full",
  "pipeline-full-platformatic",
  "pipeline-full-unordered",
  "pipeline-no-archive",
  "pipeline-no-archive-platformatic",
  "pipeline-io",
  "pipeline-io-slow-key",
  "platformatic-raw",
  "kcat-raw"
] as const
export type VariantName = typeof variantNames[number]

/** Names a pipeline variant run on @platformatic/kafka: the variant itself, with the option `client: "platformatic"`. */
const PLATFORMATIC_SUFFIX = "-platformatic"

/** The Kafka client a variant's pipeline runs on (the pipeline's option `client`). */
export const clientOf = (variant: VariantName): KafkaClientName =>
  variant.startsWith("pipeline-") && variant.endsWith(PLATFORMATIC_SUFFIX) ? "platformatic" : "kafkajs"

/** The variant whose settings a variant runs with, on its own client (`pipeline-full-platformatic`: `pipeline-full`). */
export const settingsOf = (variant: VariantName): VariantName =>
  clientOf(variant) === "platformatic" ? variant.slice(0, -PLATFORMATIC_SUFFIX.length) as VariantName : variant

/** Whether a variant needs @platformatic/kafka (skipped with a note when it does not import). */
export const needsPlatformatic = (variant: VariantName): boolean =>
  variant === "platformatic-raw" || clientOf(variant) === "platformatic"

/** The variants whose processor waits (5 ms a record): they read the first `ioRecords` only. */
export const ioVariants: ReadonlySet<VariantName> = new Set(["pipeline-io", "pipeline-io-slow-key"])

/**
 * Distinct keys of the records (seed and paced): enough for key ordering to have real lanes
 * (each partition has thousands of keys), and a key's records far apart in its partition.
 */
export const KEYS = 10_000

/** `pipeline-io-slow-key`: the records of this key take `SLOW_KEY_MS`, the others `IO_MS`. */
export const SLOW_KEY = "key-0"
export const IO_MS = 5
export const SLOW_KEY_MS = 500

/** Records to read per partition: offsets `0 .. count-1` of each listed partition. */
export interface Extent {
  readonly topic: string
  readonly partitions: ReadonlyArray<{ readonly partition: number; readonly count: number }>
}

export const totalOf = (extent: Extent): number => extent.partitions.reduce((n, p) => n + p.count, 0)

export type Job =
  | {
    readonly _tag: "produce"
    readonly brokers: string
    readonly topic: string
    readonly partitions: number
    readonly records: number
    readonly valueBytes: number
    /** Records per second; unpaced (as fast as batching allows) when absent. */
    readonly rate?: number
    /** Paced mode: who produces (see `Producer`). */
    readonly producer?: Producer
  }
  | {
    readonly _tag: "consume"
    readonly variant: VariantName
    readonly brokers: string
    readonly groupId: string
    readonly extent: Extent
    /** Working directory for the pipeline's archives. */
    readonly dir: string
    /** Latency mode: record produce→handled and handled→committed times. */
    readonly latency?: { readonly warmupMs: number; readonly commitIntervalMs: number }
    /** Sends `{ _tag: "ready" }` once the member has its partitions. */
    readonly signalReady?: boolean
  }

export interface ConsumeResult {
  readonly _tag: "consumed"
  readonly records: number
  readonly bytes: number
  /** From the start (connect + join included) to the last record handled. */
  readonly elapsedMs: number
  /** From the start to the first record handled (connect, join, first fetch). */
  readonly firstRecordMs: number
  /** Including the variant's shutdown (pipeline: final flush, commit, disconnect). */
  readonly wallMs: number
  /**
   * `pipeline-io-slow-key`: the records not of `SLOW_KEY`, and from the start to the last of them
   * handled (the run itself ends with the slow key's last record).
   */
  readonly others?: { readonly records: number; readonly elapsedMs: number }
  readonly cpuMicros: number
  /** From the first record to the last; absent for kcat (another process). */
  readonly mainThreadBusyPct?: number
  /**
   * The event loop's delay (10 ms resolution) from the first record to the last: p99 and max; and
   * the garbage collector's pauses over the same span (how many, their total and the longest).
   */
  readonly eventLoopDelay?: {
    readonly p99Ms: number
    readonly maxMs: number
    readonly gcPauses: number
    readonly gcTotalMs: number
    readonly gcMaxMs: number
  }
  readonly peakRssMb: number
  /** `[msSinceStart, rssMb]`, every 250 ms. */
  readonly rss: ReadonlyArray<readonly [number, number]>
  readonly missing: number
  readonly duplicates: number
  readonly latency?: LatencySummary
  readonly note?: string
}

export interface LatencySummary {
  readonly samples: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly commitSamples: number
  readonly commitP50Ms: number
  readonly commitP95Ms: number
  readonly commitP99Ms: number
}

/**
 * The paced producer. `kcat` (librdkafka, C, its own sending thread, 5 ms linger) when it is
 * installed: a record's timestamp is taken when it is handed to librdkafka, and its batch leaves
 * within the linger. `kafkajs` otherwise: it stamps a request's records before encoding them all
 * on the event loop, so under load its own encoding (~100 ms for a 4 MB request here) is counted
 * as produce → handled latency.
 */
export type Producer = "kcat" | "kafkajs"

/** The key of the `i`-th record, seeded or paced: `KEYS` keys in turn. */
export const pacedKey = (i: number): string => `key-${i % KEYS}`

/**
 * The partition of the `i`-th record: round robin for kafkajs (explicit partitions: the seed, and
 * the paced records without kcat); for kcat, librdkafka's `consistent` partitioner (CRC-32 of the
 * key, modulo the partition count). Round robin puts a key's records in several partitions (with
 * 10,000 keys and 6 partitions, three of them); key ordering is per partition, so each
 * (partition, key) is a lane of its own either way.
 */
export const pacedPartition = (producer: Producer, i: number, partitions: number): number =>
  producer === "kcat" ? crc32(pacedKey(i)) % partitions : i % partitions

/** How many of `records` paced records each partition gets. */
export const pacedCounts = (
  producer: Producer,
  records: number,
  partitions: number
): ReadonlyArray<{ readonly partition: number; readonly count: number }> => {
  const counts = new Array<number>(partitions).fill(0)
  for (let i = 0; i < records; i++) counts[pacedPartition(producer, i, partitions)]!++
  return counts.map((count, partition) => ({ partition, count }))
}

export interface ProduceResult {
  readonly _tag: "produced"
  readonly records: number
  readonly elapsedMs: number
  /** Paced mode: the rate actually reached. */
  readonly recordsPerSec: number
}

export type ChildMessage = ConsumeResult | ProduceResult | { readonly _tag: "ready" } | {
  readonly _tag: "failed"
  readonly message: string
}

/**
 * Which (partition, offset) pairs of an extent were seen, as one bit each:
 * after the run, every bit set exactly once means nothing skipped, nothing doubled.
 */
export class Coverage {
  readonly #bits = new Map<number, Uint8Array>()
  readonly #counts = new Map<number, number>()
  readonly total: number
  seen = 0
  duplicates = 0
  outside = 0

  constructor(extent: Extent) {
    for (const { count, partition } of extent.partitions) {
      this.#bits.set(partition, new Uint8Array(Math.ceil(count / 8)))
      this.#counts.set(partition, count)
    }
    this.total = totalOf(extent)
  }

  /** Marks one record; true when it completes the extent. */
  mark(partition: number, offset: number): boolean {
    const bits = this.#bits.get(partition)
    if (bits === undefined || offset >= this.#counts.get(partition)!) {
      this.outside++
      return false
    }
    const byte = offset >> 3
    const bit = 1 << (offset & 7)
    if ((bits[byte]! & bit) !== 0) {
      this.duplicates++
      return false
    }
    bits[byte] = bits[byte]! | bit
    return ++this.seen === this.total
  }

  get done(): boolean {
    return this.seen === this.total
  }

  get missing(): number {
    return this.total - this.seen
  }
}

/** Nearest-rank percentile of an ascending-sorted array. */
export const percentile = (sorted: ArrayLike<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!

export const median = (values: ReadonlyArray<number>): number => percentile([...values].sort((a, b) => a - b), 0.5)

/**
 * How busy the event loop (the thread kafkajs, the pipeline and the processor share) was since
 * `since`, in %: a thread at ~100% is the bound of the rate; below, it waited (for the broker,
 * the disk or room in a queue).
 */
const mainThreadBusyPct = (since: EventLoopUtilization | undefined): number =>
  Math.round(performance.eventLoopUtilization(since).utilization * 1000) / 10

/** CPU, RSS and main-thread use of this process from the call on; RSS sampled every 250 ms. */
export const measure = () => {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const rss: Array<readonly [number, number]> = []
  const sample = () => rss.push([Math.round(performance.now() - t0), Math.round(process.memoryUsage.rss() / 1048576)])
  sample()
  const timer = setInterval(sample, 250)
  timer.unref()
  let last: { readonly elapsedMs: number; readonly cpuMicros: number; readonly mainThreadBusyPct: number } | undefined
  let first: number | undefined
  let loopAtFirst: EventLoopUtilization | undefined
  // How late the event loop ran its timers, from the first record to the last: its stalls.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  // The collector's pauses over the same span: the stalls it accounts for.
  const gc = { count: 0, totalMs: 0, maxMs: 0, on: false }
  const gcObserver = new PerformanceObserver((list) => {
    if (!gc.on) return
    for (const entry of list.getEntries()) {
      gc.count++
      gc.totalMs += entry.duration
      gc.maxMs = Math.max(gc.maxMs, entry.duration)
    }
  })
  gcObserver.observe({ entryTypes: ["gc"] })
  return {
    t0,
    /** Call for every record handled (only the first call counts). */
    record: () => {
      if (first !== undefined) return
      first = performance.now() - t0
      loopAtFirst = performance.eventLoopUtilization()
      loopDelay.enable()
      gc.on = true
    },
    /** Call when the last record is handled. */
    lastRecord: () => {
      if (last !== undefined) return
      loopDelay.disable()
      gc.on = false
      const cpu = process.cpuUsage(cpu0)
      last = {
        elapsedMs: performance.now() - t0,
        cpuMicros: cpu.user + cpu.system,
        mainThreadBusyPct: mainThreadBusyPct(loopAtFirst)
      }
      sample()
    },
    finish: () => {
      clearInterval(timer)
      sample()
      const wallMs = performance.now() - t0
      if (last === undefined) {
        const cpu = process.cpuUsage(cpu0)
        last = { elapsedMs: wallMs, cpuMicros: cpu.user + cpu.system, mainThreadBusyPct: mainThreadBusyPct(loopAtFirst) }
      }
      loopDelay.disable()
      gcObserver.disconnect()
      return {
        ...last,
        eventLoopDelay: {
          p99Ms: Math.round(loopDelay.percentile(99) / 1e5) / 10,
          maxMs: Math.round(loopDelay.max / 1e5) / 10,
          gcPauses: gc.count,
          gcTotalMs: Math.round(gc.totalMs),
          gcMaxMs: Math.round(gc.maxMs * 10) / 10
        },
        firstRecordMs: first ?? 0,
        wallMs,
        rss,
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024)
      }
    }
  }
}

/** Whole-machine CPU (all cores, every process) and block-device writes, from `/proc`. */
export interface MachineCounters {
  readonly busy: number
  /** Time the hypervisor gave this virtual machine's cores to others while they had work. */
  readonly steal: number
  readonly total: number
  readonly writtenKb: number
}

export const readMachine = (): MachineCounters | undefined => {
  try {
    // cpu  user nice system idle iowait irq softirq steal …
    const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync("/proc/stat", "utf8")
      .split("\n", 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number) as [number, number, number, number, number, number, number, number]
    const pgpgout = /^pgpgout (\d+)$/m.exec(readFileSync("/proc/vmstat", "utf8"))
    return {
      busy: user + nice + system + irq + softirq,
      steal,
      total: user + nice + system + idle + iowait + irq + softirq + steal,
      writtenKb: Number(pgpgout?.[1] ?? 0)
    }
  } catch {
    return undefined
  }
}

/** Share of the machine's CPU time stolen by the hypervisor between two readings, in %. */
export const stealPct = (from: MachineCounters | undefined, to: MachineCounters | undefined): number | undefined =>
  from === undefined || to === undefined || to.total <= from.total
    ? undefined
    : Math.round(((to.steal - from.steal) / (to.total - from.total)) * 1000) / 10

/**
 * Samples the whole machine every second while a latency run goes on: every process shares its
 * cores (the broker, the producer, the consumer) and its disk, so a tail is read against them.
 * `stop` gives the average busy share, the busiest second, and the fastest the machine wrote to
 * disk over a second (the kernel's writeback comes in bursts); undefined without `/proc`. The
 * timer does not keep the process alive: a run that fails before `stop` still exits.
 */
export const sampleMachine = () => {
  const first = readMachine()
  let previous = first === undefined ? undefined : { counters: first, at: performance.now() }
  let busiest = 0
  let mostWrittenMiBPerSec = 0
  /** Folds the interval since the previous reading into the maxima (a late tick is divided by its own length). */
  const sample = (minSeconds: number) => {
    const counters = readMachine()
    const at = performance.now()
    if (counters === undefined || previous === undefined) return
    const seconds = (at - previous.at) / 1000
    if (seconds < minSeconds) return
    const before = previous.counters
    if (counters.total > before.total) {
      busiest = Math.max(busiest, (counters.busy - before.busy) / (counters.total - before.total))
    }
    mostWrittenMiBPerSec = Math.max(mostWrittenMiBPerSec, (counters.writtenKb - before.writtenKb) / 1024 / seconds)
    previous = { counters, at }
  }
  const timer = setInterval(() => sample(0), 1000)
  timer.unref()
  return {
    stop: (): MachineLoad | undefined => {
      clearInterval(timer)
      // The tail since the last tick, unless too short to say anything per second.
      sample(0.5)
      const last = readMachine()
      if (first === undefined || last === undefined || last.total <= first.total) return undefined
      return {
        busyPct: Math.round(((last.busy - first.busy) / (last.total - first.total)) * 100),
        busiestSecondPct: Math.round(busiest * 100),
        stealPct: stealPct(first, last)!,
        mostWrittenInASecondMiB: Math.round(mostWrittenMiBPerSec)
      }
    }
  }
}

export interface MachineLoad {
  /** Share of all cores busy (any process, kernel included), over the run. */
  readonly busyPct: number
  readonly busiestSecondPct: number
  /** Share of all cores' time the hypervisor gave to other machines (absent in runs before it was sampled). */
  readonly stealPct?: number
  /** The most the machine wrote to its block devices over one second (MiB: `pgpgout` counts KiB). */
  readonly mostWrittenInASecondMiB: number
}

/** The `i`-th record's value as text: `record-<i>;` then filler, `bytes` printable ASCII characters. */
export const makeText = (bytes: number) => {
  const filler = "abcdefghijklmnopqrstuvwxyz0123456789-".repeat(Math.ceil(bytes / 37)).slice(0, bytes)
  return (i: number): string => {
    const prefix = `record-${i};`
    return prefix.length >= bytes ? prefix.slice(0, bytes) : prefix + filler.slice(prefix.length)
  }
}

/** A value of `bytes` printable ASCII bytes that differs per record (its first bytes name it). */
export const makeValue = (bytes: number) => {
  const text = makeText(bytes)
  return (i: number): Buffer => Buffer.from(text(i), "latin1")
}

/** `Promise.withResolvers` (ES2024; the project's lib is ES2023). */
export const deferred = <A>() => {
  let resolve!: (value: A) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<A>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

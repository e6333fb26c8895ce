/**
 * What the benchmark's parent (`bench/run.ts`) and its child processes
 * (`bench/child.ts`) share: the job each child is given, the result it sends
 * back, and the measuring helpers.
 *
 * Benchmarks are not tests: nothing here asserts a time.
 */

/** The consumer variants compared side by side. */
export const variantNames = [
  "kafkajs-raw",
  "pipeline-full",
  "pipeline-no-archive",
  "pipeline-io",
  "platformatic-raw",
  "kcat-raw"
] as const
export type VariantName = typeof variantNames[number]

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
  readonly cpuMicros: number
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

/** CPU and RSS of this process from `start()` on; RSS sampled every 250 ms. */
export const measure = () => {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const rss: Array<readonly [number, number]> = []
  const sample = () => rss.push([Math.round(performance.now() - t0), Math.round(process.memoryUsage.rss() / 1048576)])
  sample()
  const timer = setInterval(sample, 250)
  timer.unref()
  let last: { readonly elapsedMs: number; readonly cpuMicros: number } | undefined
  let first: number | undefined
  return {
    t0,
    /** Call for every record handled (only the first call counts). */
    record: () => {
      first ??= performance.now() - t0
    },
    /** Call when the last record is handled. */
    lastRecord: () => {
      if (last !== undefined) return
      const cpu = process.cpuUsage(cpu0)
      last = { elapsedMs: performance.now() - t0, cpuMicros: cpu.user + cpu.system }
      sample()
    },
    finish: () => {
      clearInterval(timer)
      sample()
      const wallMs = performance.now() - t0
      if (last === undefined) {
        const cpu = process.cpuUsage(cpu0)
        last = { elapsedMs: wallMs, cpuMicros: cpu.user + cpu.system }
      }
      return {
        ...last,
        firstRecordMs: first ?? 0,
        wallMs,
        rss,
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024)
      }
    }
  }
}

/** A value of `bytes` printable ASCII bytes that differs per record (its first bytes name it). */
export const makeValue = (bytes: number) => {
  const filler = Buffer.alloc(bytes, "abcdefghijklmnopqrstuvwxyz0123456789-")
  return (i: number): Buffer => {
    const value = Buffer.from(filler)
    value.write(`record-${i};`, 0, "latin1")
    return value
  }
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

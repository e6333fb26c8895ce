/**
 * The latency phase of `npm run bench`: paced runs of a fresh topic each, the consumer joined
 * first, then a producer at a share of the `pipeline-full` rate (docs/BENCHMARKS.md, "Latency").
 */
import type { Bench } from "./context.js"
import type { Producer, VariantName } from "./common.js"
import { deferred, pacedCounts, sampleMachine } from "./common.js"

export interface LatencyOptions {
  readonly settings: {
    readonly partitions: number
    readonly valueBytes: number
    readonly latencySeconds: number
    readonly latencyWarmupRunSeconds: number
    readonly latencyWarmupMs: number
    readonly latencyCommitIntervalMs: number
  }
  /** `--only`: the variants whose latency points run (all when undefined). */
  readonly only: ReadonlyArray<VariantName> | undefined
  /** Why a variant cannot run here, or undefined. */
  readonly available: (variant: VariantName) => string | undefined
  readonly log: (line: string) => void
  /** Whether kcat is installed: the paced producer then (else kafkajs). */
  readonly kcat: boolean
}

/**
 * One paced run: a fresh topic, the consumer joined first, then the producer at `load` × the
 * `pipeline-full` rate for `seconds`.
 */
const latencyPoint = async (
  bench: Bench,
  options: LatencyOptions,
  full: { readonly recordsPerSec: number },
  producer: Producer,
  what: "latency" | "warm-up",
  variant: VariantName,
  load: number,
  seconds: number
) => {
  const { log, settings } = options
  const rate = Math.floor(full.recordsPerSec * load)
  const records = rate * seconds
  const latencyTopic = `bench-latency-${bench.runId}-${bench.next()}`
  await bench.broker.createTopic(latencyTopic, settings.partitions)
  const counts = pacedCounts(producer, records, settings.partitions).filter(({ count }) => count > 0)
  const ready = deferred<void>()
  const consumer = bench.consume(variant, { topic: latencyTopic, partitions: counts }, {
    signalReady: true,
    latency: { warmupMs: settings.latencyWarmupMs, commitIntervalMs: settings.latencyCommitIntervalMs }
  }, () => ready.resolve())
  await Promise.race([ready.promise, consumer])
  // Handled here if the run fails before it is awaited (its child is killed then).
  consumer.catch(() => undefined)
  const machine = sampleMachine()
  const produced = await bench.produce(latencyTopic, records, settings.valueBytes, { rate, producer })
  // The consumer stops at the counts' offsets: a partitioner that placed records elsewhere
  // would leave it waiting, so the topic's end offsets are checked first.
  const landed = await bench.extentOf(latencyTopic)
  if (JSON.stringify(landed.partitions) !== JSON.stringify(counts)) {
    throw new Error(`${producer} placed the paced records as ${JSON.stringify(landed.partitions)}, ` +
      `expected ${JSON.stringify(counts)}`)
  }
  const consumed = await consumer
  const machineLoad = machine.stop()
  await bench.deleteTopic(latencyTopic)
  const l = consumed.latency!
  const checksumOk = consumed.missing === 0 && consumed.duplicates === 0
  log(`${what} of ${variant} at ${rate} rec/s (${load} × pipeline-full) for ${seconds} s: ` +
    `p50 ${l.p50Ms} ms, p95 ${l.p95Ms} ms, p99 ${l.p99Ms} ms; commit p99 ${l.commitP99Ms} ms` +
    (consumed.eventLoopDelay === undefined ? "" : `; event loop delay p99 ${consumed.eventLoopDelay.p99Ms} ms, ` +
      `max ${consumed.eventLoopDelay.maxMs} ms; GC ${consumed.eventLoopDelay.gcPauses} pauses, ` +
      `${consumed.eventLoopDelay.gcTotalMs} ms in all, longest ${consumed.eventLoopDelay.gcMaxMs} ms`) +
    (machineLoad === undefined ? "" : `; machine ${machineLoad.busyPct}% busy (busiest second ` +
      `${machineLoad.busiestSecondPct}%), ${machineLoad.stealPct}% stolen, ` +
      `at most ${machineLoad.mostWrittenInASecondMiB} MiB written to disk in a second`) +
    `; missing ${consumed.missing}, duplicates ${consumed.duplicates}`)
  return {
    variant,
    load,
    rate,
    records,
    seconds,
    producer,
    producedPerSec: Math.round(produced.recordsPerSec),
    p50Ms: l.p50Ms,
    p95Ms: l.p95Ms,
    p99Ms: l.p99Ms,
    maxMs: l.maxMs,
    commitP50Ms: l.commitP50Ms,
    commitP95Ms: l.commitP95Ms,
    commitP99Ms: l.commitP99Ms,
    commitIntervalMs: settings.latencyCommitIntervalMs,
    warmupMs: settings.latencyWarmupMs,
    samples: l.samples,
    cpuMicrosPerRecord: Math.round((consumed.cpuMicros / consumed.records) * 10) / 10,
    ...(consumed.eventLoopDelay === undefined ? {} : { eventLoopDelay: consumed.eventLoopDelay }),
    ...(machineLoad === undefined ? {} : { machine: machineLoad }),
    checksumOk
  }
}

/**
 * Latency at half the pipeline-full rate; the same rate without the archive, through raw kafkajs and
 * through the archive by hand; a quarter of the rate, to see where queueing starts. First an
 * unmeasured warm-up run at that rate: the broker's first minute of paced produce requests costs
 * it a core more than later ones (its JIT), and whichever variant came first paid for it.
 */
export const latencyPhase = async (bench: Bench, full: { readonly recordsPerSec: number }, options: LatencyOptions) => {
  const { available, log, only, settings } = options
  const producer: Producer = options.kcat ? "kcat" : "kafkajs"
  log(`paced producer: ${producer}${producer === "kafkajs" ? " (kcat is not installed)" : ""}`)
  const point = (what: "latency" | "warm-up", variant: VariantName, load: number, seconds: number) =>
    latencyPoint(bench, options, full, producer, what, variant, load, seconds)
  const warmupRun = await point("warm-up", "kafkajs-raw", 0.5, settings.latencyWarmupRunSeconds)
  // The platformatic variants at the same rate as the others (half the kafkajs pipeline-full's): side by side.
  const points = ([
    ["pipeline-full", 0.5],
    ["pipeline-full-platformatic", 0.5],
    ["pipeline-no-archive", 0.5],
    ["pipeline-no-archive-platformatic", 0.5],
    ["kafkajs-raw", 0.5],
    ["kafkajs-archive", 0.5],
    ["kafkajs-archive-worker", 0.5],
    ["pipeline-full", 0.25]
  ] as const).filter(([variant]) => available(variant) === undefined && (only === undefined || only.includes(variant)))
  const byLoad = []
  for (const [variant, load] of points) byLoad.push(await point("latency", variant, load, settings.latencySeconds))
  return { ...byLoad[0], byLoad, warmupRun }
}

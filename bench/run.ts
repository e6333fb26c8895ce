/**
 * `npm run bench` (`bench:quick` for --quick): the pipeline side by side with
 * raw clients on the same broker, in the same run. Writes
 * `bench/results/latest.json` and regenerates the figures of docs/BENCHMARKS.md.
 *
 *   --quick            100,000 records instead of 1,000,000; shorter latency and memory runs
 *   --rounds N         rounds of each variant (default 3), in alternating order
 *   --only a,b         only these variants (and no latency / memory runs unless asked)
 *   --latency          with --only: run the latency phase too (for the variants listed)
 *   --memory           with --only: run the large-record phase too
 *   --cpu-prof         children run with --cpu-prof (profiles in bench/results/profiles/)
 *   --node-flags "F"   Node flags for every child (e.g. "--max-semi-space-size=8", what the bin passes)
 *   --out FILE         results file (default bench/results/latest.json; docs only for the default)
 *
 * Uses KAFKA_BROKERS when set, else starts its own broker (scripts/kafka.sh, a temp data dir,
 * stopped and deleted at the end).
 */
import type { ChildProcess } from "node:child_process"
import { execFileSync, fork } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Admin } from "kafkajs"
import { Kafka, logLevel } from "kafkajs"
import type { Broker } from "../test/support/broker.js"
import { startBroker } from "../test/support/broker.js"
import type { ChildMessage, ConsumeResult, Extent, Job, ProduceResult, VariantName } from "./common.js"
import {
  IO_MS,
  ioVariants,
  KEYS,
  median,
  needsPlatformatic,
  readMachine,
  SLOW_KEY,
  SLOW_KEY_MS,
  stealPct,
  totalOf,
  variantNames
} from "./common.js"
import { measureCliMemory } from "./cli-memory.js"
import type { Bench } from "./context.js"
import { latencyPhase } from "./latency.js"
import { renderBenchmarksDoc } from "./render.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
/** Compiled (tsc to JS, for profiles with real line numbers) or run through tsx. */
const compiled = import.meta.url.endsWith(".js")
const CHILD = fileURLToPath(new URL(compiled ? "child.js" : "child.ts", import.meta.url))
const RESULTS = join(ROOT, "bench", "results")

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(name)
const option = (name: string) => {
  const at = argv.indexOf(name)
  return at < 0 ? undefined : argv[at + 1]
}
const quick = flag("--quick")
const rounds = Number(option("--rounds") ?? 3)
const only = option("--only")?.split(",") as Array<VariantName> | undefined
const cpuProf = flag("--cpu-prof")
const childNodeFlags = option("--node-flags")?.split(" ").filter(Boolean) ?? []
const outFile = option("--out") ?? join(RESULTS, "latest.json")
const settings = {
  mode: quick ? "quick" : "full",
  partitions: 6,
  records: quick ? 100_000 : 1_000_000,
  valueBytes: 1024,
  /** Distinct keys of the records (`key-<i mod keys>`). */
  keys: KEYS,
  /** The io variants read this many (5 ms each at concurrency 100: 20,000 rec/s at best). */
  ioRecords: quick ? 50_000 : 300_000,
  ioMs: IO_MS,
  /** pipeline-io-slow-key: this key's records take `slowKeyMs`. */
  slowKey: SLOW_KEY,
  slowKeyMs: SLOW_KEY_MS,
  latencySeconds: quick ? 10 : 60,
  /** The unmeasured paced run before the latency runs (kafkajs-raw, half load). */
  latencyWarmupRunSeconds: quick ? 5 : 30,
  latencyWarmupMs: quick ? 1000 : 2000,
  latencyCommitIntervalMs: 1000,
  largeRecords: quick ? 100 : 1000,
  largeValueBytes: 9_500_000,
  /** `--node-flags`: Node flags every child ran with (none: Node's defaults). */
  childNodeFlags,
  /** Records of 1 KiB read by the built CLI at default settings (the same in both modes: the target's). */
  cliRecords: 200_000,
  rounds
}

// ---------------------------------------------------------------- children

const profileDir = join(RESULTS, "profiles")
let childCount = 0

/** Children still running: killed when the run fails, so that none keeps this process alive. */
const children = new Set<ChildProcess>()

/** Runs a job in a fresh Node process; `onReady` is called when it says it has its partitions. */
const runChild = <A extends ChildMessage>(job: Job, onReady?: () => void): Promise<A> =>
  new Promise((resolve, reject) => {
    const execArgv = [...(compiled ? [] : ["--import", "tsx"]), "--disable-warning=TimeoutNegativeWarning", ...childNodeFlags]
    if (cpuProf) execArgv.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${++childCount}-${job._tag === "consume" ? job.variant : "produce"}.cpuprofile`)
    const child = fork(CHILD, [JSON.stringify(job)], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] })
    children.add(child)
    child.on("exit", () => children.delete(child))
    let result: A | undefined
    child.on("message", (message: ChildMessage) => {
      if (message._tag === "ready") onReady?.()
      else if (message._tag === "failed") reject(new Error(`child ${job._tag} failed: ${message.message}`))
      else result = message as A
    })
    child.on("exit", (code) => {
      if (result !== undefined) resolve(result)
      else reject(new Error(`child ${job._tag} exited with ${code} and no result`))
    })
  })

const succeeds = (file: string, args: ReadonlyArray<string>): boolean => {
  try {
    execFileSync(file, args, { cwd: ROOT, stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

const available = (variant: VariantName): string | undefined => {
  if (variant === "kcat-raw" && !(succeeds("kcat", ["-V"]) && succeeds("/usr/bin/time", ["-f", "", "true"]))) {
    return "kcat or /usr/bin/time not installed (Debian packages kcat, time)"
  }
  if (needsPlatformatic(variant) && !succeeds(process.execPath, ["-e", "import('@platformatic/kafka')"])) {
    return "@platformatic/kafka not installed"
  }
  return undefined
}

// ---------------------------------------------------------------- main

const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`)

const openBench = (broker: Broker, admin: Admin, work: string): Bench => {
  const runId = `${Date.now().toString(36)}`
  let counter = 0
  const next = () => ++counter
  const groupId = (variant: string) => `bench-${variant}-${runId}-${next()}`
  return {
    broker,
    runId,
    next,
    groupId,
    extentOf: async (topic, limitPerPartition = Infinity) => ({
      topic,
      partitions: (await admin.fetchTopicOffsets(topic))
        .map(({ high, partition }) => ({ partition, count: Math.min(Number(high), limitPerPartition) }))
        .filter(({ count }) => count > 0)
        .sort((a, b) => a.partition - b.partition)
    }),
    produce: (topic, records, valueBytes, paced) =>
      runChild<ProduceResult>({
        _tag: "produce",
        brokers: broker.brokers,
        topic,
        partitions: settings.partitions,
        records,
        valueBytes,
        ...paced
      }),
    consume: (variant, extent, extra = {}, onReady) =>
      runChild<ConsumeResult>({
        _tag: "consume",
        variant,
        brokers: broker.brokers,
        groupId: groupId(variant),
        extent,
        dir: join(work, `${variant}-${next()}`),
        ...extra
      }, onReady),
    deleteTopic: (topic) => admin.deleteTopics({ topics: [topic] }).catch(() => undefined)
  }
}

/** The seed topic: every record of the run, and the first `ioRecords` of them for the io variants. */
const seedPhase = async (bench: Bench) => {
  const topic = `bench-seed-${bench.runId}`
  await bench.broker.createTopic(topic, settings.partitions)
  const seeded = await bench.produce(topic, settings.records, settings.valueBytes)
  const extent = await bench.extentOf(topic)
  log(`seeded ${totalOf(extent)} records of ${settings.valueBytes} B in ${(seeded.elapsedMs / 1000).toFixed(1)} s (${Math.round(seeded.recordsPerSec)} rec/s)`)
  return { extent, ioExtent: await bench.extentOf(topic, Math.ceil(settings.ioRecords / settings.partitions)) }
}

/** Every variant available, `rounds` times, in alternating order. */
const throughputPhase = async (bench: Bench, extent: Extent, ioExtent: Extent) => {
  const skipped: Record<string, string> = {}
  const variants = variantNames.filter((v) => {
    if (only !== undefined && !only.includes(v)) return false
    const missing = available(v)
    if (missing !== undefined) skipped[v] = missing
    return missing === undefined
  })
  const results = new Map<VariantName, Array<ConsumeResult>>(variants.map((v) => [v, []]))
  for (let round = 0; round < settings.rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse()
    for (const variant of order) {
      const result = await bench.consume(variant, ioVariants.has(variant) ? ioExtent : extent)
      results.get(variant)!.push(result)
      log(`round ${round + 1} ${variant}: ${Math.round(rateOf(result))} rec/s` +
        (result.others === undefined ? "" : `, keys other than ${SLOW_KEY} ${Math.round(othersRateOf(result))} rec/s`) +
        ` (first record after ` +
        `${(result.firstRecordMs / 1000).toFixed(2)} s), ` +
        `${(result.cpuMicros / result.records).toFixed(1)} µs CPU/rec, ${result.peakRssMb} MB peak RSS, ` +
        `missing ${result.missing}, duplicates ${result.duplicates}`)
    }
  }
  return { skipped, runs: variants.map((name) => summarize(name, results.get(name)!)) }
}

type Summary = ReturnType<typeof summarize>

/** RSS growth through the long runs, large records, and the CLI's own process. */
const memoryPhase = async (bench: Bench, full: Summary, work: string) => {
  const largeTopic = `bench-large-${bench.runId}`
  await bench.broker.createTopic(largeTopic, settings.partitions)
  await bench.produce(largeTopic, settings.largeRecords, settings.largeValueBytes)
  const largeExtent = await bench.extentOf(largeTopic)
  const largeRaw = await bench.consume("kafkajs-raw", largeExtent)
  const large = await bench.consume("pipeline-full", largeExtent)
  const largePlatformatic = available("pipeline-full-platformatic") === undefined
    ? await bench.consume("pipeline-full-platformatic", largeExtent)
    : undefined
  const memory = {
    rssGrowthPct: full.rssGrowthPct,
    rssGrowthPctByRound: full.rssGrowthPctByRound,
    largeRecords: settings.largeRecords,
    largeValueBytes: settings.largeValueBytes,
    largePeakRssMb: large.peakRssMb,
    largeKafkajsRawPeakRssMb: largeRaw.peakRssMb,
    largeRecordsPerSec: Math.round(rateOf(large)),
    largeChecksumOk: large.missing === 0 && large.duplicates === 0,
    ...(largePlatformatic === undefined ? {} : {
      largePlatformatic: {
        peakRssMb: largePlatformatic.peakRssMb,
        recordsPerSec: Math.round(rateOf(largePlatformatic)),
        checksumOk: largePlatformatic.missing === 0 && largePlatformatic.duplicates === 0
      }
    })
  }
  log(`large records: ${large.peakRssMb} MB peak RSS (kafkajs-raw ${largeRaw.peakRssMb} MB), ` +
    `missing ${large.missing}, duplicates ${large.duplicates}` +
    (largePlatformatic === undefined ? "" : `; pipeline-full-platformatic ${largePlatformatic.peakRssMb} MB peak RSS, ` +
      `missing ${largePlatformatic.missing}, duplicates ${largePlatformatic.duplicates}`))
  await bench.deleteTopic(largeTopic)
  const cli = await measureCliMemory({
    root: ROOT,
    brokers: bench.broker.brokers,
    work,
    records: settings.cliRecords,
    seed: async (records) => {
      const cliTopic = `bench-cli-${bench.runId}`
      await bench.broker.createTopic(cliTopic, settings.partitions)
      await bench.produce(cliTopic, records, settings.valueBytes)
      return bench.extentOf(cliTopic)
    },
    groupId: bench.groupId,
    platformatic: available("pipeline-full-platformatic") === undefined,
    log
  })
  return { ...memory, cli }
}

const main = async () => {
  const loadBefore = os.loadavg()
  const machineBefore = readMachine()
  const broker = await startBroker()
  const work = mkdtempSync(join(os.tmpdir(), "ekp-bench-"))
  const admin = new Kafka({ clientId: "bench-admin", brokers: broker.brokers.split(","), logLevel: logLevel.ERROR }).admin()
  await admin.connect()
  const bench = openBench(broker, admin, work)
  try {
    mkdirSync(RESULTS, { recursive: true })
    if (cpuProf) mkdirSync(profileDir, { recursive: true })
    log(`broker ${broker.brokers} (${broker.kind}); ${settings.mode} mode`)
    const { extent, ioExtent } = await seedPhase(bench)
    const { runs, skipped } = await throughputPhase(bench, extent, ioExtent)
    const full = runs.find((r) => r.name === "pipeline-full")
    const latency = full !== undefined && (only === undefined || flag("--latency"))
      ? await latencyPhase(bench, full, { settings, only, available, log, kcat: succeeds("kcat", ["-V"]) })
      : undefined
    const memory = full !== undefined && (only === undefined || flag("--memory")) ? await memoryPhase(bench, full, work) : undefined
    const loadAfter = os.loadavg()
    const report = {
      when: new Date().toISOString(),
      node: process.version,
      kafka: `Apache Kafka ${kafkaVersion()} (KRaft, single node, loopback)`,
      machine: {
        cores: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        cpu: os.cpus()[0]?.model ?? "unknown",
        loadAverageBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
        loadAverageAfter: loadAfter.map((l) => Math.round(l * 100) / 100),
        stealPct: stealPct(machineBefore, readMachine())
      },
      settings,
      skipped,
      runs,
      ...(latency === undefined ? {} : { latency }),
      ...(memory === undefined ? {} : { memory })
    }
    writeFileSync(outFile, JSON.stringify(report, null, 2) + "\n")
    log(`wrote ${outFile}`)
    if (option("--out") === undefined) {
      renderBenchmarksDoc()
      log("regenerated docs/BENCHMARKS.md")
    }
  } finally {
    for (const child of children) child.kill("SIGKILL")
    await admin.disconnect().catch(() => undefined)
    rmSync(work, { recursive: true, force: true })
    await broker.close()
  }
}

const kafkaVersion = (): string =>
  /<kafka.version>(.*)<\/kafka.version>/.exec(readFileSync(join(ROOT, "pom.xml"), "utf8"))?.[1] ?? "unknown"

/** RSS growth from 20% of the run (first to last record) to its end, in % of the RSS at 20%. */
const rssGrowthPct = (result: ConsumeResult): number => {
  const at = (ms: number) => result.rss.reduce((best, s) => Math.abs(s[0] - ms) < Math.abs(best[0] - ms) ? s : best)
  const from = at(result.firstRecordMs + (result.elapsedMs - result.firstRecordMs) * 0.2)[1]
  const to = at(result.elapsedMs)[1]
  return Math.round(((to - from) / from) * 1000) / 10
}

/** Steady-state rate: from the first record handled to the last (connect and group join left out). */
const rateOf = (r: ConsumeResult) => r.records / ((r.elapsedMs - r.firstRecordMs) / 1000)

/** pipeline-io-slow-key: the other keys' records over the time from the first record handled to the last of them. */
const othersRateOf = (r: ConsumeResult) => r.others!.records / ((r.others!.elapsedMs - r.firstRecordMs) / 1000)

/** The others' rate (median and by round) and the slow key's records, when the variant reports them. */
const summarizeOthers = (results: ReadonlyArray<ConsumeResult>) => {
  if (!results.every((r) => r.others !== undefined)) return {}
  const rates = results.map(othersRateOf)
  return {
    slowKeyRecords: results[0]!.records - results[0]!.others!.records,
    othersRecordsPerSec: Math.round(median(rates)),
    othersRecordsPerSecByRound: rates.map(Math.round)
  }
}

const summarize = (name: VariantName, results: ReadonlyArray<ConsumeResult>) => {
  const rates = results.map(rateOf)
  const mb = results.map((r) => r.bytes / 1e6 / ((r.elapsedMs - r.firstRecordMs) / 1000))
  const cpu = results.map((r) => r.cpuMicros / r.records)
  const growth = results.map(rssGrowthPct)
  const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits
  return {
    name,
    records: results[0]!.records,
    recordsPerSec: round(median(rates)),
    mbPerSec: round(median(mb), 1),
    cpuMicrosPerRecord: round(median(cpu), 1),
    ...(results.every((r) => r.mainThreadBusyPct !== undefined)
      ? { mainThreadBusyPct: round(median(results.map((r) => r.mainThreadBusyPct!)), 1) }
      : {}),
    peakRssMb: Math.max(...results.map((r) => r.peakRssMb)),
    checksumOk: results.every((r) => r.missing === 0 && r.duplicates === 0),
    rounds: results.length,
    recordsPerSecByRound: rates.map((r) => round(r)),
    spreadPct: round(((Math.max(...rates) - Math.min(...rates)) / median(rates)) * 100, 1),
    wallSecByRound: results.map((r) => round(r.wallMs / 1000, 1)),
    firstRecordSecByRound: results.map((r) => round(r.firstRecordMs / 1000, 2)),
    rssGrowthPct: round(median(growth), 1),
    rssGrowthPctByRound: growth,
    ...summarizeOthers(results)
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})

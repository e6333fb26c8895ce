/**
 * Memory of `kafka-pipeline run` as an operator runs it: the built CLI (`bin/kafka-pipeline.js`
 * run as an executable, so with the Node flags of its first line; compiled JS, no loader), with
 * Node 24 first on the PATH as `npx` puts it, a no-op processor, the backup on, every other setting at its default
 * unless a run names it, reading a topic to its end (`--stop-at-offsets`). Its peak RSS comes from
 * /usr/bin/time; its stop summary (stdout, one JSON line) says whether every record was handled
 * and committed.
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import type { Extent } from "./common.js"
import { totalOf } from "./common.js"

export interface CliMemoryRun {
  readonly client: "kafkajs" | "platformatic"
  /** `--queue-bytes`; undefined: its default. */
  readonly queueBytes: number | undefined
  /** Started as `node bin/kafka-pipeline.js`, without the flags of the bin's first line (V8's own heap sizes). */
  readonly withoutBinFlags: boolean
  readonly records: number
  readonly peakRssMb: number
  readonly wallSec: number
  /** User and system CPU of the whole process (start, group join and stop included), per record. */
  readonly cpuMicrosPerRecord: number
  /** Every record processed once, none dead-lettered, and every partition committed to its end. */
  readonly checksumOk: boolean
}

interface StopSummary {
  readonly processed: number
  readonly deadLettered: number
  readonly committed: ReadonlyArray<{ readonly partition: number; readonly offset: number }>
}

/** Whether the run handled exactly the extent's records and committed every partition to its end. */
export const summaryCovers = (summary: StopSummary, extent: Extent): boolean =>
  summary.processed === totalOf(extent) && summary.deadLettered === 0 &&
  extent.partitions.every(({ count, partition }) =>
    summary.committed.some((c) => c.partition === partition && c.offset === count)
  )

export const runCli = (options: {
  readonly root: string
  readonly brokers: string
  readonly groupId: string
  readonly extent: Extent
  readonly dir: string
  readonly client: CliMemoryRun["client"]
  readonly queueBytes?: number | undefined
  readonly withoutBinFlags?: boolean | undefined
}): Promise<CliMemoryRun> =>
  new Promise((resolve, reject) => {
    const { extent } = options
    const backup = join(options.dir, "backup")
    const dlq = join(options.dir, "dlq")
    mkdirSync(backup, { recursive: true })
    mkdirSync(dlq, { recursive: true })
    const stopAt = extent.partitions.map(({ count, partition }) => `${extent.topic}:${partition}=${count - 1}`).join(",")
    const args = [
      "-f", "PEAK_RSS_KB %M WALL %e CPU %U %S",
      ...(options.withoutBinFlags === true ? [process.execPath] : []), join(options.root, "bin", "kafka-pipeline.js"), "run",
      "--brokers", options.brokers, "--topics", extent.topic, "--group-id", options.groupId,
      "--backup-dir", backup, "--dlq-dir", dlq, "--processor", "builtin:noop",
      "--stop-at-offsets", stopAt, "--client", options.client, "--metrics-port", "off", "--log-format", "json",
      ...(options.queueBytes === undefined ? [] : ["--queue-bytes", String(options.queueBytes)])
    ]
    const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}` }
    const child = spawn("/usr/bin/time", args, { stdio: ["ignore", "pipe", "pipe"], env })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("error", reject)
    child.once("close", (code) => {
      const timing = /PEAK_RSS_KB (\d+) WALL ([\d.]+) CPU ([\d.]+) ([\d.]+)/.exec(stderr)
      const summaryLine = stdout.trim().split("\n").at(-1) ?? ""
      if (code !== 0 || timing === null) {
        return reject(new Error(`kafka-pipeline run exited with ${code}:\n${stderr.slice(-2000)}`))
      }
      const summary = JSON.parse(summaryLine) as StopSummary
      resolve({
        client: options.client,
        queueBytes: options.queueBytes,
        withoutBinFlags: options.withoutBinFlags === true,
        records: summary.processed,
        peakRssMb: Math.round(Number(timing[1]) / 1024),
        wallSec: Number(timing[2]),
        cpuMicrosPerRecord: Math.round(((Number(timing[3]) + Number(timing[4])) * 1e6) / Math.max(1, summary.processed) * 10) / 10,
        checksumOk: summaryCovers(summary, extent)
      })
    })
  })

/**
 * The runs of the phase: the default settings with each client, then the queue's byte bound
 * smaller and larger, then the default settings without the bin's Node flags.
 */
const RUNS: ReadonlyArray<Pick<CliMemoryRun, "client" | "queueBytes" | "withoutBinFlags">> = [
  { client: "kafkajs", queueBytes: undefined, withoutBinFlags: false },
  { client: "platformatic", queueBytes: undefined, withoutBinFlags: false },
  { client: "kafkajs", queueBytes: 16 * 2 ** 20, withoutBinFlags: false },
  { client: "kafkajs", queueBytes: 256 * 2 ** 20, withoutBinFlags: false },
  { client: "kafkajs", queueBytes: undefined, withoutBinFlags: true }
]

/**
 * Builds the CLI as `npm ci` does (`npm run build`: the `dist/` that `bin/kafka-pipeline.js`
 * runs), seeds a topic of `records` records of 1 KiB and reads it through each run of `RUNS`,
 * each with a fresh group and archive.
 */
export const measureCliMemory = async (options: {
  readonly root: string
  readonly brokers: string
  readonly work: string
  readonly records: number
  readonly seed: (records: number) => Promise<Extent>
  readonly groupId: (name: string) => string
  readonly platformatic: boolean
  readonly log: (line: string) => void
}): Promise<ReadonlyArray<CliMemoryRun>> => {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: options.root, stdio: "inherit" })
  const extent = await options.seed(options.records)
  const results: Array<CliMemoryRun> = []
  for (const [index, run] of RUNS.entries()) {
    if (run.client === "platformatic" && !options.platformatic) continue
    const result = await runCli({
      root: options.root,
      brokers: options.brokers,
      groupId: options.groupId(`cli-${run.client}`),
      extent,
      dir: join(options.work, `cli-memory-${index}`),
      client: run.client,
      queueBytes: run.queueBytes,
      withoutBinFlags: run.withoutBinFlags
    })
    options.log(`kafka-pipeline run (${run.client}, queue bytes ${run.queueBytes ?? "default"}` +
      `${run.withoutBinFlags ? ", without the bin's Node flags" : ""}): ` +
      `${result.peakRssMb} MB peak RSS, ${result.records} records in ${result.wallSec} s, ` +
      `${result.cpuMicrosPerRecord} µs CPU/record, checksum ${result.checksumOk ? "ok" : "FAILED"}`)
    results.push(result)
  }
  return results
}

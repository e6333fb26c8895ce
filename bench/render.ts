/**
 * Renders the figures section of docs/BENCHMARKS.md (between the
 * `<!-- figures:start -->` and `<!-- figures:end -->` markers) from
 * bench/results/latest.json. `npm run bench` calls it; `npm run bench:render`
 * runs it alone.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { CliMemoryRun } from "./cli-memory.js"
import type { LatencyPoint, Report } from "./report.js"
import type { TargetStatus } from "./targets.js"
import { LITTLE_RATE, targetRows } from "./targets.js"

const LATEST = fileURLToPath(new URL("results/latest.json", import.meta.url))
const DOC = fileURLToPath(new URL("../docs/BENCHMARKS.md", import.meta.url))
const START = "<!-- figures:start -->"
const END = "<!-- figures:end -->"

const pacedProducer = { kcat: "kcat, librdkafka, 5 ms linger", kafkajs: "kafkajs, one request at a time" } as const

const n = (value: number) => value.toLocaleString("en-US")
const met = (ok: boolean | undefined) => ok === undefined ? "not measured" : ok ? "**met**" : "**missed**"

/** The variants whose processor waits (the main thread's µs per record says nothing there). */
const isIo = (name: string) => name === "pipeline-io" || name === "pipeline-io-slow-key"

/** The run line, the throughput table and the main thread's time per record. */
const throughputFigures = (report: Report): Array<string> => {
  const s = report.settings
  const io = report.runs.filter((r) => isIo(r.name))
  const lines = [
    `Run of ${report.when} (${s.mode} mode: ${n(s.records)} records of 1 KiB over 6 partitions` +
    // Runs before key ordering gave every record a key of its own.
    `${s.keys === undefined ? "" : ` with ${n(s.keys)} distinct keys`}; ` +
    `${io.length > 1 ? io.map((r) => r.name).join(" and ") : "pipeline-io"} on the first ` +
    `${n(io[0]?.records ?? s.ioRecords)}), ${s.rounds} rounds per variant. ` +
    `Node ${report.node}, ${report.kafka}; ${report.machine.cores} cores (${report.machine.cpu}), ${report.machine.memoryGiB} GiB; ` +
    `load average before ${report.machine.loadAverageBefore.join(" / ")}, after ${report.machine.loadAverageAfter.join(" / ")}` +
    (report.machine.stealPct === undefined
      ? "."
      : `; ${report.machine.stealPct}% of the cores' time stolen by the hypervisor during the run (other virtual machines).`),
    "",
    "| variant | records | records/s (median) | spread | MB/s | CPU µs/record | main thread busy | peak RSS MB | checksum |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ...report.runs.map((r) =>
      `| \`${r.name}\` | ${n(r.records)} | ${n(r.recordsPerSec)} | ±${(r.spreadPct / 2).toFixed(1)}% (${r.recordsPerSecByRound.map(n).join(", ")}) | ` +
      `${r.mbPerSec} | ${r.cpuMicrosPerRecord} | ${r.mainThreadBusyPct === undefined ? "–" : `${r.mainThreadBusyPct}%`} | ` +
      `${r.peakRssMb} | ${r.checksumOk ? "ok" : "**FAILED**"} |`
    ),
    ...Object.entries(report.skipped).map(([name, why]) => `| \`${name}\` | skipped: ${why} |||||||| `),
    ""
  ]
  const threadTimes = report.runs.flatMap((r) =>
    r.mainThreadBusyPct === undefined || isIo(r.name)
      ? []
      : [`\`${r.name}\` ${(r.mainThreadBusyPct / 100 / r.recordsPerSec * 1e6).toFixed(1)}`]
  )
  if (threadTimes.length > 0) {
    lines.push(
      `Main thread µs per record (its busy share over the rate, both medians): ${threadTimes.join(", ")}.`,
      ""
    )
  }
  return lines
}

/** What stalled each latency run's consumer: its event loop's delay and the collector's pauses. */
const stallFigures = (points: ReadonlyArray<LatencyPoint>): Array<string> => {
  const measured = points.filter((p) => p.eventLoopDelay !== undefined)
  if (measured.length === 0) return []
  return [
    "The consumer's stalls in the same runs: how late its event loop ran a 10 ms timer (p99, max), and the " +
    "garbage collector's pauses (from the first record to the last):",
    "",
    "| variant | load | event loop delay p99 | max | GC pauses | GC in all | longest GC pause |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...measured.map((p) => {
      const d = p.eventLoopDelay!
      return `| \`${p.variant}\` | ${p.load} × | ${d.p99Ms} ms | ${d.maxMs} ms | ${n(d.gcPauses)} | ${n(d.gcTotalMs)} ms | ${d.gcMaxMs} ms |`
    }),
    ""
  ]
}

const latencyFigures = (l: NonNullable<Report["latency"]>): Array<string> => [
  `Latency (\`pipeline-full\`, a paced producer (${pacedProducer[l.producer ?? "kafkajs"]}) at ${n(l.rate)} rec/s, ` +
  `half the measured rate, for ${l.seconds} s; ` +
  `the first ${l.warmupMs / 1000} s left out as warm-up; ${n(l.samples)} samples; commit interval ${l.commitIntervalMs} ms):`,
  "",
  "| variant | load | rate rec/s | produce → handled p50 | p95 | p99 | handled → committed p50 | p99 | machine busy (busiest second) | stolen | most written to disk in a second | checksum |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ...(l.byLoad ?? []).map((p) =>
    `| \`${p.variant}\` | ${p.load} × | ${n(p.rate)} | ${p.p50Ms} ms | ${p.p95Ms} ms | ${p.p99Ms} ms | ` +
    `${p.commitP50Ms === null ? "–" : `${p.commitP50Ms} ms`} | ${p.commitP99Ms === null ? "–" : `${p.commitP99Ms} ms`} | ` +
    (p.machine === undefined
      ? "– | – | – | "
      : `${p.machine.busyPct}% (${p.machine.busiestSecondPct}%) | ` +
        `${p.machine.stealPct === undefined ? "–" : `${p.machine.stealPct}%`} | ` +
        `${n(p.machine.mostWrittenInASecondMiB)} MiB | `) +
    `${p.checksumOk ? "ok" : "**FAILED**"} |`
  ),
  "",
  ...stallFigures(l.byLoad ?? []),
  "produce → handled: the record's timestamp (set by the producer when it is handed the record) to the processor call (for " +
  "`kafkajs-raw`, `kafkajs-archive` and `kafkajs-archive-worker`: to `eachBatch`); handled → committed: the processor call to the successful commit that covers it. " +
  "Machine busy: all cores, every process (broker, producer, consumer, kernel), sampled each second; stolen: " +
  "the cores' time the hypervisor gave to other virtual machines." +
  (l.warmupRun === undefined
    ? ""
    : ` Before these runs, an unmeasured ${l.warmupRun.seconds} s run of \`${l.warmupRun.variant}\` at the same rate ` +
      `warmed the broker up (its p99 was ${l.warmupRun.p99Ms} ms; checksum ${l.warmupRun.checksumOk ? "ok" : "**FAILED**"}).`),
  ""
]

const memoryFigures = (m: NonNullable<Report["memory"]>): Array<string> => [
  `Memory: RSS growth of \`pipeline-full\` from 20% to 100% of its runs (median): ${m.rssGrowthPct}%. ` +
  `${n(m.largeRecords)} records of ${(m.largeValueBytes / 1e6).toFixed(1)} MB through \`pipeline-full\`: ` +
  `peak RSS ${m.largePeakRssMb} MB (checksum ${m.largeChecksumOk ? "ok" : "FAILED"})` +
  (m.largeKafkajsRawPeakRssMb === undefined ? "" : `; \`kafkajs-raw\` on the same records: ${m.largeKafkajsRawPeakRssMb} MB`) +
  (m.largePlatformatic === undefined
    ? "."
    : `; \`pipeline-full-platformatic\`: ${m.largePlatformatic.peakRssMb} MB ` +
      `(checksum ${m.largePlatformatic.checksumOk ? "ok" : "FAILED"}).`),
  "",
  ...(m.cli === undefined || m.cli.length === 0 ? [] : cliMemoryFigures(m.cli))
]

const mib = (bytes: number) => `${bytes / 2 ** 20} MiB`

/** `kafka-pipeline run` itself (`bench/cli-memory.ts`): peak RSS by client and queue bound. */
const cliMemoryFigures = (runs: ReadonlyArray<CliMemoryRun>): Array<string> => [
  `\`kafka-pipeline run\` as built by \`npm ci\` (compiled, no loader), ${n(runs[0]!.records)} records of 1 KiB, ` +
  "`builtin:noop`, backup on, every other setting at its default but the one named:",
  "",
  "| client | `queueBytes` | started | peak RSS MB | wall s | CPU µs/record | checksum |",
  "|---|---:|---|---:|---:|---:|---|",
  ...runs.map((r) =>
    `| ${r.client} | ${r.queueBytes === undefined ? "default (64 MiB)" : mib(r.queueBytes)} | ` +
    `${r.withoutBinFlags ? "`node bin/kafka-pipeline.js`: V8's own heap sizes" : "the bin"} | ${n(r.peakRssMb)} | ` +
    `${r.wallSec} | ${r.cpuMicrosPerRecord} | ${r.checksumOk ? "ok" : "**FAILED**"} |`
  ),
  ""
]

const statusCell: Record<TargetStatus, string> = {
  "met": "**met**",
  "missed": "**missed**",
  "not measured yet": "not measured yet",
  "checksum failed": "**checksum FAILED**"
}

/** The issue's targets, met or missed in this run (`bench/targets.ts`). */
const targetFigures = (report: Report): Array<string> => [
  "Targets (issue 18: `client: platformatic` and the speed it allows), from the figures above:",
  "",
  "| target | measured | |",
  "|---|---|---|",
  ...targetRows(report).map((t) => `| ${t.target} | ${t.figure ?? "–"} | ${statusCell[t.status]} |`)
]

/** One row of the ordering table: `ratio` against `target` (undefined: not measured in this run). */
const orderingRow = (target: string, ratio: number | undefined, against: string, ok: (ratio: number) => boolean) =>
  `| ${target} | ${ratio === undefined ? "–" : `${ratio.toFixed(2)} × (${against})`} | ${met(ratio === undefined ? undefined : ok(ratio))} |`

/**
 * What key ordering costs: `pipeline-full` against its unordered rate, `pipeline-io` against
 * Little's law, and the other keys' rate when one key is slow against `pipeline-io`. Runs made
 * before the seed had repeated keys (no `settings.keys`) measured none of it.
 */
const orderingFigures = (report: Report): Array<string> => {
  const keyed = report.settings.keys !== undefined
  const run = (name: string) => keyed ? report.runs.find((r) => r.name === name) : undefined
  const full = run("pipeline-full")
  const unordered = run("pipeline-full-unordered")
  const io = run("pipeline-io")
  const slow = run("pipeline-io-slow-key")
  const others = slow?.othersRecordsPerSec
  const fullRatio = full !== undefined && unordered !== undefined ? full.recordsPerSec / unordered.recordsPerSec : undefined
  const ioRatio = io === undefined ? undefined : io.recordsPerSec / LITTLE_RATE
  const slowRatio = io !== undefined && others !== undefined ? others / io.recordsPerSec : undefined
  const s = report.settings
  return [
    keyed
      ? `Ordering: \`ordering: "key"\` (the default) over ${n(s.keys!)} keys against \`"unordered"\`. ` +
        `In \`pipeline-io-slow-key\` the records of \`${s.slowKey}\`` +
        `${slow?.slowKeyRecords === undefined ? "" : ` (${n(slow.slowKeyRecords)} of them)`} take ${s.slowKeyMs} ms ` +
        `instead of ${s.ioMs} ms; its figure is the other keys' rate, from the first record handled to the last of theirs ` +
        "(the run itself ends with the slow key's last record)."
      : "Ordering: not measured in this run (every record had a key of its own: a run from before key ordering).",
    "",
    "| target | figure | |",
    "|---|---|---|",
    orderingRow(
      "`pipeline-full` (key ordering) ≥ 0.9 × `pipeline-full-unordered` records/s",
      fullRatio,
      `${n(full?.recordsPerSec ?? 0)} against ${n(unordered?.recordsPerSec ?? 0)} rec/s`,
      (r) => r >= 0.9
    ),
    orderingRow(
      "`pipeline-io` (key ordering) ≥ 0.8 × 20,000 rec/s (Little's law: 100 / 5 ms)",
      ioRatio,
      `${n(io?.recordsPerSec ?? 0)} rec/s`,
      (r) => r >= 0.8
    ),
    orderingRow(
      "slow key costs the other keys < 10%: their records/s in `pipeline-io-slow-key` > 0.9 × `pipeline-io`",
      slowRatio,
      `${n(others ?? 0)} against ${n(io?.recordsPerSec ?? 0)} rec/s`,
      (r) => r > 0.9
    )
  ]
}

export const renderFigures = (report: Report): string =>
  [
    ...throughputFigures(report),
    ...(report.latency === undefined ? [] : latencyFigures(report.latency)),
    ...(report.memory === undefined ? [] : memoryFigures(report.memory)),
    ...targetFigures(report),
    "",
    ...orderingFigures(report)
  ].join("\n")

export const renderBenchmarksDoc = (): void => {
  const report = JSON.parse(readFileSync(LATEST, "utf8")) as Report
  const doc = readFileSync(DOC, "utf8")
  const start = doc.indexOf(START)
  const end = doc.indexOf(END)
  if (start < 0 || end < start) throw new Error(`${DOC} has no ${START} … ${END} section`)
  writeFileSync(DOC, `${doc.slice(0, start + START.length)}\n${renderFigures(report)}\n${doc.slice(end)}`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) renderBenchmarksDoc()

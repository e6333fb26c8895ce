/** Runs the `kafka-pipeline` CLI as a child process (Node 24 from node_modules, tsx loader). */
import { spawn, type ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const NODE = `${ROOT}node_modules/.bin/node`

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** The last stdout line parsed as JSON, when it is JSON. */
  readonly summary: any
}

export interface CliRun {
  readonly child: ChildProcess
  readonly done: Promise<CliResult>
  stderr(): string
}

/** Spawns `node --import tsx src/cli.ts …args`; the pid is the node process itself. */
export const spawnCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): CliRun => {
  const child = spawn(NODE, ["--import", "tsx", "src/cli.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d) => (stdout += d.toString()))
  child.stderr!.on("data", (d) => (stderr += d.toString()))
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject)
    child.once("close", (code, signal) => {
      const last = stdout.trim().split("\n").pop() ?? ""
      let summary: unknown
      try {
        summary = JSON.parse(last)
      } catch {
        summary = undefined
      }
      resolve({ code, signal, stdout, stderr, summary })
    })
  })
  return { child, done, stderr: () => stderr }
}

export const runCli = async (
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}
): Promise<CliResult> => {
  const run = spawnCli(args, options.env)
  const timeoutMs = options.timeoutMs ?? 60_000
  const timer = setTimeout(() => run.child.kill("SIGKILL"), timeoutMs)
  try {
    const result = await run.done
    if (result.signal === "SIGKILL") {
      throw new Error(`CLI timed out after ${timeoutMs} ms\nstdout:\n${result.stdout}\nstderr:\n${result.stderr.slice(-4000)}`)
    }
    return result
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The common `run` flags for a test: fast commits and flushes, and no metrics
 * endpoint unless `metricsPort` is given (concurrent runs would all want the
 * CLI's default port; `"0"` picks a free one, logged as `metricsUrl`).
 */
export const runArgs = (o: {
  readonly brokers: string
  readonly topic: string
  readonly group: string
  readonly backupDir?: string
  readonly dlqDir: string
  readonly processor: string
  readonly stopAt?: ReadonlyArray<readonly [partition: number, offset: number]>
  readonly extra?: ReadonlyArray<string>
  readonly metricsPort?: string
}): Array<string> => [
  "run",
  "--brokers", o.brokers,
  "--topics", o.topic,
  "--group-id", o.group,
  "--dlq-dir", o.dlqDir,
  ...(o.backupDir === undefined ? [] : ["--backup-dir", o.backupDir]),
  "--processor", o.processor,
  "--commit-interval-ms", "200",
  "--flush-interval-ms", "100",
  "--log-format", "json",
  "--metrics-port", o.metricsPort ?? "off",
  ...(o.stopAt === undefined || o.stopAt.length === 0
    ? []
    : ["--stop-at-offsets", o.stopAt.map(([p, off]) => `${o.topic}:${p}=${off}`).join(",")]),
  ...(o.extra ?? [])
]

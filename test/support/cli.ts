/**
 * Runs the `kafka-pipeline` CLI as a child process (Node 24 from node_modules, tsx loader), and
 * what the CLI e2e files share: a broker and a scratch dir per file, fresh archive dirs per run,
 * the processed log of `test/fixtures/slow-processor.mjs`, JSON log lines, polling.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"
import { BROKER_START_TIMEOUT_MS, sharedBroker, type Broker } from "./broker.js"
import { makeScratch, type RunDirs, type Scratch } from "./scratch.js"

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

/**
 * Spawns `node --import tsx src/cli.ts …args`; the pid is the node process itself. No
 * `--disable-warning`: a warning the CLI's users would see shows in the tests' stderr too.
 */
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

/** Waits for the run to exit; SIGKILLs it and throws (with its output) after `timeoutMs`. */
export const awaitExit = async (run: CliRun, timeoutMs: number): Promise<CliResult> => {
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

export const runCli = (
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}
): Promise<CliResult> => awaitExit(spawnCli(args, options.env), options.timeoutMs ?? 150_000)

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
  /** The Kafka client (`--client`); the default's when absent. */
  readonly client?: string
}): Array<string> => [
  "run",
  ...(o.client === undefined ? [] : ["--client", o.client]),
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

/**
 * Registers the `beforeAll`/`afterAll` hooks of a CLI e2e file: a broker (the shared one unless
 * `broker` says otherwise; closed afterwards) and a scratch dir (`makeScratch`; deleted afterwards).
 */
export const cliE2e = (prefix: string, options: { readonly broker?: () => Promise<Broker> } = {}) => {
  let broker: Broker | undefined
  let scratch: Scratch | undefined
  beforeAll(async () => {
    scratch = await makeScratch(`${prefix}-`)
    broker = await (options.broker ?? sharedBroker)()
  }, BROKER_START_TIMEOUT_MS)
  afterAll(async () => {
    await broker?.close()
    await scratch?.remove()
  })
  return {
    broker: (): Broker => broker!,
    scratch: (): string => scratch!.path,
    /** A fresh `base` dir holding empty `backup` and `dlq` dirs, for one run. */
    dirs: (): Promise<RunDirs> => scratch!.dirs()
  }
}

/** `{"i":<i>}` for i in [0, count). */
export const jsonValues = (count: number): Array<string> => Array.from({ length: count }, (_, i) => `{"i":${i}}`)

/** The `[partition, offset]` lines that `slow-processor.mjs` appended to `log` (whole lines only). */
export const readProcessed = (log: string): Array<readonly [partition: number, offset: number]> =>
  existsSync(log)
    ? readFileSync(log, "utf8").split("\n").flatMap((line) => {
      const m = /^(\d+):(\d+)$/.exec(line)
      return m === null ? [] : [[Number(m[1]), Number(m[2])] as const]
    })
    : []

/** Whether `slow-processor.mjs` with `FAIL_EVERY=every` fails the record at `offset` (to the DLQ). */
export const failsByDesign = (every: number) => (offset: number): boolean => (offset + 1) % every === 0

/** `waitFor` options that give up when `run` exits and show the end of its stderr. */
export const watching = (run: CliRun) => ({
  abort: () => run.child.exitCode === null ? undefined : `exited early (${run.child.exitCode})`,
  context: () => run.stderr().slice(-3000)
})

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Polls `done` every 100 ms until it holds; throws `what` (and `context()`, e.g. a process's
 * stderr tail) after `timeoutMs` or as soon as `abort()` returns a reason (e.g. a process exited).
 */
export const waitFor = async (
  what: string,
  done: () => boolean | Promise<boolean>,
  options: { readonly timeoutMs: number; readonly abort?: () => string | undefined; readonly context?: () => string }
): Promise<void> => {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    if (await done()) return
    const aborted = options.abort?.()
    if (aborted !== undefined || Date.now() > deadline) {
      throw new Error(`${what}: ${aborted ?? `not within ${options.timeoutMs} ms`}\n${options.context?.() ?? ""}`)
    }
    await sleep(100)
  }
}

/** One JSON log line of the CLI (`--log-format json`, on stderr). */
export interface LogLine {
  readonly message: unknown
  /** The message's text (its first part when the line was logged with extra values). */
  readonly text: string
  readonly level: string
  readonly timestamp: string
  readonly cause?: string
  readonly annotations: Record<string, unknown>
}

/** The JSON log lines in `stderr` (other lines, e.g. a torn last line after SIGKILL, are skipped). */
export const logLines = (stderr: string): Array<LogLine> =>
  stderr.split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return []
    try {
      const parsed = JSON.parse(line) as Omit<LogLine, "text">
      const first = Array.isArray(parsed.message) ? parsed.message[0] : parsed.message
      return [{ ...parsed, text: typeof first === "string" ? first : JSON.stringify(first) }]
    } catch {
      return []
    }
  })

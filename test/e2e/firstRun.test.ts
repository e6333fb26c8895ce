/**
 * What a new user meets first, as processes: the README's commands through npm (quiet when
 * nothing is wrong), a program using the library (no Node warning), Kafka out of reach (said
 * once, after the restart budget), a topic that does not exist (named), configuration errors (all
 * at once, no summary) and a config file with comma-separated lists.
 */
import { execFile } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { beforeAll, describe, expect, it } from "vitest"
import { uniqueName } from "../support/broker.js"
import { cliE2e, logLines, runArgs, runCli } from "../support/cli.js"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const NODE = `${ROOT}node_modules/.bin/node`
const LIBRARY_USER = fileURLToPath(new URL("../fixtures/kafkajs-user.ts", import.meta.url))

const e2e = cliE2e("first-run")
const { dirs } = e2e

interface Output {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const run = (file: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<Output> =>
  new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    })
  })

/**
 * A shell's environment, as a user who typed the README's command has it: npm and `node` are the
 * machine's (not the project's Node 24, which `npx vitest` put first on the PATH), and none of
 * the `npm_*` variables of the npm that started the tests (its `--loglevel`, say).
 */
const shellEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith("npm_")) env[name] = value
  }
  env.PATH = (process.env.PATH ?? "").split(":").filter((dir) => !dir.includes("node_modules")).join(":")
  return env
}

const npm = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => run("npm", args, { ...shellEnv(), ...env })

/**
 * `npx` as in a fresh clone: its first run in a directory links the package into npm's npx cache
 * (checking its engines, and warning); later runs reuse that. An empty cache of its own each time.
 */
const npx = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) =>
  run("npx", args, { ...shellEnv(), npm_config_cache: join((await dirs()).base, "npm-cache"), ...env })

describe.concurrent("what a new user meets first", () => {
  beforeAll(async () => {
    // `npx kafka-pipeline` runs the bin, which runs the build (`npm ci` builds it: `prepare`).
    await promisify(execFile)(`${ROOT}node_modules/.bin/tsc`, ["-p", "tsconfig.build.json"], { cwd: ROOT })
  }, 120_000)

  it("npx kafka-pipeline prints only its own output: no npm warnings; npm's errors still show", async () => {
    const help = await npx(["kafka-pipeline", "run", "--help"])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stderr).toBe("")
    expect(help.stdout).toMatch(/^\s+--dev-mode\s+Development mode/m)
    // The switch through the bin and the build, as the README shows it: what is missing is the
    // configuration, not a value for --dev-mode; npm adds nothing.
    const devMode = await npx(["kafka-pipeline", "run", "--dev-mode"], { KAFKA_PIPELINE_BROKERS: "" })
    expect(devMode.code).toBe(2)
    expect(devMode.stderr.split("\n")[0]).toBe("Invalid configuration:")
    expect(devMode.stderr).toMatch(/^ {2}- brokers: required, got nothing$/m)
    expect(devMode.stderr).not.toMatch(/npm (warn|WARN)|EBADENGINE|Missing value/)
    const missing = await npm(["run", "no-such-script"])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/^npm error Missing script: "no-such-script"$/m)
    // What the project's .npmrc silences: on a machine whose Node.js is older than the packages
    // want, npm warns about their engines (in a fresh npx cache) once asked to warn.
    const machineNode = await run("node", ["--version"], shellEnv())
    if (Number(/^v(\d+)/.exec(machineNode.stdout)?.[1]) < 24) {
      const warned = await npx(["--loglevel=warn", "kafka-pipeline", "--version"])
      expect(warned.stderr).toContain("npm warn EBADENGINE")
    }
  }, 120_000)

  it("a program using the library, started without --disable-warning, prints no Node warning", async () => {
    const topic = uniqueName("library-user")
    const res = await run(NODE, ["--import", "tsx", LIBRARY_USER], {
      ...process.env,
      KAFKA_BROKERS: e2e.broker().brokers,
      TOPIC: topic
    })
    expect(res.code, res.stderr).toBe(0)
    expect(JSON.parse(res.stdout.trim().split("\n").pop()!)).toEqual([{ partition: 0, low: 0, high: 1 }])
    expect(`${res.stdout}${res.stderr}`).not.toMatch(/TimeoutNegativeWarning|\(node:\d+\) \w*Warning/)
  }, 60_000)

  it("Kafka out of reach: said once, tried again for the restart budget, then one fatal line and the summary", async () => {
    const { dlqDir } = await dirs()
    const started = Date.now()
    const res = await runCli([
      ...runArgs({ brokers: "127.0.0.1:1", topic: "orders", group: "g", dlqDir, processor: "builtin:noop" }),
      "--restart-budget-ms", "15000"
    ], { timeoutMs: 90_000 })
    const elapsed = Date.now() - started
    expect(res.code, res.stderr).toBe(1)
    expect(elapsed).toBeGreaterThanOrEqual(15_000)
    const lines = logLines(res.stderr)
    // Every line is the pipeline's: JSON, no stack trace, no kafkajs line at the default level.
    expect(res.stderr.trim().split("\n").length).toBe(lines.length)
    expect(lines.filter((line) => line.annotations.kafkajs !== undefined)).toEqual([])
    const said = lines.filter((line) => line.level !== "INFO" && line.level !== "DEBUG").map((l) => `${l.level} ${l.text}`)
    const cannotReach = "Kafka consumer of group g cannot reach the brokers 127.0.0.1:1: Connection error: connect ECONNREFUSED 127.0.0.1:1"
    expect(said).toHaveLength(2)
    expect(said[0]).toBe(`WARN ${cannotReach}; trying again for up to 15000 ms (restartBudgetMs)`)
    const fatal = new RegExp(`^ERROR fatal: ${cannotReach}; gave up after (\\d+) ms, past the restart budget of 15000 ms \\(restartBudgetMs\\)$`)
    expect(said[1]).toMatch(fatal)
    expect(Number(fatal.exec(said[1]!)![1])).toBeGreaterThanOrEqual(15_000)
    expect(res.summary).toMatchObject({ reason: "failed", consumed: 0, committed: [] })
  }, 120_000)

  it("a topic that does not exist is named; with several, each of them", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("exists")
    const [a, b] = [uniqueName("missing"), uniqueName("missing")]
    await broker.createTopic(topic, 1)
    const { dlqDir } = await dirs()
    const res = await runCli(runArgs({ brokers: broker.brokers, topic: `${topic},${a},${b}`, group: "g", dlqDir, processor: "builtin:noop" }))
    expect(res.code, res.stderr).toBe(1)
    const errors = logLines(res.stderr).filter((line) => line.level === "ERROR").map((line) => line.text)
    expect(errors).toEqual([
      `fatal: Connecting the consumer of group g: topics ${a}, ${b} do not exist on the brokers (of topics ${topic}, ${a}, ${b}): ` +
      "create them, or leave them out of topics"
    ])
    expect(res.stderr).not.toMatch(/Warning/)
    expect(res.summary).toMatchObject({ reason: "failed" })
  }, 60_000)

  it("configuration errors: every invalid value in one message, exit 2, no summary (nothing ran)", async () => {
    const { base } = await dirs()
    const res = await runCli(runArgs({
      brokers: "kafka", topic: "orders", group: "g", dlqDir: join(base, "no-such-dir"), processor: "builtin:noop",
      extra: ["--concurrency", "2000"]
    }))
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr.trimEnd().split("\n").sort()).toEqual([
      "  - brokers[0]: expected a host:port address (port 1–65535), got \"kafka\" (from --brokers)",
      "  - concurrency: expected an integer between 1 and 1000, got 2000 (from --concurrency)",
      `  - dlqDir: directory "${join(base, "no-such-dir")}" does not exist (from --dlq-dir)`,
      "Invalid configuration:"
    ])
    expect(res.stdout).toBe("")
  }, 60_000)

  it("a config file's brokers as a comma-separated string, as the env var takes them", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("from-file")
    await broker.createTopic(topic, 2)
    const { base } = await dirs()
    const file = join(base, "config.json")
    await writeFile(file, JSON.stringify({ brokers: broker.brokers }))
    const res = await runCli(["offsets", "--config", file, "--group-id", uniqueName("g"), "--topic", topic])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout.trim().split("\n")).toEqual(["partition\tcommitted\tend\tlag", "0\t-\t0\t0", "1\t-\t0\t0"])
  }, 60_000)
})

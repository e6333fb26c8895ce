/**
 * The `kafka-pipeline` flags as a process, before any broker is needed: `--help` shows what each
 * flag takes, a bad flag is one line and a pointer to `--help` (exit 2), and `offsets` reads its
 * brokers by `run`'s rule.
 */
import { describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"

const HINT = "Run 'kafka-pipeline run --help' for the flags."

/** The help line of `flag`: its name, what it takes, then its description. */
const helpLine = (help: string, flag: string) => help.split("\n").find((line) => line.trimStart().startsWith(`${flag} `))

describe.concurrent("kafka-pipeline flags", () => {
  it("run --help: integers, numbers, choices and lists show what they take; booleans are switches", async () => {
    const res = await runCli(["run", "--help"])
    expect(res.code, res.stderr).toBe(0)
    expect(helpLine(res.stdout, "--concurrency")).toMatch(/^\s+--concurrency integer\s+Records processed in parallel/)
    expect(helpLine(res.stdout, "--commit-interval-ms")).toMatch(/^\s+--commit-interval-ms number\s/)
    expect(helpLine(res.stdout, "--ordering")).toMatch(/^\s+--ordering key\|partition\|unordered\s/)
    expect(helpLine(res.stdout, "--log-level")).toMatch(/^\s+--log-level Trace\|Debug\|Info\|Warn\|Error\s/)
    expect(helpLine(res.stdout, "--log-format")).toMatch(/^\s+--log-format json\|pretty\|auto\s/)
    expect(helpLine(res.stdout, "--metrics-port")).toMatch(/^\s+--metrics-port integer\|off\s/)
    expect(helpLine(res.stdout, "--brokers")).toMatch(/^\s+--brokers host:port,…\s.*env KAFKA_PIPELINE_BROKERS; required/)
    expect(helpLine(res.stdout, "--dev-mode")).toMatch(/^\s+--dev-mode\s+Development mode.*default false; --no-dev-mode for false$/)
    expect(helpLine(res.stdout, "--from-beginning")).toMatch(/default true; --no-from-beginning for false$/)
    expect(res.stdout).not.toMatch(/--(concurrency|dev-mode|ssl|decode-utf8) string/)
  })

  it.each([
    [["--concurency", "4"], "Unrecognized flag: --concurency in command kafka-pipeline run (did you mean --concurrency?)"],
    [["--brokers"], "Missing value for flag --brokers. Expected: host:port,…"],
    [["--concurrency", "abc"], "Invalid value for flag --concurrency: \"abc\". Expected: an integer"],
    [["--concurrency", "2.5"], "Invalid value for flag --concurrency: \"2.5\". Expected: an integer"],
    [["--metrics-port", "on"], "Invalid value for flag --metrics-port: \"on\". Expected: an integer or off"]
  ])("a bad flag (%j): one line naming it, a pointer to --help, no help text, exit 2", async (args, line) => {
    const res = await runCli(["run", "--brokers", "localhost:9092", ...args])
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr.trimEnd().split("\n")).toEqual([line, HINT])
    expect(res.stdout).toBe("")
  })

  it("run --dev-mode alone is a switch: what is missing is the configuration, not the flag's value", async () => {
    const res = await runCli(["run", "--dev-mode", "--no-from-beginning"], { env: { KAFKA_PIPELINE_BROKERS: "" } })
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr).not.toMatch(/Missing value|Expected: string/)
    expect(res.stderr).toMatch(/^ {2}- brokers: required, got nothing$/m)
    expect(res.stderr).toMatch(/^ {2}- dlqDir: required, got nothing$/m)
    expect(res.stdout).toBe("")
  })

  it("offsets reads its brokers by run's rule: each address checked, named with where it came from", async () => {
    const fromFlag = await runCli(["offsets", "--brokers", "kafka", "--group-id", "g", "--topic", "t"])
    expect(fromFlag.code, fromFlag.stderr).toBe(2)
    expect(fromFlag.stderr).toContain("brokers[0]: expected a host:port address (port 1–65535), got \"kafka\" (from --brokers)")
    const fromEnv = await runCli(["offsets", "--group-id", "g", "--topic", "t"], { env: { KAFKA_PIPELINE_BROKERS: "a:1,b" } })
    expect(fromEnv.code, fromEnv.stderr).toBe(2)
    expect(fromEnv.stderr).toContain("brokers[1]: expected a host:port address (port 1–65535), got \"b\" (from KAFKA_PIPELINE_BROKERS)")
  })
})

/**
 * Loading the config from flags, env vars and a JSON file, on the real Node
 * filesystem with temp dirs. Includes seed §1 "Config Validation - Invalid
 * File Paths".
 */
import { NodeFileSystem, NodeServices } from "@effect/platform-node"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Layer, PlatformError, Redacted } from "effect"
import { CliOutput, Command } from "effect/cli"
import { parseOptionValue } from "../../src/domain/ConfigOption.js"
import { cliDefaults, configOptions } from "../../src/domain/ConfigOptions.js"
import { ConfigError } from "../../src/domain/Errors.js"
import { makePipelineConfig, pipelineConfigKeys } from "../../src/domain/PipelineConfig.js"
import { flagOf, givenFlags, runFlags } from "../../src/layers/config/CliFlags.js"
import {
  checkDirectories,
  type ConfigSources,
  configFilePath,
  loadConfig,
  loadRunConfig,
  loadSetting,
  loadSettings,
  readRawConfig
} from "../../src/layers/config/ConfigLoader.js"

const EXAMPLE_CONFIG = fileURLToPath(new URL("../../examples/pipeline.config.json", import.meta.url))

const isRoot = typeof process.getuid === "function" && process.getuid() === 0

/** A temp dir (removed after the test) with `dlq/` and `backup/` in it. */
const workspace = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "config-loader-" })
  const dlqDir = `${root}/dlq`
  const backupDir = `${root}/backup`
  yield* fs.makeDirectory(dlqDir)
  yield* fs.makeDirectory(backupDir)
  const writeFile = (name: string, content: string) =>
    fs.writeFileString(`${root}/${name}`, content).pipe(Effect.as(`${root}/${name}`))
  return { fs, root, dlqDir, backupDir, writeFile }
})

const requiredFlags = (dlqDir: string) => ({
  brokers: "localhost:9092",
  topics: "orders",
  "group-id": "billing",
  "dlq-dir": dlqDir
})

const loadFails = (sources: ConfigSources) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(loadConfig(sources))
    assert.instanceOf(error, ConfigError)
    return error.issues
  })

const assertIssues = (actual: ReadonlyArray<string>, expected: ReadonlyArray<string>) =>
  assert.deepStrictEqual([...actual].sort(), [...expected].sort())

/**
 * `args` parsed by a command of `flags` (by default `kafka-pipeline run`'s): the loader's flag
 * source, or the messages of the CLI's errors when the flags do not parse.
 */
const parseArgs = (args: ReadonlyArray<string>, flags: typeof runFlags = runFlags) =>
  Effect.gen(function*() {
    let given: Record<string, unknown> | undefined
    const errors: Array<string> = []
    const run = Command.make("run", flags, (values) => Effect.sync(() => (given = givenFlags(values))))
    const presenter = CliOutput.layerPresenter({
      present: (event) =>
        Effect.sync(() => event._tag === "InvalidInvocation" && errors.push(...event.errors.map((e) => e.message)))
    })
    yield* Command.runWith(run, { version: "0" })(args).pipe(
      Effect.ignore,
      Effect.provide(Layer.merge(NodeServices.layer, presenter))
    )
    return { flags: given, errors }
  })

describe("ConfigLoader", () => {
  describe("Config Validation - Invalid File Paths", () => {
    it.effect("backup dir doesn't exist", () =>
      Effect.gen(function*() {
        const { root, dlqDir } = yield* workspace
        const issues = yield* loadFails({
          flags: { ...requiredFlags(dlqDir), "backup-dir": `${root}/missing` },
          env: {}
        })
        assertIssues(issues, [`backupDir: directory "${root}/missing" does not exist (from --backup-dir)`])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("backup dir not writable", () =>
      Effect.gen(function*() {
        const { fs, root, dlqDir, backupDir } = yield* workspace
        yield* fs.chmod(backupDir, 0o500)
        yield* Effect.addFinalizer(() => Effect.ignore(fs.chmod(backupDir, 0o700)))
        const sources = { flags: { ...requiredFlags(dlqDir), "backup-dir": backupDir }, env: {} }
        const expected = `backupDir: directory "${backupDir}" is not writable (from --backup-dir)`

        if (!isRoot) {
          assertIssues(yield* loadFails(sources), [expected])
          return
        }
        // Running as root: permission bits do not stop root from writing, so
        // access(W_OK) on the 0o500 directory succeeds and the real check has
        // nothing to report. Instead (1) confirm the real check accepts it (it
        // would be writable for this process), (2) check the message with the
        // same filesystem whose access() answers as it does for a non-root
        // user, and (3) use a path the real filesystem rejects as root: one
        // whose parent is a regular file.
        const config = yield* loadConfig(sources)
        assert.strictEqual(config.backupDir, backupDir)

        const deniesWrites: FileSystem.FileSystem = {
          ...fs,
          access: (path, options) =>
            options?.writable === true && path === backupDir
              ? Effect.fail(PlatformError.systemError({
                _tag: "PermissionDenied",
                module: "FileSystem",
                method: "access",
                pathOrDescriptor: path
              }))
              : fs.access(path, options)
        }
        const issues = yield* loadFails(sources).pipe(Effect.provideService(FileSystem.FileSystem, deniesWrites))
        assertIssues(issues, [expected])

        const file = `${root}/a-file`
        yield* fs.writeFileString(file, "")
        const underFile = yield* loadFails({ flags: { ...requiredFlags(dlqDir), "backup-dir": `${file}/backup` }, env: {} })
        assertIssues(underFile, [
          `backupDir: directory "${file}/backup" does not exist (a part of the path is a file) (from --backup-dir)`
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("DLQ dir doesn't exist", () =>
      Effect.gen(function*() {
        const { root } = yield* workspace
        const issues = yield* loadFails({ flags: requiredFlags(`${root}/no-dlq`), env: {} })
        assertIssues(issues, [`dlqDir: directory "${root}/no-dlq" does not exist (from --dlq-dir)`])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("a regular file where a directory is expected; both directories reported at once", () =>
      Effect.gen(function*() {
        const { root, writeFile } = yield* workspace
        const file = yield* writeFile("not-a-dir", "x")
        const issues = yield* loadFails({
          flags: { ...requiredFlags(file), "backup-dir": `${root}/missing` },
          env: {}
        })
        assertIssues(issues, [
          `backupDir: directory "${root}/missing" does not exist (from --backup-dir)`,
          `dlqDir: "${file}" is not a directory (it is a file) (from --dlq-dir)`
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("existing writable directories pass; the backup is off when no backup dir is given", () =>
      Effect.gen(function*() {
        const { dlqDir, backupDir } = yield* workspace
        const withBackup = yield* loadConfig({ flags: { ...requiredFlags(dlqDir), "backup-dir": backupDir }, env: {} })
        assert.strictEqual(withBackup.backupDir, backupDir)
        assert.strictEqual(withBackup.dlqDir, dlqDir)
        const withoutBackup = yield* loadConfig({ flags: requiredFlags(dlqDir), env: {} })
        assert.strictEqual(withoutBackup.backupDir, undefined)
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("a missing directory is reported together with invalid values: every problem in one message", () =>
      Effect.gen(function*() {
        const { backupDir } = yield* workspace
        const issues = yield* loadFails({
          flags: { ...requiredFlags("/definitely/missing"), concurrency: "2000", "backup-dir": `${backupDir}/nope` },
          env: { KAFKA_PIPELINE_QUEUE_SIZE: "5" }
        })
        assertIssues(issues, [
          "concurrency: expected an integer between 1 and 1000, got 2000 (from --concurrency)",
          "queueSize: expected an integer ≥ 10, got 5 (from KAFKA_PIPELINE_QUEUE_SIZE)",
          `backupDir: directory "${backupDir}/nope" does not exist (from --backup-dir)`,
          "dlqDir: directory \"/definitely/missing\" does not exist (from --dlq-dir)"
        ])
        // A directory that is not text is the schema's to report, not checked on the disk; with a
        // processor that is not text either, still one message.
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile("dirs.json", JSON.stringify({ backupDir: 7, processor: 1, concurrency: 0 }))
        const more = yield* Effect.flip(loadRunConfig({ flags: { ...requiredFlags(dlqDir), config: file }, env: {} }))
        assertIssues(more.issues, [
          `processor: expected a module path or builtin name (a string), got 1 (from config file ${file})`,
          `backupDir: expected a directory path, got 7 (from config file ${file})`,
          `concurrency: expected an integer between 1 and 1000, got 0 (from config file ${file})`
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))
  })

  describe("directory checks on a scripted filesystem (failures a temp dir cannot produce)", () => {
    const failure = (tag: PlatformError.SystemErrorTag, method: string, path: string) =>
      Effect.fail(PlatformError.systemError({ _tag: tag, module: "FileSystem", method, pathOrDescriptor: path }))
    const directory = { type: "Directory" } as FileSystem.File.Info

    it.effect("unreachable, unexpected stat errors and non-permission access errors are each explained", () =>
      Effect.gen(function*() {
        const config = yield* makePipelineConfig({
          brokers: ["localhost:9092"],
          topics: ["orders"],
          groupId: "billing",
          dlqDir: "/readonly-mount/dlq",
          backupDir: "/locked/backup"
        })
        const fs = FileSystem.makeNoop({
          stat: (path) => path === "/locked/backup" ? failure("PermissionDenied", "stat", path) : Effect.succeed(directory),
          access: (path) => failure("Unknown", "access", path)
        })
        const error = yield* Effect.flip(checkDirectories(config).pipe(Effect.provideService(FileSystem.FileSystem, fs)))
        assert.deepStrictEqual(error.issues, [
          "backupDir: directory \"/locked/backup\" cannot be reached (permission denied)",
          "dlqDir: directory \"/readonly-mount/dlq\" is not writable: Unknown: FileSystem.access (/readonly-mount/dlq)"
        ])

        const busy = FileSystem.makeNoop({ stat: (path) => failure("Busy", "stat", path) })
        const busyError = yield* Effect.flip(checkDirectories(config).pipe(Effect.provideService(FileSystem.FileSystem, busy)))
        assert.deepStrictEqual(busyError.issues, [
          "backupDir: directory \"/locked/backup\" cannot be checked: Busy: FileSystem.stat (/locked/backup)",
          "dlqDir: directory \"/readonly-mount/dlq\" cannot be checked: Busy: FileSystem.stat (/readonly-mount/dlq)"
        ])
      }))
  })

  describe("precedence: flags > env vars > config file > defaults", () => {
    it.effect("each source wins over the ones below it, field by field", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile(
          "config.json",
          JSON.stringify({
            brokers: ["file:9092"],
            topics: ["from-file"],
            groupId: "file-group",
            dlqDir,
            concurrency: 2,
            queueSize: 20,
            maxRetries: 7
          })
        )
        const env = {
          KAFKA_PIPELINE_CONFIG: file,
          KAFKA_PIPELINE_CONCURRENCY: "3",
          KAFKA_PIPELINE_QUEUE_SIZE: "30",
          KAFKA_PIPELINE_GROUP_ID: "env-group"
        }
        const flags = { concurrency: "4" }

        const all = yield* loadConfig({ flags, env })
        assert.strictEqual(all.concurrency, 4, "flag over env and file")
        assert.strictEqual(all.queueSize, 30, "env over file")
        assert.strictEqual(all.groupId, "env-group", "env over file")
        assert.strictEqual(all.maxRetries, 7, "file over default")
        assert.strictEqual(all.commitIntervalMs, 5000, "default when no source gives it")
        assert.deepStrictEqual(all.brokers, ["file:9092"])

        const noFlags = yield* loadConfig({ flags: {}, env })
        assert.strictEqual(noFlags.concurrency, 3, "env over file")

        const fileOnly = yield* loadConfig({ flags: { config: file }, env: {} })
        assert.strictEqual(fileOnly.concurrency, 2, "file over default")
        assert.strictEqual(fileOnly.queueSize, 20)

        const defaults = yield* loadConfig({ flags: requiredFlags(dlqDir), env: {} })
        assert.strictEqual(defaults.concurrency, 16, "default")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("the CLI's defaults (metrics on port 9464) sit below the file; \"off\" or 0 override them; the library has none", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const cli = { flags: requiredFlags(dlqDir), env: {}, defaults: cliDefaults }
        assert.strictEqual((yield* loadConfig(cli)).metricsPort, 9464)
        assert.strictEqual((yield* loadConfig({ ...cli, flags: { ...cli.flags, "metrics-port": "off" } })).metricsPort, undefined)
        assert.strictEqual((yield* loadConfig({ ...cli, env: { KAFKA_PIPELINE_METRICS_PORT: "0" } })).metricsPort, 0)
        const file = yield* writeFile("config.json", JSON.stringify({ metricsPort: "off" }))
        assert.strictEqual((yield* loadConfig({ ...cli, flags: { ...cli.flags, config: file } })).metricsPort, undefined)
        assert.strictEqual((yield* loadConfig({ flags: requiredFlags(dlqDir), env: {} })).metricsPort, undefined)
        const issues = yield* loadFails({ ...cli, env: { KAFKA_PIPELINE_METRICS_PORT: "OFF" } })
        assertIssues(issues, [
          "metricsPort: expected an integer between 0 and 65535 (0: any free port) or \"off\", got \"OFF\" (from KAFKA_PIPELINE_METRICS_PORT)"
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("archiveCompression: none by default; gzip from the file, the env var or the flag (any case); anything else names the field", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const required = { flags: requiredFlags(dlqDir), env: {} }
        assert.strictEqual((yield* loadConfig(required)).archiveCompression, "none")
        const file = yield* writeFile("compress.json", JSON.stringify({ archiveCompression: "gzip" }))
        assert.strictEqual((yield* loadConfig({ ...required, flags: { ...required.flags, config: file } })).archiveCompression, "gzip")
        const fromEnv = yield* loadConfig({ ...required, env: { KAFKA_PIPELINE_ARCHIVE_COMPRESSION: "GZIP" } })
        assert.strictEqual(fromEnv.archiveCompression, "gzip")
        const { flags } = yield* parseArgs(["--archive-compression", "gzip"])
        assert.strictEqual((yield* loadConfig({ ...required, flags: { ...required.flags, ...flags } })).archiveCompression, "gzip")
        assertIssues(yield* loadFails({ ...required, env: { KAFKA_PIPELINE_ARCHIVE_COMPRESSION: "zstd" } }), [
          "archiveCompression: expected one of none, gzip, got \"zstd\" (from KAFKA_PIPELINE_ARCHIVE_COMPRESSION)"
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("otlpEndpoint falls back to the standard OTEL_EXPORTER_OTLP_ENDPOINT; the pipeline's own variable wins", () =>
      Effect.gen(function*() {
        const { dlqDir } = yield* workspace
        const flags = requiredFlags(dlqDir)
        const standard = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }
        assert.strictEqual((yield* loadConfig({ flags, env: standard })).otlpEndpoint, "http://collector:4318")
        const both = { ...standard, KAFKA_PIPELINE_OTLP_ENDPOINT: "https://other:4318" }
        assert.strictEqual((yield* loadConfig({ flags, env: both })).otlpEndpoint, "https://other:4318")
        assert.strictEqual((yield* loadConfig({ flags, env: {} })).otlpEndpoint, undefined)
        const issues = yield* loadFails({ flags, env: { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" } })
        assertIssues(issues, [
          "otlpEndpoint: expected an http(s) URL such as http://localhost:4318, got \"collector:4318\" (from OTEL_EXPORTER_OTLP_ENDPOINT)"
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("SASL settings merge leaf by leaf: the env password overrides the file's, the rest stays", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile(
          "config.json",
          JSON.stringify({ sasl: { mechanism: "plain", username: "file-user", password: "file-secret" } })
        )
        const config = yield* loadConfig({
          flags: { ...requiredFlags(dlqDir), config: file, "sasl-mechanism": "SCRAM-SHA-512" },
          env: { KAFKA_PIPELINE_SASL_PASSWORD: "env-secret" }
        })
        assert.strictEqual(config.sasl?.mechanism, "scram-sha-512")
        assert.strictEqual(config.sasl?.username, "file-user")
        assert.strictEqual(Redacted.value(config.sasl!.password), "env-secret")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("--config beats KAFKA_PIPELINE_CONFIG", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const a = yield* writeFile("a.json", JSON.stringify({ clientId: "from-a" }))
        const b = yield* writeFile("b.json", JSON.stringify({ clientId: "from-b" }))
        const config = yield* loadConfig({
          flags: { ...requiredFlags(dlqDir), "--config": a },
          env: { KAFKA_PIPELINE_CONFIG: b }
        })
        assert.strictEqual(config.clientId, "from-a")
        assert.strictEqual(configFilePath({ flags: {}, env: { KAFKA_PIPELINE_CONFIG: b } }), b)
        assert.strictEqual(configFilePath({ flags: { config: " " }, env: {} }), undefined)
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("blank env vars and flags count as not given", () =>
      Effect.gen(function*() {
        const { dlqDir } = yield* workspace
        const config = yield* loadConfig({
          flags: { ...requiredFlags(dlqDir), concurrency: "" },
          env: { KAFKA_PIPELINE_CONCURRENCY: "8", KAFKA_PIPELINE_BACKUP_DIR: "  " }
        })
        assert.strictEqual(config.concurrency, 8)
        assert.strictEqual(config.backupDir, undefined)
      }).pipe(Effect.provide(NodeFileSystem.layer)))
  })

  describe("string sources (env vars, flags)", () => {
    it.effect("numbers, booleans, lists, stopAtOffsets and secrets parse from strings", () =>
      Effect.gen(function*() {
        const { dlqDir, backupDir } = yield* workspace
        const config = yield* loadConfig({
          flags: {
            "--group-id": "billing",
            groupId: "ignored: the flag name wins",
            processor: "./processor.js"
          },
          env: {
            KAFKA_PIPELINE_BROKERS: "kafka-1:9092, kafka-2:9092,",
            KAFKA_PIPELINE_TOPICS: "orders,payments",
            KAFKA_PIPELINE_DLQ_DIR: dlqDir,
            KAFKA_PIPELINE_BACKUP_DIR: backupDir,
            KAFKA_PIPELINE_COMMIT_INTERVAL_MS: "2.5e3",
            KAFKA_PIPELINE_DEV_MODE: "yes",
            KAFKA_PIPELINE_FROM_BEGINNING: "0",
            KAFKA_PIPELINE_DECODE_UTF8: "OFF",
            KAFKA_PIPELINE_SSL: "true",
            KAFKA_PIPELINE_STOP_AT_OFFSETS: "orders:0=100,payments:3=7",
            KAFKA_PIPELINE_LOG_LEVEL: "debug",
            KAFKA_PIPELINE_METRICS_PORT: "0",
            KAFKA_PIPELINE_SASL_MECHANISM: "plain",
            KAFKA_PIPELINE_SASL_USERNAME: "svc",
            KAFKA_PIPELINE_SASL_PASSWORD: " secret with spaces ",
            KAFKA_PIPELINE_PROCESSOR: "./not-a-config-option.js",
            UNRELATED: "x"
          }
        })
        assert.deepStrictEqual(config.brokers, ["kafka-1:9092", "kafka-2:9092"])
        assert.deepStrictEqual(config.topics, ["orders", "payments"])
        assert.strictEqual(config.groupId, "billing")
        assert.strictEqual(config.commitIntervalMs, 2500)
        assert.strictEqual(config.devMode, true)
        assert.strictEqual(config.fromBeginning, false)
        assert.strictEqual(config.decodeUtf8, false)
        assert.strictEqual(config.ssl, true)
        assert.deepStrictEqual(config.stopAtOffsets, [
          { topic: "orders", partition: 0, offset: 100 },
          { topic: "payments", partition: 3, offset: 7 }
        ])
        assert.strictEqual(config.logLevel, "Debug")
        assert.strictEqual(config.metricsPort, 0)
        assert.strictEqual(Redacted.value(config.sasl!.password), " secret with spaces ", "secrets are not trimmed")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("values that do not parse are reported with the field's rule and where they came from", () =>
      Effect.gen(function*() {
        const { dlqDir } = yield* workspace
        const issues = yield* loadFails({
          flags: { ...requiredFlags(dlqDir), concurrency: "abc", "stop-at-offsets": "orders=100" },
          env: {
            KAFKA_PIPELINE_DEV_MODE: "maybe",
            KAFKA_PIPELINE_QUEUE_SIZE: "5",
            KAFKA_PIPELINE_STOP_AT_OFFSETS: "orders:0=1",
            KAFKA_PIPELINE_SASL_PASSWORD: "hunter2"
          }
        })
        assertIssues(issues, [
          "concurrency: expected an integer between 1 and 1000, got \"abc\" (from --concurrency)",
          "queueSize: expected an integer ≥ 10, got 5 (from KAFKA_PIPELINE_QUEUE_SIZE)",
          "devMode: expected a boolean, got \"maybe\" (from KAFKA_PIPELINE_DEV_MODE)",
          // Given nowhere, so no origin: the password alone turned SASL on.
          "sasl.mechanism: required, got nothing",
          "sasl.username: required, got nothing",
          "stopAtOffsets: expected topic:partition=offset, got \"orders=100\" (from --stop-at-offsets)"
        ])
        assert.notInclude(issues.join("\n"), "hunter2")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("negative stop offsets from a flag are rejected", () =>
      Effect.gen(function*() {
        const { dlqDir } = yield* workspace
        const issues = yield* loadFails({ flags: { ...requiredFlags(dlqDir), "stop-at-offsets": "orders:0=-1" }, env: {} })
        assertIssues(issues, [
          "stopAtOffsets: expected an offset that is an integer ≥ 0 in \"orders:0=-1\", got \"-1\" (from --stop-at-offsets)"
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it("parseOptionValue", () => {
      assert.strictEqual(parseOptionValue("integer", " 42 "), 42)
      assert.strictEqual(parseOptionValue("integer", "4x"), "4x")
      assert.strictEqual(parseOptionValue("number", "-1.5"), -1.5)
      for (const t of ["true", "1", "yes", "Y", "on"]) assert.strictEqual(parseOptionValue("boolean", t), true)
      for (const f of ["false", "0", "no", "N", "off"]) assert.strictEqual(parseOptionValue("boolean", f), false)
      assert.strictEqual(parseOptionValue("boolean", "maybe"), "maybe")
      assert.deepStrictEqual(parseOptionValue("list", "a, b,,c "), ["a", "b", "c"])
      assert.strictEqual(parseOptionValue("string", " x "), "x")
      assert.strictEqual(parseOptionValue("secret", " x "), " x ")
      assert.strictEqual(parseOptionValue("stopAtOffsets", "t:0=1"), "t:0=1")
    })
  })

  describe("CLI flags: typed by the option's kind", () => {
    it.effect("switches: --dev-mode alone is true, --no-from-beginning is false, over the env vars", () =>
      Effect.gen(function*() {
        const { dlqDir } = yield* workspace
        const { flags, errors } = yield* parseArgs(["--ssl", "--no-from-beginning", "--no-decode-utf8", "--dev-mode"])
        assert.deepStrictEqual(errors, [])
        assert.deepStrictEqual(flags, { "dev-mode": true, "from-beginning": false, "decode-utf8": false, ssl: true })
        const config = yield* loadConfig({
          flags: { ...requiredFlags(dlqDir), ...flags },
          env: { KAFKA_PIPELINE_FROM_BEGINNING: "true", KAFKA_PIPELINE_DEV_MODE: "false" }
        })
        assert.strictEqual(config.devMode, true)
        assert.strictEqual(config.fromBeginning, false)
        assert.strictEqual(config.decodeUtf8, false)
        assert.strictEqual(config.ssl, true)
        // A switch absent from the flags leaves the env var's value.
        const fromEnv = yield* loadConfig({ flags: requiredFlags(dlqDir), env: { KAFKA_PIPELINE_DEV_MODE: "yes" } })
        assert.strictEqual(fromEnv.devMode, true)
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("integers and numbers arrive as numbers; their rules are the loader's, naming the flag", () =>
      Effect.gen(function*() {
        const { dlqDir } = yield* workspace
        const { flags } = yield* parseArgs([
          "--concurrency", "2000", "--commit-interval-ms", "2.5e3", "--metrics-port", "off", "--sasl-password", "s3cret"
        ])
        assert.strictEqual(flags?.concurrency, 2000)
        assert.strictEqual(flags?.["commit-interval-ms"], 2500)
        assert.strictEqual(flags?.["metrics-port"], "off")
        assert.isTrue(Redacted.isRedacted(flags?.["sasl-password"]))
        const issues = yield* loadFails({ flags: { ...requiredFlags(dlqDir), ...flags }, env: {} })
        assertIssues(issues, [
          "concurrency: expected an integer between 1 and 1000, got 2000 (from --concurrency)",
          "sasl.mechanism: required, got nothing",
          "sasl.username: required, got nothing"
        ])
        assert.notInclude(issues.join("\n"), "s3cret")
        const { flags: valid } = yield* parseArgs(["--concurrency", "8", "--metrics-port", "0", "--ordering", "Partition"])
        const config = yield* loadConfig({ flags: { ...requiredFlags(dlqDir), ...valid }, env: {}, defaults: cliDefaults })
        assert.strictEqual(config.concurrency, 8)
        assert.strictEqual(config.metricsPort, 0)
        assert.strictEqual(config.ordering, "partition")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("a value that is not of the flag's type is the CLI's error: flag, value and expectation", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
          [["--concurrency", "abc"], "Invalid value for flag --concurrency: \"abc\". Expected: an integer"],
          [["--queue-size", "2.5"], "Invalid value for flag --queue-size: \"2.5\". Expected: an integer"],
          [["--metrics-port", "on"], "Invalid value for flag --metrics-port: \"on\". Expected: an integer or off"],
          [["--retry-base-delay-ms", "soon"], "Invalid value for flag --retry-base-delay-ms: \"soon\". Expected: a number"],
          [["--brokers"], "Missing value for flag --brokers. Expected: host:port,…"]
        ]
        for (const [args, message] of cases) {
          const { flags, errors } = yield* parseArgs(args)
          assert.strictEqual(flags, undefined, args.join(" "))
          assert.deepStrictEqual(errors, [message])
        }
      }))

    it.effect("loadSetting: the brokers alone (as `offsets` reads them), from a flag or an env var, by the same rule", () =>
      Effect.gen(function*() {
        const { flags } = yield* parseArgs(["--brokers", "a:1, b:2"], { brokers: flagOf("brokers") })
        assert.deepStrictEqual(yield* loadSetting({ flags: flags!, env: {} }, "brokers"), ["a:1", "b:2"])
        assert.deepStrictEqual(
          yield* loadSetting({ flags: {}, env: { KAFKA_PIPELINE_BROKERS: "c:3" } }, "brokers"),
          ["c:3"]
        )
        const bad = yield* Effect.flip(loadSetting({ flags: {}, env: { KAFKA_PIPELINE_BROKERS: "kafka" } }, "brokers"))
        assertIssues(bad.issues, [
          "brokers[0]: expected a host:port address (port 1–65535), got \"kafka\" (from KAFKA_PIPELINE_BROKERS)"
        ])
        const missing = yield* Effect.flip(loadSetting({ flags: {}, env: {} }, "brokers"))
        assertIssues(missing.issues, ["brokers: required, got nothing"])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("loadSettings: several settings (as `replay` reads them), defaults applied, every issue at once", () =>
      Effect.gen(function*() {
        const { writeFile } = yield* workspace
        const file = yield* writeFile("replay.json", JSON.stringify({ brokers: ["file:1"], ssl: true, logLevel: "Warn" }))
        const settings = yield* loadSettings(
          { flags: { config: file, "sasl-mechanism": "plain", "sasl-username": "u" }, env: { KAFKA_PIPELINE_SASL_PASSWORD: "p" } },
          ["brokers", "ssl", "sasl", "logLevel", "logFormat"]
        )
        assert.deepStrictEqual(settings.brokers, ["file:1"])
        assert.strictEqual(settings.ssl, true)
        assert.strictEqual(settings.logLevel, "Warn")
        assert.strictEqual(settings.logFormat, "auto")
        assert.strictEqual(settings.sasl?.username, "u")
        assert.strictEqual(Redacted.value(settings.sasl!.password), "p")
        const bad = yield* Effect.flip(loadSettings({ flags: { "log-format": "xml" }, env: {} }, ["brokers", "logFormat"]))
        assertIssues(bad.issues, [
          "brokers: required, got nothing",
          "logFormat: expected one of json, pretty, auto, got \"xml\" (from --log-format)"
        ])
      }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
  })

  describe("config file", () => {
    it.effect("the file alone can hold the whole config, stopAtOffsets as an object", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile(
          "config.json",
          JSON.stringify({
            brokers: ["localhost:9092"],
            topics: ["orders"],
            groupId: "billing",
            dlqDir,
            stopAtOffsets: { "orders:0": 100, "orders:1": 0 },
            logLevel: "WARN"
          })
        )
        const config = yield* loadConfig({ flags: {}, env: { KAFKA_PIPELINE_CONFIG: file } })
        assert.deepStrictEqual(config.stopAtOffsets, [
          { topic: "orders", partition: 0, offset: 100 },
          { topic: "orders", partition: 1, offset: 0 }
        ])
        assert.strictEqual(config.logLevel, "Warn")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("a missing file is named in the error", () =>
      Effect.gen(function*() {
        const { root, dlqDir } = yield* workspace
        const issues = yield* loadFails({ flags: { ...requiredFlags(dlqDir), config: `${root}/nope.json` }, env: {} })
        assertIssues(issues, [`config: config file "${root}/nope.json" does not exist`])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("a file that cannot be read (a directory) is named in the error", () =>
      Effect.gen(function*() {
        const { dlqDir } = yield* workspace
        const issues = yield* loadFails({ flags: { ...requiredFlags(dlqDir), config: dlqDir }, env: {} })
        assert.strictEqual(issues.length, 1)
        assert.isTrue(issues[0]!.startsWith(`config: cannot read config file "${dlqDir}": `), issues[0])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("bad JSON is named in the error", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile("bad.json", "{ \"concurrency\": 4,, }")
        const issues = yield* loadFails({ flags: { ...requiredFlags(dlqDir), config: file }, env: {} })
        assert.strictEqual(issues.length, 1)
        assert.isTrue(issues[0]!.startsWith(`config: config file "${file}" is not valid JSON: `), issues[0])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("JSON that is not an object is rejected", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile("array.json", "[1, 2]")
        const issues = yield* loadFails({ flags: { ...requiredFlags(dlqDir), config: file }, env: {} })
        assertIssues(issues, [`config: config file "${file}" must hold a JSON object of settings, got [1,2]`])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("typed values only: strings for numbers and unknown keys are reported, naming the file", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile(
          "config.json",
          JSON.stringify({ concurrency: "16", concurency: 16, sasl: { username: "u", password: "p", mechanism: 1 } })
        )
        const issues = yield* loadFails({ flags: { ...requiredFlags(dlqDir), config: file }, env: {} })
        assertIssues(issues, [
          `concurrency: expected an integer between 1 and 1000, got "16" (from config file ${file})`,
          `concurency: not a known setting (did you mean concurrency?), got 16 (from config file ${file})`,
          `sasl.mechanism: expected one of plain, scram-sha-256, scram-sha-512, got 1 (from config file ${file})`
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("the file can name the processor: a relative module path is resolved from the file's directory", () =>
      Effect.gen(function*() {
        const { root, dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile("config.json", JSON.stringify({ processor: "./processors/orders.js" }))
        const run = yield* loadRunConfig({ flags: { ...requiredFlags(dlqDir), config: file }, env: {} })
        assert.strictEqual(run.processor, `${root}/processors/orders.js`)
        // Built-in names and absolute paths are taken as they are.
        const builtin = yield* writeFile("builtin.json", JSON.stringify({ processor: "builtin:json" }))
        const fromBuiltin = yield* loadRunConfig({ flags: { ...requiredFlags(dlqDir), config: builtin }, env: {} })
        assert.strictEqual(fromBuiltin.processor, "builtin:json")
        // A library's loadConfig accepts the key and leaves it out of the settings.
        const config = yield* loadConfig({ flags: { ...requiredFlags(dlqDir), config: file }, env: {} })
        assert.strictEqual(config.groupId, "billing")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("the processor follows the same precedence: flag > env var > file", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile("config.json", JSON.stringify({ processor: "/from/file.js" }))
        const flags = { ...requiredFlags(dlqDir), config: file }
        const env = { KAFKA_PIPELINE_PROCESSOR: "/from/env.js" }
        assert.strictEqual((yield* loadRunConfig({ flags, env: {} })).processor, "/from/file.js")
        assert.strictEqual((yield* loadRunConfig({ flags, env })).processor, "/from/env.js")
        assert.strictEqual((yield* loadRunConfig({ flags: { ...flags, processor: "/from/flag.js" }, env })).processor, "/from/flag.js")
        assert.strictEqual((yield* loadRunConfig({ flags: requiredFlags(dlqDir), env: {} })).processor, undefined)
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("brokers and topics may be comma-separated strings, as their env vars and flags take them", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile(
          "config.json",
          JSON.stringify({ brokers: "a:9092, b:9092", topics: "orders", groupId: "g", dlqDir })
        )
        const config = yield* loadConfig({ flags: {}, env: { KAFKA_PIPELINE_CONFIG: file } })
        assert.deepStrictEqual(config.brokers, ["a:9092", "b:9092"])
        assert.deepStrictEqual(config.topics, ["orders"])
        // A bad address in the string is named by its place, as an env var's is.
        const bad = yield* writeFile("bad.json", JSON.stringify({ brokers: "a:9092,b", topics: "", groupId: "g", dlqDir }))
        assertIssues(yield* loadFails({ flags: { config: bad }, env: {} }), [
          `brokers[1]: expected a host:port address (port 1–65535), got "b" (from config file ${bad})`,
          `topics: expected a non-empty list of topic names, got "" (from config file ${bad})`
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("the README's config file (examples/pipeline.config.json) loads as it is, from its directory", () =>
      Effect.gen(function*() {
        const { root, writeFile } = yield* workspace
        const fs = yield* FileSystem.FileSystem
        yield* writeFile("pipeline.config.json", yield* fs.readFileString(EXAMPLE_CONFIG))
        // Run from `root` (holding backup/ and dlq/), as a user runs it from their own directory.
        const inRoot = (path: string) => NodePath.resolve(root, path)
        const fromRoot = Layer.succeed(FileSystem.FileSystem, {
          ...fs,
          stat: (path) => fs.stat(inRoot(path)),
          access: (path, options) => fs.access(inRoot(path), options),
          readFileString: (path, encoding) => fs.readFileString(inRoot(path), encoding)
        })
        const run = yield* loadRunConfig({ flags: { config: "pipeline.config.json" }, env: {} }).pipe(Effect.provide(fromRoot))
        assert.strictEqual(run.processor, NodePath.resolve("my-processor.js"))
        const { sasl, ...config } = run.config
        assert.deepStrictEqual(Redacted.value(sasl!.password), "change-me")
        assert.deepInclude(config, {
          brokers: ["kafka-1.internal:9092", "kafka-2.internal:9092"],
          topics: ["orders", "payments"],
          groupId: "orders-archiver",
          backupDir: "./backup",
          dlqDir: "./dlq",
          dlqTopic: "orders-dlq",
          archiveCompression: "gzip",
          concurrency: 32,
          logLevel: "Info",
          restartBudgetMs: 120_000,
          ssl: true
        })
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("a processor that is not a string is reported with the file it came from", () =>
      Effect.gen(function*() {
        const { dlqDir, writeFile } = yield* workspace
        const file = yield* writeFile("config.json", JSON.stringify({ processor: { path: "x.js" } }))
        const error = yield* Effect.flip(loadRunConfig({ flags: { ...requiredFlags(dlqDir), config: file }, env: {} }))
        assertIssues(error.issues, [
          `processor: expected a module path or builtin name (a string), got {"path":"x.js"} (from config file ${file})`
        ])
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.effect("readRawConfig shows the merged values and their origins", () =>
      Effect.gen(function*() {
        const { writeFile } = yield* workspace
        const file = yield* writeFile("config.json", JSON.stringify({ concurrency: 2, topics: ["a"] }))
        const raw = yield* readRawConfig({ flags: { config: file, topics: "b,c" }, env: { KAFKA_PIPELINE_CONCURRENCY: "3" } })
        assert.deepStrictEqual(raw.values, { concurrency: 3, topics: ["b", "c"] })
        assert.deepStrictEqual(raw.origins, { concurrency: "KAFKA_PIPELINE_CONCURRENCY", topics: "--topics" })
      }).pipe(Effect.provide(NodeFileSystem.layer)))
  })

  describe("the option table", () => {
    it("covers every setting once, with kebab-case flags and KAFKA_PIPELINE_ env vars", () => {
      const keys = configOptions.map((o) => o.key)
      assert.strictEqual(new Set(keys).size, keys.length)
      assert.strictEqual(new Set(configOptions.map((o) => o.flag)).size, keys.length)
      assert.strictEqual(new Set(configOptions.map((o) => o.env)).size, keys.length)
      const covered = new Set(keys.map((k) => k.split(".")[0]))
      for (const key of pipelineConfigKeys) assert.isTrue(covered.has(key), `${key} has an option`)
      for (const option of configOptions) {
        assert.match(option.flag, /^[a-z0-9]+(-[a-z0-9]+)*$/)
        assert.match(option.env, /^KAFKA_PIPELINE_[A-Z0-9]+(_[A-Z0-9]+)*$/)
        assert.isAbove(option.description.length, 10)
      }
      const byKey = (key: string) => configOptions.find((o) => o.key === key)!
      assert.deepInclude(byKey("groupId"), { flag: "group-id", env: "KAFKA_PIPELINE_GROUP_ID", required: true })
      assert.deepInclude(byKey("stopAtOffsets"), { flag: "stop-at-offsets", env: "KAFKA_PIPELINE_STOP_AT_OFFSETS" })
      assert.deepInclude(byKey("decodeUtf8"), { flag: "decode-utf8", env: "KAFKA_PIPELINE_DECODE_UTF8", default: "true" })
      assert.deepInclude(byKey("sasl.password"), { flag: "sasl-password", env: "KAFKA_PIPELINE_SASL_PASSWORD", kind: "secret" })
      assert.deepInclude(byKey("config"), { flag: "config", env: "KAFKA_PIPELINE_CONFIG" })
      assert.strictEqual(byKey("concurrency").default, "16")
      assert.strictEqual(byKey("backupDir").default, undefined)
      assert.deepStrictEqual(
        configOptions.filter((o) => o.required).map((o) => o.key),
        ["processor", "brokers", "topics", "groupId", "dlqDir"]
      )
    })
  })
})

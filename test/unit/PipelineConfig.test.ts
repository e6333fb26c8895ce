/**
 * Seed §1 "test_shared_state.py", config validation cases, on the pure schema.
 * The "Invalid File Paths" cases need a filesystem: test/integration/ConfigLoader.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { inspect } from "node:util"
import { configOptions, fieldRules, pipelineSettings } from "../../src/domain/ConfigOptions.js"
import { ConfigError } from "../../src/domain/Errors.js"
import {
  decodePipelineConfig,
  decodeSetting,
  formatPath,
  isHostPort,
  isHttpUrl,
  isTopicName,
  makePipelineConfig,
  normaliseStopAtOffsets,
  PipelineConfig,
  PipelineConfigDefaults,
  pipelineConfigKeys,
  showValue
} from "../../src/domain/PipelineConfig.js"

const required = { brokers: ["localhost:9092"], topics: ["orders"], groupId: "billing", dlqDir: "/var/dlq" }

/** The issue lines of a config that must fail. */
const issuesOf = (input: unknown) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(decodePipelineConfig(input))
    assert.instanceOf(error, ConfigError)
    return error.issues
  })

const assertIssues = (actual: ReadonlyArray<string>, expected: ReadonlyArray<string>) =>
  assert.deepStrictEqual([...actual].sort(), [...expected].sort())

describe("PipelineConfig", () => {
  describe("Config Validation - Valid Inputs", () => {
    it.effect("a config with every parameter set to a valid value decodes to those values", () =>
      Effect.gen(function*() {
        const input = {
          brokers: ["kafka-1:9092", "10.0.0.2:9093", "[::1]:9094"],
          topics: ["orders", "payments.v2", "audit_log-1"],
          groupId: "billing",
          clientId: "billing-1",
          client: "platformatic",
          concurrency: 1000,
          ordering: "partition",
          queueSize: 10,
          queueBytes: 1024,
          commitIntervalMs: 250,
          flushIntervalMs: 0.5,
          backupBatchSize: 1,
          dlqBatchSize: 1,
          backupDir: "/var/backup",
          dlqDir: "/var/dlq",
          dlqTopic: "orders.dlq",
          archiveCompression: "gzip",
          stopAtOffsets: [{ topic: "orders", partition: 0, offset: 0 }],
          devMode: true,
          fromBeginning: false,
          decodeUtf8: false,
          logLevel: "Debug",
          logFormat: "json",
          maxMessageBytes: 1,
          processingTimeoutMs: 1,
          shutdownTimeoutMs: 1,
          maxRetries: 0,
          retryBaseDelayMs: 50,
          retryMaxDelayMs: 50,
          circuitBreaker: false,
          breakerThreshold: 1,
          breakerOpenMs: 10,
          breakerMaxOpenMs: 10,
          maxRecordsPerSecond: 0.5,
          rateLimitBurst: 1,
          dlqMaxRatio: 0,
          dlqRatioWindow: 1,
          dlqMaxConsecutive: 1,
          sessionTimeoutMs: 6000,
          heartbeatIntervalMs: 5999,
          restartBudgetMs: 1,
          metricsPort: 65535,
          lagIntervalMs: 250,
          otlpEndpoint: "https://collector.internal:4318",
          ssl: true,
          sasl: { mechanism: "scram-sha-512", username: "svc", password: "s3cret" }
        }
        const config = yield* decodePipelineConfig(input)
        const { sasl, ...rest } = config
        const { sasl: _inputSasl, ...inputRest } = input
        assert.deepStrictEqual<unknown>(rest, inputRest)
        assert.strictEqual(sasl?.mechanism, "scram-sha-512")
        assert.strictEqual(sasl?.username, "svc")
        assert.isTrue(Redacted.isRedacted(sasl?.password))
        assert.strictEqual(Redacted.value(sasl!.password), "s3cret")
      }))

    it.effect("only the required parameters: every default is applied", () =>
      Effect.gen(function*() {
        const config = yield* decodePipelineConfig(required)
        assert.deepStrictEqual(config, {
          ...required,
          ...PipelineConfigDefaults,
          backupDir: undefined,
          dlqTopic: undefined,
          maxRecordsPerSecond: undefined,
          rateLimitBurst: undefined,
          dlqMaxRatio: undefined,
          dlqMaxConsecutive: undefined,
          metricsPort: undefined,
          otlpEndpoint: undefined,
          sasl: undefined
        })
        assert.strictEqual(config.clientId, "effect-kafka-pipeline")
        assert.strictEqual(config.client, "kafkajs")
        assert.strictEqual(config.concurrency, 16)
        assert.strictEqual(config.ordering, "key")
        assert.strictEqual(config.archiveCompression, "none")
        assert.strictEqual(config.queueSize, 1000)
        assert.strictEqual(config.queueBytes, 67108864)
        assert.strictEqual(config.commitIntervalMs, 5000)
        assert.strictEqual(config.logLevel, "Info")
        assert.strictEqual(config.logFormat, "auto")
        assert.strictEqual(config.fromBeginning, true)
        assert.deepStrictEqual(config.stopAtOffsets, [])
        assert.deepStrictEqual(Object.keys(config).sort(), [...pipelineConfigKeys].sort())
      }))

    it.effect("undefined optional values take their defaults, as if absent", () =>
      Effect.gen(function*() {
        const config = yield* decodePipelineConfig({ ...required, concurrency: undefined, backupDir: undefined })
        assert.strictEqual(config.concurrency, 16)
        assert.strictEqual(config.backupDir, undefined)
      }))

    it.effect("log level in any case is normalised; log format and SASL mechanism too", () =>
      Effect.gen(function*() {
        for (const [given, expected] of [["warn", "Warn"], ["WARNING", "Warn"], ["tRaCe", "Trace"], ["Error", "Error"]]) {
          const config = yield* decodePipelineConfig({ ...required, logLevel: given })
          assert.strictEqual(config.logLevel, expected)
        }
        const config = yield* decodePipelineConfig({
          ...required,
          logFormat: "PRETTY",
          client: " Platformatic",
          sasl: { mechanism: "SCRAM-SHA-256", username: "u", password: "p" }
        })
        assert.strictEqual(config.logFormat, "pretty")
        assert.strictEqual(config.client, "platformatic")
        const wrong = yield* Effect.flip(decodePipelineConfig({ ...required, client: "librdkafka" }))
        assert.include(wrong.message, "client")
        assert.include(wrong.message, "one of kafkajs, platformatic")
        assert.strictEqual(config.sasl?.mechanism, "scram-sha-256")
      }))

    it.effect("metricsPort 0 means any free port and is accepted", () =>
      Effect.gen(function*() {
        const config = yield* decodePipelineConfig({ ...required, metricsPort: 0 })
        assert.strictEqual(config.metricsPort, 0)
      }))

    it.effect("metricsPort \"off\" turns the endpoints off (no port)", () =>
      Effect.gen(function*() {
        const config = yield* decodePipelineConfig({ ...required, metricsPort: "off" })
        assert.strictEqual(config.metricsPort, undefined)
      }))

    it.effect("metricsPort encodes back as given: a port, or \"off\" for none", () =>
      Effect.gen(function*() {
        const encode = Schema.encodeSync(PipelineConfig)
        assert.strictEqual(encode(yield* decodePipelineConfig({ ...required, metricsPort: 9464 })).metricsPort, 9464)
        assert.strictEqual(encode(yield* decodePipelineConfig({ ...required, metricsPort: "off" })).metricsPort, "off")
      }))

    it("isHttpUrl: http and https URLs with a host only", () => {
      for (const url of ["http://localhost:4318", "https://collector.example/otlp"]) assert.isTrue(isHttpUrl(url), url)
      for (const url of ["localhost:4318", "ftp://collector", "not a url", "http://", ""]) assert.isFalse(isHttpUrl(url), url)
    })

    it.effect("otlpEndpoint must be an http(s) URL; lagIntervalMs a number > 0", () =>
      Effect.gen(function*() {
        const config = yield* decodePipelineConfig({ ...required, otlpEndpoint: "http://localhost:4318" })
        assert.strictEqual(config.otlpEndpoint, "http://localhost:4318")
        assertIssues(
          yield* issuesOf({ ...required, otlpEndpoint: "localhost:4318", lagIntervalMs: 0, metricsPort: "on" }),
          [
            "metricsPort: expected an integer between 0 and 65535 (0: any free port) or \"off\", got \"on\"",
            "lagIntervalMs: expected a number > 0, got 0",
            "otlpEndpoint: expected an http(s) URL such as http://localhost:4318, got \"localhost:4318\""
          ]
        )
      }))

    it.effect("makePipelineConfig builds a config in code with defaults, and takes a Redacted password", () =>
      Effect.gen(function*() {
        const config: PipelineConfig = yield* makePipelineConfig({
          ...required,
          concurrency: 4,
          stopAtOffsets: { "orders:0": 100 },
          sasl: { mechanism: "plain", username: "u", password: Redacted.make("p") }
        })
        assert.strictEqual(config.concurrency, 4)
        assert.strictEqual(config.queueSize, 1000)
        assert.deepStrictEqual(config.stopAtOffsets, [{ topic: "orders", partition: 0, offset: 100 }])
        assert.strictEqual(Redacted.value(config.sasl!.password), "p")
        // A plain object: spreading keeps the type.
        const tweaked: PipelineConfig = { ...config, concurrency: 8 }
        assert.strictEqual(tweaked.concurrency, 8)
      }))
  })

  describe("Config Validation - Missing Required Params", () => {
    // The seed's fourth case, "missing processor_callable", is the CLI's: the
    // processor is a module path given to `kafka-pipeline run`, not part of
    // PipelineConfig (library users pass the processor as a function).
    it.effect("missing brokers (bootstrap_servers)", () =>
      Effect.gen(function*() {
        const { brokers: _, ...input } = required
        assertIssues(yield* issuesOf(input), ["brokers: required, got nothing"])
      }))

    it.effect("missing topic", () =>
      Effect.gen(function*() {
        const { topics: _, ...input } = required
        assertIssues(yield* issuesOf(input), ["topics: required, got nothing"])
      }))

    it.effect("missing group id", () =>
      Effect.gen(function*() {
        const { groupId: _, ...input } = required
        assertIssues(yield* issuesOf(input), ["groupId: required, got nothing"])
      }))

    it.effect("missing DLQ dir", () =>
      Effect.gen(function*() {
        const { dlqDir: _, ...input } = required
        assertIssues(yield* issuesOf(input), ["dlqDir: required, got nothing"])
      }))

    it.effect("a required value given as undefined counts as missing", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, groupId: undefined }), ["groupId: required, got nothing"])
      }))

    it.effect("empty lists and empty strings are not values", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, brokers: [], topics: [], groupId: "", dlqDir: "" }), [
          "brokers: expected a non-empty list of host:port addresses, got []",
          "topics: expected a non-empty list of topic names, got []",
          "groupId: expected a non-empty string, got \"\"",
          "dlqDir: expected a directory path, got \"\""
        ])
      }))

    it.effect("nothing at all: every required parameter is reported", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({}), [
          "brokers: required, got nothing",
          "topics: required, got nothing",
          "groupId: required, got nothing",
          "dlqDir: required, got nothing"
        ])
      }))

    it.effect("not an object at all", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf(null), ["config: expected an object of configuration settings, got null"])
        assertIssues(yield* issuesOf("brokers=x"), [
          "config: expected an object of configuration settings, got \"brokers=x\""
        ])
      }))
  })

  describe("Config Validation - Invalid Types", () => {
    it.effect("brokers (bootstrap_servers) as a number", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, brokers: 9092 }), [
          "brokers: expected a non-empty list of host:port addresses, got 9092"
        ])
      }))

    it.effect("brokers that are not host:port", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, brokers: ["localhost", "kafka:0", "kafka:99999", "a b:1", 9092] }), [
          "brokers[0]: expected a host:port address (port 1–65535), got \"localhost\"",
          "brokers[1]: expected a host:port address (port 1–65535), got \"kafka:0\"",
          "brokers[2]: expected a host:port address (port 1–65535), got \"kafka:99999\"",
          "brokers[3]: expected a host:port address (port 1–65535), got \"a b:1\"",
          "brokers[4]: expected a host:port address (port 1–65535), got 9092"
        ])
      }))

    it.effect("topic as a list of numbers, and as an object", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, topics: [1, 2] }), [
          "topics[0]: expected a topic name (1–249 characters of a-z A-Z 0-9 . _ -), got 1",
          "topics[1]: expected a topic name (1–249 characters of a-z A-Z 0-9 . _ -), got 2"
        ])
        assertIssues(yield* issuesOf({ ...required, topics: { name: "orders" } }), [
          "topics: expected a non-empty list of topic names, got {\"name\":\"orders\"}"
        ])
      }))

    it.effect("topic names Kafka rejects", () =>
      Effect.gen(function*() {
        const issues = yield* issuesOf({ ...required, topics: ["has space", "..", "x".repeat(250), "ok"] })
        assert.strictEqual(issues.length, 3)
        assert.match(issues[0]!, /^topics\[0\]: expected a topic name .*, got "has space"$/)
        assert.match(issues[1]!, /^topics\[1\]: expected a topic name .*, got "\.\."$/)
        assert.match(issues[2]!, /^topics\[2\]: expected a topic name .*, got "x{40}/)
        assert.isTrue(issues[2]!.endsWith("…"), "long values are cut short")
      }))

    it.effect("concurrency as the string \"abc\"", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, concurrency: "abc" }), [
          "concurrency: expected an integer between 1 and 1000, got \"abc\""
        ])
      }))

    it.effect("numbers as numeric strings are still strings here (string sources are parsed by the loader)", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, queueSize: "100", devMode: "true" }), [
          "queueSize: expected an integer ≥ 10, got \"100\"",
          "devMode: expected a boolean, got \"true\""
        ])
      }))

    it.effect("non-integers, NaN and Infinity", () =>
      Effect.gen(function*() {
        assertIssues(
          yield* issuesOf({ ...required, concurrency: 2.5, commitIntervalMs: Number.NaN, shutdownTimeoutMs: Infinity }),
          [
            "concurrency: expected an integer between 1 and 1000, got 2.5",
            "commitIntervalMs: expected a number > 0, got NaN",
            "shutdownTimeoutMs: expected a number > 0, got Infinity"
          ]
        )
      }))

    it.effect("enumerations and nested objects", () =>
      Effect.gen(function*() {
        assertIssues(
          yield* issuesOf({
            ...required,
            logLevel: "verbose",
            logFormat: 1,
            sasl: { mechanism: "gssapi", password: "p" }
          }),
          [
            "logLevel: expected one of Trace, Debug, Info, Warn, Error (any case), got \"verbose\"",
            "logFormat: expected one of json, pretty, auto, got 1",
            "sasl.mechanism: expected one of plain, scram-sha-256, scram-sha-512, got \"gssapi\"",
            "sasl.username: required, got nothing"
          ]
        )
      }))

    it.effect("unknown settings are rejected, with a suggestion for near misses", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, concurency: 4, colour: "blue" }), [
          "concurency: not a known setting (did you mean concurrency?), got 4",
          "colour: not a known setting, got \"blue\""
        ])
      }))

    it.effect("a key that is a symbol (an object built in code) is reported like any unknown setting", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, [Symbol("retries")]: 3 }), ["[\"Symbol(retries)\"]: not a known setting, got 3"])
      }))
  })

  describe("Config Validation - Out of Range Values", () => {
    it.effect("concurrency (worker_count) = 0", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, concurrency: 0 }), [
          "concurrency: expected an integer between 1 and 1000, got 0"
        ])
      }))

    it.effect("concurrency (worker_count) = 2000", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, concurrency: 2000 }), [
          "concurrency: expected an integer between 1 and 1000, got 2000"
        ])
      }))

    it.effect("queueSize = 5", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, queueSize: 5 }), ["queueSize: expected an integer ≥ 10, got 5"])
      }))

    it.effect("commitIntervalMs (commit_interval_seconds) = 0", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, commitIntervalMs: 0 }), [
          "commitIntervalMs: expected a number > 0, got 0"
        ])
      }))

    it.effect("every other bound", () =>
      Effect.gen(function*() {
        assertIssues(
          yield* issuesOf({
            ...required,
            queueBytes: 1023,
            flushIntervalMs: -1,
            backupBatchSize: 0,
            dlqBatchSize: 0,
            maxMessageBytes: 0,
            processingTimeoutMs: 0,
            maxRetries: -1,
            retryBaseDelayMs: 0,
            sessionTimeoutMs: 5999,
            heartbeatIntervalMs: 0,
            restartBudgetMs: 0,
            metricsPort: 65536
          }),
          [
            "queueBytes: expected an integer ≥ 1024, got 1023",
            "flushIntervalMs: expected a number > 0, got -1",
            "backupBatchSize: expected an integer ≥ 1, got 0",
            "dlqBatchSize: expected an integer ≥ 1, got 0",
            "maxMessageBytes: expected an integer > 0, got 0",
            "processingTimeoutMs: expected a number > 0, got 0",
            "maxRetries: expected an integer ≥ 0, got -1",
            "retryBaseDelayMs: expected a number > 0, got 0",
            "sessionTimeoutMs: expected an integer ≥ 6000, got 5999",
            "heartbeatIntervalMs: expected an integer > 0, got 0",
            "restartBudgetMs: expected a number > 0, got 0",
            "metricsPort: expected an integer between 0 and 65535 (0: any free port) or \"off\", got 65536"
          ]
        )
      }))

    it.effect("retryMaxDelayMs below retryBaseDelayMs; breakerMaxOpenMs below breakerOpenMs; heartbeat not below the session timeout", () =>
      Effect.gen(function*() {
        assertIssues(
          yield* issuesOf({
            ...required,
            retryBaseDelayMs: 500,
            retryMaxDelayMs: 100,
            breakerOpenMs: 10_000,
            breakerMaxOpenMs: 5_000,
            heartbeatIntervalMs: 30000
          }),
          [
            "retryMaxDelayMs: expected a number ≥ retryBaseDelayMs (500), got 100",
            "breakerMaxOpenMs: expected a number ≥ breakerOpenMs (10000), got 5000",
            "heartbeatIntervalMs: expected an integer < sessionTimeoutMs (30000), got 30000"
          ]
        )
      }))

    it.effect("a cross-field rule broken by a setting's default names the setting and that it was not given", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, retryBaseDelayMs: 20_000, breakerOpenMs: 10_000_000 }), [
          "retryMaxDelayMs: expected a number ≥ retryBaseDelayMs (20000), got nothing",
          "breakerMaxOpenMs: expected a number ≥ breakerOpenMs (10000000), got nothing"
        ])
      }))

    it.effect("the downstream settings: a ratio outside 0–1, a rate of 0, a threshold of 0", () =>
      Effect.gen(function*() {
        assertIssues(
          yield* issuesOf({ ...required, dlqMaxRatio: 1.5, maxRecordsPerSecond: 0, breakerThreshold: 0, rateLimitBurst: 0 }),
          [
            "breakerThreshold: expected an integer ≥ 1, got 0",
            "maxRecordsPerSecond: expected a number > 0, got 0",
            "rateLimitBurst: expected an integer ≥ 1, got 0",
            "dlqMaxRatio: expected a number between 0 and 1, got 1.5"
          ]
        )
      }))
  })

  describe("Config Validation - stop_at_offset Format", () => {
    it.effect("valid: {(\"topic\", 0): 100} in each of the three forms", () =>
      Effect.gen(function*() {
        const expected = [{ topic: "orders", partition: 0, offset: 100 }]
        for (const stopAtOffsets of [expected, { "orders:0": 100 }, "orders:0=100"]) {
          const config = yield* decodePipelineConfig({ ...required, stopAtOffsets })
          assert.deepStrictEqual(config.stopAtOffsets, expected)
        }
        const many = yield* decodePipelineConfig({ ...required, stopAtOffsets: " orders:0=100, payments.v2:12=0 ," })
        assert.deepStrictEqual(many.stopAtOffsets, [
          { topic: "orders", partition: 0, offset: 100 },
          { topic: "payments.v2", partition: 12, offset: 0 }
        ])
      }))

    it.effect("invalid: {(\"topic\",): 100} — wrong tuple size (no partition)", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: "orders=100" }), [
          "stopAtOffsets: expected topic:partition=offset, got \"orders=100\""
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: "orders:0:1=100" }), [
          "stopAtOffsets: expected topic:partition=offset, got \"orders:0:1=100\""
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: { "orders:": 100, "orders:0:1": 5 } }), [
          "stopAtOffsets[\"orders:\"]: expected a key \"topic:partition\" (a topic name and an integer ≥ 0), got \"orders:\"",
          "stopAtOffsets[\"orders:0:1\"]: expected a key \"topic:partition\" (a topic name and an integer ≥ 0), got \"orders:0:1\""
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: [{ topic: "orders", offset: 100 }] }), [
          "stopAtOffsets[0].partition: required, got nothing"
        ])
      }))

    it.effect("invalid: {\"topic\": 100} — not a topic:partition key", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: { orders: 100 } }), [
          "stopAtOffsets[\"orders\"]: expected a key \"topic:partition\" (a topic name and an integer ≥ 0), got \"orders\""
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: "100" }), [
          "stopAtOffsets: expected topic:partition=offset, got \"100\""
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: [["orders", 0, 100]] }), [
          "stopAtOffsets[0]: expected an object { topic, partition, offset }, got [\"orders\",0,100]"
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: 100 }), [
          "stopAtOffsets: expected a list of { topic, partition, offset }, an object { \"topic:partition\": offset } or \"topic:partition=offset,…\", got 100"
        ])
      }))

    it.effect("invalid: {(\"topic\", 0): -1} — negative offset", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: [{ topic: "orders", partition: 0, offset: -1 }] }), [
          "stopAtOffsets[0].offset: expected an integer ≥ 0, got -1"
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: { "orders:0": -1 } }), [
          "stopAtOffsets[\"orders:0\"]: expected an offset that is an integer ≥ 0, got -1"
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: "orders:0=-1" }), [
          "stopAtOffsets: expected an offset that is an integer ≥ 0 in \"orders:0=-1\", got \"-1\""
        ])
      }))

    it.effect("other malformed entries: bad partition, bad topic, non-numeric offsets, duplicates", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: "orders:x=1,bad topic:0=1,orders:1=ten" }), [
          "stopAtOffsets: expected a partition that is an integer ≥ 0 in \"orders:x=1\", got \"x\"",
          "stopAtOffsets: expected a topic name (1–249 characters of a-z A-Z 0-9 . _ -) in \"bad topic:0=1\", got \"bad topic\"",
          "stopAtOffsets: expected an offset that is an integer ≥ 0 in \"orders:1=ten\", got \"ten\""
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: { "orders:0": "100", "orders:-1": 1 } }), [
          "stopAtOffsets[\"orders:0\"]: expected an offset that is an integer ≥ 0, got \"100\"",
          "stopAtOffsets[\"orders:-1\"]: expected a key \"topic:partition\" (a topic name and an integer ≥ 0), got \"orders:-1\""
        ])
        assertIssues(
          yield* issuesOf({
            ...required,
            stopAtOffsets: [{ topic: "orders", partition: 0, offset: 1 }, { topic: "orders", partition: 0, offset: 2 }]
          }),
          [
            "stopAtOffsets[1]: expected each topic:partition at most once (orders:0 is given twice), got {\"topic\":\"orders\",\"partition\":0,\"offset\":2}"
          ]
        )
      }))

    it.effect("a \"topic:partition\" key whose topic Kafka would refuse is reported on the key, as written", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: { "bad topic:0": 5, "orders:1": 7 } }), [
          "stopAtOffsets[\"bad topic:0\"]: expected a key \"topic:partition\" (a topic name and an integer ≥ 0), got \"bad topic:0\""
        ])
      }))

    it.effect("a partition given twice is reported together with the entries that do not parse", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: "orders:0=5,orders:0=6,orders" }), [
          "stopAtOffsets[1]: expected each topic:partition at most once (orders:0 is given twice), got {\"topic\":\"orders\",\"partition\":0,\"offset\":6}",
          "stopAtOffsets: expected topic:partition=offset, got \"orders\""
        ])
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: { "orders:0": 5, "orders:00": 6, "orders:1": -1 } }), [
          "stopAtOffsets[1]: expected each topic:partition at most once (orders:0 is given twice), got {\"topic\":\"orders\",\"partition\":0,\"offset\":6}",
          "stopAtOffsets[\"orders:1\"]: expected an offset that is an integer ≥ 0, got -1"
        ])
      }))

    it("normaliseStopAtOffsets passes the array form (and anything else) through for the schema to check", () => {
      const array = [{ topic: "orders", partition: 0, offset: 1 }]
      assert.deepStrictEqual(normaliseStopAtOffsets(array), { value: array, issues: [] })
      assert.deepStrictEqual(normaliseStopAtOffsets(7), { value: 7, issues: [] })
      assert.deepStrictEqual(normaliseStopAtOffsets(""), { value: [], issues: [] })
    })
  })

  describe("secrets", () => {
    const secret = "hunter2-do-not-print"
    const withSasl = { ...required, sasl: { mechanism: "plain", username: "svc", password: secret } }

    it.effect("the password is Redacted: never in String(config), JSON or inspect output", () =>
      Effect.gen(function*() {
        const config = yield* decodePipelineConfig(withSasl)
        assert.strictEqual(Redacted.value(config.sasl!.password), secret)
        for (const text of [String(config), JSON.stringify(config), inspect(config, { depth: 10 }), String(config.sasl!.password)]) {
          assert.notInclude(text, secret)
        }
        assert.include(JSON.stringify(config), "<redacted>")
      }))

    it.effect("the password never appears in error text, whatever else is wrong", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<unknown> = [
          { ...withSasl, sasl: { ...withSasl.sasl, mechanism: "nope" } },
          { ...withSasl, sasl: { mechanism: "nope", password: secret, extra: 1 } },
          { ...withSasl, sasl: { ...withSasl.sasl, password: 42 } },
          { ...withSasl, sasl: { ...withSasl.sasl, password: [secret] } },
          { ...withSasl, sasl: "not an object", concurrency: 0 }
        ]
        for (const input of cases) {
          const error = yield* Effect.flip(decodePipelineConfig(input))
          assert.notInclude(error.message, secret)
          assert.notInclude(String(error), secret)
          assert.notInclude(JSON.stringify(error), secret)
          assert.notInclude(error.message, "    at ", "no stack trace in the message")
        }
        const wrongType = yield* issuesOf({ ...withSasl, sasl: { ...withSasl.sasl, password: 42 } })
        assertIssues(wrongType, ["sasl.password: expected a string, got <redacted>"])
      }))

    it("showValue masks Redacted values and password keys inside objects", () => {
      assert.strictEqual(showValue(Redacted.make(secret)), "<redacted>")
      assert.strictEqual(showValue({ username: "u", password: secret }), "{\"username\":\"u\",\"password\":\"<redacted>\"}")
      assert.strictEqual(showValue(secret, true), "<redacted>")
    })
  })

  describe("reporting", () => {
    it.effect("all issues are reported at once, one line each, naming field, value and rule", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(decodePipelineConfig({
          brokers: 9092,
          topics: [1],
          concurrency: "abc",
          queueSize: 5,
          commitIntervalMs: 0,
          stopAtOffsets: [{ topic: "orders", partition: 0, offset: -1 }]
        }))
        assertIssues(error.issues, [
          "brokers: expected a non-empty list of host:port addresses, got 9092",
          "topics[0]: expected a topic name (1–249 characters of a-z A-Z 0-9 . _ -), got 1",
          "groupId: required, got nothing",
          "dlqDir: required, got nothing",
          "concurrency: expected an integer between 1 and 1000, got \"abc\"",
          "queueSize: expected an integer ≥ 10, got 5",
          "commitIntervalMs: expected a number > 0, got 0",
          "stopAtOffsets[0].offset: expected an integer ≥ 0, got -1"
        ])
        assert.isTrue(error.message.startsWith("Invalid configuration:\n  - "))
        assert.strictEqual(error.message.split("\n").length, 1 + error.issues.length)
      }))

    it.effect("stopAtOffsets string-form issues come with the schema's issues", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, concurrency: 0, stopAtOffsets: "orders=1" }), [
          "concurrency: expected an integer between 1 and 1000, got 0",
          "stopAtOffsets: expected topic:partition=offset, got \"orders=1\""
        ])
      }))

    it.effect("a defect while decoding (a throwing getter) stays a defect, not a ConfigError", () =>
      Effect.gen(function*() {
        const input = {
          ...required,
          get groupId(): string {
            throw new Error("boom")
          }
        }
        const exit = yield* Effect.exit(decodePipelineConfig(input))
        assert.isTrue(exit._tag === "Failure" && exit.cause.reasons.every((r) => r._tag === "Die"), String(exit))
      }))

    it("paths and values are shown the way a user writes them", () => {
      assert.strictEqual(formatPath([]), "config")
      assert.strictEqual(formatPath(["stopAtOffsets", 0, "offset"]), "stopAtOffsets[0].offset")
      assert.strictEqual(formatPath(["stopAtOffsets", "orders:0"]), "stopAtOffsets[\"orders:0\"]")
      assert.strictEqual(showValue(undefined), "nothing")
      assert.strictEqual(showValue(10n), "10n")
      assert.strictEqual(showValue(() => 1), "a function")
      assert.strictEqual(showValue(Symbol("s")), "Symbol(s)")
      assert.strictEqual(showValue({ n: 1n, nested: { token: Redacted.make("t") } }), "{\"n\":\"1n\",\"nested\":{\"token\":\"<redacted>\"}}")
      assert.strictEqual(showValue({ toJSON: () => undefined }), "[object Object]")
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      assert.strictEqual(showValue(cyclic), "an object that cannot be shown")
    })

    it("names that are not identifiers are quoted in paths; long values are cut at 120 characters", () => {
      assert.strictEqual(formatPath(["1st"]), "[\"1st\"]")
      assert.strictEqual(formatPath(["sasl", "user-name"]), "sasl[\"user-name\"]")
      assert.strictEqual(formatPath(["sasl", "username"]), "sasl.username")
      const exactly = "x".repeat(118)
      assert.strictEqual(showValue(exactly), JSON.stringify(exactly), "120 characters with the quotes: shown whole")
      const long = showValue("y".repeat(500))
      assert.strictEqual(long.length, 120)
      assert.strictEqual(long, "\"" + "y".repeat(118) + "…")
    })

    it.effect("an unknown key gets a suggestion only at the top level and within two edits", () =>
      Effect.gen(function*() {
        assertIssues(yield* issuesOf({ ...required, concurency: 4 }), ["concurency: not a known setting (did you mean concurrency?), got 4"])
        assertIssues(yield* issuesOf({ ...required, brokerzzz: 1 }), ["brokerzzz: not a known setting, got 1"])
        assertIssues(
          yield* issuesOf({ ...required, sasl: { mechanism: "plain", username: "u", password: "p", sasl: 1 } }),
          ["sasl.sasl: not a known setting, got 1"]
        )
      }))

    it.effect("stopAtOffsets: null is refused by the schema; an offset that is not an integer, by the object form's rule", () =>
      Effect.gen(function*() {
        const refused = yield* issuesOf({ ...required, stopAtOffsets: null })
        assert.strictEqual(refused.length, 1)
        assert.match(refused[0]!, /^stopAtOffsets: expected .*, got null$/)
        assertIssues(yield* issuesOf({ ...required, stopAtOffsets: { "orders:0": 1.5 } }), [
          "stopAtOffsets[\"orders:0\"]: expected an offset that is an integer ≥ 0, got 1.5"
        ])
      }))

    it.effect("choices are read whatever the case and the spaces around them", () =>
      Effect.gen(function*() {
        const config = yield* decodePipelineConfig({ ...required, logLevel: " warning ", logFormat: " JSON ", ordering: "Partition " })
        assert.strictEqual(config.logLevel, "Warn")
        assert.strictEqual(config.logFormat, "json")
        assert.strictEqual(config.ordering, "partition")
      }))

    it("host:port and topic name rules", () => {
      assert.isTrue(isHostPort("localhost:65535"))
      assert.isFalse(isHostPort("localhost:0"))
      assert.isTrue(isHostPort("localhost:9092"))
      assert.isTrue(isHostPort("[::1]:9092"))
      assert.isFalse(isHostPort("localhost:"))
      assert.isFalse(isHostPort("localhost:65536"))
      assert.isFalse(isHostPort("http://localhost:9092"))
      assert.isTrue(isTopicName("a".repeat(249)))
      assert.isFalse(isTopicName("a".repeat(250)))
      assert.isFalse(isTopicName("."))
      assert.isFalse(isTopicName(""))
    })
  })

  describe("derived from the option table", () => {
    it("each setting of the table is a field, with its rule; a group's rule names its parts", () => {
      assert.deepStrictEqual([...pipelineConfigKeys], Object.keys(pipelineSettings))
      for (const [key, entry] of Object.entries(pipelineSettings)) {
        if (entry._tag === "Setting") assert.strictEqual(fieldRules[key], entry.rule, key)
      }
      assert.strictEqual(fieldRules["brokers[]"], "a host:port address (port 1–65535)")
      assert.strictEqual(fieldRules["stopAtOffsets[].partition"], "an integer ≥ 0")
      assert.strictEqual(fieldRules.sasl, "an object { mechanism, username, password }")
      assert.strictEqual(fieldRules["sasl.password"], "a string")
    })

    it("the defaults are the table's, and only defaulted settings have one", () => {
      const defaulted = Object.entries(pipelineSettings).flatMap(([key, entry]) =>
        entry._tag === "Setting" && entry.default !== undefined ? [key] : []
      )
      assert.deepStrictEqual(Object.keys(PipelineConfigDefaults), defaulted)
      assert.strictEqual(PipelineConfigDefaults.concurrency, pipelineSettings.concurrency.default)
      assert.notProperty(PipelineConfigDefaults, "metricsPort")
    })

    it("how --help and the README show each value: its kind, its choices, or its form", () => {
      const metavar = (key: string) => configOptions.find((o) => o.key === key)?.metavar
      assert.strictEqual(metavar("concurrency"), "integer")
      assert.strictEqual(metavar("commitIntervalMs"), "number")
      assert.strictEqual(metavar("ordering"), "key|partition|unordered")
      assert.strictEqual(metavar("logLevel"), "Trace|Debug|Info|Warn|Error")
      assert.strictEqual(metavar("metricsPort"), "integer|off")
      assert.strictEqual(metavar("brokers"), "host:port,…")
      assert.strictEqual(metavar("sasl.password"), "string")
      assert.strictEqual(metavar("groupId"), "string")
    })

    it.effect("decodeSetting: one setting by its field's schema, with the same issue lines", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decodeSetting("brokers", ["a:1", "[::1]:2"]), ["a:1", "[::1]:2"])
        assert.strictEqual(yield* decodeSetting("concurrency", undefined), 16)
        assert.deepStrictEqual(yield* decodeSetting("stopAtOffsets", "t:0=5"), [{ topic: "t", partition: 0, offset: 5 }])
        const bad = yield* Effect.flip(decodeSetting("brokers", ["localhost", "ok:1"]))
        assert.deepStrictEqual(bad.issues, ["brokers[0]: expected a host:port address (port 1–65535), got \"localhost\""])
        const bothBad = yield* Effect.flip(decodeSetting("brokers", ["localhost", "kafka:0"]))
        assert.deepStrictEqual(bothBad.issues, [
          "brokers[0]: expected a host:port address (port 1–65535), got \"localhost\"",
          "brokers[1]: expected a host:port address (port 1–65535), got \"kafka:0\""
        ], "every problem at once, as in the whole configuration")
        const missing = yield* Effect.flip(decodeSetting("brokers", undefined))
        assert.deepStrictEqual(missing.issues, ["brokers: required, got nothing"])
      }))
  })
})

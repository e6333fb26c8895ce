/**
 * The `kafka-pipeline` command.
 *
 *   kafka-pipeline run --brokers … --topics … --group-id … --dlq-dir … --processor …
 *   kafka-pipeline offsets --brokers … --group-id … --topic …
 *   kafka-pipeline replay [--dry-run] [--error-type …] [--topic …] [--partition …]
 *                         [--from-offset …] [--to-offset …] [--from-time …] [--to-time …]
 *                         [--time-column timestamp|failed_at] [--to-topic …] [--resume-from file:line]
 *                         [--archive dlq|backup] --brokers … <file or directory>…
 *   kafka-pipeline archive verify [--json] [--fail-on-duplicates] <directory>
 *
 * Exit codes: 0 for a clean stop (stop-at offsets reached, or SIGTERM/SIGINT
 * once or many times; a replay that sent everything it selected), 2 for bad
 * flags or configuration (one message, no stack trace), 1 for a fatal
 * runtime error (Kafka unreachable past the restart budget, an archive that
 * cannot be written; a replay that sent nothing because of malformed rows or
 * missing topics, or that stopped part-way, SIGINT/SIGTERM included; an
 * archive verify that found a torn or unparseable file, or duplicates with
 * --fail-on-duplicates).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import type { Exit, Runtime } from "effect"
import { Cause, Console, Effect, Layer, Option, Schema } from "effect"
import { Argument, CliConfig, CliError, CliOutput, Command, Flag, GlobalFlag } from "effect/cli"
import { ConfigError } from "./domain/Errors.js"
import type { PipelineConfig } from "./domain/PipelineConfig.js"
import { cliDefaults } from "./domain/ConfigOptions.js"
import { parseReplayFlags, TimeColumns } from "./domain/ReplayFilter.js"
import { describeReplay } from "./domain/ReplayRow.js"
import { flagOf, givenFlags, runFlags } from "./layers/config/CliFlags.js"
import { loadRunConfig, loadSetting, loadSettings } from "./layers/config/ConfigLoader.js"
import * as ChosenClient from "./layers/kafka/ChosenClient.js"
import { groupLag } from "./layers/kafka/KafkaClient.js"
import * as KafkaJs from "./layers/kafka/KafkaJs.js"
import * as Logging from "./layers/Logging.js"
import { Observability, terminalProgress } from "./layers/Observability.js"
import { PipelineSettings } from "./layers/config/PipelineSettings.js"
import { loadProcessor } from "./processors/ProcessorLoader.js"
import * as ArchiveVerify from "./streams/ArchiveVerify.js"
import * as Pipeline from "./streams/Pipeline.js"
import * as Replay from "./streams/Replay.js"

const loggingLayer = (settings: Pick<PipelineConfig, "logLevel" | "logFormat">) =>
  Logging.layer({ level: settings.logLevel, format: settings.logFormat, isTTY: process.stderr.isTTY === true })

const run = Command.make(
  "run",
  runFlags,
  Effect.fn("cli.run")(function*(options) {
    const { config, processor } = yield* loadRunConfig({
      flags: givenFlags(options),
      env: process.env,
      defaults: cliDefaults
    })
    const process_ = yield* loadProcessor(processor)
    // The summary goes to stdout however the run stopped: SIGTERM, stop-at offsets or a fatal error.
    yield* Pipeline.run(process_, { onStopped: (summary) => Console.log(JSON.stringify(summary)) }).pipe(
      // A fatal error is logged by the run itself, once; a metrics port that cannot be listened on
      // is a configuration error, printed by `main` (exit 2).
      Effect.provide(Observability.layer(config, { progress: terminalProgress(process.stderr) })),
      Effect.provide(Layer.mergeAll(PipelineSettings.layer(config), ChosenClient.layer(config, config.clientId))),
      Effect.provide(loggingLayer(config))
    )
  })
).pipe(Command.withDescription("Consume topics through a processor until stopped (SIGTERM/SIGINT) or the stop-at offsets"))

const offsets = Command.make(
  "offsets",
  {
    brokers: flagOf("brokers"),
    config: flagOf("config"),
    groupId: Flag.String("group-id").pipe(Flag.withDescription("consumer group")),
    topic: Flag.String("topic").pipe(Flag.withDescription("topic"))
  },
  Effect.fn("cli.offsets")(function*({ brokers, config, groupId, topic }) {
    // The brokers as `run` reads them: flag > env var > config file, by the same rule.
    const brokerList = yield* loadSetting({ flags: givenFlags({ brokers, config }), env: process.env }, "brokers")
    const rows = yield* groupLag(groupId, topic).pipe(
      Effect.provide(KafkaJs.layer({ brokers: brokerList, clientId: "kafka-pipeline-offsets" }))
    )
    yield* Console.log(["partition\tcommitted\tend\tlag", ...rows.map((row) =>
      `${row.partition}\t${row.committed ?? "-"}\t${row.end}\t${row.lag}`
    )].join("\n"))
  })
).pipe(Command.withDescription("Print committed offset, end offset and lag per partition of a group, then exit"))


const optionalText = (name: string, metavar: string, description: string) =>
  Flag.String(name).pipe(Flag.withMetavar(metavar), Flag.withDescription(description), Flag.optional)

const replayFlags = {
  paths: Argument.String("path").pipe(
    Argument.withDescription("DLQ (or backup) archive files, .csv or .csv.gz, and directories of them"),
    Argument.atLeast(1)
  ),
  brokers: flagOf("brokers"),
  client: flagOf("client"),
  config: flagOf("config"),
  ssl: flagOf("ssl"),
  saslMechanism: flagOf("sasl.mechanism"),
  saslUsername: flagOf("sasl.username"),
  saslPassword: flagOf("sasl.password"),
  logLevel: flagOf("logLevel"),
  logFormat: flagOf("logFormat"),
  archive: Flag.Literals("archive", ["dlq", "backup"]).pipe(
    Flag.withMetavar("dlq|backup"),
    Flag.withDescription("Which files of a directory are read; files named one by one are read whatever they hold"),
    Flag.withDefault("dlq")
  ),
  errorType: optionalText("error-type", "type,…", "Only these DLQ error types (error_type column), comma-separated"),
  topic: optionalText("topic", "topic,…", "Only records of these original topics, comma-separated"),
  partition: optionalText("partition", "n,…", "Only records of these original partitions, comma-separated"),
  fromOffset: optionalText("from-offset", "offset", "Only original offsets ≥ this"),
  toOffset: optionalText("to-offset", "offset", "Only original offsets ≤ this"),
  fromTime: optionalText("from-time", "time", "Only records at or after this ISO 8601 time (see --time-column)"),
  toTime: optionalText("to-time", "time", "Only records before this ISO 8601 time (see --time-column)"),
  timeColumn: optionalText("time-column", TimeColumns.join("|"), `The column --from-time/--to-time compare: ${TimeColumns.join(" (default) or ")}`),
  toTopic: optionalText("to-topic", "topic", "Send every record to this topic (partition by key) instead of its own topic and partition"),
  resumeFrom: optionalText("resume-from", "file:line", "Start at this row (file:line), as a replay that stopped part-way prints"),
  dryRun: Flag.Boolean("dry-run").pipe(
    Flag.withDescription("Print what would be sent (one line per record) and the counts; send nothing"),
    Flag.withDefault(false)
  )
}

/** A stop by SIGINT/SIGTERM is a clean exit for `run`; a replay stopped part-way is not. */
let interruptedExitCode = 0

const replay = Command.make(
  "replay",
  replayFlags,
  Effect.fn("cli.replay")(function*(flags) {
    interruptedExitCode = 1
    const text = (value: Option.Option<string>) => Option.getOrUndefined(value)
    const selection = parseReplayFlags({
      "error-type": text(flags.errorType),
      topic: text(flags.topic),
      partition: text(flags.partition),
      "from-offset": text(flags.fromOffset),
      "to-offset": text(flags.toOffset),
      "from-time": text(flags.fromTime),
      "to-time": text(flags.toTime),
      "time-column": text(flags.timeColumn),
      "to-topic": text(flags.toTopic),
      "resume-from": text(flags.resumeFrom)
    })
    if ("issues" in selection) return yield* new ConfigError({ issues: selection.issues })
    const sources = {
      flags: givenFlags({
        brokers: flags.brokers,
        client: flags.client,
        config: flags.config,
        ssl: flags.ssl,
        "sasl-mechanism": flags.saslMechanism,
        "sasl-username": flags.saslUsername,
        "sasl-password": flags.saslPassword,
        "log-level": flags.logLevel,
        "log-format": flags.logFormat
      }),
      env: process.env
    }
    const options: Replay.ReplayOptions = {
      paths: flags.paths,
      archive: flags.archive,
      ...selection,
      onStopped: (summary) => Console.log(JSON.stringify(summary))
    }
    // A ConfigError is printed once, by `main`; the others (malformed rows, a failed send) here.
    const report = <A, E extends { readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.tapError(effect, (error) => error instanceof ConfigError ? Effect.void : Console.error(error.message))
    if (flags.dryRun) {
      const logs = yield* loadSettings(sources, ["logLevel", "logFormat"])
      return yield* Replay.plan({
        ...options,
        onRecord: (planned) => Console.log(describeReplay(planned.file, planned.line, planned.record, planned.message))
      }).pipe(report, Effect.provide(loggingLayer(logs)))
    }
    const settings = yield* loadSettings(sources, ["brokers", "ssl", "sasl", "client", "logLevel", "logFormat"])
    yield* Replay.run(options).pipe(
      report,
      Effect.provide(ChosenClient.layer(settings, "kafka-pipeline-replay")),
      Effect.provide(loggingLayer(settings))
    )
  })
).pipe(Command.withDescription("Produce archived (dead-lettered) records again, byte-exact, with an x-replayed-from header"))

/** The archive has errors (or duplicates, when they fail it): the report says which; exit 1. */
class VerifyFailed extends Schema.TaggedError<VerifyFailed>()("VerifyFailed", { reasons: Schema.Array(Schema.String) }) {}

const verify = Command.make(
  "verify",
  {
    directory: Argument.String("directory").pipe(
      Argument.withDescription("A directory of backup and DLQ archive files (.csv and .csv.gz)")
    ),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("Print the report as one JSON object instead of the text summary"),
      Flag.withDefault(false)
    ),
    failOnDuplicates: Flag.Boolean("fail-on-duplicates").pipe(
      Flag.withDescription("Exit 1 when an offset has more than one row in an archive (by default reported only)"),
      Flag.withDefault(false)
    )
  },
  Effect.fn("cli.archive.verify")(function*({ directory, failOnDuplicates, json }) {
    const report = yield* ArchiveVerify.run(directory)
    yield* Console.log(json ? JSON.stringify(report) : ArchiveVerify.formatReport(report, { failOnDuplicates }))
    const reasons = ArchiveVerify.failures(report, { failOnDuplicates })
    if (reasons.length === 0) return
    // The text summary ends with them; beside the JSON they go to stderr.
    if (json) yield* Console.error(`archive verify failed: ${reasons.join("; ")}`)
    return yield* new VerifyFailed({ reasons })
  })
).pipe(Command.withDescription(
  "Read every archive file of a directory; report rows, offset ranges, gaps and duplicates per topic partition; exit 1 on a torn or unparseable file"
))

const archive = Command.make("archive").pipe(
  Command.withDescription("Check the backup and DLQ archive files"),
  Command.withSubcommands([verify])
)

const cli = Command.make("kafka-pipeline").pipe(
  Command.withDescription("A Kafka consumer pipeline: parallel processing, contiguous commits, CSV archives, a DLQ"),
  Command.withSubcommands([run, offsets, replay, archive])
)

const isUserError = (error: unknown) => error instanceof ConfigError || CliError.isCliError(error)

/** A signal-driven stop that completed its graceful sequence is a clean exit. */
const teardown: Runtime.Teardown = <E, A>(exit: Exit.Exit<E, A>, onExit: (code: number) => void) => {
  if (exit._tag === "Success") return onExit(0)
  if (Cause.hasInterruptsOnly(exit.cause)) return onExit(interruptedExitCode)
  return onExit(isUserError(Cause.squash(exit.cause)) ? 2 : 1)
}

// `run --log-level` is the pipeline's own option (with its env var and config key), not effect/cli's global flag.
const cliConfig = CliConfig.layer({ builtIns: GlobalFlag.BuiltIns.filter((flag) => flag !== GlobalFlag.LogLevel) })

/** `Unrecognized flag: --concurency in command kafka-pipeline run (did you mean --concurrency?)`. */
const oneLine = (error: CliError.NonShowHelpErrors): string => {
  const suggestions = "suggestions" in error && error.suggestions.length > 0
    ? ` (did you mean ${error.suggestions.join(" or ")}?)`
    : ""
  return `${error.message.split("\n")[0]}${suggestions}`
}

// A bad flag gets a line naming it and a pointer to `--help`: the whole help text would bury the line.
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error([...event.errors.map(oneLine), `Run '${event.commandPath.join(" ")} --help' for the flags.`].join("\n"))
      : CliOutput.defaultPresenter.present(event)
})

const main = Command.run(cli, { version: "0.1.0" }).pipe(
  Effect.tapError((error) => error instanceof ConfigError ? Console.error(error.message) : Effect.void),
  Effect.provide(Layer.mergeAll(NodeServices.layer, cliConfig, presenter))
)

NodeRuntime.runMain(main, { disableErrorReporting: true, teardown })

/**
 * The `kafka-pipeline` command.
 *
 *   kafka-pipeline run --brokers … --topics … --group-id … --dlq-dir … --processor …
 *   kafka-pipeline offsets --brokers … --group-id … --topic …
 *
 * Exit codes: 0 for a clean stop (stop-at offsets reached, or SIGTERM/SIGINT
 * once or many times), 2 for bad flags or configuration (one message, no
 * stack trace), 1 for a fatal runtime error (Kafka unreachable past the
 * restart budget, an archive that cannot be written).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import type { Exit, Runtime } from "effect"
import { Cause, Console, Effect, Layer } from "effect"
import { CliConfig, CliError, CliOutput, Command, Flag, GlobalFlag } from "effect/cli"
import { ConfigError } from "./domain/Errors.js"
import type { PipelineConfig } from "./domain/PipelineConfig.js"
import { cliDefaults } from "./domain/ConfigOptions.js"
import { flagOf, givenFlags, runFlags } from "./layers/config/CliFlags.js"
import { loadRunConfig, loadSetting } from "./layers/config/ConfigLoader.js"
import { groupLag } from "./layers/kafka/KafkaClient.js"
import * as KafkaJs from "./layers/kafka/KafkaJs.js"
import * as Logging from "./layers/Logging.js"
import { Observability, terminalProgress } from "./layers/Observability.js"
import { PipelineSettings } from "./layers/config/PipelineSettings.js"
import { loadProcessor } from "./processors/ProcessorLoader.js"
import * as Pipeline from "./streams/Pipeline.js"

const kafkaLayer = (config: PipelineConfig) =>
  KafkaJs.layer({
    brokers: config.brokers,
    clientId: config.clientId,
    ssl: config.ssl,
    ...(config.sasl === undefined ? {} : { sasl: config.sasl })
  })

const loggingLayer = (config: PipelineConfig) =>
  Logging.layer({ level: config.logLevel, format: config.logFormat, isTTY: process.stderr.isTTY === true })

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
      Effect.provide(Layer.mergeAll(PipelineSettings.layer(config), kafkaLayer(config))),
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

const cli = Command.make("kafka-pipeline").pipe(
  Command.withDescription("A Kafka consumer pipeline: parallel processing, contiguous commits, CSV archives, a DLQ"),
  Command.withSubcommands([run, offsets])
)

const isUserError = (error: unknown) => error instanceof ConfigError || CliError.isCliError(error)

/** A signal-driven stop that completed its graceful sequence is a clean exit. */
const teardown: Runtime.Teardown = <E, A>(exit: Exit.Exit<E, A>, onExit: (code: number) => void) => {
  if (exit._tag === "Success" || Cause.hasInterruptsOnly(exit.cause)) return onExit(0)
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

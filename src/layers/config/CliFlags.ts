/**
 * The CLI's flags, one per option of the table (`domain/ConfigOptions.ts`),
 * typed by the option's kind: booleans are switches (`--dev-mode`,
 * `--no-from-beginning`), integers and numbers are checked as such, and
 * `--help` shows what each takes (`--concurrency integer`,
 * `--ordering key|partition|unordered`). The values given are the loader's
 * flag source; each value's rule is checked there, with the env vars' and the
 * config file's.
 */
import { Effect, Option } from "effect"
import { CliError, Flag } from "effect/cli"
import { type ConfigOption, parseOptionValue } from "../../domain/ConfigOption.js"
import { type ConfigOptionKey, configOptions } from "../../domain/ConfigOptions.js"

const helpText = (option: ConfigOption): string =>
  [
    option.description.replace(/\.$/, ""),
    `env ${option.env}`,
    option.default === undefined ? (option.required ? "required" : undefined) : `default ${option.default}`,
    option.kind === "boolean" ? `--no-${option.flag} for false` : undefined
  ].filter((part) => part !== undefined).join("; ")

/**
 * A number parsed as an env var's text is (so both accept the same
 * spellings), or one of the option's words (`off`) as it is.
 */
const numeric = (option: ConfigOption, noun: string, accepts: (value: unknown) => boolean) =>
  Flag.mapEffect((text: string) => {
    const word = option.choices?.find((choice) => choice === text.trim())
    const value = word ?? parseOptionValue(option.kind, text)
    return word !== undefined || accepts(value)
      ? Effect.succeed(value)
      : Effect.fail(
        new CliError.InvalidValue({
          option: option.flag,
          value: text,
          expected: [noun, ...(option.choices ?? [])].join(" or "),
          kind: "flag"
        })
      )
  })

const typedFlag = (option: ConfigOption): Flag.Flag<unknown> => {
  switch (option.kind) {
    case "boolean":
      return Flag.Boolean(option.flag)
    case "secret":
      return Flag.Redacted(option.flag)
    case "integer":
      return Flag.String(option.flag).pipe(numeric(option, "an integer", Number.isSafeInteger))
    case "number":
      return Flag.String(option.flag).pipe(numeric(option, "a number", Number.isFinite))
    case "string":
    case "list":
    case "stopAtOffsets":
      return Flag.String(option.flag)
  }
}

/** The option's flag: optional, so that env vars, the config file and defaults can fill it in. */
export const optionFlag = (option: ConfigOption): Flag.Flag<Option.Option<unknown>> =>
  typedFlag(option).pipe(
    (flag) => option.kind === "boolean" ? flag : Flag.withMetavar(flag, option.metavar),
    Flag.withDescription(helpText(option)),
    Flag.optional
  )

/** The flag of the option `key`. */
export const flagOf = (key: ConfigOptionKey): Flag.Flag<Option.Option<unknown>> =>
  optionFlag(configOptions.find((option) => option.key === key)!)

/** The flags of `kafka-pipeline run`: every option's, by flag name. */
export const runFlags: Readonly<Record<string, Flag.Flag<Option.Option<unknown>>>> = Object.fromEntries(
  configOptions.map((option) => [option.flag, optionFlag(option)])
)

/** The flags given, by flag name: the loader's `flags` source. */
export const givenFlags = (values: Readonly<Record<string, Option.Option<unknown>>>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(values).flatMap(([name, value]) => Option.isSome(value) ? [[name, value.value]] : []))

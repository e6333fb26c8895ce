/**
 * Loading the configuration: raw values from CLI flags, environment variables
 * and a JSON config file, merged with the precedence
 *
 *     flags  >  env vars  >  config file  >  defaults
 *
 * then decoded with the `PipelineConfig` schema, and the directories checked on
 * the `FileSystem` (they must exist, be directories, be writable): every
 * problem of them all in one `ConfigError`.
 *
 * Which options there are, their flags, env vars and kinds, is the option
 * table of `domain/ConfigOptions.ts`.
 */
import { Effect, FileSystem } from "effect"
import * as NodePath from "node:path"
import { type ConfigOption, parseOptionValue } from "../../domain/ConfigOption.js"
import { configOptions, pipelineSettings } from "../../domain/ConfigOptions.js"
import { ConfigError } from "../../domain/Errors.js"
import {
  decodePipelineConfig,
  decodeSetting,
  type PipelineConfig,
  type PipelineConfigKey,
  showValue
} from "../../domain/PipelineConfig.js"

// -----------------------------------------------------------------------------
// Sources and merging
// -----------------------------------------------------------------------------

export interface ConfigSources {
  /**
   * CLI flags by flag name (`"group-id"`; `"--group-id"` and the camelCase
   * key `"groupId"` are accepted too). Text is parsed by the option's kind
   * as an env var is; typed values (the CLI's `4`, `true`) are taken as they
   * are. Keys that are not options are ignored.
   */
  readonly flags: Readonly<Record<string, unknown>>
  /** Usually `process.env`. Only `KAFKA_PIPELINE_*` names from the table are read (and their `fallbackEnv`). */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Values below the config file (the CLI passes its `cliDefaults`); the schema's defaults apply below these. */
  readonly defaults?: Readonly<Record<string, unknown>>
}

type Origin = string
interface Raw {
  values: Record<string, unknown>
  /** Where each top-level key's value (or for `sasl`, each leaf's) came from. */
  origins: Record<string, Origin>
}

const flagValue = (flags: ConfigSources["flags"], option: ConfigOption): unknown => {
  for (const name of [option.flag, `--${option.flag}`, option.key]) {
    const value = flags[name]
    if (value !== undefined) return value
  }
  return undefined
}

/** Blank text counts as not given: `KAFKA_PIPELINE_BACKUP_DIR=` leaves the backup off. */
const given = (value: unknown): boolean => typeof value === "string" ? value.trim().length > 0 : value !== undefined

const isGroup = (key: string): boolean =>
  Object.hasOwn(pipelineSettings, key) && pipelineSettings[key as keyof typeof pipelineSettings]._tag === "SettingGroup"

const setPath = (raw: Raw, key: string, value: unknown, origin: Origin): void => {
  const [head, leaf] = key.split(".") as [string, string | undefined]
  if (leaf === undefined) {
    raw.values[head] = value
  } else {
    const current = raw.values[head]
    const nested = typeof current === "object" && current !== null && !Array.isArray(current)
      ? { ...(current as Record<string, unknown>) }
      : {}
    nested[leaf] = value
    raw.values[head] = nested
  }
  raw.origins[key] = origin
}

const fromOptions = (
  raw: Raw,
  lookup: (option: ConfigOption) => unknown,
  describe: (option: ConfigOption) => Origin
): void => {
  for (const option of configOptions) {
    if (option.key === "config") continue
    const value = lookup(option)
    if (!given(value)) continue
    setPath(raw, option.key, typeof value === "string" ? parseOptionValue(option.kind, value) : value, describe(option))
  }
}

const optionsByKey: ReadonlyMap<string, ConfigOption> = new Map(configOptions.map((option) => [option.key, option]))

/**
 * A value of the config file, as its setting takes it (typed: `16`, `true`), except that a list
 * (`brokers`, `topics`) may also be the comma-separated text its env var and flag take:
 * `"a:9092,b:9092"` as `["a:9092", "b:9092"]`.
 */
const fileValue = (key: string, value: unknown): unknown =>
  optionsByKey.get(key)?.kind === "list" && typeof value === "string" && given(value)
    ? parseOptionValue("list", value)
    : value

const fromFile = (raw: Raw, file: Record<string, unknown>, path: string): void => {
  for (const [key, value] of Object.entries(file)) {
    raw.values[key] = key === "processor" ? processorFromFile(value, path) : fileValue(key, value)
    raw.origins[key] = `config file ${path}`
    if (isGroup(key) && typeof value === "object" && value !== null && !Array.isArray(value)) {
      raw.values[key] = { ...(value as Record<string, unknown>) }
      for (const leaf of Object.keys(value)) raw.origins[`${key}.${leaf}`] = `config file ${path}`
    }
  }
}

/** A module path in a config file is relative to the file, as in tsconfig.json or .eslintrc. */
const processorFromFile = (value: unknown, path: string): unknown =>
  typeof value === "string" && value.trim() !== "" && !value.startsWith("builtin:")
    ? NodePath.resolve(NodePath.dirname(path), value.trim())
    : value

const configOption = configOptions.find((o) => o.key === "config")!

/** The config file's path: `--config`, else `KAFKA_PIPELINE_CONFIG`. */
export const configFilePath = (sources: ConfigSources): string | undefined => {
  for (const value of [flagValue(sources.flags, configOption), sources.env[configOption.env]]) {
    if (typeof value === "string" && given(value)) return value.trim()
  }
  return undefined
}

const readConfigFile = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) =>
        configIssue(
          error.reason._tag === "NotFound"
            ? `config: config file ${showValue(path)} does not exist`
            : `config: cannot read config file ${showValue(path)}: ${error.message}`
        )
      )
    )
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      return yield* Effect.fail(
        configIssue(`config: config file ${showValue(path)} is not valid JSON: ${(error as Error).message}`)
      )
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return yield* Effect.fail(
        configIssue(`config: config file ${showValue(path)} must hold a JSON object of settings, got ${showValue(parsed)}`)
      )
    }
    return parsed as Record<string, unknown>
  })

const configIssue = (issue: string) => new ConfigError({ issues: [issue] })

/**
 * The merged raw settings (not yet decoded) and where each came from. Reads
 * the config file when one is named.
 */
export const readRawConfig = (sources: ConfigSources) =>
  Effect.gen(function*() {
    const raw: Raw = { values: {}, origins: {} }
    for (const [key, value] of Object.entries(sources.defaults ?? {})) setPath(raw, key, value, "default")
    const path = configFilePath(sources)
    if (path !== undefined) fromFile(raw, yield* readConfigFile(path), path)
    const fromEnv = (o: ConfigOption) =>
      given(sources.env[o.env]) || o.fallbackEnv === undefined ? o.env : o.fallbackEnv
    fromOptions(raw, (o) => sources.env[fromEnv(o)], fromEnv)
    fromOptions(raw, (o) => flagValue(sources.flags, o), (o) => `--${o.flag}`)
    return raw as { readonly values: Readonly<Record<string, unknown>>; readonly origins: Readonly<Record<string, Origin>> }
  })

/** `sasl.password: …` → `sasl.password`; `stopAtOffsets[0].offset: …` → `stopAtOffsets`. */
const issueKey = (issue: string): string => (/^[\w$]*(?:\.[\w$]+)?/.exec(issue) as RegExpExecArray)[0]

/** Appends where the value came from, e.g. ` (from KAFKA_PIPELINE_CONCURRENCY)`. */
const withOrigins = (origins: Readonly<Record<string, Origin>>) =>
  Effect.mapError((error: ConfigError) =>
    new ConfigError({
      issues: error.issues.map((issue) => {
        const key = issueKey(issue)
        const origin = origins[key] ?? origins[key.split(".")[0]!]
        return origin === undefined ? issue : `${issue} (from ${origin})`
      })
    })
  )

// -----------------------------------------------------------------------------
// Directories
// -----------------------------------------------------------------------------

/**
 * `dlqDir` and, when set, `backupDir` must exist, be directories and be
 * writable by this process. Both are checked; all problems are reported.
 */
export const checkDirectories = (config: PipelineConfig): Effect.Effect<void, ConfigError, FileSystem.FileSystem> =>
  Effect.flatMap(
    directoryIssues({ backupDir: config.backupDir, dlqDir: config.dlqDir }),
    (issues) => issues.length > 0 ? Effect.fail(new ConfigError({ issues })) : Effect.void
  )

/** The problems of the directories given as text (other values are the schema's to report). */
const directoryIssues = (dirs: { readonly backupDir: unknown; readonly dlqDir: unknown }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const issues: Array<string> = []
    for (const [field, dir] of [["backupDir", dirs.backupDir], ["dlqDir", dirs.dlqDir]] as const) {
      if (typeof dir !== "string" || dir.length === 0) continue
      const issue = yield* checkDirectory(fs, field, dir)
      if (issue !== undefined) issues.push(issue)
    }
    return issues
  })

/** Why `dir` (given as `field`) is not an existing directory, or undefined when it is one. */
export const directoryIssue = (fs: FileSystem.FileSystem, field: string, dir: string) =>
  Effect.gen(function*() {
    const shown = showValue(dir)
    const stat = yield* Effect.result(fs.stat(dir))
    if (stat._tag === "Failure") {
      const reason = stat.failure.reason
      if (reason._tag === "NotFound") return `${field}: directory ${shown} does not exist`
      if (reason._tag === "BadResource") return `${field}: directory ${shown} does not exist (a part of the path is a file)`
      if (reason._tag === "PermissionDenied") return `${field}: directory ${shown} cannot be reached (permission denied)`
      return `${field}: directory ${shown} cannot be checked: ${stat.failure.message}`
    }
    if (stat.success.type !== "Directory") {
      return `${field}: ${shown} is not a directory (it is a ${stat.success.type.toLowerCase()})`
    }
    return undefined
  })

const checkDirectory = (fs: FileSystem.FileSystem, field: string, dir: string) =>
  Effect.gen(function*() {
    const notDirectory = yield* directoryIssue(fs, field, dir)
    if (notDirectory !== undefined) return notDirectory
    const shown = showValue(dir)
    const access = yield* Effect.result(fs.access(dir, { writable: true }))
    if (access._tag === "Failure") {
      return access.failure.reason._tag === "PermissionDenied"
        ? `${field}: directory ${shown} is not writable`
        : `${field}: directory ${shown} is not writable: ${access.failure.message}`
    }
    return undefined
  })

// -----------------------------------------------------------------------------
// Loading
// -----------------------------------------------------------------------------

export interface RunConfig {
  readonly config: PipelineConfig
  /** The `processor` option as given (a config file's relative path already resolved), if any. */
  readonly processor: string | undefined
}

/**
 * Reads the config file (when `--config` / `KAFKA_PIPELINE_CONFIG` names
 * one), merges flags > env vars > file > defaults, decodes, and checks the
 * directories. Every issue line says where its value came from.
 */
export const loadRunConfig = (sources: ConfigSources): Effect.Effect<RunConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const raw = yield* readRawConfig(sources)
    const { processor, ...fields } = raw.values
    // Every problem at once: the processor, each setting, and the directories that were given.
    const issues: Array<string> = []
    if (processor !== undefined && typeof processor !== "string") {
      issues.push(`processor: expected a module path or builtin name (a string), got ${showValue(processor)}`)
    }
    const decoded = yield* Effect.result(decodePipelineConfig(fields))
    if (decoded._tag === "Failure") issues.push(...decoded.failure.issues)
    issues.push(...yield* directoryIssues({ backupDir: fields.backupDir, dlqDir: fields.dlqDir }))
    if (decoded._tag === "Failure" || issues.length > 0) {
      return yield* new ConfigError({ issues }).pipe(withOrigins(raw.origins))
    }
    return { config: decoded.success, processor: processor as string | undefined }
  })

/** `loadRunConfig` for a library: the settings only (a `processor` key is accepted and ignored). */
export const loadConfig = (sources: ConfigSources): Effect.Effect<PipelineConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.map(loadRunConfig(sources), (run) => run.config)

/**
 * Several settings from the same sources, by the same rules, as in
 * `loadRunConfig` (the config file read once; every issue reported at once):
 * `kafka-pipeline replay` reads its connection settings with it.
 */
export const loadSettings = <K extends PipelineConfigKey>(
  sources: ConfigSources,
  keys: ReadonlyArray<K>
): Effect.Effect<Pick<PipelineConfig, K>, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const raw = yield* readRawConfig(sources)
    const values: Partial<Pick<PipelineConfig, K>> = {}
    const issues: Array<string> = []
    for (const key of keys) {
      const decoded = yield* Effect.result(decodeSetting(key, raw.values[key]).pipe(withOrigins(raw.origins)))
      if (decoded._tag === "Success") values[key] = decoded.success
      else issues.push(...decoded.failure.issues)
    }
    if (issues.length > 0) return yield* new ConfigError({ issues })
    return values as Pick<PipelineConfig, K>
  })

/** One setting, as `loadSettings` reads it: `kafka-pipeline offsets` reads its brokers with it. */
export const loadSetting = <K extends PipelineConfigKey>(
  sources: ConfigSources,
  key: K
): Effect.Effect<PipelineConfig[K], ConfigError, FileSystem.FileSystem> =>
  Effect.map(loadSettings(sources, [key]), (settings) => settings[key])

/**
 * What a configuration option's declaration holds, and what is derived from a
 * table of them (pure: no I/O). The table itself is `ConfigOptions.ts`.
 *
 * A setting is a `PipelineConfig` field: its schema, the rule its issue lines
 * quote, its default and whether it is required. Every option, setting or not
 * (`config`, `processor`), also has a kind (how its text is parsed from an env
 * var or a flag, and which CLI flag it is) and a description; its flag and env
 * var follow from its key: `groupId` is `--group-id` and `KAFKA_PIPELINE_GROUP_ID`.
 */
import { Schema } from "effect"
import { optionalValue, withDefault } from "./ConfigValues.js"

/** How the text of an env var or a flag becomes the value (and which kind of CLI flag it is). */
export type ConfigOptionKind = "string" | "secret" | "integer" | "number" | "boolean" | "list" | "stopAtOffsets"

export type FieldSchema = Schema.Top & Schema.Constraint

/** What every option declares. */
export interface OptionSpec {
  readonly kind: ConfigOptionKind
  readonly description: string
  /** Must be given by some source. */
  readonly required?: boolean
  /** Words the value may be, shown in `--help` as `key|partition|unordered`. */
  readonly choices?: ReadonlyArray<string>
  /** How `--help` shows the value when its kind and choices do not say enough: `host:port,…`. */
  readonly metavar?: string
  /** A standard variable read when the option's own is not set (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly fallbackEnv?: string
}

/** What a setting declares besides. */
export interface SettingSpec<S extends FieldSchema> extends OptionSpec {
  readonly schema: S
  /** What follows "expected" in an issue line: `concurrency: expected <rule>, got 2000`. */
  readonly rule: string
  /** Rules of the value's parts, by path below it: `"[]"` (a list's items), `"[].topic"`. */
  readonly partRules?: Readonly<Record<string, string>>
  /** The value when no source gives one. */
  readonly default?: S["Type"]
  /** The `kafka-pipeline` command's default where it differs from the library's (none). */
  readonly cliDefault?: S["Encoded"]
}

/** A setting: its declaration and the schema of the `PipelineConfig` field it makes. */
export interface Setting<S extends FieldSchema, Field extends FieldSchema> extends SettingSpec<S> {
  readonly _tag: "Setting"
  readonly field: Field
}

export type AnySetting = Setting<FieldSchema, FieldSchema>

type Optional<S extends FieldSchema> = Schema.withDecodingDefaultType<Schema.UndefinedOr<S>>
type GroupSchema<G extends Record<string, AnySetting>> = Schema.Struct<{ readonly [K in keyof G]: G[K]["schema"] }>

/** Settings given together or not at all (`sasl`): the field is optional, each of its parts required in it. */
export interface SettingGroup<G extends Record<string, AnySetting>> {
  readonly _tag: "SettingGroup"
  readonly settings: G
  readonly schema: GroupSchema<G>
  readonly field: Optional<GroupSchema<G>>
}

/** Required, defaulted or optional: the field's schema follows from `required` and `default`. */
export function setting<S extends FieldSchema>(spec: SettingSpec<S> & { readonly required: true }): Setting<S, S>
export function setting<S extends FieldSchema>(
  spec: SettingSpec<S> & { readonly default: S["Type"] }
): Setting<S, Schema.withDecodingDefaultType<S>> & { readonly default: S["Type"] }
export function setting<S extends FieldSchema>(spec: SettingSpec<S>): Setting<S, Optional<S>>
export function setting(spec: SettingSpec<FieldSchema>): AnySetting {
  const field = spec.required === true
    ? spec.schema
    : spec.default !== undefined
    ? withDefault(spec.schema, spec.default)
    : optionalValue(spec.schema)
  return { _tag: "Setting", ...spec, field }
}

export const group = <const G extends Record<string, AnySetting>>(settings: G): SettingGroup<G> => {
  const schema = Schema.Struct(
    Object.fromEntries(Object.entries(settings).map(([key, s]) => [key, s.schema]))
  ) as unknown as GroupSchema<G>
  return { _tag: "SettingGroup", settings, schema, field: optionalValue(schema) }
}

// -----------------------------------------------------------------------------
// Derived from a table
// -----------------------------------------------------------------------------

export type SettingsTable = Record<string, AnySetting | SettingGroup<Record<string, AnySetting>>>

/** The schema fields of a table of settings. */
export type FieldsOf<T extends SettingsTable> = { readonly [K in keyof T]: T[K]["field"] }

/** The defaults of a table of settings, by key. */
export type DefaultsOf<T extends SettingsTable> = {
  readonly [K in keyof T as T[K] extends { readonly default: unknown } ? K : never]: T[K] extends
    { readonly default: infer D } ? D : never
}

/** The option keys of a table: a group's settings as `group.setting` (`sasl.password`). */
export type OptionKeysOf<T extends SettingsTable> = {
  [K in keyof T & string]: T[K] extends SettingGroup<infer G> ? `${K}.${keyof G & string}` : K
}[keyof T & string]

export const fieldsOf = <T extends SettingsTable>(table: T): FieldsOf<T> =>
  Object.fromEntries(Object.entries(table).map(([key, entry]) => [key, entry.field])) as FieldsOf<T>

export const defaultsOf = <T extends SettingsTable>(table: T): DefaultsOf<T> =>
  Object.fromEntries(
    Object.entries(table).flatMap(([key, entry]) =>
      entry._tag === "Setting" && entry.default !== undefined ? [[key, entry.default]] : []
    )
  ) as DefaultsOf<T>

/** Every setting of a table by option key, a group's settings as `group.setting`. */
export const settingsOf = (table: SettingsTable): ReadonlyArray<readonly [string, AnySetting]> =>
  Object.entries(table).flatMap(([key, entry]) =>
    entry._tag === "Setting"
      ? [[key, entry] as const]
      : Object.entries(entry.settings).map(([leaf, s]) => [`${key}.${leaf}`, s] as const)
  )

/** The rule of each path, array indices as `[]`: `concurrency`, `brokers[]`, `sasl.mechanism`. */
export const rulesOf = (table: SettingsTable): Readonly<Record<string, string>> =>
  Object.fromEntries([
    ...Object.entries(table).flatMap(([key, entry]) =>
      entry._tag === "SettingGroup" ? [[key, `an object { ${Object.keys(entry.settings).join(", ")} }`]] : []
    ),
    ...settingsOf(table).flatMap(([key, s]) => [
      [key, s.rule],
      ...Object.entries(s.partRules ?? {}).map(([part, rule]) => [`${key}${part}`, rule])
    ])
  ])

/** The `kafka-pipeline` command's own defaults, by option key. */
export const cliDefaultsOf = (table: SettingsTable): Readonly<Record<string, unknown>> =>
  Object.fromEntries(settingsOf(table).flatMap(([key, s]) => s.cliDefault === undefined ? [] : [[key, s.cliDefault]]))

// -----------------------------------------------------------------------------
// The flat list of options: flags, env vars, help and README text
// -----------------------------------------------------------------------------

export const ENV_PREFIX = "KAFKA_PIPELINE_"

/** An option as the loader, the CLI and the README see it. */
export interface ConfigOption<Key extends string = string> {
  readonly key: Key
  /** The CLI flag's name without the leading `--` (kebab-case): `group-id` is `--group-id`. */
  readonly flag: string
  /** `KAFKA_PIPELINE_` + the key in SCREAMING_SNAKE case. */
  readonly env: string
  readonly fallbackEnv?: string
  readonly kind: ConfigOptionKind
  readonly required: boolean
  readonly description: string
  /** The default as text, when there is one to show (the CLI's when it has its own). */
  readonly default?: string
  readonly choices?: ReadonlyArray<string>
  /** How `--help` shows the value: `integer`, `host:port,…`, `key|partition|unordered`. */
  readonly metavar: string
}

const words = (key: string): Array<string> =>
  key.split(".").flatMap((part) => part.split(/(?=[A-Z])/)).map((w) => w.toLowerCase())

const shown = (value: unknown): string | undefined =>
  typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : undefined

const metavarOf = (spec: OptionSpec): string => {
  if (spec.metavar !== undefined) return spec.metavar
  const numeric = spec.kind === "integer" || spec.kind === "number"
  if (spec.choices !== undefined) return [...(numeric ? [spec.kind] : []), ...spec.choices].join("|")
  return spec.kind === "secret" ? "string" : spec.kind
}

export const configOption = <Key extends string>(
  key: Key,
  spec: OptionSpec & { readonly default?: unknown; readonly cliDefault?: unknown }
): ConfigOption<Key> => {
  const defaultText = shown(spec.cliDefault ?? spec.default)
  return {
    key,
    flag: words(key).join("-"),
    env: ENV_PREFIX + words(key).join("_").toUpperCase(),
    ...(spec.fallbackEnv === undefined ? {} : { fallbackEnv: spec.fallbackEnv }),
    kind: spec.kind,
    required: spec.required ?? false,
    description: spec.description,
    ...(defaultText === undefined ? {} : { default: defaultText }),
    ...(spec.choices === undefined ? {} : { choices: spec.choices }),
    metavar: metavarOf(spec)
  }
}

// -----------------------------------------------------------------------------
// Text: env vars and flags
// -----------------------------------------------------------------------------

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const TRUE = new Set(["true", "1", "yes", "y", "on"])
const FALSE = new Set(["false", "0", "no", "n", "off"])

/**
 * Turns the text of an env var or flag into the value the schema expects.
 * Text that does not parse is passed on as it is, so the schema reports it
 * with the field's rule: `concurrency: expected an integer between 1 and 1000, got "abc"`.
 */
export const parseOptionValue = (kind: ConfigOptionKind, text: string): unknown => {
  const trimmed = text.trim()
  switch (kind) {
    case "integer":
    case "number":
      return NUMBER.test(trimmed) ? Number(trimmed) : text
    case "boolean": {
      const lower = trimmed.toLowerCase()
      return TRUE.has(lower) ? true : FALSE.has(lower) ? false : text
    }
    case "list":
      return trimmed.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
    case "string":
      return trimmed
    case "secret":
    case "stopAtOffsets":
      return text
  }
}

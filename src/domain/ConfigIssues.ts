/**
 * Issue lines of a configuration that does not decode (pure: no I/O): one
 * line per problem, naming the field (dotted path), the rule and the value
 * received (secrets as `<redacted>`), e.g.
 * `concurrency: expected an integer between 1 and 1000, got 2000`.
 */
import { Redacted, SchemaIssue } from "effect"
import { fieldRules, pipelineSettings } from "./ConfigOptions.js"

/** The rule of the whole configuration, what a config that is not an object breaks. */
const ROOT_RULE = "an object of configuration settings"

const SECRET_KEYS = new Set<PropertyKey>(["password"])

/** `concurrency`, `stopAtOffsets[0].offset`, `sasl.password`; the root is `config`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else if (typeof segment === "string" && /^[A-Za-z_$][\w$]*$/.test(segment)) out += out === "" ? segment : `.${segment}`
    else out += `[${JSON.stringify(String(segment))}]`
  }
  return out === "" ? "config" : out
}

const rulePath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((s) => (typeof s === "number" ? "[]" : String(s))).join(".").replace(/\.\[\]/g, "[]")

const ruleOf = (path: ReadonlyArray<PropertyKey>): string | undefined =>
  path.length === 0 ? ROOT_RULE : fieldRules[rulePath(path)]

const MAX_SHOWN = 120
const defaultFormatter = SchemaIssue.makeFormatterDefault()

/** A value as it appears after "got": strings quoted, secrets and `Redacted` values as `<redacted>`. */
export const showValue = (value: unknown, secret = false): string => {
  if (secret || Redacted.isRedacted(value)) return "<redacted>"
  switch (typeof value) {
    case "undefined":
      return "nothing"
    case "string":
      return truncate(JSON.stringify(value))
    case "bigint":
      return `${value}n`
    case "function":
      return "a function"
    case "symbol":
      return value.toString()
    case "object": {
      if (value === null) return "null"
      try {
        return truncate(
          JSON.stringify(value, (key, v: unknown) =>
            SECRET_KEYS.has(key) || Redacted.isRedacted(v) ? "<redacted>" : typeof v === "bigint" ? `${v}n` : v
          ) ?? String(value)
        )
      } catch {
        return "an object that cannot be shown"
      }
    }
    default:
      return String(value)
  }
}

const truncate = (s: string): string => (s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN - 1)}…` : s)

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current = input
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined
    current = (current as Record<PropertyKey, unknown>)[segment]
  }
  return current
}

const isSecretPath = (path: ReadonlyArray<PropertyKey>): boolean => path.some((s) => SECRET_KEYS.has(s))

const TOP_LEVEL_KEYS = Object.keys(pipelineSettings)

const suggestion = (path: ReadonlyArray<PropertyKey>): string => {
  if (path.length !== 1 || typeof path[0] !== "string") return ""
  const key = path[0].toLowerCase()
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of TOP_LEVEL_KEYS) {
    const distance = editDistance(key, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best === undefined ? "" : ` (did you mean ${best}?)`
}

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      )
    }
    previous = current
  }
  return previous[b.length]!
}

/**
 * One line per problem, in schema order, without duplicates. The value shown
 * is read from `input` at the issue's path (the parser is not asked to retain
 * inputs), so secrets can be masked by path.
 */
export const formatIssues = (issue: SchemaIssue.Issue, input: unknown): ReadonlyArray<string> => {
  const lines: Array<string> = []
  const visit = (issue: SchemaIssue.Issue, path: ReadonlyArray<PropertyKey>): void => {
    switch (issue._tag) {
      case "Pointer":
        return visit(issue.issue, [...path, ...issue.path])
      case "Composite":
      case "AnyOf":
        if (issue.issues.length === 0) return leaf(issue, path)
        for (const inner of issue.issues) visit(inner, path)
        return
      case "Filter":
      case "Encoding":
        return visit(issue.issue, path)
      default:
        return leaf(issue, path)
    }
  }
  const leaf = (issue: SchemaIssue.Issue, path: ReadonlyArray<PropertyKey>): void => {
    const field = formatPath(path)
    const value = valueAt(input, path)
    const got = showValue(value, isSecretPath(path))
    if (issue._tag === "MissingKey" || (issue._tag === "InvalidType" && value === undefined)) {
      lines.push(`${field}: required, got nothing`)
    } else if (issue._tag === "UnexpectedKey") {
      lines.push(`${field}: not a known setting${suggestion(path)}, got ${got}`)
    } else if (issue._tag === "InvalidValue" && typeof issue.annotations?.message === "string") {
      lines.push(`${field}: ${issue.annotations.message}, got ${got}`)
    } else {
      const rule = ruleOf(path) ?? defaultFormatter(issue).replace(/^Expected /, "")
      lines.push(`${field}: expected ${rule}, got ${got}`)
    }
  }
  visit(issue, [])
  return [...new Set(lines)]
}

/**
 * Resolves the `processor` option: a built-in name or the path of an ES
 * module whose default export is the processor function.
 */
import { Effect } from "effect"
import * as NodePath from "node:path"
import { pathToFileURL } from "node:url"
import { ConfigError } from "../domain/Errors.js"
import type { Processor } from "../domain/Processor.js"
import { builtinProcessors } from "./builtin.js"

const invalid = (processor: string, rule: string) =>
  new ConfigError({ issues: [`processor: ${rule}, got ${JSON.stringify(processor)}`] })

export const loadProcessor = Effect.fn("ProcessorLoader.loadProcessor")(function*(processor: string | undefined) {
  if (processor === undefined || processor.trim() === "") {
    return yield* new ConfigError({
      issues: [`processor: required (a module path or one of ${Object.keys(builtinProcessors).join(", ")}), got nothing`]
    })
  }
  // Own keys only: "constructor" or "toString" is a module path, not Object.prototype's member.
  if (Object.hasOwn(builtinProcessors, processor)) return builtinProcessors[processor]!
  if (processor.startsWith("builtin:")) {
    return yield* invalid(processor, `expected one of ${Object.keys(builtinProcessors).join(", ")}`)
  }
  const url = pathToFileURL(NodePath.resolve(processor)).href
  const module = yield* Effect.tryPromise({
    try: () => import(url) as Promise<{ readonly default?: unknown }>,
    catch: (cause) =>
      invalid(processor, `expected a loadable ES module (${cause instanceof Error ? cause.message : String(cause)})`)
  })
  if (typeof module.default !== "function") {
    return yield* invalid(processor, "expected a module whose default export is a function of the record")
  }
  return module.default as Processor
})

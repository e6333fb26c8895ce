/**
 * Processors that ship with the package: `builtin:json` (the demo: a value
 * that is not JSON goes to the DLQ without retries) and `builtin:noop`.
 */
import { Effect } from "effect"
import { NonRetryable } from "../domain/Failure.js"
import type { Processor, ProcessorInput } from "../domain/Processor.js"

export const jsonValidate: Processor = (input: ProcessorInput) =>
  Effect.try({
    try: () => JSON.parse(input.text ?? "") as unknown,
    catch: (cause) => new NonRetryable({ cause })
  })

export const noop: Processor = () => Effect.void

export const builtinProcessors: Readonly<Record<string, Processor>> = {
  "builtin:json": jsonValidate,
  "builtin:noop": noop
}

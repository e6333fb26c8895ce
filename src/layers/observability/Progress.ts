/**
 * The progress line: consumed (and the rate), handled, dead-lettered and lag,
 * rewritten every second on a terminal and written once more when the run
 * ends. Read from the run state, on the `Clock`.
 */
import type { Scope } from "effect"
import { Clock, Effect } from "effect"
import { stateLabel } from "../../domain/CircuitBreaker.js"
import type { RunSnapshot, RunState } from "../RunState.js"

/** Where the progress line goes: `update` rewrites the live line, `done` writes the last one. */
export interface ProgressOutput {
  readonly update: (line: string) => Effect.Effect<void>
  readonly done: (line: string) => Effect.Effect<void>
}

/** A live line on a terminal stream (`\r` + clear line), or undefined when the stream is not a TTY. */
export const terminalProgress = (
  stream: { readonly isTTY?: boolean | undefined; write(text: string): unknown }
): ProgressOutput | undefined =>
  stream.isTTY === true
    ? {
      update: (line) => Effect.sync(() => void stream.write(`\r\x1b[2K${line}`)),
      done: (line) => Effect.sync(() => void stream.write(`\r\x1b[2K${line}\n`))
    }
    : undefined

const formatCount = (n: number) => n.toLocaleString("en-US")

/** `consumed 3,000 (1,412/s)  handled 3,000  DLQ 156  lag 0`, and `breaker open` while it is not closed. */
export const progressLine = (run: RunSnapshot, recordsPerSec: number): string =>
  [
    `consumed ${formatCount(run.consumed)} (${formatCount(Math.round(recordsPerSec))}/s)`,
    `handled ${formatCount(run.handled)}`,
    `DLQ ${formatCount(run.deadLettered)}`,
    `lag ${run.lag === undefined ? "?" : formatCount(run.lag)}`,
    ...(run.breaker._tag === "Closed" ? [] : [`breaker ${stateLabel(run.breaker._tag)}`])
  ].join("  ")

/** Writes the line every `intervalMs` while the scope is open, and the last one (the whole run's rate) when it closes. */
export const writeProgress = (
  output: ProgressOutput,
  runState: RunState["Service"],
  intervalMs: number
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    let last = { at: startedAt, consumed: 0 }
    yield* Effect.gen(function*() {
      const run = yield* runState.snapshot
      const at = yield* Clock.currentTimeMillis
      const rate = ((run.consumed - last.consumed) * 1000) / (at - last.at)
      last = { at, consumed: run.consumed }
      yield* output.update(progressLine(run, rate))
    }).pipe(Effect.delay(intervalMs), Effect.forever, Effect.forkScoped)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const run = yield* runState.snapshot
        const at = yield* Clock.currentTimeMillis
        // the average over the whole run (at least 1 ms)
        yield* output.done(progressLine(run, (run.consumed * 1000) / Math.max(at - startedAt, 1)))
      })
    )
  })

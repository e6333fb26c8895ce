import type { FailureDescription } from "./Failure.js"

/**
 * Where one record's processing ended: processed, failed for good (then it
 * goes to the DLQ), or abandoned unhandled: the run stopped, or the record's
 * partition moved to another member, while it waited for the circuit breaker
 * or the rate limit (it is not committed; whoever reads the partition next
 * processes it). `attempts` counts the processor's calls (0: the record
 * failed its checks and was never processed).
 */
export type Outcome =
  | { readonly _tag: "Processed"; readonly attempts: number }
  | { readonly _tag: "Failed"; readonly attempts: number; readonly failure: FailureDescription }
  | { readonly _tag: "Abandoned"; readonly attempts: number }

export type Failed = Extract<Outcome, { readonly _tag: "Failed" }>

/** Failed attempts of an outcome: every attempt but a successful last one. */
export const failedAttempts = (outcome: Outcome): number =>
  outcome._tag === "Processed" ? outcome.attempts - 1 : outcome.attempts

/** Retries of an outcome: every attempt after the first. */
export const retries = (outcome: Outcome): number => Math.max(0, outcome.attempts - 1)

/**
 * Where a run is in its life, as a tagged state and a pure transition
 * function: what `/health` and `/ready` report, and what the stages read to
 * know whether to take more work.
 */

/** Why a run stopped: every stop-at offset handled, interrupted (a signal), or a fatal error. */
export type StopReason = "stopAtOffsets" | "interrupted" | "failed"

export type RunPhase =
  | { readonly _tag: "Starting" }
  | { readonly _tag: "Running" }
  | { readonly _tag: "Stopping" }
  | { readonly _tag: "Stopped"; readonly reason: StopReason }

export type RunEvent =
  | { readonly _tag: "Started" }
  | { readonly _tag: "StopRequested" }
  | { readonly _tag: "Stopped"; readonly reason: StopReason }

export const Starting: RunPhase = { _tag: "Starting" }

/**
 * The next phase. Starting → Running → Stopping → Stopped, where a stop may
 * come at any point before Stopped (a run that fails to start stops too) and
 * asking again changes nothing: shutdown is idempotent.
 */
export const transition = (phase: RunPhase, event: RunEvent): RunPhase => {
  switch (event._tag) {
    case "Started":
      return phase._tag === "Starting" ? { _tag: "Running" } : phase
    case "StopRequested":
      return phase._tag === "Starting" || phase._tag === "Running" ? { _tag: "Stopping" } : phase
    case "Stopped":
      return phase._tag === "Stopped" ? phase : { _tag: "Stopped", reason: event.reason }
  }
}

/** Whether the stages still take new work: not once a stop is asked for. */
export const isTakingWork = (phase: RunPhase): boolean => phase._tag === "Starting" || phase._tag === "Running"

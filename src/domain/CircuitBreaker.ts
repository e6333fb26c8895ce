/**
 * The circuit breaker in front of the processor's downstream, as a tagged
 * state and a pure transition function.
 *
 * - Closed: calls start freely. `threshold` retryable failures in a row (no
 *   success between them, in the order they end) open it; so does a record
 *   that ran out of retries while no call anywhere succeeded since its first
 *   failure (`Stalled`: the downstream, not the record, is the likely cause).
 * - Open: no call starts. After `openMs` it becomes half-open.
 * - HalfOpen: one call, the probe, starts. Its success closes the breaker;
 *   its retryable failure opens it again for twice as long, at most
 *   `maxOpenMs`. A probe that ends otherwise (a bad record, a stop) frees
 *   the probe for another call.
 *
 * Each change of state starts a new generation. A call is admitted with the
 * generation of that moment (its ticket), and only the calls of the current
 * generation move the state: a call started before the breaker opened and
 * ending after says nothing about the downstream now.
 */

export interface BreakerOptions {
  /** Retryable failures in a row that open the breaker. */
  readonly threshold: number
  /** How long the breaker first stays open, in ms. */
  readonly openMs: number
  /** The longest it stays open, however often the probe fails, in ms. */
  readonly maxOpenMs: number
}

/** Every state says since when it holds (ms on the run's clock; 0 for the first). */
export type BreakerState =
  | { readonly _tag: "Closed"; readonly generation: number; readonly since: number; readonly failures: number }
  | {
    readonly _tag: "Open"
    readonly generation: number
    readonly since: number
    /** How long this opening lasts; the next one, after a failed probe, lasts twice as long. */
    readonly openMs: number
    readonly until: number
  }
  | {
    readonly _tag: "HalfOpen"
    readonly generation: number
    readonly since: number
    readonly openMs: number
    readonly probing: boolean
  }

export type BreakerEvent =
  | { readonly _tag: "Succeeded"; readonly ticket: number; readonly now: number }
  | { readonly _tag: "Failed"; readonly ticket: number; readonly now: number }
  | { readonly _tag: "Stalled"; readonly now: number }
  | { readonly _tag: "OpenTimeElapsed"; readonly now: number }
  | { readonly _tag: "ProbeStarted" }
  | { readonly _tag: "ProbeReleased"; readonly ticket: number }

export type BreakerStateName = BreakerState["_tag"]

export const initialBreaker: BreakerState = { _tag: "Closed", generation: 0, since: 0, failures: 0 }

const open = (state: BreakerState, openMs: number, now: number): BreakerState => ({
  _tag: "Open",
  generation: state.generation + 1,
  openMs,
  since: now,
  until: now + openMs
})

const closed = (state: BreakerState, now: number): BreakerState => ({
  _tag: "Closed",
  generation: state.generation + 1,
  since: now,
  failures: 0
})

/** Whether an event is about a call of the current generation (the probe's, when half-open). */
const isCurrent = (state: BreakerState, ticket: number) =>
  state.generation === ticket && (state._tag === "Closed" || (state._tag === "HalfOpen" && state.probing))

/** The next state; the same object when nothing changes. */
export const transition = (state: BreakerState, event: BreakerEvent, options: BreakerOptions): BreakerState => {
  switch (event._tag) {
    case "Succeeded":
      if (!isCurrent(state, event.ticket)) return state
      if (state._tag === "HalfOpen") return closed(state, event.now)
      return state._tag === "Closed" && state.failures > 0 ? { ...state, failures: 0 } : state
    case "Failed":
      if (!isCurrent(state, event.ticket)) return state
      if (state._tag === "HalfOpen") return open(state, Math.min(state.openMs * 2, options.maxOpenMs), event.now)
      if (state._tag !== "Closed") return state
      return state.failures + 1 >= options.threshold
        ? open(state, Math.min(options.openMs, options.maxOpenMs), event.now)
        : { ...state, failures: state.failures + 1 }
    case "Stalled":
      return state._tag === "Closed" ? open(state, Math.min(options.openMs, options.maxOpenMs), event.now) : state
    case "OpenTimeElapsed":
      return state._tag === "Open" && event.now >= state.until
        ? { _tag: "HalfOpen", generation: state.generation + 1, since: event.now, openMs: state.openMs, probing: false }
        : state
    case "ProbeStarted":
      return state._tag === "HalfOpen" && !state.probing ? { ...state, probing: true } : state
    case "ProbeReleased":
      return isCurrent(state, event.ticket) && state._tag === "HalfOpen" ? { ...state, probing: false } : state
  }
}

/**
 * The ticket a call may start with now, or undefined: any call while closed,
 * the probe while half-open (once taken, `ProbeStarted`), none while open.
 */
export const admits = (state: BreakerState): number | undefined =>
  state._tag === "Closed" || (state._tag === "HalfOpen" && !state.probing) ? state.generation : undefined

/** The name a log line or a metric gives a state. */
export const stateLabel = (name: BreakerStateName): "closed" | "open" | "half-open" =>
  name === "Closed" ? "closed" : name === "Open" ? "open" : "half-open"

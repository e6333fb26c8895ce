/**
 * Admission: what lets a processor call start. Every call, retries
 * included, passes here first: the circuit breaker (no call while it is
 * open, one probe while it is half-open) and then the rate limit (a token
 * per call). Calls report back how they ended, which moves the breaker.
 *
 * The common case costs a field read: with the breaker closed and a token
 * at hand, `tryAdmit` answers synchronously. A call that must wait suspends
 * its worker (the worker keeps the record: its key stays held), and gives up
 * when the run stops or the record's partition moves to another member
 * while it waits: the record is then abandoned, unhandled and uncommitted,
 * for whoever reads the partition next.
 *
 * The breaker's state changes only through the pure `transition`, here; each
 * change of its tag (closed, open, half-open) is published as the run state's
 * `breaker`, which the metrics, `/ready` and applications read. (The count of
 * failures in a row changes with every failure: not news for them.)
 */
import type { Scope } from "effect"
import { Clock, Effect, Stream, SubscriptionRef } from "effect"
import type { BreakerEvent, BreakerOptions, BreakerState } from "../domain/CircuitBreaker.js"
import { admits, stateLabel, transition } from "../domain/CircuitBreaker.js"
import type { TopicPartition } from "../domain/KafkaRecord.js"
import { isTakingWork } from "../domain/RunPhase.js"
import type { TokenBucketOptions } from "../domain/TokenBucket.js"
import * as TokenBucket from "../domain/TokenBucket.js"
import type { RunState } from "../layers/RunState.js"
import { Waiters } from "./Waiters.js"

export interface AdmissionOptions {
  /** The circuit breaker's settings; undefined: no breaker. */
  readonly breaker: BreakerOptions | undefined
  /** The rate limit; undefined: none. */
  readonly rateLimit: TokenBucketOptions | undefined
}

/**
 * A call's admission: its number, in the order calls started (from 1). It tells which of the
 * breaker's generations the call started in, and whether it started after some moment (`mark`).
 */
export type Ticket = number

export interface Admission {
  /** The ticket of a call that may start now, or undefined: then wait with `admit`. */
  readonly tryAdmit: () => Ticket | undefined
  /** Waits until a call for a record of `partition` may start: its ticket, or undefined when the record is abandoned. */
  readonly admit: (partition: TopicPartition) => Effect.Effect<Ticket | undefined>
  /** A call succeeded; undefined when that changes nothing the caller must wait for (the common case). */
  readonly succeeded: (ticket: Ticket) => Effect.Effect<void> | undefined
  /** A call failed in a way that may be the downstream's (a retryable failure); `reason` is logged if the breaker opens. */
  readonly failed: (ticket: Ticket, reason: string) => Effect.Effect<void>
  /** A call ended in a way that says nothing about the downstream (a bad record): a probe is freed for another call. */
  readonly released: (ticket: Ticket) => Effect.Effect<void>
  /** The moment a record fails first, as the number of calls started so far. */
  readonly mark: () => number
  /**
   * A record ran out of retries: whether it goes to the DLQ (true: the breaker is off, or closed
   * with some call started after `mark` having succeeded), or waits for the breaker and is tried
   * again (false). When no such call succeeded, the downstream is the likely cause: the breaker
   * opens. (A call started before the record failed may succeed after: it says nothing about
   * the downstream now.)
   */
  readonly outOfRetries: (mark: number) => Effect.Effect<boolean>
}

const owns = (assignment: ReadonlyArray<TopicPartition>, partition: TopicPartition) =>
  assignment.some((owned) => owned.partition === partition.partition && owned.topic === partition.topic)

/** Admission with neither a breaker nor a rate limit: every call starts at once. */
export const unlimited: Admission = {
  tryAdmit: () => 0,
  admit: () => Effect.succeed(0),
  succeeded: () => undefined,
  failed: () => Effect.void,
  released: () => Effect.void,
  mark: () => 0,
  outOfRetries: () => Effect.succeed(true)
}

/** What the parts of admission share: the run, its clock, and the calls waiting for something to change. */
interface Shared {
  readonly runState: RunState["Service"]
  readonly now: () => number
  /** Calls waiting for the breaker, for a token, or for their abandonment. */
  readonly changed: Waiters
  /** Waits until `ready()` holds (a wake-up is only a hint to check again). */
  readonly until: (ready: () => boolean) => Effect.Effect<void>
  /** Whether a call for a record of `partition` is to be given up: the run stops, or the partition moved. */
  readonly abandoned: (partition: TopicPartition) => boolean
}

const share = Effect.fnUntraced(function*(runState: RunState["Service"]): Effect.fn.Return<Shared, never, Scope.Scope> {
  const clock = yield* Clock.Clock
  const changed = new Waiters()
  const until = (ready: () => boolean): Effect.Effect<void> =>
    Effect.suspend(() => ready() ? Effect.void : Effect.flatMap(changed.await(ready), () => until(ready)))
  // A stop or a rebalance wakes the waiting calls, to give up.
  const wakeOn = <A>(ref: SubscriptionRef.SubscriptionRef<A>) =>
    SubscriptionRef.changes(ref).pipe(Stream.runForEach(() => Effect.sync(() => changed.notifyAll())), Effect.forkScoped)
  yield* wakeOn(runState.phase)
  yield* wakeOn(runState.assignment)
  return {
    runState,
    now: () => clock.currentTimeMillisUnsafe(),
    changed,
    until,
    abandoned: (partition) =>
      !isTakingWork(SubscriptionRef.getUnsafe(runState.phase)) ||
      !owns(SubscriptionRef.getUnsafe(runState.assignment), partition)
  }
})

/**
 * The breaker's state (off: always closed), moved only by `transition`. Each change of tag is
 * published as the run state's `breaker`, counted and logged, then the waiting calls are woken.
 * `newGeneration` is told when a generation starts, to date the calls of the current one.
 */
const breakerCell = Effect.fnUntraced(function*(
  shared: Shared,
  options: BreakerOptions | undefined,
  newGeneration: () => void
): Effect.fn.Return<{
  readonly state: () => BreakerState
  readonly apply: (event: BreakerEvent, reason?: string) => Effect.Effect<void> | undefined
  readonly report: (event: BreakerEvent, reason?: string) => Effect.Effect<void>
}, never, Scope.Scope> {
  const { changed, now, runState, until } = shared
  const { counts } = runState
  let current: BreakerState = SubscriptionRef.getUnsafe(runState.breaker)

  /** Moves the breaker at once; what is left to do (publish and log a change of state), or undefined. */
  const apply = (event: BreakerEvent, reason?: string): Effect.Effect<void> | undefined => {
    if (options === undefined) return undefined
    const before = current
    const after = transition(before, event, options)
    current = after
    if (after.generation !== before.generation) newGeneration()
    if (after._tag === before._tag) {
      // A probe that said nothing about the downstream (a bad record) leaves it to another call.
      if (after._tag === "HalfOpen" && !after.probing && before !== after) changed.notifyAll()
      return undefined
    }
    counts.breakerTransitions[after._tag]++
    if (before._tag !== "Closed") counts.breakerOpenMs += Math.max(0, after.since - before.since)
    // Published before the waiting calls are woken: readers see every state, in order.
    return SubscriptionRef.set(runState.breaker, after).pipe(
      Effect.andThen(Effect.sync(() => changed.notifyAll())),
      Effect.andThen(logChange(before, after, reason))
    )
  }
  const report = (event: BreakerEvent, reason?: string): Effect.Effect<void> =>
    Effect.suspend(() => apply(event, reason) ?? Effect.void)

  if (options !== undefined) {
    // Open → half-open once the open time is over.
    yield* Effect.gen(function*() {
      yield* until(() => current._tag === "Open")
      const state = current
      if (state._tag === "Open" && state.until > now()) yield* Effect.sleep(state.until - now())
      yield* report({ _tag: "OpenTimeElapsed", now: now() })
    }).pipe(Effect.forever, Effect.forkScoped)
  }
  return { state: () => current, apply, report }
})

/** The rate limit's tokens (off: always one at hand); the time calls wait for them is counted. */
const rateLimiter = (shared: Shared, options: TokenBucketOptions | undefined) => {
  const { now, runState: { counts } } = shared
  let bucket = options === undefined ? undefined : TokenBucket.full(options, now())
  return {
    /** Takes a token now when one is there. */
    take: (): boolean => {
      if (options === undefined) return true
      const next = TokenBucket.take(bucket!, options, now())
      if (next === undefined) return false
      bucket = next
      return true
    },
    /** Waits for the next token; false when the record is abandoned first. */
    await: (partition: TopicPartition): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (options === undefined) return Effect.succeed(true)
        const reserved = TokenBucket.reserve(bucket!, options, now())
        bucket = reserved.bucket
        if (reserved.waitMs === 0) return Effect.succeed(true)
        const startedAt = now()
        return Effect.raceFirst(
          Effect.as(Effect.sleep(reserved.waitMs), true),
          Effect.as(shared.until(() => shared.abandoned(partition)), false)
        ).pipe(Effect.ensuring(Effect.sync(() => {
          counts.throttledMs += now() - startedAt
        })))
      })
  }
}

export const make = Effect.fnUntraced(function*(
  runState: RunState["Service"],
  options: AdmissionOptions
): Effect.fn.Return<Admission, never, Scope.Scope> {
  if (options.breaker === undefined && options.rateLimit === undefined) return unlimited
  const shared = yield* share(runState)
  const { abandoned, now, until } = shared
  /** Calls started (the last ticket given), the first ticket of the breaker's generation, the last ticket that succeeded. */
  let calls = 0
  let generationStart = 1
  let lastSucceeded = 0
  const breaker = yield* breakerCell(shared, options.breaker, () => (generationStart = calls + 1))
  const tokens = rateLimiter(shared, options.rateLimit)

  /** The breaker's generation a call started in, as far as the breaker cares: the current one, or none (-1). */
  const generationOf = (ticket: Ticket) => ticket >= generationStart ? breaker.state().generation : -1

  const admit = (partition: TopicPartition): Effect.Effect<Ticket | undefined> =>
    Effect.gen(function*() {
      while (true) {
        // The breaker first: no token is spent on a call it would not start.
        yield* until(() => admits(breaker.state()) !== undefined || abandoned(partition))
        if (abandoned(partition) || !(yield* tokens.await(partition))) return undefined
        // Checked again: the breaker may have opened, or another call taken the probe, meanwhile.
        const state = breaker.state()
        if (admits(state) === undefined) continue
        if (state._tag === "HalfOpen") yield* breaker.report({ _tag: "ProbeStarted" })
        return ++calls
      }
    })

  return {
    tryAdmit: () => breaker.state()._tag === "Closed" && tokens.take() ? ++calls : undefined,
    admit,
    succeeded: (ticket) => {
      if (ticket > lastSucceeded) lastSucceeded = ticket
      const state = breaker.state()
      return state._tag === "Closed" && state.failures === 0
        ? undefined
        : breaker.apply({ _tag: "Succeeded", ticket: generationOf(ticket), now: now() })
    },
    failed: (ticket, reason) => breaker.report({ _tag: "Failed", ticket: generationOf(ticket), now: now() }, reason),
    released: (ticket) => breaker.report({ _tag: "ProbeReleased", ticket: generationOf(ticket) }),
    mark: () => calls,
    outOfRetries: (mark) =>
      Effect.suspend(() => {
        if (options.breaker === undefined) return Effect.succeed(true)
        if (breaker.state()._tag !== "Closed") return Effect.succeed(false)
        if (lastSucceeded > mark) return Effect.succeed(true)
        return Effect.as(
          breaker.report({ _tag: "Stalled", now: now() }, "a record ran out of retries and no call has succeeded since it first failed"),
          false
        )
      })
  }
})

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`

/** One line per change of the breaker's state. */
const logChange = (before: BreakerState, after: BreakerState, reason: string | undefined): Effect.Effect<void> => {
  const annotations = { breaker: stateLabel(after._tag), ...(reason === undefined ? {} : { reason }) }
  switch (after._tag) {
    case "Open":
      return Effect.logWarning(
        `circuit breaker ${before._tag === "HalfOpen" ? "opened again: the probe failed" : "opened"}; ` +
          `no record starts processing for ${seconds(after.openMs)}, then one probe`
      ).pipe(Effect.annotateLogs(annotations))
    case "HalfOpen":
      return Effect.logInfo("circuit breaker half-open: one probe record").pipe(Effect.annotateLogs(annotations))
    case "Closed":
      return Effect.logInfo("circuit breaker closed: the probe succeeded; processing resumes").pipe(
        Effect.annotateLogs(annotations)
      )
  }
}

/**
 * Where the in-memory consumer's group member is in its life, as a tagged
 * state and a pure transition function (the in-memory counterpart of
 * `ConsumerLifecycle`, which follows kafkajs). The poll loop, the control
 * surface and the member's scope report events; what the member does next
 * (join, announce, fetch, retry, restart, give up) is read from the state.
 *
 * ```text
 * Joining ─Joined→ Announcing ─Announced→ Member
 * Announcing | Member | Rejoining ─RejoinRequested, Crashed→ Rejoining ─Joined→ Announcing
 * Member ─RunStarted→ Announcing      (a new run announces again, without rejoining)
 * any ─Closed→ Closed
 * ```
 */
import { Data } from "effect"
import type { TopicPartition } from "../../../domain/KafkaRecord.js"
import * as RestartBudget from "../../../domain/RestartBudget.js"

/** Delay before each retry of a failed fetch; one failure more than this crashes the consumer. */
export const fetchRetryDelaysMs: ReadonlyArray<number> = [300, 600, 1200, 2400, 4800]

export type Phase = Data.TaggedEnum<{
  /** Created, never joined: the next poll joins. */
  Joining: {}
  /** Joined with this assignment; `onAssignment` has not returned yet. */
  Announcing: { readonly assignment: ReadonlyArray<TopicPartition> }
  /** Joined and announced: batches of the assignment are handed over. */
  Member: { readonly assignment: ReadonlyArray<TopicPartition> }
  /** A rebalance or crash ended the generation: the next poll rejoins. The assignment is the one it had. */
  Rejoining: { readonly assignment: ReadonlyArray<TopicPartition> }
  /** The consumer's scope has closed: the member left its group for good. */
  Closed: {}
}>

export const Phase = Data.taggedEnum<Phase>()

export type MemberEvent = Data.TaggedEnum<{
  RunStarted: {}
  /** The `run` call ended (interrupted or failed); the membership stays. */
  RunEnded: {}
  /** The member (re)joined its group with this assignment. */
  Joined: { readonly assignment: ReadonlyArray<TopicPartition> }
  /** `onAssignment` returned. */
  Announced: {}
  /** The group rebalanced. */
  RejoinRequested: {}
  /** A fetch succeeded (with or without records). */
  Fetched: {}
  FetchFailed: {}
  Crashed: { readonly at: number }
  /** The consumer's scope closed. */
  Closed: {}
}>

export const MemberEvent = Data.taggedEnum<MemberEvent>()

export interface MemberLifecycle {
  readonly phase: Phase
  /** Whether a `run` is going: the member only counts as in its group while one is. */
  readonly running: boolean
  /** Fetches failed in a row: picks the next retry delay, and keeps the member out of its group. */
  readonly failedFetches: number
  readonly budget: RestartBudget.RestartBudget
}

export const initial = (restartBudgetMs: number): MemberLifecycle => ({
  phase: Phase.Joining(),
  running: false,
  failedFetches: 0,
  budget: RestartBudget.make(restartBudgetMs)
})

/** The generation ends: a joined member rejoins with the assignment it had until then. */
const rejoin = (phase: Phase): Phase =>
  phase._tag === "Announcing" || phase._tag === "Member" ? Phase.Rejoining({ assignment: phase.assignment }) : phase

/** Closed is for good: no event brings the member back. */
const enter = (state: MemberLifecycle, phase: Phase): MemberLifecycle =>
  state.phase._tag === "Closed" || state.phase === phase ? state : { ...state, phase }

export const transition = (state: MemberLifecycle, event: MemberEvent): MemberLifecycle => {
  switch (event._tag) {
    case "RunStarted": {
      const { phase } = state
      const next = phase._tag === "Member" ? Phase.Announcing({ assignment: phase.assignment }) : phase
      return { ...enter(state, next), running: true }
    }
    case "RunEnded":
      return { ...state, running: false }
    case "Joined":
      return enter(state, Phase.Announcing({ assignment: event.assignment }))
    case "Announced":
      // After a rebalance during `onAssignment` the member rejoins and announces again.
      return state.phase._tag === "Announcing"
        ? enter(state, Phase.Member({ assignment: state.phase.assignment }))
        : state
    case "RejoinRequested":
      return enter(state, rejoin(state.phase))
    case "Fetched": {
      // Every poll turn fetches: no new state when nothing changes.
      const budget = RestartBudget.fetched(state.budget)
      return state.failedFetches === 0 && budget === state.budget ? state : { ...state, failedFetches: 0, budget }
    }
    case "FetchFailed":
      // The failure after the last retry is a crash: the count starts over for the restarted member.
      return { ...state, failedFetches: state.failedFetches < fetchRetryDelaysMs.length ? state.failedFetches + 1 : 0 }
    case "Crashed": {
      const budget = RestartBudget.crashed(state.budget, event.at)
      // A crash past the budget is not restarted: `run` fails and the member stays as it was.
      return enter({ ...state, budget }, RestartBudget.isSpent(budget) ? state.phase : rejoin(state.phase))
    }
    case "Closed":
      return enter(state, Phase.Closed())
  }
}

// -----------------------------------------------------------------------------
// What the state says
// -----------------------------------------------------------------------------

/** Why a `run` cannot start now, if it cannot. */
export const refusesRun = (state: MemberLifecycle): "closed" | "already running" | undefined =>
  state.phase._tag === "Closed" ? "closed" : state.running ? "already running" : undefined

export const needsJoin = (state: MemberLifecycle): boolean =>
  state.phase._tag === "Joining" || state.phase._tag === "Rejoining"

/** The assignment to hand to `onAssignment`, while one is to be announced. */
export const toAnnounce = (state: MemberLifecycle): ReadonlyArray<TopicPartition> | undefined =>
  state.phase._tag === "Announcing" ? state.phase.assignment : undefined

/** The assignment batches are fetched from: only a member that announced it fetches. */
export const fetching = (state: MemberLifecycle): ReadonlyArray<TopicPartition> | undefined =>
  state.phase._tag === "Member" ? state.phase.assignment : undefined

/** The assignment as `MemoryKafka.assignment` reports it: the latest one, while a run is going. */
export const assignment = (state: MemberLifecycle): ReadonlyArray<TopicPartition> =>
  state.running && state.phase._tag !== "Joining" && state.phase._tag !== "Closed" ? state.phase.assignment : []

/** The assignment a running member has announced, and not lost to a rebalance or crash since. */
export const announced = (state: MemberLifecycle): ReadonlyArray<TopicPartition> | undefined =>
  state.running ? fetching(state) : undefined

/** A failing fetch stands for an unreachable broker; a crash or rebalance is out of the group until the rejoin. */
export const isInGroup = (state: MemberLifecycle): boolean =>
  state.running && state.phase._tag === "Member" && state.failedFetches === 0

/** The delay before retrying the fetch that failed last; `undefined` when that failure was one too many (a crash). */
export const retryDelayMs = (state: MemberLifecycle): number | undefined =>
  state.failedFetches === 0 ? undefined : fetchRetryDelaysMs[state.failedFetches - 1]

/** Whether the crash counted last used up the restart budget: `run` fails. */
export const budgetSpent = (state: MemberLifecycle): boolean => RestartBudget.isSpent(state.budget)

export const isClosed = (state: MemberLifecycle): boolean => state.phase._tag === "Closed"

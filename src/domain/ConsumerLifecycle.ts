/**
 * Where a Kafka consumer is in its life, as a tagged state and a pure
 * transition function: what the client library reports (joins, fetches,
 * heartbeats, commits, rebalances, crashes) and what the pipeline does (`run`,
 * `pause`, closing the consumer) are events; whether the member is in its
 * group, whether a fetched batch may be handed over and whether a crash is
 * restarted are read from the state.
 *
 * `Run` is whatever the client keeps for one `run` call (its handlers and
 * fibers): the state only holds it, so that the run a batch or a restart
 * belongs to is known from the same place as the rest.
 */
import { Data } from "effect"
import type { TopicPartition } from "./KafkaRecord.js"
import { partitionKey } from "./KafkaRecord.js"
import * as RestartBudget from "./RestartBudget.js"

/**
 * The client library's side of the consumer:
 *
 * ```text
 * Idle ─RunStarted→ Joining ─Joined→ Member ─Rebalancing→ Rebalancing ─Joined→ Member
 * any but Closed ─Crashed→ Restarting ─Joined→ Member     (restarted: by the client or here)
 *                        ↘ Crashed ─RunStarted→ Joining    (given up: the run fails)
 * any ─Closed→ Closed
 * ```
 */
export type Phase = Data.TaggedEnum<{
  /** Not started: before the first `run`, or after a start or restart that did not happen. */
  Idle: {}
  /** Started (by a `run`), not in the group yet. */
  Joining: {}
  /** In the group with this assignment since the latest join. */
  Member: { readonly assignment: ReadonlyArray<TopicPartition> }
  /** The group moved on (the client rejoins, or a heartbeat said the generation is over): out until the next join. */
  Rebalancing: {}
  /** Crashed and restarting: by the client library itself, or by this consumer (a crash the library gives up on). */
  Restarting: { readonly by: "client" | "consumer" }
  /** Crashed and not restarted: the run fails; the next `run` starts the client again. */
  Crashed: { readonly budgetSpent: boolean }
  /** The consumer's scope has closed: it left the group for good. */
  Closed: {}
}>

export const Phase = Data.taggedEnum<Phase>()

export type ConsumerEvent<Run> = Data.TaggedEnum<{
  /** A `run` call begins (starting the client when it is not started). */
  RunStarted: { readonly run: Run }
  /** The `run` call ended (interrupted): fetching pauses, the membership stays. */
  RunEnded: {}
  /** Starting or restarting the client failed, or a pending restart was called off. */
  StartFailed: {}
  /** The member (re)joined its group with this assignment. */
  Joined: { readonly assignment: ReadonlyArray<TopicPartition>; readonly at: number }
  /** A fetch succeeded. */
  Fetched: { readonly at: number }
  /** A heartbeat was answered. */
  Heartbeat: { readonly at: number }
  /** Offsets were committed. */
  Committed: { readonly at: number }
  /** The group is rebalancing: the client rejoins, or a heartbeat was rejected for an ended generation. */
  Rebalancing: {}
  /** After a crash it can restart from, the client asks whether to: the crash counts against the budget. */
  RestartAsked: { readonly at: number }
  /**
   * The client crashed. `restarting`: the client restarts by itself; `restartable`: it does not,
   * but the crash is one this consumer restarts (within the budget, while a run wants records).
   */
  Crashed: { readonly at: number; readonly restarting: boolean; readonly restartable: boolean }
  /** The pipeline paused these partitions: nothing more of them is handed over. */
  Paused: { readonly partitions: ReadonlyArray<TopicPartition> }
  /** The consumer's scope closed. */
  Closed: {}
}>

interface ConsumerEventDefinition extends Data.TaggedEnum.WithGenerics<1> {
  readonly taggedEnum: ConsumerEvent<this["A"]>
}

export const ConsumerEvent = Data.taggedEnum<ConsumerEventDefinition>()

export interface ConsumerLifecycle<Run> {
  readonly phase: Phase
  /** The `run` call records are handed to; none between runs. */
  readonly run: Run | undefined
  /** Partitions paused by the pipeline, by `partitionKey`: paused again after every join. */
  readonly paused: ReadonlyMap<string, TopicPartition>
  /** When the broker last answered the member (a join, fetch, heartbeat or commit). */
  readonly lastContactAt: number
  readonly budget: RestartBudget.RestartBudget
  /** Commits the client reported, to tell a commit it skipped without a word. */
  readonly commits: number
}

export const initial = <Run>(restartBudgetMs: number): ConsumerLifecycle<Run> => ({
  phase: Phase.Idle(),
  run: undefined,
  paused: new Map(),
  lastContactAt: 0,
  budget: RestartBudget.make(restartBudgetMs),
  commits: 0
})

/** Closed is for good: no event brings the consumer back. */
const enter = <Run>(state: ConsumerLifecycle<Run>, phase: Phase): ConsumerLifecycle<Run> =>
  state.phase._tag === "Closed" ? state : { ...state, phase }

/** A crash: restarted by the client, restarted here (a restartable one, for a run, within the budget), or given up. */
const crashed = <Run>(
  state: ConsumerLifecycle<Run>,
  { at, restartable, restarting }: { readonly at: number; readonly restarting: boolean; readonly restartable: boolean }
): ConsumerLifecycle<Run> => {
  if (state.phase._tag === "Closed") return state
  if (restarting) return enter(state, Phase.Restarting({ by: "client" }))
  if (!restartable || state.run === undefined) {
    return enter(state, Phase.Crashed({ budgetSpent: RestartBudget.isSpent(state.budget) }))
  }
  const budget = RestartBudget.crashed(state.budget, at)
  const budgetSpent = RestartBudget.isSpent(budget)
  const phase = budgetSpent ? Phase.Crashed({ budgetSpent }) : Phase.Restarting({ by: "consumer" })
  return enter({ ...state, budget }, phase)
}

export const transition = <Run>(state: ConsumerLifecycle<Run>, event: ConsumerEvent<Run>): ConsumerLifecycle<Run> => {
  switch (event._tag) {
    case "RunStarted":
      return { ...(needsStart(state) ? enter(state, Phase.Joining()) : state), run: event.run }
    case "RunEnded":
      return { ...state, run: undefined }
    case "StartFailed":
      return enter(state, Phase.Idle())
    case "Joined":
      return { ...enter(state, Phase.Member({ assignment: event.assignment })), lastContactAt: event.at }
    case "Fetched":
      return { ...state, budget: RestartBudget.fetched(state.budget), lastContactAt: event.at }
    case "Heartbeat":
      return { ...state, lastContactAt: event.at }
    case "Committed":
      return { ...state, commits: state.commits + 1, lastContactAt: event.at }
    case "Rebalancing":
      // Only a member can lose its generation; a late word of it changes nothing after a crash.
      return state.phase._tag === "Member" ? enter(state, Phase.Rebalancing()) : state
    case "RestartAsked":
      return { ...state, budget: RestartBudget.crashed(state.budget, event.at) }
    case "Crashed":
      return crashed(state, event)
    case "Paused": {
      const paused = new Map(state.paused)
      for (const tp of event.partitions) paused.set(partitionKey(tp.topic, tp.partition), tp)
      return { ...state, paused }
    }
    case "Closed":
      return enter(state, Phase.Closed())
  }
}

// -----------------------------------------------------------------------------
// What the state says
// -----------------------------------------------------------------------------

/** Whether a `run` has to start the client (else it resumes fetching). */
export const needsStart = (state: ConsumerLifecycle<unknown>): boolean =>
  state.phase._tag === "Idle" || state.phase._tag === "Crashed"

/**
 * Whether the member is in its group: it joined, has not crashed or started
 * rebalancing since, and the broker answered it within the session timeout.
 */
export const isInGroup = (state: ConsumerLifecycle<unknown>, now: number, sessionTimeoutMs: number): boolean =>
  state.phase._tag === "Member" && now - state.lastContactAt < sessionTimeoutMs

/**
 * Whether a batch of the partition fetched for `run` may be handed over: `run` is still the
 * current run, the member is in the generation that fetched it, and the partition is not paused.
 */
export const mayHandOver = <Run>(
  state: ConsumerLifecycle<Run>,
  run: Run,
  topic: string,
  partition: number
): boolean => state.run === run && state.phase._tag === "Member" && !state.paused.has(partitionKey(topic, partition))

/** Whether the client may restart after the crash counted last (`RestartAsked`). */
export const restartAllowed = (state: ConsumerLifecycle<unknown>): boolean => !RestartBudget.isSpent(state.budget)

/** Whether this consumer is to restart the client for `run` now: the restart is still wanted by that run. */
export const restartsFor = <Run>(state: ConsumerLifecycle<Run>, run: Run): boolean =>
  state.phase._tag === "Restarting" && state.phase.by === "consumer" && state.run === run

export const isClosed = (state: ConsumerLifecycle<unknown>): boolean => state.phase._tag === "Closed"

/**
 * The kafkajs consumer (see `KafkaJs.ts` for the traps it handles): its one
 * state (`ConsumerLifecycle`), the kafkajs events wired to its transition
 * function, and `run`, `commit`, `pause` and `isInGroup` read from it.
 */
import { Clock, Effect, FiberSet, MutableRef, Semaphore } from "effect"
import type { Consumer, ConsumerConfig, ConsumerRunConfig } from "kafkajs"
import type { Kafka as KafkaJsClient } from "kafkajs"
import * as Lifecycle from "../../domain/ConsumerLifecycle.js"
import { ConsumerEvent } from "../../domain/ConsumerLifecycle.js"
import { KafkaError } from "../../domain/Errors.js"
import type { CommittedOffset, TopicPartition } from "../../domain/KafkaRecord.js"
import { partitionKey } from "../../domain/KafkaRecord.js"
import * as RestartBudget from "../../domain/RestartBudget.js"
import type { ConsumerHandlers, ConsumerOptions, KafkaConsumer } from "./KafkaClient.js"
import { toAssignment, toTopicPartitions } from "./KafkaJsCodec.js"
import { connected, whileUnreachable } from "./KafkaJsConnection.js"
import { isCoordinatorNotFound, isUnknownTopic, kafkaError, messageOf, notInGroupMessage } from "./KafkaJsErrors.js"
import type { LifecycleCell, Running } from "./KafkaJsHandOver.js"
import { announce, eachBatch } from "./KafkaJsHandOver.js"

/** How long a fetch waits for records when there are none. */
const maxFetchWaitMs = 1_000

/** The pause before restarting after a crash kafkajs does not restart from (kafkajs's own: 300 ms). */
const restartDelayMs = 300

/** What the consumer's parts share: the kafkajs consumer, its one state, and logs and time for kafkajs's callbacks. */
interface Wiring {
  readonly client: Consumer
  readonly options: ConsumerOptions
  readonly cell: LifecycleCell
  readonly runConfig: ConsumerRunConfig
  readonly log: (effect: Effect.Effect<void>) => void
  readonly now: () => number
}

export const makeConsumer = (kafka: KafkaJsClient, brokers: ReadonlyArray<string>) =>
  Effect.fn("KafkaJs.consumer")(function*(options: ConsumerOptions) {
    const { groupId } = options
    const runSync = Effect.runSyncWith(yield* Effect.context<never>())
    const log = (effect: Effect.Effect<void>) => runSync(Effect.annotateLogs(effect, { groupId }))
    const now = () => runSync(Clock.currentTimeMillis)
    const state = MutableRef.make(Lifecycle.initial<Running>(options.restartBudgetMs))
    const cell: LifecycleCell = {
      get: () => MutableRef.get(state),
      dispatch: (event) => MutableRef.updateAndGet(state, (current) => Lifecycle.transition(current, event))
    }
    /** kafkajs asks after each retriable crash (having left the group): restart, or give up (CRASH fails `run`)? */
    const restartOnFailure = async (error: Error): Promise<boolean> => {
      const counted = cell.dispatch(ConsumerEvent.RestartAsked({ at: now() }))
      const restart = Lifecycle.restartAllowed(counted)
      if (restart) log(logRestart(counted, error))
      return restart
    }
    const config: ConsumerConfig = {
      groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxBytesPerPartition: options.maxBytesPerPartition,
      // A fetch waits at most this long for records (kafkajs default 5 s): leaving the group
      // waits for the fetch in flight, so this bounds the shutdown delay.
      maxWaitTimeInMs: maxFetchWaitMs,
      retry: { restartOnFailure }
    }
    const what = `consumer of group ${groupId}`
    const client = yield* connected(what, () => kafka.consumer(config), async (client) => {
      await client.connect()
      await subscribe(kafka, client, options)
    }).pipe(whileUnreachable({ what, brokers, budgetMs: options.restartBudgetMs }))
    // Runs before the disconnect (finalizers run in reverse), which follows the pipeline's final commit.
    yield* Effect.addFinalizer(() => Effect.sync(() => cell.dispatch(ConsumerEvent.Closed())))
    const runConfig: ConsumerRunConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: eachBatch(cell, options)
    }
    const wiring: Wiring = { client, options, cell, runConfig, log, now }
    const removeListeners = listen(wiring)
    yield* Effect.addFinalizer(() => Effect.sync(() => removeListeners.forEach((remove) => remove())))

    const pause = (partitions: ReadonlyArray<TopicPartition>) =>
      Effect.sync(() => {
        cell.dispatch(ConsumerEvent.Paused({ partitions }))
        applyPauses(wiring, partitions, false)
      })
    const isInGroup = Clock.currentTimeMillis.pipe(
      Effect.map((at) => Lifecycle.isInGroup(cell.get(), at, options.sessionTimeoutMs))
    )
    const consumer: KafkaConsumer = {
      run: run(wiring),
      commit: commit(wiring, yield* Semaphore.make(1)),
      pause,
      isInGroup
    }
    return consumer
  })

/** Every kafkajs event through the state machine, and what follows from the state it leads to. */
const listen = (wiring: Wiring): ReadonlyArray<() => void> => {
  const { cell, client, now } = wiring
  return [
    client.on(client.events.GROUP_JOIN, ({ payload }) => joined(wiring, toAssignment(payload.memberAssignment))),
    client.on(client.events.FETCH, () => cell.dispatch(ConsumerEvent.Fetched({ at: now() }))),
    client.on(client.events.COMMIT_OFFSETS, () => cell.dispatch(ConsumerEvent.Committed({ at: now() }))),
    client.on(client.events.HEARTBEAT, () => cell.dispatch(ConsumerEvent.Heartbeat({ at: now() }))),
    client.on(client.events.REBALANCING, () => cell.dispatch(ConsumerEvent.Rebalancing())),
    client.on(client.events.CRASH, ({ payload }) => crashed(wiring, payload.error, payload.restart))
  ]
}

const joined = (wiring: Wiring, assignment: ReadonlyArray<TopicPartition>) => {
  const { paused, run } = wiring.cell.dispatch(ConsumerEvent.Joined({ assignment, at: wiring.now() }))
  applyPauses(wiring, [...paused.values()], run === undefined)
  wiring.log(Effect.logInfo("Kafka consumer joined its group", {
    assignment: assignment.map((tp) => partitionKey(tp.topic, tp.partition))
  }))
  if (run !== undefined) announce(run, assignment)
}

const crashed = (wiring: Wiring, error: Error, restarting: boolean) => {
  const state = wiring.cell.dispatch(
    ConsumerEvent.Crashed({ at: wiring.now(), restarting, restartable: isCoordinatorNotFound(error) })
  )
  const { phase, run } = state
  if (run !== undefined && Lifecycle.restartsFor(state, run)) {
    wiring.log(logRestart(state, error))
    // kafkajs has already stopped and disconnected, as before its own restarts.
    run.fork(restart(wiring, run))
  } else if (phase._tag === "Crashed") {
    const reason = phase.budgetSpent
      ? `${RestartBudget.spentMessage(state.budget)}; last crash`
      : "crashed on an error kafkajs does not restart from"
    const failure = new KafkaError({
      message: `Kafka consumer of group ${wiring.options.groupId} ${reason}: ${messageOf(error)}`,
      cause: error
    })
    // Not logged here: the run this failure ends logs it.
    run?.fork(Effect.fail(failure))
  }
}

/** One line per restart; kafkajs's error, with its stack, is a debug line. */
const logRestart = (state: Lifecycle.ConsumerLifecycle<Running>, error: Error) =>
  Effect.logError(`Kafka consumer crashed; restarting it (${RestartBudget.progress(state.budget)}): ${error.name}: ${error.message}`).pipe(
    Effect.andThen(Effect.logDebug("Kafka consumer crash", error))
  )

/**
 * Subscribes to the topics. A topic the brokers do not have fails the subscription with kafkajs's
 * "This server does not host this topic-partition", which does not say which: the error names them.
 */
const subscribe = async (kafka: KafkaJsClient, client: Consumer, options: ConsumerOptions): Promise<void> => {
  try {
    await client.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning })
  } catch (error) {
    if (!isUnknownTopic(error)) throw error
    const missing = await missingTopics(kafka, options.topics).catch(() => [])
    if (missing.length === 0) throw error
    const [these, verb, it] = missing.length === 1 ? ["topic", "does", "it"] : ["topics", "do", "them"]
    throw new Error(
      `${these} ${missing.join(", ")} ${verb} not exist on the brokers (of topics ${options.topics.join(", ")}): ` +
        `create ${it}, or leave ${it} out of topics`,
      { cause: error }
    )
  }
}

const missingTopics = async (kafka: KafkaJsClient, topics: ReadonlyArray<string>): Promise<ReadonlyArray<string>> => {
  const admin = kafka.admin()
  try {
    await admin.connect()
    const existing = new Set(await admin.listTopics())
    return topics.filter((topic) => !existing.has(topic))
  } finally {
    await admin.disconnect()
  }
}

/** Starts kafkajs again after a crash it does not restart from, as it restarts after the others. */
const restart = (wiring: Wiring, run: Running): Effect.Effect<void, KafkaError> => {
  const { cell, client, options } = wiring
  // Not restarted: the next `run` has to start kafkajs.
  const notRestarted = Effect.sync(() => {
    cell.dispatch(ConsumerEvent.StartFailed())
  })
  return Effect.sleep(restartDelayMs).pipe(
    Effect.onInterrupt(() => notRestarted),
    Effect.andThen(Effect.suspend(() =>
      // The consumer closed or its run ended meanwhile: a restart would rejoin for nobody.
      Lifecycle.restartsFor(cell.get(), run)
        ? Effect.tryPromise({
          try: () => client.run(wiring.runConfig),
          catch: kafkaError(`Restarting the consumer of group ${options.groupId}`)
        }).pipe(Effect.tapError(() => notRestarted))
        : notRestarted
    ))
  )
}

/** Pauses partitions (with `all`, every topic) in kafkajs; again after each join, since a restart forgets them. */
const applyPauses = ({ client, options }: Wiring, partitions: ReadonlyArray<TopicPartition>, all: boolean) => {
  try {
    if (all) client.pause(options.topics.map((topic) => ({ topic })))
    if (partitions.length > 0) client.pause(toTopicPartitions(partitions))
  } catch {
    // No consumer group yet (before `run`, or restarting): applied on the next join.
  }
}

const run = (wiring: Wiring) =>
  Effect.fn("KafkaJs.run")(function*(handlers: ConsumerHandlers) {
    const { cell, client, options: { groupId } } = wiring
    const before = cell.get()
    if (Lifecycle.isClosed(before) || before.run !== undefined) {
      return yield* new KafkaError({
        message: `Kafka consumer of group ${groupId} is ${Lifecycle.isClosed(before) ? "closed" : "already running"}`
      })
    }
    const fibers = yield* FiberSet.make<unknown, KafkaError>()
    const fork = yield* FiberSet.runtime(fibers)<never>()
    const current: Running = { handlers, fork, announcing: undefined, delivery: undefined }
    // Before `client.run`: a crash during the first join (inside it) moves the state on from there.
    const started = cell.dispatch(ConsumerEvent.RunStarted({ run: current }))
    // Stop fetching, but stay in the group: commits must keep working until the scope closes.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        cell.dispatch(ConsumerEvent.RunEnded())
        applyPauses(wiring, [], true)
      })
    )
    if (Lifecycle.needsStart(before)) {
      yield* Effect.tryPromise({
        try: () => client.run(wiring.runConfig),
        catch: kafkaError(`Starting the consumer of group ${groupId}`)
      }).pipe(Effect.tapError(() => Effect.sync(() => cell.dispatch(ConsumerEvent.StartFailed()))))
    } else {
      resume(wiring, current, started)
    }
    // Ends only with a failure: a crash kafkajs gives up on, or a defect in a handler.
    yield* FiberSet.join(fibers)
    return yield* Effect.never
  }, Effect.scoped)

/** A run after an interruption: resumes fetching, keeps the partitions paused by `pause`, announces the assignment. */
const resume = (wiring: Wiring, run: Running, state: Lifecycle.ConsumerLifecycle<Running>) => {
  try {
    wiring.client.resume(wiring.options.topics.map((topic) => ({ topic })))
  } catch {
    // restarting: the join re-applies the pauses
  }
  applyPauses(wiring, [...state.paused.values()], false)
  // Out of the group, the next join announces it.
  if (state.phase._tag === "Member") announce(run, state.phase.assignment)
}

// One commit at a time, so that the COMMIT_OFFSETS count belongs to this call.
const commit = ({ cell, client, options }: Wiring, lock: Semaphore.Semaphore) =>
  Effect.fn("KafkaJs.commit")(function*(offsets: ReadonlyArray<CommittedOffset>) {
    if (offsets.length === 0) return
    yield* lock.withPermits(1)(Effect.tryPromise({
      try: async () => {
        const before = cell.get().commits
        await client.commitOffsets(
          offsets.map(({ metadata, offset, partition, topic }) => ({
            topic,
            partition,
            offset: String(offset),
            metadata: metadata ?? null
          }))
        )
        if (cell.get().commits === before) {
          throw new Error(`${notInGroupMessage}: kafkajs skipped the commit (not in the group)`)
        }
      },
      catch: kafkaError(`Committing offsets of group ${options.groupId}`)
    }))
  })

/**
 * The @platformatic/kafka consumer behind `KafkaConsumer`. Its `Consumer` keeps the group
 * membership (join, sync, heartbeats on its own timer, rejoin when a heartbeat says so); the
 * fetching is done here, with its `fetch` call, partition by partition, instead of through its
 * `MessagesStream`, because the stream lacks what the pipeline needs:
 *
 * - pausing one partition (the stream pauses as a whole, platformatic/kafka#129): a paused
 *   partition is left out of the fetch requests, and records of it already fetched are dropped
 *   without moving its position, so resuming would fetch them again;
 * - a batch handed over per partition, and backpressure: the fetch loop waits for `onBatch`,
 *   while the `Consumer`'s heartbeats keep the member in its group;
 * - the partitions of every join (`consumer:group:rebalance` names only the group): each
 *   `consumer:group:join` interrupts the batch in flight, announces the whole assignment with
 *   `onAssignment` and starts every assigned partition again at its committed offset (as kafkajs
 *   does after a rejoin), before the next batch;
 * - commit metadata (its `commit` sends null): the OffsetCommit request is sent here
 *   (`PlatformaticCommit`), under the generation of the assignment last announced, once: a
 *   rejection fails with `KafkaError({ rebalance: true })`, where the `Consumer`'s own `commit`
 *   would rejoin and commit again under the new generation, which could commit a partition that
 *   moved to another member. The `Consumer` is built with `retries: 0`; fetches and joins are
 *   retried here instead, within the restart budget.
 *
 * `commit` commits the offset it is given, the next offset to read, as Kafka's own tool reads it back.
 */
import type { ConnectionPool, Consumer, fetchV17, GroupAssignment } from "@platformatic/kafka"
import { ListOffsetTimestamps } from "@platformatic/kafka"
import { Clock, Effect, Fiber, FiberSet, Queue, Semaphore } from "effect"
import { KafkaError } from "../../domain/Errors.js"
import type { CommittedOffset, TopicPartition } from "../../domain/KafkaRecord.js"
import { partitionKey } from "../../domain/KafkaRecord.js"
import * as RestartBudget from "../../domain/RestartBudget.js"
import type { ConsumerHandlers, ConsumerOptions, KafkaConsumer } from "./KafkaClient.js"
import { hasApiError, kafkaError, messageOf, nextOffset, toRecords } from "./PlatformaticCodec.js"
import { committer } from "./PlatformaticCommit.js"

/** How long a fetch waits for records when there are none. */
export const maxFetchWaitMs = 1_000

/** The pause after a failed fetch or join before the next try. */
export const retryDelayMs = 300

/** What the group's `Consumer` tells a run. */
type GroupEvent =
  | { readonly _tag: "Joined" }
  | { readonly _tag: "Rebalancing" }
  | { readonly _tag: "Failed"; readonly error: unknown }

/** The consumer's state, shared by the `Consumer`'s events, `run`, `pause` and `commit`. */
interface State {
  assignment: ReadonlyArray<TopicPartition>
  /** The generation of the last join (of `assignment`), and of the assignment last announced (what commits are made under). */
  joinedGeneration: number
  announcedGeneration: number | undefined
  /** Next offset to fetch per partition of the current assignment; cleared by every join. */
  readonly positions: Map<string, bigint>
  readonly paused: Set<string>
  rebalancing: boolean
  /** A heartbeat failed (not for a group reason) since the last join: told to the run once. */
  heartbeatFailed: boolean
  closed: boolean
  /** The running `run`'s inbox. */
  events: Queue.Queue<GroupEvent> | undefined
}

const toAssignment = (assignments: ReadonlyArray<GroupAssignment> | null): ReadonlyArray<TopicPartition> =>
  (assignments ?? [])
    .flatMap(({ partitions, topic }) => partitions.map((partition) => ({ topic, partition })))
    .sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition)

/**
 * A consumer and the connections its fetches go through: a fetch waits on the broker up to
 * `maxFetchWaitMs`, and a commit or heartbeat on the same connection would wait behind it.
 */
export interface ConsumerParts {
  readonly client: Consumer
  readonly fetchConnections: ConnectionPool
}

export const makeConsumer = (create: (options: ConsumerOptions) => ConsumerParts) =>
  Effect.fn("Platformatic.consumer")(function*(options: ConsumerOptions) {
    const state: State = {
      assignment: [],
      joinedGeneration: -1,
      announcedGeneration: undefined,
      positions: new Map(),
      paused: new Set(),
      rebalancing: false,
      heartbeatFailed: false,
      closed: false,
      events: undefined
    }
    const runSync = Effect.runSyncWith(yield* Effect.context<never>())
    const tell = (event: GroupEvent) => {
      if (state.events !== undefined) runSync(Queue.offer(state.events, event))
    }
    const { client, fetchConnections } = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const parts = create(options)
        const { client } = parts
        for (const topic of options.topics) client.topics.track(topic)
        client.on("consumer:group:join", (payload) => {
          state.assignment = toAssignment(payload.assignments ?? null)
          state.joinedGeneration = payload.generationId ?? client.generationId
          state.positions.clear()
          state.rebalancing = false
          state.heartbeatFailed = false
          // As the kafkajs consumer says it: once per join, run or not.
          runSync(Effect.logInfo("Kafka consumer joined its group", {
            assignment: state.assignment.map((tp) => partitionKey(tp.topic, tp.partition))
          }).pipe(Effect.annotateLogs({ groupId: options.groupId })))
          tell({ _tag: "Joined" })
        })
        client.on("consumer:group:rebalance", () => {
          state.rebalancing = true
          tell({ _tag: "Rebalancing" })
        })
        // A rejoin after a heartbeat that failed: no more heartbeats until the next join.
        client.on("error", (error: unknown) => tell({ _tag: "Failed", error }))
        // A heartbeat the broker did not answer (gone, unreachable): the client keeps trying
        // quietly, and a run waiting on its batch would never notice. As kafkajs's crash: counted
        // into the restart budget, the batch given up, the group joined again.
        client.on("consumer:heartbeat:error", ({ error }) => {
          if (state.heartbeatFailed) return
          state.heartbeatFailed = true
          tell({ _tag: "Failed", error })
        })
        return parts
      }),
      ({ client, fetchConnections }) =>
        Effect.tryPromise({
          try: async () => {
            await client.close()
            await fetchConnections.close()
          },
          catch: kafkaError(`Closing the consumer of group ${options.groupId}`)
        }).pipe(
            Effect.catch((error) => Effect.logWarning(error.message)),
            Effect.ensuring(Effect.sync(() => (state.closed = true)))
          )
    )
    // Runs before the close (finalizers run in reverse): commits from here on fail as not in the group.
    yield* Effect.addFinalizer(() => Effect.sync(() => (state.closed = true)))
    const consumer: KafkaConsumer = {
      run: run(client, fetchConnections, options, state),
      commit: commit(committer(client), options, state, yield* Semaphore.make(1)),
      pause: (partitions) =>
        Effect.sync(() => {
          for (const { partition, topic } of partitions) state.paused.add(partitionKey(topic, partition))
        }),
      isInGroup: Effect.sync(() => !state.closed && !state.rebalancing && client.isActive())
    }
    return consumer
  })

const commit = (
  send: ReturnType<typeof committer>,
  options: ConsumerOptions,
  state: State,
  lock: Semaphore.Semaphore
) =>
  Effect.fn("Platformatic.commit")(function*(offsets: ReadonlyArray<CommittedOffset>) {
    if (offsets.length === 0) return
    const what = `Committing offsets of group ${options.groupId}`
    const generation = state.announcedGeneration
    if (state.closed || generation === undefined) {
      const why = state.closed ? "the consumer has left its group" : "no assignment announced yet"
      return yield* new KafkaError({ message: `${what}: ${why}`, rebalance: true })
    }
    yield* lock.withPermits(1)(Effect.tryPromise({ try: () => send(generation, offsets), catch: kafkaError(what) }))
  })

/** One `run`: its handlers, its fibers, and the budget its failures count into. */
interface Running {
  readonly client: Consumer
  readonly fetchConnections: ConnectionPool
  readonly options: ConsumerOptions
  readonly state: State
  readonly handlers: ConsumerHandlers
  budget: RestartBudget.RestartBudget
}

const run = (client: Consumer, fetchConnections: ConnectionPool, options: ConsumerOptions, state: State) =>
  Effect.fn("Platformatic.run")(function*(handlers: ConsumerHandlers) {
    const { groupId } = options
    if (state.closed || state.events !== undefined) {
      return yield* new KafkaError({
        message: `Kafka consumer of group ${groupId} is ${state.closed ? "closed" : "already running"}`
      })
    }
    const events = yield* Queue.unbounded<GroupEvent>()
    state.events = events
    yield* Effect.addFinalizer(() => Effect.sync(() => (state.events = undefined)))
    const running: Running = { client, fetchConnections, options, state, handlers, budget: RestartBudget.make(options.restartBudgetMs) }
    // A member from an earlier run announces its assignment again; otherwise the join does.
    if (client.isActive() && !state.rebalancing) yield* Queue.offer(events, { _tag: "Joined" })
    else yield* join(running)
    const fibers = yield* FiberSet.make<unknown, KafkaError>()
    let fetching: Fiber.Fiber<void, KafkaError> | undefined
    const stopFetching = Effect.suspend(() => fetching === undefined ? Effect.void : Fiber.interrupt(fetching))
    yield* FiberSet.run(fibers, Effect.forever(Effect.gen(function*() {
      const event = yield* Queue.take(events)
      yield* stopFetching
      fetching = undefined
      if (event._tag === "Joined") {
        state.announcedGeneration = state.joinedGeneration
        yield* handlers.onAssignment(state.assignment)
        fetching = yield* FiberSet.run(fibers, fetchLoop(running))
      } else if (event._tag === "Failed") {
        yield* failed(running, event.error)
        yield* join(running)
      }
    })))
    // Ends only with a failure: the restart budget spent.
    yield* FiberSet.join(fibers)
    return yield* Effect.never
  }, Effect.scoped)

/** Counts a failure into the budget: past it, the run fails; otherwise said, and tried again after a pause. */
const failed = (running: Running, error: unknown) =>
  Effect.gen(function*() {
    // Closed (it has left its group): a run still going hands over nothing more, and tries nothing again.
    if (running.state.closed) return yield* Effect.never
    running.budget = RestartBudget.crashed(running.budget, yield* Clock.currentTimeMillis)
    if (RestartBudget.isSpent(running.budget)) {
      return yield* new KafkaError({
        message: `Kafka consumer of group ${running.options.groupId} ${RestartBudget.spentMessage(running.budget)}; ` +
          `last crash: ${messageOf(error)}`,
        cause: error
      })
    }
    yield* Effect.logError(
      `Kafka consumer crashed; restarting it (${RestartBudget.progress(running.budget)}): ${messageOf(error)}`
    ).pipe(Effect.annotateLogs({ groupId: running.options.groupId }))
    yield* Effect.sleep(retryDelayMs)
  })

/** Joins the group (its `consumer:group:join` tells the run), trying again within the restart budget. */
const join = (running: Running): Effect.Effect<void, KafkaError> =>
  Effect.tryPromise({
    try: () => running.client.joinGroup({}),
    catch: kafkaError(`Joining group ${running.options.groupId}`)
  }).pipe(
    Effect.asVoid,
    Effect.catch((error) => Effect.andThen(failed(running, error), Effect.suspend(() => join(running))))
  )

/** Fetches the assigned partitions that are not paused and hands each partition's records to `onBatch`, until interrupted. */
const fetchLoop = (running: Running): Effect.Effect<void, KafkaError> =>
  Effect.gen(function*() {
    const { state } = running
    yield* loadPositions(running)
    while (true) {
      const wanted = state.assignment.filter(({ partition, topic }) => !state.paused.has(partitionKey(topic, partition)))
      if (wanted.length === 0) {
        yield* Effect.sleep(maxFetchWaitMs)
        continue
      }
      const result = yield* Effect.result(fetchOnce(running, wanted))
      if (result._tag === "Failure") yield* failed(running, result.failure.cause ?? result.failure)
      else running.budget = RestartBudget.fetched(running.budget)
    }
  })

/** Every assigned partition starts at its committed offset, else at the beginning or the end (`fromBeginning`). */
const loadPositions = (running: Running): Effect.Effect<void, KafkaError> => {
  const { client, options, state } = running
  const missing = state.assignment.filter(({ partition, topic }) => !state.positions.has(partitionKey(topic, partition)))
  if (missing.length === 0) return Effect.void
  const topics = [...new Set(missing.map((tp) => tp.topic))]
  const read = Effect.tryPromise({
    try: async () => {
      const committed = await client.listCommittedOffsets({
        topics: topics.map((topic) => ({
          topic,
          partitions: missing.filter((tp) => tp.topic === topic).map((tp) => tp.partition)
        }))
      })
      const ends = await client.listOffsets({
        topics,
        timestamp: options.fromBeginning ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST
      })
      for (const { partition, topic } of missing) {
        const commit = committed.get(topic)?.[partition]
        const start = commit !== undefined && commit >= 0n ? commit : ends.get(topic)?.[partition] ?? 0n
        state.positions.set(partitionKey(topic, partition), start)
      }
    },
    catch: kafkaError(`Reading the committed offsets of group ${options.groupId}`)
  })
  return read.pipe(
    Effect.catch((error) => Effect.andThen(failed(running, error), Effect.suspend(() => loadPositions(running))))
  )
}

/** One fetch round: a request per leader, each partition's records handed over in turn. */
const fetchOnce = (running: Running, wanted: ReadonlyArray<TopicPartition>) =>
  Effect.gen(function*() {
    const { client, options, state } = running
    const topics = [...new Set(wanted.map((tp) => tp.topic))]
    const metadata = yield* Effect.tryPromise({
      try: () => client.metadata({ topics }),
      catch: kafkaError(`Reading the metadata of ${topics.join(", ")}`)
    })
    const byNode = new Map<number, Array<TopicPartition>>()
    for (const tp of wanted) {
      const leader = metadata.topics.get(tp.topic)?.partitions[tp.partition]?.leader ?? -1
      byNode.set(leader, [...byNode.get(leader) ?? [], tp])
    }
    for (const [node, partitions] of byNode) {
      const requested = new Map(partitions.map((tp) => [partitionKey(tp.topic, tp.partition), state.positions.get(partitionKey(tp.topic, tp.partition)) ?? 0n]))
      const topicOf = new Map<string, string>()
      const request = topics.flatMap((topic) => {
        const id = metadata.topics.get(topic)?.id ?? topic
        topicOf.set(id, topic)
        const mine = partitions.filter((tp) => tp.topic === topic)
        return mine.length === 0 ? [] : [{
          topicId: id,
          partitions: mine.map(({ partition }) => ({
            partition,
            fetchOffset: requested.get(partitionKey(topic, partition))!,
            partitionMaxBytes: options.maxBytesPerPartition,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1
          }))
        }]
      })
      const response = yield* Effect.tryPromise({
        try: () => client.fetch({ node, topics: request, maxWaitTime: maxFetchWaitMs, connectionPool: running.fetchConnections }),
        catch: (error) => error
      }).pipe(Effect.catch((error) => outOfRange(running, error, topicOf)))
      if (response !== undefined) yield* handOver(running, response, topicOf, requested)
    }
  })

/**
 * A fetch from an offset the log no longer has (or never had): logged as an error, and the
 * partitions start again at the beginning or the end of the log (`fromBeginning`), as kafkajs does.
 */
const outOfRange = (running: Running, error: unknown, topicOf: ReadonlyMap<string, string>) =>
  Effect.gen(function*() {
    const what = `Fetching for group ${running.options.groupId}`
    if (!hasApiError(error, "OFFSET_OUT_OF_RANGE")) return yield* kafkaError(what)(error)
    const response = (error as { readonly response?: fetchV17.FetchResponse }).response
    for (const topic of response?.responses ?? []) {
      for (const partition of topic.partitions) {
        if (partition.errorCode === 0) continue
        const key = partitionKey(topicOf.get(topic.topicId) ?? topic.topicId, partition.partitionIndex)
        const reset = running.options.fromBeginning ? partition.logStartOffset : partition.highWatermark
        yield* Effect.logError(
          `Kafka OFFSET_OUT_OF_RANGE on ${key} at offset ${running.state.positions.get(key)}; ` +
            `starting again at ${reset} (${running.options.fromBeginning ? "the beginning" : "the end"} of the log)`
        )
        running.state.positions.set(key, reset)
      }
    }
    return undefined
  })

/** Each partition's records to `onBatch`, one partition at a time; a paused partition's are dropped, its position kept. */
const handOver = (
  running: Running,
  response: fetchV17.FetchResponse,
  topicOf: ReadonlyMap<string, string>,
  requested: ReadonlyMap<string, bigint>
) =>
  Effect.gen(function*() {
    const { state } = running
    for (const topicResponse of response.responses) {
      const topic = topicOf.get(topicResponse.topicId) ?? topicResponse.topicId
      for (const { partitionIndex, records } of topicResponse.partitions) {
        const key = partitionKey(topic, partitionIndex)
        const from = requested.get(key)
        const next = nextOffset(records ?? [])
        // Not asked for (a fetch session's leftover), paused meanwhile, or nothing new.
        if (from === undefined || state.paused.has(key) || next === undefined || next <= from) continue
        const batch = toRecords(topic, partitionIndex, records ?? [], from)
        if (batch.length > 0) yield* running.handlers.onBatch(batch)
        state.positions.set(key, next)
      }
    }
  })

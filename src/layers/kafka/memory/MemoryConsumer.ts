/**
 * The in-memory `KafkaConsumer`: the group member's scope, the poll loop that
 * joins, announces and hands batches to `onBatch`, fetch retries and crash
 * restarts on the `Clock`, commits and pauses.
 */
import { Clock, Effect } from "effect"
import { KafkaError } from "../../../domain/Errors.js"
import type { CommittedOffset, KafkaRecord } from "../../../domain/KafkaRecord.js"
import { partitionKey } from "../../../domain/KafkaRecord.js"
import * as RestartBudget from "../../../domain/RestartBudget.js"
import type { ConsumerHandlers, ConsumerOptions, KafkaConsumer } from "../KafkaClient.js"
import * as Lifecycle from "./MemberLifecycle.js"
import { fetchRetryDelaysMs, MemberEvent } from "./MemberLifecycle.js"
import type { CommitCall, MemoryBroker } from "./MemoryBroker.js"
import { MemoryMember } from "./MemoryMember.js"

/** Delay before a crashed consumer rejoins its group. */
export const restartDelayMs = 1000

/** `KafkaClient.consumer` over the broker: one member per group, which leaves the group when the scope closes. */
export const makeConsumer = (broker: MemoryBroker) =>
  Effect.fn("MemoryKafka.consumer")(function*(options: ConsumerOptions) {
    const member = yield* Effect.acquireRelease(
      enter(broker, options),
      (member) => Effect.sync(() => leave(broker, member))
    )
    const consumer: KafkaConsumer = {
      run: makeRun(broker, member),
      commit: makeCommit(broker, member),
      pause: (partitions) =>
        Effect.sync(() => {
          member.pause(partitions)
          broker.signal()
        }),
      isInGroup: Effect.sync(() => Lifecycle.isInGroup(member.state))
    }
    return consumer
  })

const enter = (broker: MemoryBroker, options: ConsumerOptions): Effect.Effect<MemoryMember, KafkaError> =>
  Effect.suspend(() => {
    const group = broker.group(options.groupId)
    if (group.member !== undefined) {
      return Effect.fail(
        new KafkaError({ message: `MemoryKafka: group ${options.groupId} already has a member (one is supported)` })
      )
    }
    for (const topic of options.topics) broker.ensureTopic(topic, 1)
    const member = new MemoryMember(options, group, broker)
    group.member = member
    return Effect.succeed(member)
  })

/** The member leaves for good; a rebalance's assignment was for it, not for the next member. */
const leave = (broker: MemoryBroker, member: MemoryMember): void => {
  member.dispatch(MemberEvent.Closed())
  member.group.member = undefined
  member.group.assignment = undefined
  broker.signal()
}

// -----------------------------------------------------------------------------
// The poll loop
// -----------------------------------------------------------------------------

const makeRun = (broker: MemoryBroker, member: MemoryMember) =>
  Effect.fn("MemoryKafka.run")(function*(handlers: ConsumerHandlers) {
    const refused = Lifecycle.refusesRun(member.state)
    if (refused !== undefined) {
      return yield* new KafkaError({ message: `Kafka consumer of group ${member.options.groupId} is ${refused}` })
    }
    member.dispatch(MemberEvent.RunStarted())
    return yield* Effect.forever(poll(broker, member, handlers)).pipe(
      Effect.ensuring(Effect.sync(() => {
        member.dispatch(MemberEvent.RunEnded())
        broker.signal()
      })),
      Effect.annotateLogs({ groupId: member.options.groupId })
    )
  })

/** One turn of the poll loop: the state says what comes next. */
const poll = (
  broker: MemoryBroker,
  member: MemoryMember,
  handlers: ConsumerHandlers
): Effect.Effect<void, KafkaError> =>
  Effect.suspend(() => {
    // A member whose scope closed has left its group: it fetches nothing more.
    if (Lifecycle.isClosed(member.state)) return Effect.never
    const crash = broker.takeCrash()
    if (crash !== undefined) return crashed(broker, member, crash)
    if (Lifecycle.needsJoin(member.state)) member.join()
    const assignment = Lifecycle.toAnnounce(member.state)
    if (assignment !== undefined) {
      return Effect.andThen(
        handlers.onAssignment(assignment),
        Effect.sync(() => {
          member.dispatch(MemberEvent.Announced())
          broker.signal()
        })
      )
    }
    const failure = broker.fetchFailures.take()
    if (failure !== undefined) return fetchFailed(broker, member, failure)
    member.dispatch(MemberEvent.Fetched())
    const batch = member.nextBatch()
    return batch === undefined ? broker.nextChange() : deliver(broker, member, handlers, batch)
  })

/** Hands a batch over; a rebalance or crash meanwhile abandons it: its records count as not taken. */
const deliver = (
  broker: MemoryBroker,
  member: MemoryMember,
  handlers: ConsumerHandlers,
  batch: ReadonlyArray<KafkaRecord>
): Effect.Effect<void> =>
  handlers.onBatch(batch).pipe(
    Effect.as(true),
    Effect.raceFirst(member.endOfGeneration().pipe(Effect.as(false))),
    Effect.map((taken) => {
      if (!taken) return
      member.taken(batch)
      broker.signal()
    })
  )

const fetchFailed = (broker: MemoryBroker, member: MemoryMember, message: string): Effect.Effect<void, KafkaError> => {
  const delay = Lifecycle.retryDelayMs(member.dispatch(MemberEvent.FetchFailed()))
  if (delay === undefined) {
    return crashed(broker, member, `fetch failed ${fetchRetryDelaysMs.length + 1} times in a row: ${message}`)
  }
  return Effect.logWarning(`Kafka fetch failed; retrying in ${delay} ms`, message).pipe(
    Effect.andThen(Effect.sleep(delay))
  )
}

/** A crash: fails `run` once crashes have lasted `restartBudgetMs`, else rejoins after `restartDelayMs`. */
const crashed = (broker: MemoryBroker, member: MemoryMember, message: string): Effect.Effect<void, KafkaError> =>
  Effect.gen(function*() {
    const state = member.dispatch(MemberEvent.Crashed({ at: yield* Clock.currentTimeMillis }))
    if (Lifecycle.budgetSpent(state)) {
      broker.clearCrash()
      // Not logged here: the run this failure ends logs it.
      return yield* new KafkaError({
        message: `Kafka consumer of group ${member.options.groupId} ` +
          `${RestartBudget.spentMessage(state.budget)}; last crash: ${message}`
      })
    }
    yield* Effect.logError(`Kafka consumer crashed; restarting in ${restartDelayMs} ms`, message)
    yield* Effect.sleep(restartDelayMs)
  })

// -----------------------------------------------------------------------------
// Commits
// -----------------------------------------------------------------------------

/**
 * Commits are accepted for any partition, owned or not: the broker checks the
 * generation, not the ownership. After the scope closed they fail, as they do
 * after kafkajs has left the group.
 */
const makeCommit = (broker: MemoryBroker, member: MemoryMember) =>
  Effect.fn("MemoryKafka.commit")(function*(offsets: ReadonlyArray<CommittedOffset>) {
    const { group, options: { groupId } } = member
    const at = yield* Clock.currentTimeMillis
    const copied = offsets.map(({ metadata, offset, partition, topic }) => ({
      topic,
      partition,
      offset,
      ...(metadata === undefined ? {} : { metadata })
    }))
    const call: CommitCall = { offsets: copied, at }
    if (Lifecycle.isClosed(member.state)) {
      group.commits.push({ ...call, rejected: "closed" })
      return yield* new KafkaError({
        message: `Kafka consumer of group ${groupId} is closed; cannot commit`,
        rebalance: true
      })
    }
    const rebalance = broker.commitFailures.take()
    if (rebalance !== undefined) {
      group.commits.push({ ...call, rejected: rebalance ? "rebalance" : "error" })
      return yield* new KafkaError(
        rebalance
          ? { message: "Injected commit failure: REBALANCE_IN_PROGRESS", rebalance }
          : { message: "Injected commit failure" }
      )
    }
    const invalid = offsets.find(({ offset }) => !Number.isSafeInteger(offset) || offset < 0)
    if (invalid !== undefined) {
      return yield* new KafkaError({
        message: `Invalid commit offset ${invalid.offset} for ${partitionKey(invalid.topic, invalid.partition)}`
      })
    }
    group.commits.push(call)
    broker.commit(group, offsets)
  })

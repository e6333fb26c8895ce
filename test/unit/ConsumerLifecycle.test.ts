import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { ConsumerLifecycle } from "../../src/domain/ConsumerLifecycle.js"
import * as Lifecycle from "../../src/domain/ConsumerLifecycle.js"
import { ConsumerEvent, Phase } from "../../src/domain/ConsumerLifecycle.js"
import type { TopicPartition } from "../../src/domain/KafkaRecord.js"

type Run = string
type Event = Lifecycle.ConsumerEvent<Run>

const budgetMs = 10_000
const sessionTimeoutMs = 30_000
const both: ReadonlyArray<TopicPartition> = [{ topic: "t", partition: 0 }, { topic: "t", partition: 1 }]

const after = (events: ReadonlyArray<Event>, from: ConsumerLifecycle<Run> = Lifecycle.initial(budgetMs)) =>
  events.reduce(Lifecycle.transition<Run>, from)

/** A first run that joined with both partitions at t=1000. */
const member = () =>
  after([ConsumerEvent.RunStarted({ run: "a" }), ConsumerEvent.Joined({ assignment: both, at: 1_000 })])

const coordinatorLost = (at: number) => ConsumerEvent.Crashed({ at, restarting: false, restartable: true })

describe("ConsumerLifecycle", () => {
  it("a first run starts the client; the join makes it a member whose batches may be handed over", () => {
    const idle = Lifecycle.initial<Run>(budgetMs)
    assert.deepStrictEqual(idle.phase, Phase.Idle())
    assert.isTrue(Lifecycle.needsStart(idle))
    assert.isFalse(Lifecycle.isInGroup(idle, 0, sessionTimeoutMs))

    const joining = after([ConsumerEvent.RunStarted({ run: "a" })])
    assert.deepStrictEqual(joining.phase, Phase.Joining())
    assert.strictEqual(joining.run, "a")
    assert.isFalse(Lifecycle.needsStart(joining))
    assert.isFalse(Lifecycle.mayHandOver(joining, "a", "t", 0))

    const joined = member()
    assert.deepStrictEqual(joined.phase, Phase.Member({ assignment: both }))
    assert.isTrue(Lifecycle.isInGroup(joined, 1_000, sessionTimeoutMs))
    assert.isTrue(Lifecycle.mayHandOver(joined, "a", "t", 1))
    assert.isFalse(Lifecycle.mayHandOver(joined, "b", "t", 1), "a batch fetched for another run")
  })

  it("in the group while the broker answers within the session timeout: fetches, heartbeats and commits count", () => {
    const joined = member()
    assert.isFalse(Lifecycle.isInGroup(joined, 1_000 + sessionTimeoutMs, sessionTimeoutMs))
    for (const answered of [ConsumerEvent.Fetched, ConsumerEvent.Heartbeat, ConsumerEvent.Committed]) {
      const state = after([answered({ at: 20_000 })], joined)
      assert.strictEqual(state.lastContactAt, 20_000)
      assert.isTrue(Lifecycle.isInGroup(state, 1_000 + sessionTimeoutMs, sessionTimeoutMs))
    }
    const twice = after([ConsumerEvent.Committed({ at: 2 }), ConsumerEvent.Committed({ at: 3 })], joined)
    assert.strictEqual(twice.commits, 2)
    assert.strictEqual(after([ConsumerEvent.Heartbeat({ at: 4 })], twice).commits, 2, "a heartbeat is not a commit")
  })

  it("a paused partition is not handed over, the others are", () => {
    const state = after([ConsumerEvent.Paused({ partitions: [{ topic: "t", partition: 0 }] })], member())
    assert.isFalse(Lifecycle.mayHandOver(state, "a", "t", 0))
    assert.isTrue(Lifecycle.mayHandOver(state, "a", "t", 1))
    // Kept across runs and joins.
    const later = after([
      ConsumerEvent.RunEnded(),
      ConsumerEvent.RunStarted({ run: "b" }),
      ConsumerEvent.Joined({ assignment: both, at: 5_000 })
    ], state)
    assert.deepStrictEqual([...later.paused.values()], [{ topic: "t", partition: 0 }])
    assert.isFalse(Lifecycle.mayHandOver(later, "b", "t", 0))
  })

  it("between runs the member stays in its group and keeps the client started; nothing is handed over", () => {
    const between = after([ConsumerEvent.RunEnded()], member())
    assert.strictEqual(between.run, undefined)
    assert.isTrue(Lifecycle.isInGroup(between, 2_000, sessionTimeoutMs))
    assert.isFalse(Lifecycle.mayHandOver(between, "a", "t", 0))
    const again = after([ConsumerEvent.RunStarted({ run: "b" })], between)
    assert.isFalse(Lifecycle.needsStart(between), "a new run resumes")
    assert.deepStrictEqual(again.phase, Phase.Member({ assignment: both }))
    assert.isTrue(Lifecycle.mayHandOver(again, "b", "t", 0))
  })

  it("a rebalance takes the member out of its group until the next join, which may bring a new assignment", () => {
    const rebalancing = after([ConsumerEvent.Rebalancing()], member())
    assert.deepStrictEqual(rebalancing.phase, Phase.Rebalancing())
    assert.isFalse(Lifecycle.isInGroup(rebalancing, 1_000, sessionTimeoutMs))
    assert.isFalse(Lifecycle.mayHandOver(rebalancing, "a", "t", 0))
    assert.isFalse(Lifecycle.needsStart(rebalancing))
    const rejoined = after([ConsumerEvent.Joined({ assignment: [both[1]!], at: 3_000 })], rebalancing)
    assert.deepStrictEqual(rejoined.phase, Phase.Member({ assignment: [both[1]!] }))
    assert.isTrue(Lifecycle.mayHandOver(rejoined, "a", "t", 0), "kafkajs fetches only its assignment")
  })

  it("a rebalance reported after a crash changes nothing: the next run still starts the client", () => {
    const crashed = after([ConsumerEvent.Crashed({ at: 2_000, restarting: false, restartable: false })], member())
    assert.strictEqual(after([ConsumerEvent.Rebalancing()], crashed), crashed)
  })

  it("a crash the client restarts from: out of the group until it rejoins", () => {
    const asked = after([ConsumerEvent.RestartAsked({ at: 2_000 })], member())
    assert.isTrue(Lifecycle.restartAllowed(asked))
    const restarting = after([ConsumerEvent.Crashed({ at: 2_000, restarting: true, restartable: false })], asked)
    assert.deepStrictEqual(restarting.phase, Phase.Restarting({ by: "client" }))
    assert.isFalse(Lifecycle.isInGroup(restarting, 2_000, sessionTimeoutMs))
    assert.isFalse(Lifecycle.restartsFor(restarting, "a"), "the client restarts itself")
    assert.isFalse(Lifecycle.needsStart(restarting))
    const back = after([ConsumerEvent.Joined({ assignment: both, at: 3_000 })], restarting)
    assert.isTrue(Lifecycle.isInGroup(back, 3_000, sessionTimeoutMs))
  })

  it("the client's restarts stop once crashes have lasted the budget; a fetch in between resets it", () => {
    const asked = (...times: Array<number>) => times.map((at) => ConsumerEvent.RestartAsked({ at }))
    assert.isTrue(Lifecycle.restartAllowed(after(asked(0, 9_999))))
    const spent = after(asked(0, 10_000))
    assert.isFalse(Lifecycle.restartAllowed(spent))
    const given = after([ConsumerEvent.Crashed({ at: 10_000, restarting: false, restartable: false })], spent)
    assert.deepStrictEqual(given.phase, Phase.Crashed({ budgetSpent: true }))
    const fetchedBetween = after([...asked(0), ConsumerEvent.Fetched({ at: 5_000 }), ...asked(12_000)])
    assert.isTrue(Lifecycle.restartAllowed(fetchedBetween))
  })

  it("a crash nobody restarts fails the run; the next run starts the client again", () => {
    const crashed = after([ConsumerEvent.Crashed({ at: 2_000, restarting: false, restartable: false })], member())
    assert.deepStrictEqual(crashed.phase, Phase.Crashed({ budgetSpent: false }))
    assert.isFalse(Lifecycle.isInGroup(crashed, 2_000, sessionTimeoutMs))
    assert.isFalse(Lifecycle.mayHandOver(crashed, "a", "t", 0))
    assert.isTrue(Lifecycle.needsStart(crashed))
    const next = after([ConsumerEvent.RunEnded(), ConsumerEvent.RunStarted({ run: "b" })], crashed)
    assert.deepStrictEqual(next.phase, Phase.Joining())
  })

  it("a lost coordinator is restarted here, for the run that wants records, within the budget", () => {
    const restarting = after([coordinatorLost(2_000)], member())
    assert.deepStrictEqual(restarting.phase, Phase.Restarting({ by: "consumer" }))
    assert.isTrue(Lifecycle.restartsFor(restarting, "a"))
    assert.isFalse(Lifecycle.restartsFor(restarting, "b"))
    assert.isFalse(Lifecycle.needsStart(restarting))
    // The run ended before the restart: it is called off, and the next run starts the client.
    const ended = after([ConsumerEvent.RunEnded()], restarting)
    assert.isFalse(Lifecycle.restartsFor(ended, "a"))
    const calledOff = after([ConsumerEvent.StartFailed()], ended)
    assert.deepStrictEqual(calledOff.phase, Phase.Idle())
    assert.isTrue(Lifecycle.needsStart(calledOff))
    // Restarts go on while the streak lasts less than the budget.
    const streak = after([coordinatorLost(2_000), coordinatorLost(11_999)], member())
    assert.deepStrictEqual(streak.phase, Phase.Restarting({ by: "consumer" }))
    const spent = after([coordinatorLost(12_000)], streak)
    assert.deepStrictEqual(spent.phase, Phase.Crashed({ budgetSpent: true }))
  })

  it("a lost coordinator without a run is not restarted: the next run starts the client", () => {
    const state = after([ConsumerEvent.RunEnded(), coordinatorLost(2_000)], member())
    assert.deepStrictEqual(state.phase, Phase.Crashed({ budgetSpent: false }))
    assert.isUndefined(state.budget.crashingSince, "not counted: nothing was restarted")
  })

  it("a start that failed leaves the client to the next run", () => {
    const state = after([ConsumerEvent.RunStarted({ run: "a" }), ConsumerEvent.StartFailed()])
    assert.deepStrictEqual(state.phase, Phase.Idle())
    assert.isTrue(Lifecycle.needsStart(state))
  })

  it("closing is for good: a pending restart is called off, nothing rejoins", () => {
    assert.isFalse(Lifecycle.isClosed(member()))
    const closed = after([coordinatorLost(2_000), ConsumerEvent.Closed()], member())
    assert.isTrue(Lifecycle.isClosed(closed))
    assert.strictEqual(Lifecycle.transition(closed, coordinatorLost(2_500)), closed, "a crash after the close changes nothing")
    assert.isFalse(Lifecycle.restartsFor(closed, "a"))
    const later = after([ConsumerEvent.StartFailed(), ConsumerEvent.Joined({ assignment: both, at: 3_000 })], closed)
    assert.isTrue(Lifecycle.isClosed(later))
    assert.isFalse(Lifecycle.isInGroup(later, 3_000, sessionTimeoutMs))
  })

  // ---------------------------------------------------------------------------
  // Properties over any sequence of events
  // ---------------------------------------------------------------------------

  const runs = fc.constantFrom("a", "b")
  const at = fc.integer({ min: 0, max: 100_000 })
  const assignment = fc.subarray([...both])
  const event: fc.Arbitrary<Event> = fc.oneof(
    runs.map((run) => ConsumerEvent.RunStarted({ run })),
    fc.constant(ConsumerEvent.RunEnded()),
    fc.constant(ConsumerEvent.StartFailed()),
    fc.record({ assignment, at }).map(ConsumerEvent.Joined),
    at.map((at) => ConsumerEvent.Fetched({ at })),
    at.map((at) => ConsumerEvent.Heartbeat({ at })),
    at.map((at) => ConsumerEvent.Committed({ at })),
    fc.constant(ConsumerEvent.Rebalancing()),
    at.map((at) => ConsumerEvent.RestartAsked({ at })),
    fc.record({ at, restarting: fc.boolean(), restartable: fc.boolean() }).map(ConsumerEvent.Crashed),
    fc.subarray([...both], { minLength: 1 }).map((partitions) => ConsumerEvent.Paused({ partitions })),
    fc.constant(ConsumerEvent.Closed())
  )
  const events = fc.array(event, { maxLength: 30 })

  it("property: in the group only as a member, and batches only for the current run of a member", () => {
    fc.assert(fc.property(events, at, runs, (history, now, run) => {
      const state = after(history)
      if (Lifecycle.isInGroup(state, now, sessionTimeoutMs) && state.phase._tag !== "Member") return false
      if (Lifecycle.mayHandOver(state, run, "t", 0) && (state.run !== run || state.phase._tag !== "Member")) {
        return false
      }
      return !Lifecycle.restartsFor(state, run) || state.run === run
    }))
  })

  it("property: once closed, always closed, never in the group, nothing handed over or restarted", () => {
    fc.assert(fc.property(events, events, at, runs, (before, afterwards, now, run) => {
      const state = after([...before, ConsumerEvent.Closed(), ...afterwards])
      return Lifecycle.isClosed(state) && !Lifecycle.isInGroup(state, now, sessionTimeoutMs) &&
        !Lifecycle.mayHandOver(state, run, "t", 1) && !Lifecycle.restartsFor(state, run) && !Lifecycle.needsStart(state)
    }))
  })

  it("property: a join makes a member with exactly that assignment, unless closed", () => {
    fc.assert(fc.property(events, assignment, at, (history, joinedWith, joinedAt) => {
      const state = after([...history, ConsumerEvent.Joined({ assignment: joinedWith, at: joinedAt })])
      return Lifecycle.isClosed(state) ||
        (state.phase._tag === "Member" && state.phase.assignment === joinedWith && state.lastContactAt === joinedAt)
    }))
  })

  it("property: a run ending or starting never changes the phase of a started client", () => {
    fc.assert(fc.property(events, runs, (history, run) => {
      const state = after(history)
      const ended = after([ConsumerEvent.RunEnded()], state)
      const started = after([ConsumerEvent.RunStarted({ run })], state)
      return ended.phase === state.phase && ended.run === undefined && started.run === run &&
        (Lifecycle.needsStart(state) ? started.phase._tag === "Joining" : started.phase === state.phase)
    }))
  })
})

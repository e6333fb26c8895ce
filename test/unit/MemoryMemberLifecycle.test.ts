import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { TopicPartition } from "../../src/domain/KafkaRecord.js"
import type { MemberLifecycle } from "../../src/layers/kafka/memory/MemberLifecycle.js"
import * as Lifecycle from "../../src/layers/kafka/memory/MemberLifecycle.js"
import { fetchRetryDelaysMs, MemberEvent, Phase } from "../../src/layers/kafka/memory/MemberLifecycle.js"

const budgetMs = 10_000
const both: ReadonlyArray<TopicPartition> = [{ topic: "t", partition: 0 }, { topic: "t", partition: 1 }]
const one: ReadonlyArray<TopicPartition> = [{ topic: "t", partition: 1 }]

const after = (events: ReadonlyArray<MemberEvent>, from: MemberLifecycle = Lifecycle.initial(budgetMs)) =>
  events.reduce(Lifecycle.transition, from)

/** A running member that joined with both partitions and announced them. */
const member = () =>
  after([MemberEvent.RunStarted(), MemberEvent.Joined({ assignment: both }), MemberEvent.Announced()])

describe("MemoryKafka member lifecycle", () => {
  it("joins, announces, then is in its group while running", () => {
    const created = Lifecycle.initial(budgetMs)
    assert.isTrue(Lifecycle.needsJoin(created))
    assert.deepStrictEqual(Lifecycle.assignment(created), [])
    assert.isUndefined(Lifecycle.refusesRun(created))

    const running = after([MemberEvent.RunStarted()])
    assert.strictEqual(Lifecycle.refusesRun(running), "already running")
    const announcing = after([MemberEvent.Joined({ assignment: both })], running)
    assert.deepStrictEqual(announcing.phase, Phase.Announcing({ assignment: both }))
    assert.deepStrictEqual(Lifecycle.toAnnounce(announcing), both)
    assert.deepStrictEqual(Lifecycle.assignment(announcing), both)
    assert.isUndefined(Lifecycle.announced(announcing))
    assert.isFalse(Lifecycle.isInGroup(announcing))

    const joined = member()
    assert.deepStrictEqual(joined.phase, Phase.Member({ assignment: both }))
    assert.deepStrictEqual(Lifecycle.fetching(joined), both)
    assert.deepStrictEqual(Lifecycle.announced(joined), both)
    assert.isTrue(Lifecycle.isInGroup(joined))
  })

  it("a run that ends keeps the membership; the next run announces again without rejoining", () => {
    const ended = after([MemberEvent.RunEnded()], member())
    assert.isFalse(Lifecycle.isInGroup(ended))
    assert.deepStrictEqual(Lifecycle.assignment(ended), [])
    const again = after([MemberEvent.RunStarted()], ended)
    assert.isFalse(Lifecycle.needsJoin(again))
    assert.deepStrictEqual(Lifecycle.toAnnounce(again), both)
  })

  it("a rebalance keeps the old assignment until the rejoin; one during onAssignment announces again", () => {
    const rebalanced = after([MemberEvent.RejoinRequested()], member())
    assert.deepStrictEqual(rebalanced.phase, Phase.Rejoining({ assignment: both }))
    assert.isTrue(Lifecycle.needsJoin(rebalanced))
    assert.deepStrictEqual(Lifecycle.assignment(rebalanced), both)
    assert.isFalse(Lifecycle.isInGroup(rebalanced))

    const duringAnnouncement = after([
      MemberEvent.RunStarted(),
      MemberEvent.Joined({ assignment: both }),
      MemberEvent.RejoinRequested(),
      MemberEvent.Announced()
    ])
    assert.deepStrictEqual(duringAnnouncement.phase, Phase.Rejoining({ assignment: both }))
    const rejoined = after([MemberEvent.Joined({ assignment: one }), MemberEvent.Announced()], duringAnnouncement)
    assert.deepStrictEqual(Lifecycle.announced(rejoined), one)
  })

  it("failed fetches pick the retry delays, keep the member out of its group, and one too many is a crash", () => {
    let state = member()
    for (const delay of fetchRetryDelaysMs) {
      state = after([MemberEvent.FetchFailed()], state)
      assert.strictEqual(Lifecycle.retryDelayMs(state), delay)
      assert.isFalse(Lifecycle.isInGroup(state))
    }
    state = after([MemberEvent.FetchFailed()], state)
    assert.isUndefined(Lifecycle.retryDelayMs(state))
    assert.strictEqual(state.failedFetches, 0)

    const recovered = after([MemberEvent.FetchFailed(), MemberEvent.Fetched()], member())
    assert.isTrue(Lifecycle.isInGroup(recovered))
  })

  it("a crash within the budget rejoins; the one that spends it leaves the phase as it was", () => {
    const crashed = after([MemberEvent.Crashed({ at: 0 })], member())
    assert.isFalse(Lifecycle.budgetSpent(crashed))
    assert.deepStrictEqual(crashed.phase, Phase.Rejoining({ assignment: both }))

    const spent = after([MemberEvent.Crashed({ at: 0 }), MemberEvent.Crashed({ at: budgetMs })], member())
    assert.isTrue(Lifecycle.budgetSpent(spent))
    assert.deepStrictEqual(spent.phase, Phase.Rejoining({ assignment: both }))
    const noBudget = after(
      [MemberEvent.RunStarted(), MemberEvent.Joined({ assignment: both }), MemberEvent.Announced()],
      Lifecycle.initial(0)
    )
    const gaveUp = after([MemberEvent.Crashed({ at: 5 })], noBudget)
    assert.isTrue(Lifecycle.budgetSpent(gaveUp))
    assert.deepStrictEqual(gaveUp.phase, Phase.Member({ assignment: both }))

    // A successful fetch ends the streak.
    const fetched = after([MemberEvent.Crashed({ at: 0 }), MemberEvent.Fetched()], member())
    assert.isFalse(Lifecycle.budgetSpent(after([MemberEvent.Crashed({ at: budgetMs })], fetched)))
  })

  it("a fetch that changes nothing keeps the same state", () => {
    const state = member()
    assert.strictEqual(Lifecycle.transition(state, MemberEvent.Fetched()), state)
  })

  it("closed is for good, whatever comes after (property)", () => {
    const event = fc.constantFrom<MemberEvent>(
      MemberEvent.RunStarted(),
      MemberEvent.RunEnded(),
      MemberEvent.Joined({ assignment: one }),
      MemberEvent.Announced(),
      MemberEvent.RejoinRequested(),
      MemberEvent.Fetched(),
      MemberEvent.FetchFailed(),
      MemberEvent.Crashed({ at: 0 }),
      MemberEvent.Closed()
    )
    fc.assert(fc.property(fc.array(event), fc.array(event), (before, later) => {
      const closed = after([...before, MemberEvent.Closed(), ...later])
      assert.isTrue(Lifecycle.isClosed(closed))
      assert.strictEqual(Lifecycle.refusesRun(closed), "closed")
      assert.isFalse(Lifecycle.isInGroup(closed))
      assert.isFalse(Lifecycle.needsJoin(closed))
      assert.isUndefined(Lifecycle.fetching(closed))
    }))
  })
})

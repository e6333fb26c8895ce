import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as RestartBudget from "../../src/domain/RestartBudget.js"

/** The budget after crashes at the given times, none fetched in between. */
const crashesAt = (budgetMs: number, times: ReadonlyArray<number>) =>
  times.reduce(RestartBudget.crashed, RestartBudget.make(budgetMs))

describe("RestartBudget", () => {
  it("is not spent before any crash", () => {
    const budget = RestartBudget.make(10_000)
    assert.isFalse(RestartBudget.isSpent(budget))
    assert.deepStrictEqual(budget, { budgetMs: 10_000, crashingSince: undefined, crashingFor: 0 })
  })

  it("only a crash spends it: a budget of 0 is spent by the first crash, not before", () => {
    const budget = RestartBudget.make(0)
    assert.isFalse(RestartBudget.isSpent(budget))
    assert.isTrue(RestartBudget.isSpent(RestartBudget.crashed(budget, 5)))
    assert.isFalse(RestartBudget.isSpent(RestartBudget.fetched(RestartBudget.crashed(budget, 5))))
  })

  it("a streak starts at its first crash and is spent once it has lasted the budget", () => {
    assert.deepStrictEqual(crashesAt(10_000, [5_000]), { budgetMs: 10_000, crashingSince: 5_000, crashingFor: 0 })
    assert.isFalse(RestartBudget.isSpent(crashesAt(10_000, [5_000, 9_000, 14_999])))
    const spent = crashesAt(10_000, [5_000, 9_000, 15_000])
    assert.isTrue(RestartBudget.isSpent(spent))
    assert.strictEqual(
      RestartBudget.spentMessage(spent),
      "kept crashing for 10000 ms, over its restart budget of 10000 ms"
    )
    assert.strictEqual(RestartBudget.progress(crashesAt(10_000, [5_000, 9_000])), "crashing for 4000 of 10000 ms")
  })

  it("a successful fetch ends the streak: the next crash starts a new one", () => {
    const afterFetch = RestartBudget.fetched(crashesAt(10_000, [0, 9_000]))
    assert.deepStrictEqual(afterFetch, RestartBudget.make(10_000))
    assert.isFalse(RestartBudget.isSpent(RestartBudget.crashed(afterFetch, 20_000)))
    const untouched = RestartBudget.make(10_000)
    assert.strictEqual(RestartBudget.fetched(untouched), untouched)
  })

  it("property: spent exactly when the streak since the last fetch has lasted the budget", () => {
    const events = fc.array(
      fc.oneof(fc.constant<"fetch">("fetch"), fc.integer({ min: 0, max: 5_000 })),
      { maxLength: 40 }
    )
    fc.assert(fc.property(fc.integer({ min: 1, max: 20_000 }), events, (budgetMs, steps) => {
      let budget = RestartBudget.make(budgetMs)
      let now = 0
      let streakStart: number | undefined = undefined
      for (const step of steps) {
        if (step === "fetch") {
          budget = RestartBudget.fetched(budget)
          streakStart = undefined
        } else {
          now += step
          budget = RestartBudget.crashed(budget, now)
          streakStart ??= now
        }
        const expected = streakStart !== undefined && now - streakStart >= budgetMs
        if (RestartBudget.isSpent(budget) !== expected) return false
      }
      return true
    }))
  })
})

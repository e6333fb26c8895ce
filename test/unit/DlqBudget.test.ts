import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { DlqBudgetOptions } from "../../src/domain/DlqBudget.js"
import { DlqBudget } from "../../src/domain/DlqBudget.js"

/** What `record` answered for each outcome, in order ("D": dead-lettered, "h": handled). */
const feed = (budget: DlqBudget, outcomes: string): Array<string | undefined> =>
  [...outcomes].map((c) => budget.record(c === "D"))

/** The index of the first outcome that spent the budget, or -1. */
const firstSpent = (answers: ReadonlyArray<string | undefined>) => answers.findIndex((a) => a !== undefined)

const consecutiveReason = (inARow: number, max: number) =>
  `${inARow} records in a row were dead-lettered, more than dlqMaxConsecutive (${max})`

const ratioReason = (count: number, window: number, maxRatio: number) =>
  `${count} of the last ${window} handled records were dead-lettered, more than dlqMaxRatio (${maxRatio}) allows`

describe("DlqBudget", () => {
  describe("off", () => {
    it("is off when neither limit is set, and is never spent", () => {
      const budget = new DlqBudget({ maxRatio: undefined, window: 10, maxConsecutive: undefined })
      assert.isFalse(budget.isOn)
      for (let i = 0; i < 1_000; i++) assert.isUndefined(budget.record(true))
      assert.isUndefined(budget.record(false))
    })

    it("is on when either limit is set", () => {
      assert.isTrue(new DlqBudget({ maxRatio: 0.5, window: 10, maxConsecutive: undefined }).isOn)
      assert.isTrue(new DlqBudget({ maxRatio: undefined, window: 10, maxConsecutive: 3 }).isOn)
      assert.isTrue(new DlqBudget({ maxRatio: 0, window: 1, maxConsecutive: 1 }).isOn)
    })
  })

  describe("consecutive", () => {
    const options: DlqBudgetOptions = { maxRatio: undefined, window: 1_000, maxConsecutive: 3 }

    it("is spent exactly at maxConsecutive + 1 dead-lettered in a row", () => {
      const answers = feed(new DlqBudget(options), "DDDD")
      assert.deepStrictEqual(answers, [undefined, undefined, undefined, consecutiveReason(4, 3)])
    })

    it("stays spent while the streak goes on", () => {
      const answers = feed(new DlqBudget(options), "DDDDD")
      assert.strictEqual(answers[4], consecutiveReason(5, 3))
    })

    it("a handled record in between resets the streak", () => {
      const answers = feed(new DlqBudget(options), "DDDhDDDhDDD")
      assert.strictEqual(firstSpent(answers), -1)
      const budget = new DlqBudget(options)
      assert.strictEqual(firstSpent(feed(budget, "DDDhDDDD")), 7)
    })

    it("maxConsecutive 1 is spent by the second dead-letter in a row", () => {
      const budget = new DlqBudget({ maxRatio: undefined, window: 10, maxConsecutive: 1 })
      assert.deepStrictEqual(feed(budget, "DhDhD"), [undefined, undefined, undefined, undefined, undefined])
      assert.strictEqual(budget.record(true), consecutiveReason(2, 1))
    })
  })

  describe("ratio", () => {
    it("is not judged before `window` records were handled", () => {
      const budget = new DlqBudget({ maxRatio: 0.2, window: 10, maxConsecutive: undefined })
      const answers = feed(budget, "DDDDDDDDD")
      assert.strictEqual(firstSpent(answers), -1, "9 of 9 dead-lettered, but the window of 10 is not full")
      assert.strictEqual(budget.record(true), ratioReason(10, 10, 0.2))
    })

    it("equal to maxRatio·window is allowed, one more is not", () => {
      const atLimit = new DlqBudget({ maxRatio: 0.2, window: 10, maxConsecutive: undefined })
      assert.strictEqual(firstSpent(feed(atLimit, "DhhhhDhhhh")), -1, "2 of 10 at 0.2")
      const over = new DlqBudget({ maxRatio: 0.2, window: 10, maxConsecutive: undefined })
      const answers = feed(over, "DhhhDhhhhD")
      assert.strictEqual(firstSpent(answers), 9)
      assert.strictEqual(answers[9], ratioReason(3, 10, 0.2))
    })

    it("the ratio is judged on the records of the window, even when the budget is far above them", () => {
      // 3 of 10 allowed at 0.3: the fourth dead-letter within ten records spends it.
      const budget = new DlqBudget({ maxRatio: 0.3, window: 10, maxConsecutive: undefined })
      assert.strictEqual(firstSpent(feed(budget, "hhhhhhDDD")), -1)
      assert.isUndefined(budget.record(false))
      assert.strictEqual(budget.record(true), ratioReason(4, 10, 0.3))
    })

    it("old outcomes slide out of the window", () => {
      const budget = new DlqBudget({ maxRatio: 0.2, window: 10, maxConsecutive: undefined })
      // 2 of the first 10; the 11th is dead-lettered but the first (dead-lettered too) slides out.
      assert.strictEqual(firstSpent(feed(budget, "DDhhhhhhhh")), -1)
      assert.isUndefined(budget.record(true), "the first D slides out: D hhhhhhhh D, 2 of 10")
      assert.isUndefined(budget.record(true), "the second D slides out: hhhhhhhh D D, 2 of 10")
      assert.strictEqual(budget.record(true), ratioReason(3, 10, 0.2), "an h slides out: hhhhhhh D D D, 3 of 10")
    })

    it("a spent ratio recovers once enough handled records push the dead-letters out", () => {
      const budget = new DlqBudget({ maxRatio: 0.5, window: 4, maxConsecutive: undefined })
      assert.deepStrictEqual(feed(budget, "DDDh"), [undefined, undefined, undefined, ratioReason(3, 4, 0.5)])
      assert.strictEqual(budget.record(false), undefined, "D D h h: 2 of 4")
    })

    it("maxRatio 0 allows no dead-letter in a full window; maxRatio 1 allows all", () => {
      const none = new DlqBudget({ maxRatio: 0, window: 5, maxConsecutive: undefined })
      assert.strictEqual(firstSpent(feed(none, "Dhhhh")), 4)
      const all = new DlqBudget({ maxRatio: 1, window: 5, maxConsecutive: undefined })
      assert.strictEqual(firstSpent(feed(all, "DDDDDDDDDDDD")), -1)
    })

    it("a window of 1 judges each record on its own", () => {
      const budget = new DlqBudget({ maxRatio: 0.5, window: 1, maxConsecutive: undefined })
      assert.deepStrictEqual(feed(budget, "DhDh"), [ratioReason(1, 1, 0.5), undefined, ratioReason(1, 1, 0.5), undefined])
    })
  })

  it("both limits: the streak's reason is given when both are spent by the same record", () => {
    const budget = new DlqBudget({ maxRatio: 0.5, window: 4, maxConsecutive: 2 })
    assert.deepStrictEqual(feed(budget, "hDDD"), [undefined, undefined, undefined, consecutiveReason(3, 2)])
  })

  describe("properties", () => {
    /** The reference model: the full history as a plain array. */
    const model = (options: DlqBudgetOptions) => {
      const history: Array<boolean> = []
      return (deadLettered: boolean): string | undefined => {
        history.push(deadLettered)
        let inARow = 0
        for (let i = history.length - 1; i >= 0 && history[i]; i--) inARow++
        if (options.maxConsecutive !== undefined && inARow > options.maxConsecutive) {
          return consecutiveReason(inARow, options.maxConsecutive)
        }
        if (options.maxRatio === undefined || history.length < options.window) return undefined
        const count = history.slice(-options.window).filter((d) => d).length
        return count / options.window > options.maxRatio ? ratioReason(count, options.window, options.maxRatio) : undefined
      }
    }

    const outcomes = fc.array(fc.boolean(), { maxLength: 120 })
    const window = fc.integer({ min: 1, max: 20 })
    const maxRatio = fc.oneof(
      fc.double({ min: 0, max: 1, noNaN: true }),
      // Exact fractions k/window land on the boundary.
      fc.integer({ min: 0, max: 20 }).map((k) => k / 20),
      fc.constantFrom(0, 0.1, 0.25, 0.5, 1)
    )
    const maxConsecutive = fc.integer({ min: 1, max: 8 })

    it("property: the ratio limit alone agrees with the model at every record, spent or not", () => {
      fc.assert(
        fc.property(window, maxRatio, outcomes, (window, maxRatio, outcomes) => {
          const options = { maxRatio, window, maxConsecutive: undefined }
          const budget = new DlqBudget(options)
          const expected = model(options)
          for (const [i, d] of outcomes.entries()) assert.strictEqual(budget.record(d), expected(d), `record ${i}`)
        })
      )
    })

    it("property: the consecutive limit alone agrees with the model at every record, spent or not", () => {
      fc.assert(
        fc.property(window, maxConsecutive, outcomes, (window, maxConsecutive, outcomes) => {
          const options = { maxRatio: undefined, window, maxConsecutive }
          const budget = new DlqBudget(options)
          const expected = model(options)
          for (const [i, d] of outcomes.entries()) assert.strictEqual(budget.record(d), expected(d), `record ${i}`)
        })
      )
    })

    it("property: with both limits, the budget is spent where the model says, for the model's reason, at every record", () => {
      fc.assert(
        fc.property(window, maxRatio, maxConsecutive, outcomes, (window, maxRatio, maxConsecutive, outcomes) => {
          const options = { maxRatio, window, maxConsecutive }
          const budget = new DlqBudget(options)
          const expected = model(options)
          for (const [i, d] of outcomes.entries()) {
            const want = expected(d)
            // Records in flight are still counted after the first spent one: the window stays whole.
            assert.strictEqual(budget.record(d), want, `record ${i}`)
          }
        })
      )
    })
  })
})

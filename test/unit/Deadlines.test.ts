import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Deadlines } from "../../src/domain/Deadlines.js"

describe("Deadlines", () => {
  it("the first listed call is the first due; takeDue unlists the due ones, earliest first", () => {
    const deadlines = new Deadlines()
    const expired: Array<string> = []
    const a = deadlines.add(100, () => expired.push("a"))
    deadlines.add(150, () => expired.push("b"))
    deadlines.add(200, () => expired.push("c"))
    assert.strictEqual(deadlines.first, a)
    assert.deepStrictEqual(deadlines.takeDue(99), [])
    const due = deadlines.takeDue(150)
    due.forEach((deadline) => deadline.expire())
    assert.deepStrictEqual(expired, ["a", "b"])
    assert.strictEqual(deadlines.size, 1)
    assert.strictEqual(deadlines.first?.at, 200)
  })

  it("a settled call is removed once: from the head, the middle or the tail", () => {
    const deadlines = new Deadlines()
    const [a, b, c, d] = [1, 2, 3, 4].map((at) => deadlines.add(at, () => {}))
    assert.isTrue(deadlines.remove(b!))
    assert.isFalse(deadlines.remove(b!), "already removed")
    assert.isTrue(deadlines.remove(a!))
    assert.strictEqual(deadlines.first, c)
    assert.isTrue(deadlines.remove(d!))
    assert.deepStrictEqual(deadlines.takeDue(10), [c])
    assert.isFalse(deadlines.remove(c!), "expired calls are no longer listed")
    assert.strictEqual(deadlines.size, 0)
    assert.isUndefined(deadlines.first)
    // Empty again: the next call is both first and last.
    const e = deadlines.add(5, () => {})
    assert.strictEqual(deadlines.first, e)
    assert.deepStrictEqual(deadlines.takeDue(5), [e])
  })

  it("holds exactly the calls neither removed nor due, in order (property)", () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(fc.constant("add" as const), fc.nat({ max: 30 }), fc.constant("due" as const)), { maxLength: 120 }),
      (operations) => {
        const deadlines = new Deadlines()
        const listed: Array<ReturnType<Deadlines["add"]>> = []
        let now = 0
        for (const operation of operations) {
          if (operation === "add") {
            listed.push(deadlines.add(now + 10, () => {}))
          } else if (operation === "due") {
            now += 7
            const due = deadlines.takeDue(now)
            assert.deepStrictEqual(due, listed.filter((d) => d.at <= now))
            listed.splice(0, due.length)
          } else if (listed.length > 0) {
            const [removed] = listed.splice(operation % listed.length, 1)
            assert.isTrue(deadlines.remove(removed!))
          }
          assert.strictEqual(deadlines.size, listed.length)
          assert.strictEqual(deadlines.first, listed[0])
        }
      }
    ))
  })
})

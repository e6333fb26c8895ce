import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { ArchiveEvent, ArchiveLifecycle as State } from "../../src/domain/ArchiveLifecycle.js"
import * as ArchiveLifecycle from "../../src/domain/ArchiveLifecycle.js"
import { ArchiveError } from "../../src/domain/Errors.js"

const error = (cause: string) => new ArchiveError({ archive: "backup", path: "/archive/b.csv", operation: "write", cause })
const failed = (e: ArchiveError): ArchiveEvent => ({ _tag: "Failed", error: e })
const closed: ArchiveEvent = { _tag: "Closed" }
const run = (events: ReadonlyArray<ArchiveEvent>): State => events.reduce(ArchiveLifecycle.transition, ArchiveLifecycle.Open)

describe("ArchiveLifecycle", () => {
  it("starts open, with no failure", () => {
    assert.deepStrictEqual(ArchiveLifecycle.Open, { _tag: "Open" })
    assert.isUndefined(ArchiveLifecycle.failureOf(ArchiveLifecycle.Open))
  })

  it("a failure is kept: the first one, not the ones that follow from it", () => {
    const first = error("ENOSPC")
    const state = run([failed(first), failed(error("later"))])
    assert.deepStrictEqual(state, { _tag: "Failed", error: first })
    assert.strictEqual(ArchiveLifecycle.failureOf(state), first)
  })

  it("closing a failed archive keeps its failure; closing again changes nothing", () => {
    const first = error("ENOSPC")
    const state = run([failed(first), closed])
    assert.deepStrictEqual(state, { _tag: "Closed", failure: first })
    assert.strictEqual(ArchiveLifecycle.transition(state, closed), state)
    assert.strictEqual(ArchiveLifecycle.transition(state, failed(error("later"))), state)
  })

  it("a close with no failure, then the final flush fails: closed with that failure", () => {
    const state = run([closed])
    assert.deepStrictEqual(state, { _tag: "Closed", failure: undefined })
    assert.strictEqual(ArchiveLifecycle.transition(state, closed), state)
    const flushFailed = error("EIO")
    assert.deepStrictEqual(ArchiveLifecycle.transition(state, failed(flushFailed)), { _tag: "Closed", failure: flushFailed })
  })

  it("property: the failure is always the first one; once closed it stays closed", () => {
    const event = fc.oneof(
      fc.string({ maxLength: 8 }).map((cause) => failed(error(cause))),
      fc.constant(closed)
    )
    fc.assert(
      fc.property(fc.array(event, { maxLength: 20 }), (events) => {
        const state = run(events)
        const firstFailure = events.find((e) => e._tag === "Failed")
        assert.strictEqual(ArchiveLifecycle.failureOf(state), firstFailure?._tag === "Failed" ? firstFailure.error : undefined)
        const isClosed = events.some((e) => e._tag === "Closed")
        assert.strictEqual(state._tag, isClosed ? "Closed" : firstFailure !== undefined ? "Failed" : "Open")
      })
    )
  })
})

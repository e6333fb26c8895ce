import { assert, describe, it } from "@effect/vitest"
import type { FailureDescription } from "../../src/domain/Failure.js"
import { failedAttempts, retries } from "../../src/domain/Outcome.js"
import type { Outcome } from "../../src/domain/Outcome.js"
import { RunCounts } from "../../src/domain/RunCounts.js"
import type { RunEvent, RunPhase } from "../../src/domain/RunPhase.js"
import { isTakingWork, Starting, transition } from "../../src/domain/RunPhase.js"

const failure = (errorType: string): FailureDescription => ({ errorType, message: "m", detail: "d", defect: false })
const processed = (attempts: number): Outcome => ({ _tag: "Processed", attempts })
const failed = (attempts: number, errorType = "SyntaxError"): Outcome => ({ _tag: "Failed", attempts, failure: failure(errorType) })
const abandoned = (attempts: number): Outcome => ({ _tag: "Abandoned", attempts })

describe("a run's phase", () => {
  const started: RunEvent = { _tag: "Started" }
  const stopRequested: RunEvent = { _tag: "StopRequested" }
  const stopped = (reason: "stopAtOffsets" | "interrupted" | "failed"): RunEvent => ({ _tag: "Stopped", reason })
  const run = (events: ReadonlyArray<RunEvent>): RunPhase => events.reduce(transition, Starting)

  it("starting → running → stopping → stopped, taking work only while starting or running", () => {
    assert.deepStrictEqual(run([]), { _tag: "Starting" })
    assert.deepStrictEqual(run([started]), { _tag: "Running" })
    assert.deepStrictEqual(run([started, stopRequested]), { _tag: "Stopping" })
    assert.deepStrictEqual(run([started, stopRequested, stopped("interrupted")]), { _tag: "Stopped", reason: "interrupted" })
    assert.deepStrictEqual(
      [run([]), run([started]), run([started, stopRequested]), run([stopped("failed")])].map(isTakingWork),
      [true, true, false, false]
    )
  })

  it("a stop can be asked before the start; late or repeated events change nothing, and the first stop reason stays", () => {
    assert.deepStrictEqual(run([stopRequested]), { _tag: "Stopping" })
    assert.deepStrictEqual(run([stopRequested, started]), { _tag: "Stopping" }, "no start after a stop was asked")
    assert.deepStrictEqual(run([started, started]), { _tag: "Running" })
    const once = run([stopped("stopAtOffsets")])
    assert.strictEqual(transition(once, stopped("failed")), once)
    assert.strictEqual(transition(once, stopRequested), once)
    assert.strictEqual(transition(once, started), once)
  })
})

describe("a run's counts", () => {
  it("outcomes: failed attempts are every attempt but a successful last one; retries every attempt after the first", () => {
    assert.deepStrictEqual([processed(1), processed(3), failed(4), failed(0), abandoned(2)].map(failedAttempts), [0, 2, 4, 0, 2])
    assert.deepStrictEqual([processed(1), processed(3), failed(4), failed(0), abandoned(2)].map(retries), [0, 2, 3, 0, 1])
  })

  it("count each outcome once, by kind, and dead-letters by error type", () => {
    const counts = new RunCounts()
    for (const outcome of [processed(1), processed(3), failed(4), failed(1, "NullValue"), failed(2), abandoned(2)]) {
      counts.recordOutcome(outcome)
    }
    assert.strictEqual(counts.processed, 2)
    assert.strictEqual(counts.deadLettered, 3)
    assert.strictEqual(counts.abandoned, 1)
    assert.strictEqual(counts.handled, 5, "processed or dead-lettered; abandoned records are not handled")
    assert.strictEqual(counts.retries, 2 + 3 + 1 + 1)
    assert.strictEqual(counts.processingFailures, 2 + 4 + 1 + 2 + 2)
    assert.deepStrictEqual(counts.deadLetteredByType, new Map([["SyntaxError", 2], ["NullValue", 1]]))
  })

  it("count what was consumed, committed, archived and opened", () => {
    const counts = new RunCounts()
    counts.recordConsumed(3, 120)
    counts.recordConsumed(2, 30)
    assert.strictEqual(counts.consumed, 5)
    assert.strictEqual(counts.bytesConsumed, 150)
    counts.recordCommit([{ topic: "t", partition: 0, offset: 5 }, { topic: "t", partition: 1, offset: 2 }])
    counts.recordCommit([{ topic: "t", partition: 0, offset: 9 }])
    assert.strictEqual(counts.commits, 2)
    assert.deepStrictEqual([...counts.committed.values()], [{ topic: "t", partition: 0, offset: 9 }, { topic: "t", partition: 1, offset: 2 }])
    counts.recordCommitFailure(true)
    counts.recordCommitFailure(false)
    counts.recordCommitFailure(false)
    assert.deepStrictEqual(counts.commitFailures, { rebalance: 1, error: 2 })
    counts.recordArchived("backup", 10)
    counts.recordArchived("backup", 5)
    counts.recordArchived("dlq", 1)
    assert.deepStrictEqual(counts.archivedRows, { backup: 15, dlq: 1 })
    assert.deepStrictEqual(counts.breakerTransitions, { Closed: 0, Open: 0, HalfOpen: 0 })
    assert.deepStrictEqual(counts.files, { backup: [], dlq: [] })
    assert.strictEqual(counts.rotations("backup"), 0)
    counts.recordFileOpened("backup", "/b/backup-2026-11-22T10.csv")
    assert.strictEqual(counts.rotations("backup"), 0, "the first file is not a rotation")
    counts.recordFileOpened("backup", "/b/backup-2026-11-22T11.csv")
    assert.strictEqual(counts.rotations("backup"), 1)
    assert.deepStrictEqual(counts.files.backup, ["/b/backup-2026-11-22T10.csv", "/b/backup-2026-11-22T11.csv"])
    assert.strictEqual(counts.rotations("dlq"), 0)
  })
})

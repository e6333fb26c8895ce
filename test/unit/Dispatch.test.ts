/**
 * Dispatch on its own: the queue's bounds (records and bytes) that intake waits for, and
 * which waiting fiber is woken when: intake when room is made, a worker when a record is ready.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import type { Ordering } from "../../src/domain/KeyScheduler.js"
import { RunState } from "../../src/layers/RunState.js"
import * as Dispatch from "../../src/streams/Dispatch.js"

const record = (offset: number, key: string | null = null): KafkaRecord => ({
  topic: "orders",
  partition: 0,
  offset,
  timestamp: 0,
  key: key === null ? null : new TextEncoder().encode(key),
  value: new Uint8Array(0),
  headers: []
})

const dispatchOf = (options: Dispatch.DispatchOptions, ordering: Ordering = "unordered") =>
  Effect.map(RunState.make({ ordering, backup: false, stopAtOffsets: [] }), (runState) => Dispatch.make(runState, options))

/** Queues records of the given sizes (offsets from `first`). */
const addAll = (dispatch: Dispatch.Dispatch, sizes: ReadonlyArray<number>, first = 0, key: string | null = null) =>
  dispatch.add(sizes.map((_, i) => record(first + i, key)), sizes, 0, sizes.length)

/** Lets every fiber that can run, run; then whether `fiber` has ended. */
const hasEnded = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.map(Effect.andThen(Effect.yieldNow, Effect.yieldNow), () => fiber.pollUnsafe() !== undefined)

describe("Dispatch", () => {
  describe("room: how many records fit in the bounds now", () => {
    it.effect("up to queueSize records waiting, and queueBytes bytes waiting or in a worker", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 10, queueBytes: 100 })
        assert.strictEqual(dispatch.room([10, 10, 10], 0), 3)
        assert.strictEqual(dispatch.room([50, 50, 1], 0), 2, "exactly queueBytes fits")
        assert.strictEqual(dispatch.room([60, 60], 0), 1)
        assert.strictEqual(dispatch.room([1, 1, 60, 60], 2), 1, "counted from start")
        assert.strictEqual(dispatch.room([500], 0), 1, "a record over queueBytes counts as queueBytes: it goes alone")
        addAll(dispatch, [1, 1, 1, 1, 1, 1, 1, 36]) // 8 records, 43 bytes
        assert.strictEqual(dispatch.room([1, 1, 1, 1], 0), 2, "2 of 10 places left")
        assert.strictEqual(dispatch.room([57, 1], 0), 1, "57 of 100 bytes left")
        assert.strictEqual(dispatch.room([58], 0), 0)
        // A record taken by a worker leaves the queue (a place is free) but still holds its bytes.
        for (let taken = 0; taken < 8; taken++) dispatch.take()
        assert.strictEqual(dispatch.room([57, 1], 0), 1)
        assert.strictEqual(dispatch.room([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 0), 10)
      }))
  })

  describe("awaitRoom: intake waits for a chunk of queueSize / 8 records", () => {
    it.effect("returns at once when the chunk fits", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 16, queueBytes: 1_000 })
        const waiting = yield* Effect.forkChild(dispatch.awaitRoom([1, 1, 1], 0))
        assert.isTrue(yield* hasEnded(waiting))
      }))

    it.effect("a full queue: intake waits until two records (16 / 8) have left it", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 16, queueBytes: 1_000 })
        addAll(dispatch, Array.from({ length: 16 }, () => 1))
        const waiting = yield* Effect.forkChild(dispatch.awaitRoom([1, 1, 1], 0))
        assert.isFalse(yield* hasEnded(waiting))
        dispatch.complete(dispatch.take()!)
        assert.isFalse(yield* hasEnded(waiting), "one place is not a chunk")
        dispatch.complete(dispatch.take()!)
        assert.isTrue(yield* hasEnded(waiting))
      }))

    it.effect("the chunk is counted from start: a batch part-way through waits for a chunk of its own records", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 16, queueBytes: 1_000 })
        addAll(dispatch, Array.from({ length: 16 }, () => 1))
        const waiting = yield* Effect.forkChild(dispatch.awaitRoom([1, 1, 1, 1, 1], 3))
        assert.isFalse(yield* hasEnded(waiting), "no place free")
        dispatch.complete(dispatch.take()!)
        assert.isFalse(yield* hasEnded(waiting), "one place is not a chunk")
        dispatch.complete(dispatch.take()!)
        assert.isTrue(yield* hasEnded(waiting))
      }))

    it.effect("a chunk holds what fits in queueBytes together: intake waits for the bytes of the first record only when two would not fit", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 80, queueBytes: 100 })
        addAll(dispatch, [50])
        const held = dispatch.take()!
        // 60 + 60 never fit in 100 bytes: the chunk is the first 60, which waits for the 50 held.
        const large = yield* Effect.forkChild(dispatch.awaitRoom([60, 60], 0))
        assert.isFalse(yield* hasEnded(large))
        dispatch.complete(held)
        assert.isTrue(yield* hasEnded(large))
      }))

    it.effect("two records that fill queueBytes exactly are one chunk: intake waits until both fit", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 80, queueBytes: 100 })
        addAll(dispatch, [50])
        const held = dispatch.take()!
        const exact = yield* Effect.forkChild(dispatch.awaitRoom([50, 50], 0))
        assert.isFalse(yield* hasEnded(exact), "50 bytes free, the chunk is 100")
        dispatch.complete(held)
        assert.isTrue(yield* hasEnded(exact))
      }))

    it.effect("records dropped by a rebalance make room: the waiting intake is woken", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 16, queueBytes: 1_000 })
        addAll(dispatch, Array.from({ length: 16 }, () => 1))
        const waiting = yield* Effect.forkChild(dispatch.awaitRoom([1, 1], 0))
        assert.isFalse(yield* hasEnded(waiting))
        assert.strictEqual(dispatch.retain([]), 16)
        assert.isTrue(yield* hasEnded(waiting))
      }))
  })

  describe("awaitWork: a worker waits for a ready record, or for the stop", () => {
    it.effect("returns at once when a record is ready; else when one is added", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 16, queueBytes: 1_000 })
        const idle = yield* Effect.forkChild(dispatch.awaitWork)
        assert.isFalse(yield* hasEnded(idle))
        addAll(dispatch, [1])
        assert.isTrue(yield* hasEnded(idle))
        const ready = yield* Effect.forkChild(dispatch.awaitWork)
        assert.isTrue(yield* hasEnded(ready))
      }))

    it.effect("a record released by its key's previous one wakes an idle worker", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 16, queueBytes: 1_000 }, "key")
        addAll(dispatch, [1, 1], 0, "order-7")
        const first = dispatch.take()!
        assert.isUndefined(dispatch.take(), "the key's second record waits for the first")
        const idle = yield* Effect.forkChild(dispatch.awaitWork)
        assert.isFalse(yield* hasEnded(idle))
        dispatch.complete(first)
        assert.isTrue(yield* hasEnded(idle))
        assert.strictEqual(dispatch.take()?.record.offset, 1)
      }))

    it.effect("once closed, workers stop waiting and nothing is handed out", () =>
      Effect.gen(function*() {
        const dispatch = yield* dispatchOf({ queueSize: 16, queueBytes: 1_000 })
        const idle = yield* Effect.forkChild(dispatch.awaitWork)
        addAll(dispatch, [1, 1])
        assert.isTrue(yield* hasEnded(idle))
        assert.strictEqual(yield* dispatch.close, 2)
        assert.isFalse(dispatch.isOpen())
        const after = yield* Effect.forkChild(dispatch.awaitWork)
        assert.isTrue(yield* hasEnded(after))
        assert.isUndefined(dispatch.take())
      }))
  })
})

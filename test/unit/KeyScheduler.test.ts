import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Fifo } from "../../src/domain/Fifo.js"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import type { Job, Ordering } from "../../src/domain/KeyScheduler.js"
import { keyHash } from "../../src/domain/KeyHash.js"
import { keyString, KeyScheduler } from "../../src/domain/KeyScheduler.js"

const text = new TextEncoder()

const record = (partition: number, offset: number, key: string | null, topic = "t"): KafkaRecord => ({
  topic,
  partition,
  offset,
  timestamp: 0,
  key: key === null ? null : text.encode(key),
  value: text.encode(`v${offset}`),
  headers: []
})

const offsets = (jobs: ReadonlyArray<Job | undefined>) => jobs.map((job) => job?.record.offset)

/** Takes every ready record. */
const takeAll = (scheduler: KeyScheduler): Array<Job> => {
  const jobs: Array<Job> = []
  for (let job = scheduler.take(); job !== undefined; job = scheduler.take()) jobs.push(job)
  return jobs
}

describe("Fifo", () => {
  it("keeps insertion order through compactions", () => {
    const fifo = new Fifo<number>()
    const out: Array<number> = []
    for (let i = 0; i < 1_000; i++) {
      fifo.push(i)
      if (i % 3 === 0) out.push(fifo.shift()!)
    }
    assert.strictEqual(fifo.peek(), out.length)
    for (let item = fifo.shift(); item !== undefined; item = fifo.shift()) out.push(item)
    assert.deepStrictEqual(out, Array.from({ length: 1_000 }, (_, i) => i))
    assert.strictEqual(fifo.length, 0)
    assert.isUndefined(fifo.peek())
    fifo.push(7)
    fifo.clear()
    assert.strictEqual(fifo.length, 0)
  })
})

describe("Fifo, as a queue", () => {
  type Op = { readonly _tag: "push"; readonly item: number } | { readonly _tag: "shift" } | { readonly _tag: "clear" }
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.nat().map((item): Op => ({ _tag: "push", item })), weight: 5 },
    { arbitrary: fc.constant<Op>({ _tag: "shift" }), weight: 4 },
    { arbitrary: fc.constant<Op>({ _tag: "clear" }), weight: 1 }
  )

  it("any pushes, shifts and clears: the same items, lengths and heads as an array (property)", () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const fifo = new Fifo<number>()
      const model: Array<number> = []
      for (const next of ops) {
        if (next._tag === "push") {
          fifo.push(next.item)
          model.push(next.item)
        } else if (next._tag === "shift") {
          assert.strictEqual(fifo.shift(), model.shift())
        } else {
          fifo.clear()
          model.length = 0
        }
        assert.strictEqual(fifo.length, model.length)
        assert.strictEqual(fifo.peek(), model[0])
      }
    }))
  })

  it("shifting 1,000,000 items while one stays queued is linear: each item is copied a bounded number of times", () => {
    const fifo = new Fifo<number>()
    const count = 1_000_000
    for (let i = 0; i <= count; i++) fifo.push(i)
    let sum = 0
    for (let i = 0; i < count; i++) sum += fifo.shift()!
    assert.strictEqual(sum, (count * (count - 1)) / 2)
    assert.strictEqual(fifo.length, 1)
    assert.strictEqual(fifo.peek(), count)
  })
})

describe("keyString", () => {
  it("a 1 MB key becomes a string of one character per byte", () => {
    const key = new Uint8Array(1_000_000).map((_, i) => i % 256)
    const string = keyString(key)
    assert.strictEqual(string.length, key.length)
    assert.strictEqual(string.charCodeAt(999_999), 999_999 % 256)
    assert.strictEqual(string.charCodeAt(1_024), 0)
  })


  it("tells keys apart byte for byte, long ones included", () => {
    const long = new Uint8Array(5_000).map((_, i) => i % 251)
    const other = long.slice()
    other[4_999] = 7
    assert.strictEqual(keyString(long), keyString(long.slice()))
    assert.notStrictEqual(keyString(long), keyString(other))
    assert.strictEqual(keyString(long).length, 5_000)
    assert.notStrictEqual(keyString(new Uint8Array([0xc3, 0xa9])), keyString(text.encode("é").subarray(0, 1)))
  })
})

describe("KeyScheduler", () => {
  it("key: one record of a key at a time, in offset order; other keys and null keys are ready at once", () => {
    const scheduler = new KeyScheduler("key")
    const keys = ["a", "b", "a", null, "a", "b", null]
    keys.forEach((key, offset) => scheduler.add(record(0, offset, key), 10))
    assert.strictEqual(scheduler.queued, 7)
    assert.strictEqual(scheduler.queuedBytes, 70)
    assert.strictEqual(scheduler.waitingBehindKey, 3)
    const first = takeAll(scheduler)
    assert.deepStrictEqual(offsets(first), [0, 1, 3, 6])
    assert.strictEqual(scheduler.inFlight, 4)
    assert.strictEqual(scheduler.inFlightBytes, 40)
    assert.strictEqual(scheduler.keysInFlight, 2)
    assert.strictEqual(scheduler.queued, 3)
    // b's second record becomes ready when its first completes, not before
    assert.isTrue(scheduler.complete(first[1]!))
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [5])
    assert.isTrue(scheduler.complete(first[0]!))
    const second = takeAll(scheduler)
    assert.deepStrictEqual(offsets(second), [2])
    assert.isTrue(scheduler.complete(second[0]!))
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [4])
    assert.strictEqual(scheduler.queued, 0)
    assert.strictEqual(scheduler.waitingBehindKey, 0)
    // null keys release nothing
    assert.isFalse(scheduler.complete(first[2]!))
    assert.strictEqual(scheduler.keysInFlight, 2)
  })

  it("key: the same key in two partitions is two keys", () => {
    const scheduler = new KeyScheduler("key")
    scheduler.add(record(0, 0, "a"), 1)
    scheduler.add(record(1, 0, "a"), 1)
    scheduler.add(record(0, 1, "a"), 1)
    assert.deepStrictEqual(takeAll(scheduler).map((job) => job.record.partition), [0, 1])
    assert.strictEqual(scheduler.waitingBehindKey, 1)
  })

  it("key: a lane ends when its last record completes, and a later record of the key starts a new one", () => {
    const scheduler = new KeyScheduler("key")
    scheduler.add(record(0, 0, "a"), 1)
    const [first] = takeAll(scheduler)
    assert.isFalse(scheduler.complete(first!))
    assert.strictEqual(scheduler.keysInFlight, 0)
    scheduler.add(record(0, 1, "a"), 1)
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [1])
  })

  it("key: keys whose hashes collide are still told apart by their bytes", () => {
    const scheduler = new KeyScheduler("key", { keyHash: () => 7 })
    for (const [offset, key] of ["a", "b", "a", "c", "b"].entries()) scheduler.add(record(0, offset, key), 1)
    const first = takeAll(scheduler)
    assert.deepStrictEqual(offsets(first), [0, 1, 3])
    assert.strictEqual(scheduler.waitingBehindKey, 2)
    // b's lane (collided with a's hash) releases b's next record, not a's
    assert.isTrue(scheduler.complete(first[1]!))
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [4])
    assert.isFalse(scheduler.complete(first[2]!))
    assert.isTrue(scheduler.complete(first[0]!))
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [2])
    assert.strictEqual(scheduler.retain([]), 0)
  })

  it("key: colliding keys of different lengths, one the start of the other, are two keys", () => {
    const scheduler = new KeyScheduler("key", { keyHash: () => 7 })
    scheduler.add(record(0, 0, "ab"), 1)
    scheduler.add(record(0, 1, "abc"), 1)
    scheduler.add(record(0, 2, "a"), 1)
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [0, 1, 2])
    assert.strictEqual(scheduler.waitingBehindKey, 0)
  })

  it("key: the lane of a colliding key, once done, leaves the lane that holds the hash alone", () => {
    const scheduler = new KeyScheduler("key", { keyHash: () => 7 })
    scheduler.add(record(0, 0, "a"), 1) // a holds the hash's place
    scheduler.add(record(0, 1, "b"), 1) // b collides with it
    const [a0, b0] = takeAll(scheduler)
    assert.isFalse(scheduler.complete(b0!), "b has nothing waiting: its lane ends")
    scheduler.add(record(0, 2, "a"), 1)
    assert.isUndefined(scheduler.take(), "a's record 0 is still in flight: its record 2 waits")
    assert.strictEqual(scheduler.waitingBehindKey, 1)
    scheduler.add(record(0, 3, "b"), 1)
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [3], "b's new record starts a new lane, ready at once")
    assert.isTrue(scheduler.complete(a0!))
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [2])
  })

  it("in-flight records and bytes go up when taken and down when completed", () => {
    const scheduler = new KeyScheduler("key")
    scheduler.add(record(0, 0, "a"), 10)
    scheduler.add(record(0, 1, "b"), 5)
    const [first, second] = takeAll(scheduler)
    assert.strictEqual(scheduler.inFlight, 2)
    assert.strictEqual(scheduler.inFlightBytes, 15)
    scheduler.complete(first!)
    assert.strictEqual(scheduler.inFlight, 1)
    assert.strictEqual(scheduler.inFlightBytes, 5)
    scheduler.complete(second!)
    assert.strictEqual(scheduler.inFlightBytes, 0)
    assert.strictEqual(scheduler.keysInFlight, 0)
  })

  it("clear drops the records ready to be taken too", () => {
    const scheduler = new KeyScheduler("unordered")
    for (let offset = 0; offset < 3; offset++) scheduler.add(record(0, offset, null), 1)
    assert.strictEqual(scheduler.clear(), 3)
    assert.isFalse(scheduler.hasReady)
    assert.isUndefined(scheduler.take())
    assert.strictEqual(scheduler.queued, 0)
    assert.strictEqual(scheduler.queuedBytes, 0)
  })

  it("retain counts out the waiting records of every lane it drops: lanes with and without waiting records, colliding or not", () => {
    // a, c and e share a hash (a holds its place); b has its own.
    const scheduler = new KeyScheduler("key", { keyHash: (key) => key[0]! % 2 })
    for (const [offset, key] of ["a", "c", "b", "a", "c", "e"].entries()) scheduler.add(record(0, offset, key), 1)
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [0, 1, 2, 5])
    assert.strictEqual(scheduler.waitingBehindKey, 2)
    assert.strictEqual(scheduler.retain([]), 2)
    assert.strictEqual(scheduler.waitingBehindKey, 0)
    assert.strictEqual(scheduler.queued, 0)
  })

  it("records of two topics with the same partition number are two partitions", () => {
    const scheduler = new KeyScheduler("key")
    scheduler.add(record(0, 0, "a", "orders"), 1)
    scheduler.add(record(0, 0, "a", "payments"), 1)
    scheduler.add(record(0, 1, "a", "orders"), 1)
    assert.deepStrictEqual(takeAll(scheduler).map((job) => job.record.topic), ["orders", "payments"])
    assert.strictEqual(scheduler.retain([{ topic: "payments", partition: 0 }]), 1, "orders:0's waiting record")
    assert.strictEqual(scheduler.queued, 0)
  })

  it("keyHash: equal keys hash alike, and the hash is a safe integer", () => {
    assert.strictEqual(keyHash(text.encode("order-1")), keyHash(text.encode("order-1")))
    assert.notStrictEqual(keyHash(text.encode("order-1")), keyHash(text.encode("order-2")))
    assert.isTrue(Number.isSafeInteger(keyHash(new Uint8Array(100).fill(255))))
  })

  it("partition: one record per partition at a time, partitions in parallel", () => {
    const scheduler = new KeyScheduler("partition")
    for (let offset = 0; offset < 3; offset++) {
      scheduler.add(record(0, offset, `k${offset}`), 1)
      scheduler.add(record(1, offset, null), 1)
    }
    const first = takeAll(scheduler)
    assert.deepStrictEqual(first.map((job) => `${job.record.partition}@${job.record.offset}`), ["0@0", "1@0"])
    assert.strictEqual(scheduler.keysInFlight, 2)
    scheduler.complete(first[0]!)
    assert.deepStrictEqual(takeAll(scheduler).map((job) => `${job.record.partition}@${job.record.offset}`), ["0@1"])
  })

  it("unordered: every record is ready at once", () => {
    const scheduler = new KeyScheduler("unordered")
    for (let offset = 0; offset < 5; offset++) scheduler.add(record(0, offset, "a"), 1)
    assert.strictEqual(scheduler.ordering, "unordered")
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [0, 1, 2, 3, 4])
    assert.strictEqual(scheduler.keysInFlight, 0)
    assert.strictEqual(scheduler.waitingBehindKey, 0)
  })

  it("retain drops the queued records and key state of revoked partitions; their completions release nothing", () => {
    const scheduler = new KeyScheduler("key")
    for (let offset = 0; offset < 4; offset++) {
      scheduler.add(record(0, offset, "a"), 2)
      scheduler.add(record(1, offset, offset < 2 ? "a" : "b"), 3)
    }
    const inFlight = takeAll(scheduler)
    assert.deepStrictEqual(inFlight.map((job) => job.record.partition), [0, 1, 1])
    assert.strictEqual(scheduler.retain([{ topic: "t", partition: 0 }]), 2)
    assert.strictEqual(scheduler.queued, 3)
    assert.strictEqual(scheduler.queuedBytes, 6)
    assert.strictEqual(scheduler.waitingBehindKey, 3)
    // partition 1 comes back (a refetch from its committed offset): its old records in flight do not release the new lanes
    scheduler.add(record(1, 0, "a"), 3)
    scheduler.add(record(1, 1, "a"), 3)
    assert.isFalse(scheduler.complete(inFlight[1]!))
    assert.deepStrictEqual(offsets(takeAll(scheduler)), [0])
    assert.strictEqual(scheduler.waitingBehindKey, 4)
    assert.isTrue(scheduler.complete(inFlight[0]!))
    assert.deepStrictEqual(takeAll(scheduler).map((job) => `${job.record.partition}@${job.record.offset}`), ["0@1"])
  })

  it("a dropped record still in the ready list is skipped by take", () => {
    const scheduler = new KeyScheduler("unordered")
    scheduler.add(record(0, 0, null), 1)
    scheduler.add(record(1, 0, null), 1)
    scheduler.retain([{ topic: "t", partition: 1 }])
    assert.isTrue(scheduler.hasReady)
    assert.deepStrictEqual(takeAll(scheduler).map((job) => job.record.partition), [1])
  })

  it("clear leaves every queued record and reports how many", () => {
    const scheduler = new KeyScheduler("key")
    for (let offset = 0; offset < 5; offset++) scheduler.add(record(0, offset, offset % 2 === 0 ? "a" : "b"), 1)
    const [first] = takeAll(scheduler)
    assert.strictEqual(scheduler.clear(), 3)
    assert.strictEqual(scheduler.queued, 0)
    assert.strictEqual(scheduler.waitingBehindKey, 0)
    assert.isFalse(scheduler.hasReady)
    assert.isUndefined(scheduler.take())
    assert.isFalse(scheduler.complete(first!))
    assert.strictEqual(scheduler.inFlight, 1)
  })

  // A discrete-event simulation: `workers` workers take records as soon as they are free, each
  // record takes its drawn time. Intervals are [start, end) in simulated time.
  describe("any processing times (property)", () => {
    interface Interval {
      readonly record: KafkaRecord
      readonly start: number
      readonly end: number
    }

    const simulate = (
      ordering: Ordering,
      workers: number,
      input: ReadonlyArray<{ readonly partition: number; readonly key: string | null; readonly ms: number }>,
      hash?: (key: Uint8Array) => number
    ) => {
      const scheduler = new KeyScheduler(ordering, hash === undefined ? {} : { keyHash: hash })
      const next = [0, 0, 0]
      const durations = new Map<KafkaRecord, number>()
      for (const { key, ms, partition } of input) {
        const r = record(partition, next[partition]!++, key)
        durations.set(r, ms)
        scheduler.add(r, 1)
      }
      const running: Array<{ job: Job; start: number; end: number }> = []
      const intervals: Array<Interval> = []
      let now = 0
      while (true) {
        while (running.length < workers) {
          const job = scheduler.take()
          if (job === undefined) break
          running.push({ job, start: now, end: now + durations.get(job.record)! })
        }
        if (running.length < workers) {
          // A free worker and nothing ready: every queued record waits behind a key in flight.
          assert.strictEqual(scheduler.queued, scheduler.waitingBehindKey)
        }
        if (running.length === 0) break
        running.sort((a, b) => a.end - b.end)
        const done = running.shift()!
        now = done.end
        intervals.push({ record: done.job.record, start: done.start, end: done.end })
        scheduler.complete(done.job)
      }
      assert.strictEqual(intervals.length, input.length)
      assert.strictEqual(scheduler.queued, 0)
      assert.strictEqual(scheduler.inFlight, 0)
      return intervals
    }

    const laneOf = (ordering: Ordering, r: KafkaRecord) =>
      ordering === "partition" ? `${r.partition}` : r.key === null ? undefined : `${r.partition}/${keyString(r.key)}`

    /** Intervals of one lane never overlap and run in offset order. */
    const assertOrdered = (ordering: Ordering, intervals: ReadonlyArray<Interval>) => {
      const byLane = new Map<string, Array<Interval>>()
      for (const interval of intervals) {
        const lane = laneOf(ordering, interval.record)
        if (lane === undefined) continue
        const list = byLane.get(lane) ?? []
        list.push(interval)
        byLane.set(lane, list)
      }
      for (const list of byLane.values()) {
        list.sort((a, b) => a.record.offset - b.record.offset)
        for (let i = 1; i < list.length; i++) assert.isAtLeast(list[i]!.start, list[i - 1]!.end)
      }
    }

    const records = fc.array(
      fc.record({
        partition: fc.integer({ min: 0, max: 2 }),
        key: fc.option(fc.constantFrom("a", "b", "c", "d", "e"), { freq: 6 }),
        ms: fc.integer({ min: 1, max: 50 })
      }),
      { maxLength: 200 }
    )

    it("key and partition: a lane's intervals never overlap and follow offset order; no free worker while a record is ready", () => {
      fc.assert(
        fc.property(
          fc.constantFrom<Ordering>("key", "partition"),
          fc.integer({ min: 1, max: 8 }),
          records,
          fc.constantFrom(undefined, (key: Uint8Array) => key.length % 2),
          (ordering, workers, input, hash) => {
            assertOrdered(ordering, simulate(ordering, workers, input, hash))
          }
        )
      )
    })

    it("key: different keys overlap when there are workers for them", () => {
      fc.assert(
        fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 5, max: 50 }), (workers, ms) => {
          const input = ["a", "b", "a", "b"].map((key) => ({ partition: 0, key, ms }))
          const intervals = simulate("key", workers, input)
          const a0 = intervals.find((i) => i.record.offset === 0)!
          const b0 = intervals.find((i) => i.record.offset === 1)!
          assert.isBelow(Math.max(a0.start, b0.start), Math.min(a0.end, b0.end))
        })
      )
    })

    it("unordered: with as many workers as records, everything runs at once", () => {
      fc.assert(
        fc.property(records, (input) => {
          const intervals = simulate("unordered", Math.max(1, input.length), input)
          assert.isTrue(intervals.every((interval) => interval.start === 0))
        })
      )
    })
  })
})

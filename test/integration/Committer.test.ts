/**
 * The committer on its own, over the in-memory Kafka and `TestClock`: what it
 * commits and when, what it says when a commit fails, and when the stop-at
 * targets count as handled (here, or by whoever committed the group past them).
 * The whole pipeline's commit flow is in `Pipeline.test.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, References, Scope, Tracer } from "effect"
import { TestClock } from "effect/testing"
import type { PipelineError } from "../../src/domain/Errors.js"
import type { TopicPartitionOffset } from "../../src/domain/KafkaRecord.js"
import { Ack } from "../../src/domain/OffsetLedger.js"
import type { StopAtTarget } from "../../src/domain/StopAt.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import { Observability } from "../../src/layers/Observability.js"
import { RunState } from "../../src/layers/RunState.js"
import * as Committer from "../../src/streams/Committer.js"
import { captureLogs } from "../support/logs.js"
import { recordingTracer } from "../support/tracing.js"

const GROUP = "committer"
const INTERVAL_MS = 1_000

/** it.effect with a fresh in-memory Kafka and every log line, debug included, captured. */
const test = (name: string, body: (logs: ReturnType<typeof captureLogs>) => Effect.Effect<void, unknown, any>) =>
  it.effect(name, () => {
    const logs = captureLogs()
    return body(logs).pipe(
      Effect.provide(Layer.mergeAll(MemoryKafka.layer, logs.layer, Layer.succeed(References.MinimumLogLevel, "All")))
    ) as Effect.Effect<void, unknown, never>
  })

/**
 * A committer over a fresh run state and a consumer of the in-memory Kafka, as the pipeline
 * builds it. It also returns the topics of the group offsets it read, and the offsets it
 * reported to observability.
 */
const start = (options: { readonly stopAtOffsets?: ReadonlyArray<StopAtTarget>; readonly devMode?: boolean } = {}) =>
  Effect.gen(function*() {
    const client = yield* KafkaClient
    const reads: Array<string> = []
    const kafka: KafkaClient["Service"] = {
      ...client,
      committedOffsets: (groupId, topic) => Effect.andThen(Effect.sync(() => reads.push(topic)), client.committedOffsets(groupId, topic))
    }
    const consumer = yield* client.consumer({
      groupId: GROUP,
      topics: ["orders", "payments"],
      fromBeginning: true,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      maxBytesPerPartition: 1_048_576,
      restartBudgetMs: 60_000
    })
    const runState = yield* RunState.make({ ordering: "unordered", backup: false, stopAtOffsets: options.stopAtOffsets ?? [] })
    const stop = yield* Deferred.make<"stopAtOffsets", PipelineError>()
    const reported: Array<ReadonlyArray<TopicPartitionOffset>> = []
    const observability = { ...(yield* Observability), committed: (offsets: ReadonlyArray<TopicPartitionOffset>) => reported.push(offsets) }
    const committer = yield* Committer.make({
      kafka,
      consumer,
      runState,
      observability,
      stop,
      options: { groupId: GROUP, commitIntervalMs: INTERVAL_MS, devMode: options.devMode ?? false }
    })
    /** Records fetched and then handled (processed), acknowledged together as one call. */
    const handle = (records: ReadonlyArray<TopicPartitionOffset>) => {
      for (const record of records) runState.ledger.track(record.topic, record.partition, record.offset)
      committer.acknowledge(records, Ack.Processed)
    }
    const isStopped = Deferred.isDone(stop)
    return { committer, runState, stop, isStopped, handle, reads, reported }
  })

const records = (topic: string, partition: number, offsets: ReadonlyArray<number>): Array<TopicPartitionOffset> =>
  offsets.map((offset) => ({ topic, partition, offset }))

/** The successful commit calls the group has seen (their offsets; the archive position is tested with the archive). */
const commitCalls = Effect.gen(function*() {
  const calls = yield* (yield* MemoryKafka).commits(GROUP)
  return calls.filter((call) => call.rejected === undefined).map((call) =>
    call.offsets.map(({ offset, partition, topic }) => ({ topic, partition, offset }))
  )
})

describe("Committer — commits", () => {
  test("every commitIntervalMs: each partition whose handled prefix moved, once; a debug line and observability say what", (logs) =>
    Effect.gen(function*() {
      const { handle, reported, runState } = yield* start()
      handle([...records("orders", 0, [0, 1, 2]), ...records("orders", 1, [0])])
      yield* TestClock.adjust(INTERVAL_MS - 1)
      assert.deepStrictEqual(yield* commitCalls, [], "nothing before the first interval")
      yield* TestClock.adjust(1)
      const first = [{ topic: "orders", partition: 0, offset: 3 }, { topic: "orders", partition: 1, offset: 1 }]
      assert.deepStrictEqual(yield* commitCalls, [first])
      assert.include(logs.lines, "Debug: committed orders:0=3,orders:1=1")
      assert.deepStrictEqual(reported, [first])
      assert.strictEqual(runState.counts.commits, 1)

      handle(records("orders", 1, [1]))
      yield* TestClock.adjust(INTERVAL_MS)
      yield* TestClock.adjust(INTERVAL_MS)
      assert.deepStrictEqual(yield* commitCalls, [first, [{ topic: "orders", partition: 1, offset: 2 }]], "only what moved, and nothing when nothing did")
    }))

  test("a commit is a root span Pipeline.commit with the offsets it commits", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const { handle } = yield* start().pipe(Effect.provideService(Tracer.Tracer, tracer))
      handle([...records("orders", 0, [0]), ...records("payments", 2, [7])])
      yield* TestClock.adjust(INTERVAL_MS)
      const commits = spans.filter((span) => span.name === "Pipeline.commit")
      assert.strictEqual(commits.length, 1)
      assert.strictEqual(commits[0]!.attributes.get("offsets"), "orders:0=1,payments:2=8")
      assert.isTrue(commits[0]!.parent._tag === "None")
    }))

  test("a commit rejected during a rebalance: a warning, counted as such, and the same offsets again at the next tick", (logs) =>
    Effect.gen(function*() {
      const { handle, reported, runState } = yield* start()
      handle(records("orders", 0, [0, 1]))
      yield* (yield* MemoryKafka).failNextCommits(1, { rebalance: true })
      yield* TestClock.adjust(INTERVAL_MS)
      assert.deepStrictEqual(yield* commitCalls, [])
      assert.include(logs.lines, "Warn: commit rejected during a rebalance, will retry: Injected commit failure: REBALANCE_IN_PROGRESS")
      assert.isFalse(logs.lines.some((line) => line.startsWith("Error:")))
      assert.deepStrictEqual(runState.counts.commitFailures, { rebalance: 1, error: 0 })
      assert.deepStrictEqual(reported, [], "observability hears of commits that were made only")
      assert.strictEqual(runState.counts.commits, 0)

      yield* TestClock.adjust(INTERVAL_MS)
      assert.deepStrictEqual(yield* commitCalls, [records("orders", 0, [2])])
    }))

  test("a commit that fails otherwise: an error line, counted as an error, and the same offsets again at the next tick", (logs) =>
    Effect.gen(function*() {
      const { handle, runState } = yield* start()
      handle(records("orders", 0, [0]))
      yield* (yield* MemoryKafka).failNextCommits(1)
      yield* TestClock.adjust(INTERVAL_MS)
      assert.include(logs.lines, "Error: commit failed, will retry: Injected commit failure")
      assert.deepStrictEqual(runState.counts.commitFailures, { rebalance: 0, error: 1 })
      yield* TestClock.adjust(INTERVAL_MS)
      assert.deepStrictEqual(yield* commitCalls, [records("orders", 0, [1])])
    }))

  test("devMode: nothing reaches Kafka; an info line names what would have been committed, and the ledger moves on", (logs) =>
    Effect.gen(function*() {
      const { handle, reported, runState } = yield* start({ devMode: true })
      handle([...records("orders", 0, [0, 1]), ...records("orders", 1, [0])])
      yield* TestClock.adjust(INTERVAL_MS)
      assert.deepStrictEqual((yield* (yield* MemoryKafka).commits(GROUP)), [])
      assert.include(logs.lines, "Info: devMode: skipped commit of orders:0=2,orders:1=1")
      assert.strictEqual(reported.length, 1)
      yield* TestClock.adjust(INTERVAL_MS)
      assert.strictEqual(logs.lines.filter((line) => line.includes("skipped commit")).length, 1, "not the same offsets again")
      assert.deepStrictEqual(runState.ledger.committable(), [])
    }))

  test("closing the scope makes the last commit at once, without waiting for the tick", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { handle } = yield* start().pipe(Scope.provide(scope))
      handle(records("orders", 0, [0, 1, 2]))
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* commitCalls, [records("orders", 0, [3])])
    }))
})

describe("Committer — stop-at targets", () => {
  test("the stop completes (stopAtOffsets) when the last target is handled here, before any commit", () =>
    Effect.gen(function*() {
      const { committer, handle, isStopped, runState, stop } = yield* start({
        stopAtOffsets: [{ topic: "orders", partition: 0, offset: 2 }, { topic: "orders", partition: 1, offset: 0 }]
      })
      handle(records("orders", 0, [0, 1, 2]))
      assert.isFalse(yield* isStopped, "orders:1 is not handled yet")
      runState.ledger.track("orders", 1, 0)
      committer.acknowledgeOne({ topic: "orders", partition: 1, offset: 0 }, Ack.Processed)
      assert.strictEqual(yield* Deferred.await(stop), "stopAtOffsets")
      assert.deepStrictEqual(yield* commitCalls, [])
    }))

  test("a target below the last offset handled counts; one not reached yet does not", () =>
    Effect.gen(function*() {
      const { handle, isStopped } = yield* start({ stopAtOffsets: [{ topic: "orders", partition: 0, offset: 5 }] })
      handle(records("orders", 0, [0, 1, 2, 3, 4]))
      assert.isFalse(yield* isStopped)
      handle(records("orders", 0, [5, 6]))
      assert.isTrue(yield* isStopped)
    }))

  test("an acknowledgement holding runs of several partitions (an archive flush) checks each run's partition", () =>
    Effect.gen(function*() {
      /** Whether one acknowledgement of `batch` completes the stop. */
      const stopsAfter = (target: StopAtTarget, batch: ReadonlyArray<TopicPartitionOffset>) =>
        Effect.scoped(Effect.gen(function*() {
          const { handle, isStopped } = yield* start({ stopAtOffsets: [target] })
          handle(batch)
          return yield* isStopped
        }))
      const orders0 = { topic: "orders", partition: 0, offset: 1 }
      assert.isTrue(
        yield* stopsAfter(orders0, [...records("orders", 0, [0, 1]), ...records("orders", 1, [0])]),
        "the target's run, then another partition of the same topic"
      )
      assert.isTrue(
        yield* stopsAfter({ topic: "orders", partition: 0, offset: 0 }, [...records("orders", 0, [0]), ...records("payments", 0, [0])]),
        "a one-record run of the target's partition, then the same partition number of another topic"
      )
      assert.isTrue(
        yield* stopsAfter(
          { topic: "orders", partition: 1, offset: 0 },
          [...records("orders", 0, [0]), ...records("orders", 1, [0]), ...records("orders", 2, [0])]
        ),
        "a one-record run of the target's partition between two others"
      )
    }))

  test("a target the group had committed past before the start is handled at once, whoever committed it", () =>
    Effect.gen(function*() {
      yield* (yield* MemoryKafka).commitElsewhere(GROUP, [{ topic: "orders", partition: 0, offset: 11 }])
      const { committer, isStopped, reads } = yield* start({ stopAtOffsets: [{ topic: "orders", partition: 0, offset: 10 }] })
      assert.deepStrictEqual(reads, ["orders"], "read once at the start")
      yield* committer.checkTargets
      assert.isTrue(yield* isStopped)
    }))

  test("while targets remain, the group's offsets are read after each tick; once all are handled, no more", () =>
    Effect.gen(function*() {
      const { isStopped, reads } = yield* start({
        stopAtOffsets: [{ topic: "orders", partition: 0, offset: 10 }, { topic: "payments", partition: 0, offset: 3 }]
      })
      assert.deepStrictEqual(reads, ["orders", "payments"], "each topic with a target, at the start")
      yield* TestClock.adjust(INTERVAL_MS)
      assert.strictEqual(reads.length, 4)
      assert.isFalse(yield* isStopped)
      // Another member of the group handles both partitions.
      yield* (yield* MemoryKafka).commitElsewhere(GROUP, [
        { topic: "orders", partition: 0, offset: 11 },
        { topic: "payments", partition: 0, offset: 4 }
      ])
      yield* TestClock.adjust(INTERVAL_MS)
      assert.isTrue(yield* isStopped)
      assert.strictEqual(reads.length, 6)
      yield* TestClock.adjust(INTERVAL_MS * 3)
      assert.strictEqual(reads.length, 6, "nothing left to wait for")
    }))

  test("a failed read of the group's offsets is a warning; the next tick reads again", (logs) =>
    Effect.gen(function*() {
      const kafka = yield* MemoryKafka
      const { isStopped } = yield* start({ stopAtOffsets: [{ topic: "orders", partition: 0, offset: 10 }] })
      yield* kafka.commitElsewhere(GROUP, [{ topic: "orders", partition: 0, offset: 11 }])
      yield* kafka.failNextAdmin(1, "the coordinator is not available")
      yield* TestClock.adjust(INTERVAL_MS)
      assert.include(logs.lines, "Warn: could not read the group's committed offsets: the coordinator is not available")
      assert.isFalse(yield* isStopped)
      yield* TestClock.adjust(INTERVAL_MS)
      assert.isTrue(yield* isStopped)
    }))

  test("without targets the group's offsets are never read, and nothing stops the run", () =>
    Effect.gen(function*() {
      const { committer, handle, isStopped, reads } = yield* start()
      handle(records("orders", 0, [0, 1, 2]))
      yield* committer.checkTargets
      yield* TestClock.adjust(INTERVAL_MS * 3)
      assert.deepStrictEqual(reads, [])
      assert.isFalse(yield* isStopped)
    }))
})

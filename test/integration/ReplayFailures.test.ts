/**
 * A replay that cannot (or can no longer) send: malformed rows and unreadable
 * files (nothing sent), missing target topics and partitions (nothing sent),
 * a produce that fails part-way and the resume after it, a stop while a
 * request is in flight, files that change between the two passes, bad options.
 */
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref } from "effect"
import { ConfigError, KafkaError } from "../../src/domain/Errors.js"
import { MalformedArchive, ReplayIncomplete, ReplayTargetError } from "../../src/domain/ReplayErrors.js"
import { KafkaClient, type ProducerMessage } from "../../src/layers/kafka/KafkaClient.js"
import * as Replay from "../../src/streams/Replay.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { test } from "../support/memoryPipeline.js"
import { archived, dlqText, recordsOf, summaryOf, text, utf8, writeFile } from "../support/replay.js"

const FILE = "/dlq/dlq-2026-11-22T10.csv"
const NEXT = "/dlq/dlq-2026-11-22T11.csv"

const summaries = Effect.gen(function*() {
  const seen = yield* Ref.make<ReadonlyArray<Replay.ReplaySummary>>([])
  return { seen: Ref.get(seen), onStopped: (summary: Replay.ReplaySummary) => Ref.update(seen, (all) => [...all, summary]) }
})

/** The in-memory client, its producer's `send` replaced by `send(messages, real)`. */
const withSend = (
  send: (messages: ReadonlyArray<ProducerMessage>, real: (m: ReadonlyArray<ProducerMessage>) => Effect.Effect<void, KafkaError>) => Effect.Effect<void, KafkaError>
) =>
  Effect.map(KafkaClient, (client) =>
    Effect.provideService(KafkaClient, {
      ...client,
      producer: Effect.map(client.producer, (producer) => ({
        send: (messages: ReadonlyArray<ProducerMessage>) => send(messages, producer.send)
      }))
    }))

const failure = <E>(exit: Exit.Exit<unknown, E>): E => {
  assert.isTrue(Exit.isFailure(exit))
  const reason = (exit as Exit.Failure<unknown, E>).cause.reasons[0]!
  assert.strictEqual(reason._tag, "Fail")
  return (reason as { error: E }).error
}

describe("Replay — nothing is sent from malformed input", () => {
  test("a malformed row anywhere, or a torn last row, stops the replay before it sends anything, naming file and line", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 1)
      yield* writeFile(FILE, dlqText([archived(0), archived(1)]))
      // Rows of two lines each: k2 on 2, k3 on 4 (a quote in its key), k4 on 6 (torn: no line end).
      yield* writeFile(NEXT, dlqText([archived(2), archived(3), archived(4)]).replace("k3", "k\"3").slice(0, -2))
      const { onStopped, seen } = yield* summaries
      const exit = yield* Effect.exit(Replay.run({ paths: ["/dlq"], onStopped }))
      const error = failure(exit) as MalformedArchive
      assert.instanceOf(error, MalformedArchive)
      assert.deepStrictEqual(error, new MalformedArchive({
        problems: [
          `${NEXT}:4: key: a quote inside an unquoted field (such a field must be quoted)`,
          `${NEXT}:6: the last row has no line end (a torn row?)`
        ],
        count: 2
      }))
      assert.strictEqual(
        error.message,
        `nothing was sent: 2 malformed rows (or unreadable files):\n  ${NEXT}:4: key: a quote inside an unquoted field (such a field must be quoted)\n  ${NEXT}:6: the last row has no line end (a torn row?)`
      )
      assert.deepStrictEqual(yield* recordsOf("orders"), [])
      assert.deepStrictEqual(yield* seen, [summaryOf({ reason: "malformed", files: 2, read: 3, selected: 3, malformed: 2 })])
    }))

  test("a torn last row (no line end) is malformed; the problems listed are bounded, all counted", () =>
    Effect.gen(function*() {
      const whole = dlqText([archived(0), archived(1), archived(2)])
      yield* writeFile(FILE, whole.slice(0, -2))
      yield* writeFile(NEXT, dlqText([archived(3)]).replace("utf8", "hex"))
      const error = failure(yield* Effect.exit(Replay.plan({ paths: ["/dlq"], maxProblems: 1, onRecord: () => Effect.void })))
      assert.deepStrictEqual(error, new MalformedArchive({ problems: [`${FILE}:6: the last row has no line end (a torn row?)`], count: 2 }))
      assert.match(error.message, /\n {2}… and 1 more$/)
    }))

  test("a header that is not an archive's, a file that cannot be read, a gzip file cut short: problems too", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem
      yield* writeFile("/in/a.csv", "id,name\r\n1,x\r\n")
      yield* writeFile("/in/b.csv", dlqText([archived(0)]))
      yield* writeFile("/in/c.csv.gz", dlqText([archived(1)]), { gzip: true })
      fs.files.set("/in/c.csv.gz", fs.files.get("/in/c.csv.gz")!.slice(0, -12))
      fs.failReads = { path: (path) => path === "/in/b.csv", afterBytes: 10 }
      const error = failure(yield* Effect.exit(Replay.plan({ paths: ["/in/a.csv", "/in/b.csv", "/in/c.csv.gz"], onRecord: () => Effect.void })))
      assert.strictEqual((error as MalformedArchive).count, 3)
      const [header, read, gzip] = (error as MalformedArchive).problems
      assert.match(header!, /^\/in\/a\.csv:1: expected the header row of a DLQ archive \(topic,partition,.*\), got "id,name"$/)
      assert.match(read!, /^\/in\/b\.csv:1: cannot read: .*EIO/)
      assert.match(gzip!, /^\/in\/c\.csv\.gz:\d+: (cannot decompress: |the last row has no line end)/)
    }))

  test("a torn header row ends the file at once", () =>
    Effect.gen(function*() {
      yield* writeFile(FILE, "topic,\"partition\r\n")
      const error = failure(yield* Effect.exit(Replay.plan({ paths: [FILE], onRecord: () => Effect.void })))
      assert.deepStrictEqual((error as MalformedArchive).problems, [`${FILE}:1: a quoted field is not closed at the end of the file (a torn row?)`])
      yield* writeFile(FILE, "a\"b\r\nc\r\n")
      const again = failure(yield* Effect.exit(Replay.plan({ paths: [FILE], onRecord: () => Effect.void })))
      assert.deepStrictEqual((again as MalformedArchive).problems, [`${FILE}:1: column 1: a quote inside an unquoted field (such a field must be quoted)`])
    }))

  test("an empty file has no records (logged); a directory's other files are skipped (logged); a path named twice is read once", (logs) =>
    Effect.gen(function*() {
      yield* writeFile(FILE, "")
      yield* writeFile("/dlq/backup-2026-11-22T10.csv", "x")
      yield* writeFile("/dlq/README", "x")
      const summary = yield* Replay.plan({ paths: ["/dlq", FILE], onRecord: () => Effect.void })
      assert.deepStrictEqual(summary, summaryOf({ reason: "dryRun" }))
      assert.isTrue(logs.has("Info", `replay: ${FILE} is empty (not even a header row)`))
      assert.isTrue(logs.has("Info", "replay: skipped /dlq/backup-2026-11-22T10.csv: a backup archive file (this replay reads dlq files)"))
      assert.isTrue(logs.has("Info", "replay: skipped /dlq/README: not an archive file name"))
      assert.isTrue(logs.has("Info", `replay: ${FILE} is named more than once; it is read once`))
    }))
})

describe("Replay — targets, failures part-way, stops", () => {
  test("a missing target topic, or one without the partitions records go back to: nothing sent", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 2)
      yield* writeFile(FILE, dlqText([archived(0, { partition: 1 }), archived(1, { partition: 4 })]))
      const missing = failure(yield* Effect.exit(Replay.run({ paths: [FILE], toTopic: "nowhere" })))
      assert.instanceOf(missing, ReplayTargetError)
      assert.match(missing.message, /^nothing was sent: the target topics cannot take the records:\n {2}topic nowhere: cannot read its partitions \(does it exist\?\): Unknown topic nowhere$/)
      const short = failure(yield* Effect.exit(Replay.run({ paths: [FILE] })))
      assert.deepStrictEqual((short as ReplayTargetError).issues, ["topic orders has 2 partitions; records of partition 4 go back to that partition"])
      assert.deepStrictEqual(yield* recordsOf("orders"), [])
    }))

  test("a produce that fails part-way: what was sent, where to resume; resuming sends the rest once", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 1)
      yield* writeFile(FILE, dlqText([0, 1, 2, 3, 4].map((offset) => archived(offset))))
      let calls = 0
      const failSecond = yield* withSend((messages, real) =>
        ++calls === 2 ? Effect.fail(new KafkaError({ message: "broker gone" })) : real(messages)
      )
      const { onStopped, seen } = yield* summaries
      const exit = yield* Effect.exit(Replay.run({ paths: ["/dlq"], batchRecords: 2, onStopped }).pipe(failSecond))
      const error = failure(exit) as ReplayIncomplete
      assert.instanceOf(error, ReplayIncomplete)
      assert.strictEqual(error.sent, 2)
      assert.strictEqual(error.resumeFrom, `${FILE}:6`)
      assert.strictEqual(
        error.message,
        `replay stopped: producing failed: broker gone. Sent 2 of 5 selected records; the rest: --resume-from ${FILE}:6.` +
          " The 2 records from there on were being sent when it failed and may have reached the topic: resuming sends them again."
      )
      assert.deepStrictEqual(yield* seen, [summaryOf({ reason: "failed", read: 5, selected: 5, sent: 2, resumeFrom: `${FILE}:6` })])

      const resumed = yield* Replay.run({ paths: ["/dlq"], resumeFrom: { file: FILE, line: 6 } })
      assert.deepStrictEqual(resumed, summaryOf({ read: 5, selected: 3, skippedBeforeResume: 2, sent: 3 }))
      assert.deepStrictEqual((yield* recordsOf("orders")).map((record) => text(record.key)), ["k0", "k1", "k2", "k3", "k4"])
    }))

  test("a stop while a request is in flight waits for its answer: the summary counts it and resumes after it", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 1)
      yield* writeFile(FILE, dlqText([0, 1, 2, 3].map((offset) => archived(offset))))
      const started = yield* Deferred.make<void>()
      const answer = yield* Deferred.make<void>()
      const slow = yield* withSend((messages, real) =>
        Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(answer)), Effect.andThen(real(messages)))
      )
      const { onStopped, seen } = yield* summaries
      const replay = yield* Replay.run({ paths: [FILE], batchRecords: 2, onStopped }).pipe(slow, Effect.forkChild)
      yield* Deferred.await(started)
      // Started at once: the interruption is asked for while the request waits for its answer.
      const stopping = yield* Effect.forkChild(Fiber.interrupt(replay), { startImmediately: true })
      yield* Deferred.succeed(answer, undefined)
      yield* Fiber.join(stopping)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(replay)))
      assert.deepStrictEqual(yield* seen, [summaryOf({ reason: "interrupted", read: 4, selected: 4, sent: 2, resumeFrom: `${FILE}:5` })])
      assert.deepStrictEqual((yield* recordsOf("orders")).map((record) => text(record.key)), ["k0", "k1"])
    }))

  test("files are read again up to the rows checked: rows appended meanwhile are not sent, rows changed meanwhile stop it", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem
      yield* writeFile(FILE, dlqText([archived(0)]))
      yield* writeFile(NEXT, dlqText([archived(1)]))
      const planned: Array<string> = []
      const appendAndBreak = (line: number) =>
        Effect.sync(() => {
          planned.push(`${line}`)
          fs.files.set(FILE, utf8(dlqText([archived(0), archived(9)])))
          fs.files.set(NEXT, utf8(dlqText([archived(1)]).replace("utf8", "hex")))
        })
      const exit = yield* Effect.exit(Replay.plan({ paths: ["/dlq"], onRecord: (record) => appendAndBreak(record.line) }))
      assert.deepStrictEqual(planned, ["2"])
      const error = failure(exit) as ReplayIncomplete
      assert.strictEqual(error.sent, 0)
      assert.strictEqual(error.resumeFrom, `${FILE}:1`)
      assert.strictEqual(
        error.message,
        `replay stopped: ${NEXT}:2 changed since it was checked: key_encoding: expected utf8, base64 or null, got "hex".` +
          ` Sent 0 of 2 selected records; the rest: --resume-from ${FILE}:1.`
      )
    }))

  test("a file with fewer rows than when it was checked stops the replay after what was sent", () =>
    Effect.gen(function*() {
      yield* (yield* KafkaClient).createTopic("orders", 1)
      const fs = yield* MemoryFileSystem
      yield* writeFile(FILE, dlqText([archived(0)]))
      yield* writeFile(NEXT, dlqText([archived(1), archived(2)]))
      const truncate = yield* withSend((messages, real) =>
        Effect.andThen(real(messages), Effect.sync(() => fs.files.set(NEXT, utf8(dlqText([archived(1)])))))
      )
      const error = failure(yield* Effect.exit(Replay.run({ paths: ["/dlq"], batchRecords: 1 }).pipe(truncate))) as ReplayIncomplete
      assert.strictEqual(
        error.message,
        `replay stopped: ${NEXT} changed since it was checked: it has fewer rows than it had.` +
          ` Sent 2 of 3 selected records; the rest: --resume-from ${NEXT}:3.`
      )
    }))

  test("bad options: no paths, a path that is not there, a bad filter, a resume point in no file read", () =>
    Effect.gen(function*() {
      yield* writeFile(FILE, dlqText([archived(0)]))
      const issues = (options: Omit<Replay.PlanOptions, "onRecord">) =>
        Effect.map(Effect.exit(Replay.plan({ ...options, onRecord: () => Effect.void })), (exit) => (failure(exit) as ConfigError).issues)
      assert.deepStrictEqual(yield* issues({ paths: [] }), ["paths: expected at least one archive file or directory"])
      assert.deepStrictEqual(yield* issues({ paths: ["/nope", FILE, "/gone"] }), ["paths: \"/nope\" does not exist", "paths: \"/gone\" does not exist"])
      assert.deepStrictEqual(yield* issues({ paths: [FILE], filter: { fromOffset: 3, toOffset: 1 } }), [
        "filter.toOffset: expected an offset ≥ fromOffset (3), got 1"
      ])
      assert.deepStrictEqual(yield* issues({ paths: [FILE], resumeFrom: { file: "/dlq/other.csv", line: 2 } }), [
        "resumeFrom (--resume-from): \"/dlq/other.csv\" is not one of the files read"
      ])
    }))
})

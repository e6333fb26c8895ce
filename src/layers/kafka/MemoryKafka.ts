/**
 * An in-memory Kafka for tests: topics, partitions, offsets and committed
 * offsets live in the process, and a test drives faults (failing fetches and
 * commits, crashes, rebalances) through the {@link MemoryKafka} service.
 *
 * `MemoryKafka.layer` provides both `KafkaClient` (what the pipeline uses) and
 * `MemoryKafka` (what the test uses). Nothing in it reads real time: waiting
 * for records suspends on a signal raised by `produce`, and every delay
 * (fetch retry backoff, restart after a crash) is an `Effect.sleep` that
 * `TestClock` drives.
 *
 * It behaves like the kafkajs client where that matters to a pipeline:
 *
 * - one member per consumer group; `run` first calls `onAssignment` with all
 *   partitions of the subscribed topics (or the assignment given to
 *   {@link MemoryKafka} `rebalance`), then hands batches of one partition each
 *   (at most 500 records and `maxBytesPerPartition` bytes) to `onBatch`, and
 *   advances the partition only when `onBatch` returns;
 * - every (re)join starts each assigned partition at its committed offset, or
 *   at the beginning / end of the log per `fromBeginning` (kafkajs builds a
 *   new offset manager per generation, so a partition kept across a rebalance
 *   is also fetched again from its committed offset);
 * - a rebalance abandons the batch in flight: `onBatch` is interrupted and its
 *   records count as not taken (kafkajs fails the heartbeat and re-fetches);
 * - commits are accepted for any partition, owned or not (the broker checks
 *   the generation, not the ownership); commits after the consumer's scope has
 *   closed fail, as they do after kafkajs has left the group;
 * - a failing fetch is retried after 300 ms, 600 ms, 1.2 s, 2.4 s and 4.8 s;
 *   the sixth failure in a row is a crash. A crash restarts the member after
 *   1 s (rejoining the group), until crashes have gone on for
 *   `restartBudgetMs` without a successful fetch in between; then `run` fails.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Effect, Layer } from "effect"
import { KafkaError } from "../../domain/Errors.js"
import type { KafkaRecord, RecordHeader, TopicPartition, TopicPartitionOffset } from "../../domain/KafkaRecord.js"
import { partitionKey, recordSize } from "../../domain/KafkaRecord.js"
import * as RestartBudget from "../../domain/RestartBudget.js"
import type {
  ConsumerHandlers,
  ConsumerOptions,
  KafkaConsumer,
  KafkaProducer,
  PartitionOffsets,
  ProducerMessage
} from "./KafkaClient.js"
import { KafkaClient } from "./KafkaClient.js"

/** A record to append with {@link MemoryKafka} `produce`; strings are encoded as UTF-8. */
export interface MemoryMessage {
  readonly key?: Uint8Array | string | null
  readonly value: Uint8Array | string | null
  readonly headers?: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | string | null }>
  /** Milliseconds since the epoch; defaults to the `Clock`'s current time. */
  readonly timestamp?: number
}

/** One call of `KafkaConsumer.commit`, as {@link MemoryKafka} `commits` reports it. */
export interface CommitCall {
  readonly offsets: ReadonlyArray<TopicPartitionOffset>
  /** `Clock` time of the call, in milliseconds. */
  readonly at: number
  /** Present when the call failed: an injected failure, or a commit after the consumer closed. */
  readonly rejected?: "error" | "rebalance" | "closed"
}

/** The most records one `onBatch` call receives. */
export const maxBatchSize = 500

/** Delay before each retry of a failed fetch; one failure more than this crashes the consumer. */
export const fetchRetryDelaysMs: ReadonlyArray<number> = [300, 600, 1200, 2400, 4800]

/** Delay before a crashed consumer rejoins its group. */
export const restartDelayMs = 1000

interface PartitionLog {
  readonly records: Array<KafkaRecord>
  /** The high watermark: offset of the next record. */
  next: number
}

interface Member {
  readonly options: ConsumerOptions
  assignment: ReadonlyArray<TopicPartition> | undefined
  /** Set by `rebalance` and crashes: the next poll (re)joins and resets positions. */
  rejoin: boolean
  /** Completed when the member must rejoin, abandoning the batch in flight. */
  rejoined: Deferred.Deferred<void>
  readonly positions: Map<string, number>
  readonly paused: Map<string, TopicPartition>
  running: boolean
  closed: boolean
  announced: boolean
  /** Round-robin start among the assigned partitions. */
  cursor: number
  failedFetches: number
  restartBudget: RestartBudget.RestartBudget
}

interface Group {
  readonly committed: Map<string, number>
  readonly commits: Array<CommitCall>
  fetched: number
  member: Member | undefined
  assignment: ReadonlyArray<TopicPartition> | undefined
}

const encoder = new TextEncoder()

const encode = (data: Uint8Array | string): Uint8Array => typeof data === "string" ? encoder.encode(data) : data

const encodeNullable = (data: Uint8Array | string | null | undefined): Uint8Array | null =>
  data === null || data === undefined ? null : encode(data)

/** Index of the first record at or past `offset` (records are in offset order, possibly with gaps). */
const firstAtOrAfter = (records: ReadonlyArray<KafkaRecord>, offset: number): number => {
  let low = 0
  let high = records.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (records[mid]!.offset < offset) low = mid + 1
    else high = mid
  }
  return low
}

/** FNV-1a over the key bytes: deterministic, not kafkajs's murmur2. */
const hashKey = (key: Uint8Array): number => {
  let hash = 0x811c9dc5
  for (const byte of key) hash = Math.imul(hash ^ byte, 0x01000193)
  return hash >>> 0
}

const make = Effect.sync(() => {
  const topics = new Map<string, Array<PartitionLog>>()
  const groups = new Map<string, Group>()
  const fetchFailures: Array<string> = []
  const commitFailures: Array<boolean> = []
  const sendFailures: Array<string> = []
  const adminFailures: Array<string> = []
  let crash: { readonly message: string; remaining: number } | undefined = undefined
  let roundRobin = 0

  // Every change of state completes `changed` and replaces it. A waiter reads
  // the state and takes `changed` in the same synchronous step, so it cannot
  // miss a change that happens before it suspends.
  let changed = Deferred.makeUnsafe<void>()
  const signal = () => {
    const current = changed
    changed = Deferred.makeUnsafe<void>()
    Deferred.doneUnsafe(current, Effect.void)
  }
  const waitUntil = <A>(check: () => A | undefined): Effect.Effect<A> =>
    Effect.suspend(() => {
      const result = check()
      return result !== undefined ? Effect.succeed(result) : Effect.andThen(Deferred.await(changed), waitUntil(check))
    })

  const groupOf = (groupId: string): Group => {
    let group = groups.get(groupId)
    if (group === undefined) {
      group = { committed: new Map(), commits: [], fetched: 0, member: undefined, assignment: undefined }
      groups.set(groupId, group)
    }
    return group
  }

  const ensureTopic = (topic: string, partitions: number): Array<PartitionLog> => {
    let logs = topics.get(topic)
    if (logs === undefined) {
      logs = Array.from({ length: Math.max(1, partitions) }, () => ({ records: [], next: 0 }))
      topics.set(topic, logs)
    }
    return logs
  }

  const append = (
    topic: string,
    partition: number,
    messages: ReadonlyArray<MemoryMessage | ProducerMessage>,
    now: number
  ): ReadonlyArray<number> => {
    const log = topics.get(topic)![partition]!
    const offsets = messages.map((message) => {
      const offset = log.next++
      log.records.push({
        topic,
        partition,
        offset,
        timestamp: "timestamp" in message && message.timestamp !== undefined ? message.timestamp : now,
        key: encodeNullable(message.key),
        value: encodeNullable(message.value),
        headers: (message.headers ?? []).map((header): RecordHeader => ({
          key: header.key,
          value: encodeNullable(header.value)
        }))
      })
      return offset
    })
    signal()
    return offsets
  }

  // ---------------------------------------------------------------------------
  // The control surface
  // ---------------------------------------------------------------------------

  const produce = Effect.fn("MemoryKafka.produce")(function*(
    topic: string,
    partition: number,
    messages: ReadonlyArray<MemoryMessage>
  ) {
    const logs = ensureTopic(topic, partition + 1)
    if (!Number.isInteger(partition) || partition < 0 || partition >= logs.length) {
      return yield* Effect.die(new RangeError(`MemoryKafka: topic ${topic} has no partition ${partition}`))
    }
    return append(topic, partition, messages, yield* Clock.currentTimeMillis)
  })

  const skipOffsets = Effect.fn("MemoryKafka.skipOffsets")(function*(topic: string, partition: number, count: number) {
    const log = ensureTopic(topic, partition + 1)[partition]
    if (log === undefined) {
      return yield* Effect.die(new RangeError(`MemoryKafka: topic ${topic} has no partition ${partition}`))
    }
    log.next += count
    signal()
  })

  const memory = MemoryKafka.of({
    produce,
    skipOffsets,
    records: (topic) => Effect.sync(() => (topics.get(topic) ?? []).flatMap((log) => log.records)),
    committed: (groupId) => Effect.sync(() => new Map(groupOf(groupId).committed)),
    commitElsewhere: (groupId, offsets) =>
      Effect.sync(() => {
        const group = groupOf(groupId)
        for (const offset of offsets) group.committed.set(partitionKey(offset.topic, offset.partition), offset.offset)
      }),
    commits: (groupId) => Effect.sync(() => [...groupOf(groupId).commits]),
    fetched: (groupId) => Effect.sync(() => groupOf(groupId).fetched),
    assignment: (groupId) =>
      Effect.sync(() => {
        const member = groupOf(groupId).member
        return member?.running ? member.assignment ?? [] : []
      }),
    paused: (groupId) => Effect.sync(() => [...(groupOf(groupId).member?.paused.values() ?? [])]),
    failNextFetches: (count, message) =>
      Effect.sync(() => {
        for (let i = 0; i < count; i++) fetchFailures.push(message)
        signal()
      }),
    failNextCommits: (count, options) =>
      Effect.sync(() => {
        for (let i = 0; i < count; i++) commitFailures.push(options?.rebalance ?? false)
      }),
    failNextSends: (count, message) =>
      Effect.sync(() => {
        for (let i = 0; i < count; i++) sendFailures.push(message)
      }),
    failNextAdmin: (count, message) =>
      Effect.sync(() => {
        for (let i = 0; i < count; i++) adminFailures.push(message)
      }),
    rebalance: (groupId, assignment) =>
      Effect.sync(() => {
        const group = groupOf(groupId)
        group.assignment = [...assignment]
        if (group.member !== undefined) requestRejoin(group.member)
        signal()
      }),
    crash: (message, options) =>
      Effect.sync(() => {
        crash = { message, remaining: options?.times ?? Infinity }
        signal()
      }),
    awaitFetched: (groupId, count) =>
      waitUntil(() => groupOf(groupId).fetched >= count ? true : undefined).pipe(Effect.asVoid),
    awaitCommitted: (groupId, { offset, partition, topic }) =>
      waitUntil(() => {
        const committed = groupOf(groupId).committed.get(partitionKey(topic, partition))
        return committed !== undefined && committed >= offset ? true : undefined
      }).pipe(Effect.asVoid),
    awaitAssignment: (groupId) =>
      waitUntil(() => {
        const member = groupOf(groupId).member
        return member?.running && member.announced && !member.rejoin ? member.assignment : undefined
      })
  })

  const requestRejoin = (member: Member) => {
    member.rejoin = true
    Deferred.doneUnsafe(member.rejoined, Effect.void)
  }

  // ---------------------------------------------------------------------------
  // The consumer
  // ---------------------------------------------------------------------------

  /** Joins (or rejoins) the group: takes the assignment and resets every position to the committed offset. */
  const join = (member: Member, group: Group) => {
    member.rejoin = false
    member.rejoined = Deferred.makeUnsafe<void>()
    member.announced = false
    member.assignment = group.assignment ?? member.options.topics.flatMap((topic) =>
      ensureTopic(topic, 1).map((_, partition) => ({ topic, partition }))
    )
    member.positions.clear()
    for (const { partition, topic } of member.assignment) {
      const key = partitionKey(topic, partition)
      const end = topics.get(topic)?.[partition]?.next ?? 0
      member.positions.set(key, group.committed.get(key) ?? (member.options.fromBeginning ? 0 : end))
    }
  }

  /** The next batch: records of one assigned, unpaused partition past its position, round robin. */
  const nextBatch = (member: Member): ReadonlyArray<KafkaRecord> | undefined => {
    const assignment = member.assignment!
    for (let i = 0; i < assignment.length; i++) {
      const index = (member.cursor + i) % assignment.length
      const { partition, topic } = assignment[index]!
      const key = partitionKey(topic, partition)
      const records = topics.get(topic)?.[partition]?.records
      if (member.paused.has(key) || records === undefined) continue
      const start = firstAtOrAfter(records, member.positions.get(key)!)
      if (start >= records.length) continue
      const batch: Array<KafkaRecord> = []
      let bytes = 0
      for (let j = start; j < records.length && batch.length < maxBatchSize; j++) {
        const record = records[j]!
        bytes += recordSize(record)
        if (batch.length > 0 && bytes > member.options.maxBytesPerPartition) break
        batch.push(record)
      }
      member.cursor = index + 1
      return batch
    }
    return undefined
  }

  const consumer = Effect.fn("MemoryKafka.consumer")(function*(options: ConsumerOptions) {
    const group = groupOf(options.groupId)
    const member = yield* Effect.acquireRelease(
      Effect.suspend(() => {
        if (group.member !== undefined) {
          return Effect.fail(
            new KafkaError({ message: `MemoryKafka: group ${options.groupId} already has a member (one is supported)` })
          )
        }
        for (const topic of options.topics) ensureTopic(topic, 1)
        const member: Member = {
          options,
          assignment: undefined,
          rejoin: true,
          rejoined: Deferred.makeUnsafe<void>(),
          positions: new Map(),
          paused: new Map(),
          running: false,
          closed: false,
          announced: false,
          cursor: 0,
          failedFetches: 0,
          restartBudget: RestartBudget.make(options.restartBudgetMs)
        }
        group.member = member
        return Effect.succeed(member)
      }),
      (member) =>
        Effect.sync(() => {
          member.closed = true
          group.member = undefined
          group.assignment = undefined
          signal()
        })
    )

    /** A crash: fails `run` once crashes have lasted `restartBudgetMs`, else restarts after `restartDelayMs`. */
    const crashed = (message: string): Effect.Effect<void, KafkaError> =>
      Effect.gen(function*() {
        member.restartBudget = RestartBudget.crashed(member.restartBudget, yield* Clock.currentTimeMillis)
        if (RestartBudget.isSpent(member.restartBudget)) {
          crash = undefined
          yield* Effect.logError("Kafka consumer crashed; restart budget exhausted, giving up", message)
          return yield* new KafkaError({
            message: `Kafka consumer of group ${options.groupId} ` +
              `${RestartBudget.spentMessage(member.restartBudget)}; last crash: ${message}`
          })
        }
        yield* Effect.logError(`Kafka consumer crashed; restarting in ${restartDelayMs} ms`, message)
        requestRejoin(member)
        yield* Effect.sleep(restartDelayMs)
      })

    const fetchFailed = (message: string): Effect.Effect<void, KafkaError> => {
      const delay = fetchRetryDelaysMs[member.failedFetches++]
      if (delay === undefined) {
        member.failedFetches = 0
        return crashed(`fetch failed ${fetchRetryDelaysMs.length + 1} times in a row: ${message}`)
      }
      return Effect.logWarning(`Kafka fetch failed; retrying in ${delay} ms`, message).pipe(
        Effect.andThen(Effect.sleep(delay))
      )
    }

    const deliver = (handlers: ConsumerHandlers, records: ReadonlyArray<KafkaRecord>): Effect.Effect<void> => {
      const last = records[records.length - 1]!
      return handlers.onBatch(records).pipe(
        Effect.as(true),
        Effect.raceFirst(Deferred.await(member.rejoined).pipe(Effect.as(false))),
        Effect.map((taken) => {
          if (!taken) return
          member.positions.set(partitionKey(last.topic, last.partition), last.offset + 1)
          group.fetched += records.length
          signal()
        })
      )
    }

    /** One turn of the poll loop. */
    const poll = (handlers: ConsumerHandlers): Effect.Effect<void, KafkaError> =>
      Effect.suspend(() => {
        if (crash !== undefined) {
          const { message } = crash
          if (--crash.remaining <= 0) crash = undefined
          return crashed(message)
        }
        if (member.rejoin) {
          join(member, group)
        }
        if (!member.announced) {
          return handlers.onAssignment(member.assignment!).pipe(
            Effect.andThen(Effect.sync(() => {
              // After a rebalance during `onAssignment`, the next turn rejoins and announces again.
              member.announced = !member.rejoin
              signal()
            }))
          )
        }
        const failure = fetchFailures.shift()
        if (failure !== undefined) return fetchFailed(failure)
        member.failedFetches = 0
        member.restartBudget = RestartBudget.fetched(member.restartBudget)
        const batch = nextBatch(member)
        return batch === undefined ? Deferred.await(changed) : deliver(handlers, batch)
      })

    const run = Effect.fn("MemoryKafka.run")(function*(handlers: ConsumerHandlers) {
      if (member.closed || member.running) {
        return yield* new KafkaError({
          message: `Kafka consumer of group ${options.groupId} is ${member.closed ? "closed" : "already running"}`
        })
      }
      member.running = true
      member.announced = false
      return yield* Effect.forever(poll(handlers)).pipe(
        Effect.ensuring(Effect.sync(() => {
          member.running = false
          signal()
        })),
        Effect.annotateLogs({ groupId: options.groupId })
      )
    })

    const commit = Effect.fn("MemoryKafka.commit")(function*(offsets: ReadonlyArray<TopicPartitionOffset>) {
      const at = yield* Clock.currentTimeMillis
      const call = { offsets: offsets.map(({ offset, partition, topic }) => ({ topic, partition, offset })), at }
      if (member.closed) {
        group.commits.push({ ...call, rejected: "closed" })
        return yield* new KafkaError({
          message: `Kafka consumer of group ${options.groupId} is closed; cannot commit`,
          rebalance: true
        })
      }
      const rebalance = commitFailures.shift()
      if (rebalance !== undefined) {
        group.commits.push({ ...call, rejected: rebalance ? "rebalance" : "error" })
        return yield* new KafkaError(
          rebalance
            ? { message: "Injected commit failure: REBALANCE_IN_PROGRESS", rebalance }
            : { message: "Injected commit failure" }
        )
      }
      const invalid = offsets.find(({ offset }) => !Number.isSafeInteger(offset) || offset < 0)
      if (invalid !== undefined) {
        return yield* new KafkaError({
          message: `Invalid commit offset ${invalid.offset} for ${partitionKey(invalid.topic, invalid.partition)}`
        })
      }
      for (const { offset, partition, topic } of offsets) group.committed.set(partitionKey(topic, partition), offset)
      group.commits.push(call)
      signal()
    })

    const pause = (partitions: ReadonlyArray<TopicPartition>) =>
      Effect.sync(() => {
        for (const { partition, topic } of partitions) {
          member.paused.set(partitionKey(topic, partition), { topic, partition })
        }
        signal()
      })

    // A failing fetch stands for an unreachable broker; a crash or rebalance is out of the group until the rejoin.
    const isInGroup = Effect.sync(() =>
      member.running && member.announced && !member.rejoin && !member.closed && member.failedFetches === 0
    )

    const consumer: KafkaConsumer = { run, commit, pause, isInGroup }
    return consumer
  })

  const send = Effect.fn("MemoryKafka.send")(function*(messages: ReadonlyArray<ProducerMessage>) {
    const failure = sendFailures.shift()
    if (failure !== undefined) return yield* new KafkaError({ message: failure })
    const now = yield* Clock.currentTimeMillis
    for (const message of messages) {
      const logs = ensureTopic(message.topic, 1)
      const key = encodeNullable(message.key)
      const partition = message.partition ??
        (key === null ? roundRobin++ % logs.length : hashKey(key) % logs.length)
      if (partition < 0 || partition >= logs.length) {
        return yield* new KafkaError({ message: `Topic ${message.topic} has no partition ${partition}` })
      }
      append(message.topic, partition, [message], now)
    }
  })
  const producer: KafkaProducer = { send }

  const client = KafkaClient.of({
    consumer,
    producer: Effect.succeed(producer),
    createTopic: (topic, partitions) =>
      Effect.sync(() => {
        ensureTopic(topic, partitions)
        signal()
      }),
    topicOffsets: Effect.fn("MemoryKafka.topicOffsets")(function*(topic: string) {
      const failure = adminFailures.shift()
      if (failure !== undefined) return yield* new KafkaError({ message: failure })
      const logs = topics.get(topic)
      if (logs === undefined) return yield* new KafkaError({ message: `Unknown topic ${topic}` })
      return logs.map((log, partition): PartitionOffsets => ({ partition, low: 0, high: log.next }))
    }),
    committedOffsets: (groupId, topic) =>
      Effect.suspend(() => {
        const failure = adminFailures.shift()
        if (failure !== undefined) return Effect.fail(new KafkaError({ message: failure }))
        const offsets: Array<TopicPartitionOffset> = []
        for (const [key, offset] of groupOf(groupId).committed) {
          const separator = key.lastIndexOf(":")
          if (key.slice(0, separator) !== topic) continue
          offsets.push({ topic, partition: Number(key.slice(separator + 1)), offset })
        }
        return Effect.succeed(offsets.sort((a, b) => a.partition - b.partition))
      })
  })

  return Context.make(MemoryKafka, memory).pipe(Context.add(KafkaClient, client))
})

/**
 * The control surface of the in-memory Kafka. Fault injections (`failNext*`,
 * `crash`) apply to whichever consumer or producer next fetches, commits or
 * sends, whatever its group.
 */
export class MemoryKafka extends Context.Service<MemoryKafka, {
  /**
   * Appends records to a partition and returns their offsets. An unknown topic
   * is created with `partition + 1` partitions.
   */
  readonly produce: (
    topic: string,
    partition: number,
    messages: ReadonlyArray<MemoryMessage>
  ) => Effect.Effect<ReadonlyArray<number>>
  /** Advances a partition's next offset by `count` without records (compaction, transaction markers). */
  readonly skipOffsets: (topic: string, partition: number, count: number) => Effect.Effect<void>
  /** Every record of a topic, by partition, then offset. */
  readonly records: (topic: string) => Effect.Effect<ReadonlyArray<KafkaRecord>>
  /** The group's committed offsets, by `partitionKey(topic, partition)`. */
  readonly committed: (groupId: string) => Effect.Effect<ReadonlyMap<string, number>>
  /**
   * Commits offsets for the group from outside this member: another member of
   * the group, or an admin tool. Not recorded in `commits`.
   */
  readonly commitElsewhere: (groupId: string, offsets: ReadonlyArray<TopicPartitionOffset>) => Effect.Effect<void>
  /** Every commit call of the group's consumers, in order, failed ones included. */
  readonly commits: (groupId: string) => Effect.Effect<ReadonlyArray<CommitCall>>
  /** How many records the group's consumers have handed to `onBatch` (and `onBatch` returned). */
  readonly fetched: (groupId: string) => Effect.Effect<number>
  /** The current assignment of the group's member; empty without a running member. */
  readonly assignment: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartition>>
  /** The partitions the group's member has paused. */
  readonly paused: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartition>>
  /** The next `count` fetches fail with `message` (logged and retried with backoff). */
  readonly failNextFetches: (count: number, message: string) => Effect.Effect<void>
  /** The next `count` commits fail; with `rebalance: true` as a rebalance rejection. */
  readonly failNextCommits: (count: number, options?: { readonly rebalance?: boolean }) => Effect.Effect<void>
  /** The next `count` producer sends fail with `message`. */
  readonly failNextSends: (count: number, message: string) => Effect.Effect<void>
  /** The next `count` admin reads (`topicOffsets`, `committedOffsets`) fail with `message`. */
  readonly failNextAdmin: (count: number, message: string) => Effect.Effect<void>
  /**
   * Gives the group's member a new assignment: the batch in flight is
   * abandoned, `onAssignment` receives the whole new assignment and every
   * assigned partition restarts at its committed offset. Without a member, the
   * assignment is used by the next member to join.
   */
  readonly rebalance: (groupId: string, assignment: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
  /**
   * Crashes the next consumer that polls, and each of its restarts, `times`
   * times in all (default: until `run` fails because `restartBudgetMs` is used up).
   */
  readonly crash: (message: string, options?: { readonly times?: number }) => Effect.Effect<void>
  /** Waits until the group's consumers have handed at least `count` records to `onBatch`. */
  readonly awaitFetched: (groupId: string, count: number) => Effect.Effect<void>
  /** Waits until the group's committed offset of the partition is at least `offset`. */
  readonly awaitCommitted: (groupId: string, offset: TopicPartitionOffset) => Effect.Effect<void>
  /** Waits until the group has a member that has announced its assignment with `onAssignment`. */
  readonly awaitAssignment: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartition>>
}>()("effect-kafka-pipeline/MemoryKafka") {
  /** Provides `KafkaClient` backed by the in-memory Kafka, and `MemoryKafka` to control it. */
  static readonly layer: Layer.Layer<KafkaClient | MemoryKafka> = Layer.effectContext(make)
}

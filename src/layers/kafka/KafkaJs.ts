/**
 * The real Kafka client: `KafkaClient` implemented on kafkajs.
 *
 * kafkajs has traps (see DESIGN.md, "kafkajs traps"); this module is where
 * they are handled, so nothing else in the pipeline touches kafkajs:
 *
 * - The consumer never commits by itself (`autoCommit: false`) and never
 *   resolves an offset it did not hand over: `eachBatch` runs `onBatch` in the
 *   caller's runtime and resolves the batch's last offset only when `onBatch`
 *   has returned. While `onBatch` suspends (backpressure), it heartbeats every
 *   `heartbeatIntervalMs`, so a slow pipeline keeps its membership (#1211); a
 *   failing heartbeat (a rebalance) abandons the batch (`onBatch` is
 *   interrupted) and hands the error back to kafkajs, which rejoins and
 *   fetches it again; until the rejoin, no other batch is handed over.
 * - Records are copied out of kafkajs's fetch buffers (offsets and timestamps
 *   as numbers, headers as a list, repeated keys kept). The producer sends
 *   with `acks: -1`, not idempotent (kafkajs's idempotent producer retries
 *   forever); kafkajs cannot send a null header value, so one is sent empty.
 * - kafkajs has no revoke callback (#916): every `GROUP_JOIN` announces the
 *   member's whole assignment with `onAssignment`, after interrupting a batch
 *   still in flight and before the next batch.
 * - Crashes (#1513, #852): kafkajs restarts after a retriable crash while the
 *   crashes have lasted less than `restartBudgetMs` (on the `Clock`, reset by
 *   any successful fetch); past the budget, or on a crash it does not restart
 *   from, `run` fails with a `KafkaError` instead of staying alive but idle.
 *   The crash a broker outage causes during a join that kafkajs calls
 *   non-retriable (the group coordinator not found, #1630) is restarted here,
 *   within the same budget.
 * - Commits rejected because the group moved on (REBALANCE_IN_PROGRESS,
 *   ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, NOT_COORDINATOR), or made while the
 *   member is out of the group (kafkajs then returns without committing), fail
 *   with `KafkaError({ rebalance: true })`.
 * - Shutdown order (#751): interrupting `run` only pauses fetching, so the
 *   member stays in the group and the pipeline's final commit still works;
 *   leaving the group (`consumer.disconnect()`) is the finalizer of the
 *   consumer's scope.
 * - kafkajs's logs go to the Effect logger (below `logLevel` dropped); an
 *   OFFSET_OUT_OF_RANGE reset, which kafkajs does silently (#1119), is
 *   logged as an error whatever the level.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Exit, Fiber, FiberSet, Layer, Redacted, Semaphore } from "effect"
import type { LogLevel } from "effect"
import type {
  Admin,
  ConsumerConfig,
  EachBatchPayload,
  IHeaders,
  ISocketFactory,
  KafkaMessage,
  LogEntry,
  Message,
  Producer,
  SASLOptions
} from "kafkajs"
import { Kafka, logLevel as KafkaLogLevel, Partitioners } from "kafkajs"
import { Buffer } from "node:buffer"
import { KafkaError } from "../../domain/Errors.js"
import type { KafkaRecord, RecordHeader, TopicPartition, TopicPartitionOffset } from "../../domain/KafkaRecord.js"
import { partitionKey } from "../../domain/KafkaRecord.js"
import type {
  ConsumerHandlers,
  ConsumerOptions,
  KafkaConsumer,
  KafkaProducer,
  PartitionOffsets,
  ProducerMessage
} from "./KafkaClient.js"
import { KafkaClient } from "./KafkaClient.js"

export interface KafkaJsOptions {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  readonly ssl?: boolean
  readonly sasl?: {
    readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512"
    readonly username: string
    readonly password: Redacted.Redacted<string>
  }
  /** Timeout of a broker connection attempt (kafkajs default: 1000 ms). */
  readonly connectionTimeoutMs?: number
  /** kafkajs's own log entries below this level are dropped (default `"Warn"`). */
  readonly logLevel?: LogLevel.LogLevel
  /**
   * Opens the client's broker connections (kafkajs's `socketFactory`): through a proxy, say, or
   * with faults injected in tests. Default: kafkajs's own (TCP, or TLS with `ssl`).
   */
  readonly socketFactory?: ISocketFactory
}

/**
 * Provides `KafkaClient` backed by kafkajs. Building it does no I/O: each
 * consumer and producer connects when created (in its scope), the admin client
 * on first use; the admin client disconnects when the layer's scope closes.
 */
export const layer = (options: KafkaJsOptions): Layer.Layer<KafkaClient> => Layer.effect(KafkaClient, make(options))

// -----------------------------------------------------------------------------
// Conversions
// -----------------------------------------------------------------------------

/** Error types with which the coordinator says "this member's generation is over". */
const rebalanceErrorTypes: ReadonlySet<string> = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "NOT_COORDINATOR",
  "NOT_COORDINATOR_FOR_GROUP"
])

/** kafkajs wraps errors (retries exceeded, non-retriable): walks the `cause` chain. */
const causes = function*(error: unknown): Generator<unknown> {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    yield current
    current = (current as { readonly cause?: unknown }).cause
  }
}

const isRebalance = (error: unknown): boolean => {
  for (const cause of causes(error)) {
    const { message, type } = cause as { readonly type?: unknown; readonly message?: unknown }
    if (typeof type === "string" && rebalanceErrorTypes.has(type)) return true
    // kafkajs's commitOffsets between a crash and the restart, or after `stop()`
    if (typeof message === "string" && message.includes("Consumer group was not initialized")) return true
  }
  return false
}

/**
 * A crash kafkajs will not restart from, though it is what a broker going away or
 * restarting looks like during a join: no broker answered the lookup of the group's
 * coordinator (#1630; kafkajs drops each broker's own error, so a permanent one, such
 * as a group the client may not use, looks the same and fails once the restart budget
 * is spent). kafkajs calls it non-retriable and leaves the consumer stopped; it is
 * restarted here.
 */
const isCoordinatorNotFound = (error: unknown): boolean => {
  for (const cause of causes(error)) {
    if ((cause as { readonly name?: unknown }).name === "KafkaJSGroupCoordinatorNotFound") return true
  }
  return false
}

const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** A `KafkaError` for a failed kafkajs call, marked `rebalance` when the group has moved on. */
const kafkaError = (what: string) => (cause: unknown): KafkaError =>
  isRebalance(cause)
    ? new KafkaError({ message: `${what}: ${messageOf(cause)}`, rebalance: true, cause })
    : new KafkaError({ message: `${what}: ${messageOf(cause)}`, cause })

/**
 * The bytes of one batch's records, copied out of kafkajs's buffer into one
 * buffer of their own: kafkajs slices records out of the whole fetch response
 * (every partition's), and one retained slice would keep that response alive,
 * which the pipeline's byte-bounded queues could not see. One copy per batch,
 * not one allocation per key and value: an ArrayBuffer each costs more than
 * copying a 1 KiB value. A record kept past its batch keeps the batch's bytes
 * (at most `maxBytesPerPartition`) alive.
 */
class BatchBytes {
  readonly #bytes: Uint8Array
  #used = 0
  constructor(size: number) {
    this.#bytes = new Uint8Array(size)
  }
  static sizeOf(messages: ReadonlyArray<KafkaMessage>): number {
    let size = 0
    for (const message of messages) size += (message.key?.byteLength ?? 0) + (message.value?.byteLength ?? 0)
    return size
  }
  copy(source: Uint8Array): Uint8Array {
    const start = this.#used
    this.#bytes.set(source, start)
    this.#used += source.byteLength
    return this.#bytes.subarray(start, this.#used)
  }
}

const toBuffer = (data: Uint8Array | string): Buffer =>
  typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength)

/** Headers are rare and small: each value gets its own copy. */
const toHeaders = (headers: IHeaders | undefined): ReadonlyArray<RecordHeader> => {
  const result: Array<RecordHeader> = []
  for (const [key, value] of Object.entries(headers ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      result.push({ key, value: item === undefined || item === null ? null : new Uint8Array(toBuffer(item)) })
    }
  }
  return result
}

const toRecords = (topic: string, partition: number, messages: ReadonlyArray<KafkaMessage>): Array<KafkaRecord> => {
  const bytes = new BatchBytes(BatchBytes.sizeOf(messages))
  const records = new Array<KafkaRecord>(messages.length)
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!
    records[index] = {
      topic,
      partition,
      offset: Number(message.offset),
      timestamp: Number(message.timestamp),
      key: message.key === null || message.key === undefined ? null : bytes.copy(message.key),
      value: message.value === null ? null : bytes.copy(message.value),
      headers: toHeaders(message.headers)
    }
  }
  return records
}

/**
 * kafkajs cannot encode a null header value (it measures it with
 * `Buffer.byteLength(null)` and throws), so a null header is sent empty.
 */
const fromHeaders = (headers: ReadonlyArray<RecordHeader> | undefined): IHeaders => {
  const result: Record<string, Array<Buffer>> = {}
  for (const { key, value } of headers ?? []) {
    ;(result[key] ??= []).push(value === null ? Buffer.alloc(0) : toBuffer(value))
  }
  return result
}

const toMessage = (message: ProducerMessage): Message => ({
  key: message.key === null ? null : toBuffer(message.key),
  value: message.value === null ? null : toBuffer(message.value),
  headers: fromHeaders(message.headers),
  ...(message.partition === undefined ? {} : { partition: message.partition })
})

const byTopic = <A extends { readonly topic: string }>(items: ReadonlyArray<A>): Map<string, Array<A>> => {
  const result = new Map<string, Array<A>>()
  for (const item of items) {
    const group = result.get(item.topic)
    if (group === undefined) result.set(item.topic, [item])
    else group.push(item)
  }
  return result
}

const toAssignment = (memberAssignment: Record<string, ReadonlyArray<number>>): ReadonlyArray<TopicPartition> =>
  Object.entries(memberAssignment)
    .flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })))
    .sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition)

// -----------------------------------------------------------------------------
// Logging
// -----------------------------------------------------------------------------

const kafkaJsLevel = (level: LogLevel.LogLevel): KafkaLogLevel => {
  switch (level) {
    case "None":
      return KafkaLogLevel.NOTHING
    case "Fatal":
    case "Error":
      return KafkaLogLevel.ERROR
    case "Warn":
      return KafkaLogLevel.WARN
    case "Info":
      return KafkaLogLevel.INFO
    default:
      return KafkaLogLevel.DEBUG
  }
}

const severity = (level: KafkaLogLevel): LogLevel.Severity =>
  level <= KafkaLogLevel.ERROR ? "Error" : level === KafkaLogLevel.WARN ? "Warn" : level === KafkaLogLevel.INFO
  ? "Info"
  : "Debug"

/** Fields of kafkajs log entries that never reach the log. */
const hiddenFields: ReadonlySet<string> = new Set(["timestamp", "logger", "sasl", "password", "ssl"])

const logEntry = (entry: LogEntry, threshold: KafkaLogLevel): Effect.Effect<void> => {
  const { message } = entry.log
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(entry.log)) {
    if (key !== "message" && !hiddenFields.has(key)) fields[key] = value
  }
  if (message.startsWith("Offset out of range, resetting")) {
    return Effect.logError(
      "Kafka OFFSET_OUT_OF_RANGE: the consumer's position no longer exists on the broker (retention or " +
        "truncation); kafkajs resets it to the earliest or latest offset, so records are skipped or read again",
      fields
    )
  }
  // kafkajs logs every error response at ERROR, also those it handles itself (a
  // rebalance, a missing topic it retries on); what matters reaches the caller as a
  // KafkaError, a crash or a warning, so these are debug.
  const level = entry.namespace === "Connection" && message.startsWith("Response ") ? KafkaLogLevel.DEBUG : entry.level
  if (level > threshold) return Effect.void
  return Effect.logWithLevel(severity(level))(message, fields).pipe(
    Effect.annotateLogs({ kafkajs: entry.namespace })
  )
}

const disconnect = (what: string, close: () => Promise<void>): Effect.Effect<void> =>
  Effect.tryPromise({ try: close, catch: kafkaError(`Disconnecting the ${what}`) }).pipe(
    Effect.catch((error) => Effect.logWarning(error.message))
  )

// -----------------------------------------------------------------------------
// The client
// -----------------------------------------------------------------------------

/** One `run` of a consumer: its handlers, the fibers it started and how `GROUP_JOIN` reaches it. */
interface Running {
  readonly handlers: ConsumerHandlers
  readonly fork: <A, E extends KafkaError>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  /** The latest `onAssignment`; batches wait for it. */
  announcing: Fiber.Fiber<void> | undefined
  /** The batch being handed to `onBatch`. */
  delivery: Fiber.Fiber<Delivery> | undefined
}

type Delivery =
  | { readonly _tag: "Taken" }
  | { readonly _tag: "Abandoned" }
  | { readonly _tag: "HeartbeatFailed"; readonly error: KafkaError }

/** How long a fetch waits for records when there are none. */
const maxFetchWaitMs = 1_000

/** The pause before restarting after a crash kafkajs does not restart from (kafkajs's own: 300 ms). */
const restartDelayMs = 300

const taken: Delivery = { _tag: "Taken" }
const abandoned: Delivery = { _tag: "Abandoned" }

const exitOf = <A, E>(fiber: Fiber.Fiber<A, E>): Promise<Exit.Exit<A, E>> =>
  new Promise((resolve) => fiber.addObserver(resolve))

const make = Effect.fnUntraced(function*(options: KafkaJsOptions) {
  const runSync = Effect.runSyncWith(yield* Effect.context<never>())
  const threshold = kafkaJsLevel(options.logLevel ?? "Warn")
  const sasl: SASLOptions | undefined = options.sasl === undefined ? undefined : {
    mechanism: options.sasl.mechanism,
    username: options.sasl.username,
    password: Redacted.value(options.sasl.password)
  }
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ssl: options.ssl ?? false,
    ...(sasl === undefined ? {} : { sasl }),
    ...(options.connectionTimeoutMs === undefined ? {} : { connectionTimeout: options.connectionTimeoutMs }),
    ...(options.socketFactory === undefined ? {} : { socketFactory: options.socketFactory }),
    // At least ERROR, so that an OFFSET_OUT_OF_RANGE reset is always seen.
    logLevel: Math.max(threshold, KafkaLogLevel.ERROR),
    logCreator: () => (entry) => runSync(logEntry(entry, threshold))
  })

  const admin = yield* Effect.acquireRelease(
    Effect.sync(() => kafka.admin()),
    (admin) => disconnect("admin client", () => admin.disconnect())
  )
  // `connect` returns at once when a broker connection is up.
  const useAdmin = <A>(what: string, f: (admin: Admin) => Promise<A>): Effect.Effect<A, KafkaError> =>
    Effect.tryPromise({
      try: async () => {
        await admin.connect()
        return await f(admin)
      },
      catch: kafkaError(what)
    })

  const consumer = Effect.fn("KafkaJs.consumer")(function*(options: ConsumerOptions) {
    const { groupId, heartbeatIntervalMs, restartBudgetMs, topics } = options
    const context = yield* Effect.context<never>()
    const runSyncHere = Effect.runSyncWith(context)
    const log = (effect: Effect.Effect<void>) => runSyncHere(Effect.annotateLogs(effect, { groupId }))

    let running: Running | undefined = undefined
    /** kafkajs's `run` was called and kafkajs has not given up (or a restart of ours is pending). */
    let started = false
    /** The consumer's scope has closed: it left the group for good. */
    let closed = false
    let assignment: ReadonlyArray<TopicPartition> = []
    const paused = new Map<string, TopicPartition>()
    /** When the current streak of crashes began (reset by a successful fetch), and its length at the last crash. */
    let crashingSince: number | undefined = undefined
    let crashingFor = 0
    /** A heartbeat said the generation is over: nothing more is handed over until the next join. */
    let rejoining = false
    /** Successful offset commits, counted to detect the ones kafkajs skips silently. */
    let commitCount = 0
    /** In the group since the last join (a crash or a rebalance ends it), and when the broker last answered. */
    let joined = false
    let lastContact = 0
    const contact = () => {
      lastContact = runSyncHere(Clock.currentTimeMillis)
    }

    /** Whether a crash is restarted: while the current streak of crashes has lasted less than `restartBudgetMs`. */
    const restartWithinBudget = (error: Error): boolean =>
      runSyncHere(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        crashingSince ??= now
        crashingFor = now - crashingSince
        if (crashingFor >= restartBudgetMs) return false
        yield* Effect.logError(
          `Kafka consumer crashed; restarting it (crashing for ${crashingFor} of ${restartBudgetMs} ms)`,
          error
        ).pipe(Effect.annotateLogs({ groupId }))
        return true
      }))

    /** kafkajs asks after each retriable crash (having left the group): restart, or give up (the CRASH event fails `run`)? */
    const restartOnFailure = (error: Error): Promise<boolean> => Promise.resolve(restartWithinBudget(error))

    const config: ConsumerConfig = {
      groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      maxBytesPerPartition: options.maxBytesPerPartition,
      // A fetch waits at most this long for records (kafkajs default 5 s): leaving the group
      // waits for the fetch in flight, so this bounds the shutdown delay.
      maxWaitTimeInMs: maxFetchWaitMs,
      retry: { restartOnFailure }
    }
    const client = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = kafka.consumer(config)
          try {
            await client.connect()
            await client.subscribe({ topics: [...topics], fromBeginning: options.fromBeginning })
            return client
          } catch (error) {
            await client.disconnect().catch(() => undefined)
            throw error
          }
        },
        catch: kafkaError(`Connecting the consumer of group ${groupId}`)
      }),
      // Leaves the group: after the pipeline's final commit, which happens before its scope closes.
      (client) =>
        Effect.suspend(() => {
          closed = true
          return disconnect(`consumer of group ${groupId}`, () => client.disconnect())
        })
    )

    /** Pauses the given partitions in kafkajs; they are paused again after each join (a restart forgets them). */
    const applyPauses = (partitions: ReadonlyArray<TopicPartition>, all: boolean) => {
      try {
        if (all) client.pause(topics.map((topic) => ({ topic })))
        for (const [topic, items] of byTopic(partitions)) {
          client.pause([{ topic, partitions: items.map((item) => item.partition) }])
        }
      } catch {
        // No consumer group yet (before `run`, or restarting): applied on the next join.
      }
    }

    /** Announces an assignment: after the previous announcement and the batch in flight, before the next batch. */
    const announce = (current: Running, assignment: ReadonlyArray<TopicPartition>) => {
      const previous = current.announcing
      const delivery = current.delivery
      current.announcing = current.fork(Effect.gen(function*() {
        if (previous !== undefined) yield* Fiber.await(previous)
        if (delivery !== undefined) yield* Fiber.interrupt(delivery)
        yield* current.handlers.onAssignment(assignment)
      }))
    }

    const removeListeners = [
      client.on(client.events.GROUP_JOIN, ({ payload }) => {
        assignment = toAssignment(payload.memberAssignment)
        rejoining = false
        joined = true
        contact()
        applyPauses([...paused.values()], running === undefined)
        log(Effect.logInfo("Kafka consumer joined its group", {
          assignment: assignment.map((tp) => partitionKey(tp.topic, tp.partition))
        }))
        if (running !== undefined) announce(running, assignment)
      }),
      client.on(client.events.FETCH, () => {
        crashingSince = undefined
        crashingFor = 0
        contact()
      }),
      client.on(client.events.COMMIT_OFFSETS, () => {
        commitCount++
        contact()
      }),
      client.on(client.events.HEARTBEAT, contact),
      client.on(client.events.REBALANCING, () => {
        joined = false
      }),
      client.on(client.events.CRASH, ({ payload }) => {
        joined = false
        if (payload.restart) return
        const current = running
        if (
          current !== undefined && !closed && isCoordinatorNotFound(payload.error) && restartWithinBudget(payload.error)
        ) {
          // kafkajs has already stopped and disconnected, as before its own restarts.
          current.fork(restart(current))
          return
        }
        started = false
        const reason = crashingFor >= restartBudgetMs
          ? `kept crashing for ${crashingFor} ms, over its restart budget of ${restartBudgetMs} ms; last crash`
          : "crashed on an error kafkajs does not restart from"
        const error = new KafkaError({
          message: `Kafka consumer of group ${groupId} ${reason}: ${messageOf(payload.error)}`,
          cause: payload.error
        })
        log(Effect.logError(error.message, payload.error))
        running?.fork(Effect.fail(error))
      })
    ]
    yield* Effect.addFinalizer(() => Effect.sync(() => removeListeners.forEach((remove) => remove())))

    /**
     * Waits for a batch's `onBatch` fiber that has suspended (backpressure), heartbeating; stops
     * early when kafkajs moves on. However this ends, the batch's fiber is interrupted if still
     * running (a rejoin interrupts this wait).
     */
    const awaitHandOver = (payload: EachBatchPayload, handing: Fiber.Fiber<void>) => {
      const keepAlive = Effect.gen(function*() {
        while (true) {
          yield* Effect.sleep(heartbeatIntervalMs)
          if (!payload.isRunning() || payload.isStale()) return abandoned
          const heartbeat = yield* Effect.result(Effect.tryPromise({
            try: () => payload.heartbeat(),
            catch: kafkaError(`Heartbeat of group ${groupId} while a batch waits`)
          }))
          if (heartbeat._tag === "Failure") {
            yield* Effect.logWarning(`${heartbeat.failure.message}; the batch will be fetched again`)
            return { _tag: "HeartbeatFailed", error: heartbeat.failure } satisfies Delivery
          }
        }
      })
      return Fiber.join(handing).pipe(
        Effect.as(taken),
        Effect.raceFirst(keepAlive),
        Effect.onExit(() => Fiber.interrupt(handing)),
        Effect.annotateLogs({ groupId })
      )
    }

    const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
      const { batch } = payload
      const current = running
      if (
        current === undefined || rejoining || batch.messages.length === 0 ||
        paused.has(partitionKey(batch.topic, batch.partition))
      ) {
        return
      }
      // Each join's `onAssignment` comes before the batches fetched after it.
      for (let announcing = current.announcing; announcing !== undefined && announcing.pollUnsafe() === undefined;) {
        await exitOf(announcing)
        announcing = current.announcing
      }
      if (running !== current || rejoining || !payload.isRunning() || payload.isStale()) return
      const records = toRecords(batch.topic, batch.partition, batch.messages)
      // A fork runs at once: when the queue has room, `onBatch` is done before `fork` returns, with
      // no fiber to wait for, no timer and no trip through the event loop (that is most batches).
      const handing = current.fork(Effect.annotateLogs(current.handlers.onBatch(records), { groupId }))
      const done = handing.pollUnsafe()
      let outcome: Delivery
      if (done !== undefined) {
        // Interrupted, or a defect (which fails the run): not taken.
        if (!Exit.isSuccess(done)) return
        outcome = taken
      } else {
        const delivery = current.fork(awaitHandOver(payload, handing))
        current.delivery = delivery
        const exit = await exitOf(delivery)
        current.delivery = undefined
        // Interrupted (the run stopped, or a rejoin), or the hand-over failed: not taken.
        if (!Exit.isSuccess(exit)) return
        outcome = exit.value
      }
      if (outcome._tag === "HeartbeatFailed") {
        // kafkajs rejoins on a rebalance error; the other batches of this fetch belong to the old generation.
        rejoining = outcome.error.rebalance === true
        throw outcome.error.cause
      }
      if (outcome._tag === "Taken") payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset)
    }

    const runOptions = { autoCommit: false, eachBatchAutoResolve: false, eachBatch }

    /** Starts kafkajs again after a crash it does not restart from, as it restarts after the others. */
    const restart = (current: Running) => {
      // Not restarted: the next `run` has to start kafkajs.
      const notRestarted = Effect.sync(() => {
        started = false
      })
      return Effect.sleep(restartDelayMs).pipe(
        Effect.onInterrupt(() => notRestarted),
        Effect.andThen(Effect.suspend(() =>
          // The consumer closed meanwhile (its run not interrupted yet): a restart would rejoin for nobody.
          closed || running !== current ? notRestarted : Effect.tryPromise({
            try: () => client.run(runOptions),
            catch: kafkaError(`Restarting the consumer of group ${groupId}`)
          }).pipe(Effect.tapError(() => notRestarted))
        ))
      )
    }

    const run = Effect.fn("KafkaJs.run")(function*(handlers: ConsumerHandlers) {
      if (closed || running !== undefined) {
        return yield* new KafkaError({
          message: `Kafka consumer of group ${groupId} is ${closed ? "closed" : "already running"}`
        })
      }
      const fibers = yield* FiberSet.make<unknown, KafkaError>()
      const current: Running = {
        handlers,
        fork: yield* FiberSet.runtime(fibers)<never>(),
        announcing: undefined,
        delivery: undefined
      }
      running = current
      // Stop fetching, but stay in the group: commits must keep working until the scope closes.
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          running = undefined
          applyPauses([], true)
        })
      )
      if (started) {
        // Run again after an interruption: resume, keeping the partitions paused by `pause`.
        try {
          client.resume(topics.map((topic) => ({ topic })))
        } catch {
          // restarting: the join re-applies the pauses
        }
        applyPauses([...paused.values()], false)
        announce(current, assignment)
      } else {
        // Set first: a crash during the first join (inside `client.run`) clears it.
        started = true
        yield* Effect.tryPromise({
          try: () => client.run(runOptions),
          catch: kafkaError(`Starting the consumer of group ${groupId}`)
        }).pipe(Effect.tapError(() => Effect.sync(() => { started = false })))
      }
      // Ends only with a failure: a crash kafkajs gives up on, or a defect in a handler.
      yield* FiberSet.join(fibers)
      return yield* Effect.never
    }, Effect.scoped)

    // One commit at a time, so that the COMMIT_OFFSETS count belongs to this call.
    const commitLock = yield* Semaphore.make(1)
    const commit = Effect.fn("KafkaJs.commit")(function*(offsets: ReadonlyArray<TopicPartitionOffset>) {
      if (offsets.length === 0) return
      yield* commitLock.withPermits(1)(Effect.tryPromise({
        try: async () => {
          const before = commitCount
          await client.commitOffsets(
            offsets.map(({ offset, partition, topic }) => ({ topic, partition, offset: String(offset) }))
          )
          if (commitCount === before) {
            throw new Error("Consumer group was not initialized: kafkajs skipped the commit (not in the group)")
          }
        },
        catch: kafkaError(`Committing offsets of group ${groupId}`)
      }))
    })

    const pause = (partitions: ReadonlyArray<TopicPartition>) =>
      Effect.sync(() => {
        for (const tp of partitions) paused.set(partitionKey(tp.topic, tp.partition), tp)
        applyPauses(partitions, false)
      })

    const isInGroup = Clock.currentTimeMillis.pipe(
      Effect.map((now) => joined && started && !closed && now - lastContact < options.sessionTimeoutMs)
    )

    const consumer: KafkaConsumer = { run, commit, pause, isInGroup }
    return consumer
  })

  const producer = Effect.gen(function*() {
    const producer = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          // Not idempotent: kafkajs's idempotent producer retries forever, so a
          // dead broker would hang `send` instead of failing it.
          const producer: Producer = kafka.producer({
            maxInFlightRequests: 1,
            // kafkajs 2's default (murmur2, as the Java client), named to silence its warning
            createPartitioner: Partitioners.DefaultPartitioner
          })
          try {
            await producer.connect()
            return producer
          } catch (error) {
            await producer.disconnect().catch(() => undefined)
            throw error
          }
        },
        catch: kafkaError("Connecting the producer")
      }),
      (producer) => disconnect("producer", () => producer.disconnect())
    )
    const send = Effect.fn("KafkaJs.send")(function*(messages: ReadonlyArray<ProducerMessage>) {
      if (messages.length === 0) return
      const topicMessages = [...byTopic(messages)].map(([topic, items]) => ({ topic, messages: items.map(toMessage) }))
      yield* Effect.tryPromise({
        try: () => producer.sendBatch({ acks: -1, topicMessages }),
        catch: kafkaError(`Producing ${messages.length} records`)
      })
    })
    const kafkaProducer: KafkaProducer = { send }
    return kafkaProducer
  })

  return KafkaClient.of({
    consumer,
    producer,
    createTopic: (topic, partitions) =>
      useAdmin(
        `Creating topic ${topic}`,
        async (admin) =>
          // `createTopics` resolves `false` when the topic exists (created meanwhile).
          (await admin.listTopics()).includes(topic) ||
          admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
      ).pipe(Effect.asVoid, Effect.withSpan("KafkaJs.createTopic")),
    topicOffsets: (topic) =>
      useAdmin(`Reading the offsets of topic ${topic}`, (admin) => admin.fetchTopicOffsets(topic)).pipe(
        Effect.map((partitions) =>
          partitions
            .map(({ high, low, partition }): PartitionOffsets => ({ partition, high: Number(high), low: Number(low) }))
            .sort((a, b) => a.partition - b.partition)
        ),
        Effect.withSpan("KafkaJs.topicOffsets")
      ),
    committedOffsets: (groupId, topic) =>
      useAdmin(
        `Reading the committed offsets of group ${groupId}`,
        (admin) => admin.fetchOffsets({ groupId, topics: [topic] })
      ).pipe(
        Effect.map((topics) =>
          topics
            .flatMap(({ partitions, topic }) =>
              partitions.map(({ offset, partition }) => ({ topic, partition, offset: Number(offset) }))
            )
            .filter(({ offset }) => offset >= 0)
            .sort((a, b) => a.partition - b.partition)
        ),
        Effect.withSpan("KafkaJs.committedOffsets")
      )
  })
})

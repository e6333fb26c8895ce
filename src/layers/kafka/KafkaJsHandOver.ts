/**
 * Handing kafkajs's batches to a `run` of the consumer (#1211: `eachBatch`
 * blocks fetching while it runs).
 *
 * `eachBatch` runs `onBatch` in the run's fibers and resolves the batch's last
 * offset only when `onBatch` has returned. While `onBatch` suspends
 * (backpressure), it heartbeats every `heartbeatIntervalMs`, so a slow pipeline
 * keeps its membership; a failing heartbeat (a rebalance) abandons the batch
 * (`onBatch` is interrupted) and hands the error back to kafkajs, which rejoins
 * and fetches it again; until the rejoin, no other batch is handed over.
 * Every join's `onAssignment` comes after the batch in flight (interrupted)
 * and before the next batch.
 */
import { Effect, Exit, Fiber } from "effect"
import type { EachBatchPayload } from "kafkajs"
import type { ConsumerEvent, ConsumerLifecycle } from "../../domain/ConsumerLifecycle.js"
import * as Lifecycle from "../../domain/ConsumerLifecycle.js"
import type { KafkaError } from "../../domain/Errors.js"
import type { TopicPartition } from "../../domain/KafkaRecord.js"
import type { ConsumerHandlers } from "./KafkaClient.js"
import { toRecords } from "./KafkaJsCodec.js"
import { kafkaError } from "./KafkaJsErrors.js"

/** One `run` of a consumer: its handlers, the fibers it started and how a join reaches it. */
export interface Running {
  readonly handlers: ConsumerHandlers
  readonly fork: <A, E extends KafkaError>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  /** The latest `onAssignment`; batches wait for it. */
  announcing: Fiber.Fiber<void> | undefined
  /** The batch being handed to `onBatch`. */
  delivery: Fiber.Fiber<Delivery> | undefined
}

/** The consumer's one state, and the only way to change it. */
export interface LifecycleCell {
  readonly get: () => ConsumerLifecycle<Running>
  readonly dispatch: (event: ConsumerEvent<Running>) => ConsumerLifecycle<Running>
}

export interface HandOverOptions {
  readonly groupId: string
  readonly heartbeatIntervalMs: number
}

type Delivery =
  | { readonly _tag: "Taken" }
  | { readonly _tag: "Abandoned" }
  | { readonly _tag: "HeartbeatFailed"; readonly error: KafkaError }

const taken: Delivery = { _tag: "Taken" }
const abandoned: Delivery = { _tag: "Abandoned" }

const exitOf = <A, E>(fiber: Fiber.Fiber<A, E>): Promise<Exit.Exit<A, E>> =>
  new Promise((resolve) => fiber.addObserver(resolve))

/** Announces an assignment: after the previous announcement and the batch in flight, before the next batch. */
export const announce = (run: Running, assignment: ReadonlyArray<TopicPartition>): void => {
  const previous = run.announcing
  const delivery = run.delivery
  run.announcing = run.fork(Effect.gen(function*() {
    if (previous !== undefined) yield* Fiber.await(previous)
    if (delivery !== undefined) yield* Fiber.interrupt(delivery)
    yield* run.handlers.onAssignment(assignment)
  }))
}

/**
 * Waits for a batch's `onBatch` fiber that has suspended (backpressure), heartbeating; stops
 * early when kafkajs moves on. However this ends, the batch's fiber is interrupted if still
 * running (a rejoin interrupts this wait).
 */
const awaitHandOver = (
  payload: EachBatchPayload,
  handing: Fiber.Fiber<void>,
  { groupId, heartbeatIntervalMs }: HandOverOptions
): Effect.Effect<Delivery> => {
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

/** Hands the records of `payload` to `run` and tells how it went: taken, abandoned, or a heartbeat failed. */
const deliver = async (run: Running, payload: EachBatchPayload, options: HandOverOptions): Promise<Delivery> => {
  const { batch } = payload
  const records = toRecords(batch.topic, batch.partition, batch.messages)
  // A fork runs at once: when the queue has room, `onBatch` is done before `fork` returns, with
  // no fiber to wait for, no timer and no trip through the event loop (that is most batches).
  const handing = run.fork(Effect.annotateLogs(run.handlers.onBatch(records), { groupId: options.groupId }))
  const done = handing.pollUnsafe()
  // Interrupted, or a defect (which fails the run): not taken.
  if (done !== undefined) return Exit.isSuccess(done) ? taken : abandoned
  const delivery = run.fork(awaitHandOver(payload, handing, options))
  run.delivery = delivery
  const exit = await exitOf(delivery)
  run.delivery = undefined
  // Interrupted (the run stopped, or a rejoin), or the hand-over failed: not taken.
  return Exit.isSuccess(exit) ? exit.value : abandoned
}

/** kafkajs's `eachBatch` for the consumer whose state `cell` holds. */
export const eachBatch = (cell: LifecycleCell, options: HandOverOptions) =>
async (payload: EachBatchPayload): Promise<void> => {
  const { batch } = payload
  const run = cell.get().run
  if (run === undefined || batch.messages.length === 0) return
  // Asked again after every wait: a rejoin, a pause or the run's end may have come meanwhile.
  const mayHandOver = () => Lifecycle.mayHandOver(cell.get(), run, batch.topic, batch.partition)
  if (!mayHandOver()) return
  // Each join's `onAssignment` comes before the batches fetched after it.
  for (let announcing = run.announcing; announcing !== undefined && announcing.pollUnsafe() === undefined;) {
    await exitOf(announcing)
    announcing = run.announcing
  }
  if (!mayHandOver() || !payload.isRunning() || payload.isStale()) return
  const outcome = await deliver(run, payload, options)
  if (outcome._tag === "HeartbeatFailed") {
    // kafkajs rejoins on a rebalance error; the other batches of this fetch belong to the old generation.
    if (outcome.error.rebalance === true) cell.dispatch(Lifecycle.ConsumerEvent.Rebalancing())
    throw outcome.error.cause
  }
  if (outcome._tag === "Taken") payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset)
}

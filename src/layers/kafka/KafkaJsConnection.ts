/**
 * kafkajs clients (consumers, producers, the admin client) connected in a
 * scope and disconnected when it closes; a disconnect that fails is a warning,
 * not an error of whatever is shutting down. Brokers that cannot be reached
 * are tried again for as long as the restart budget allows, as a crash is.
 */
import { Clock, Effect } from "effect"
import { KafkaError } from "../../domain/Errors.js"
import { isConnectionFailure, kafkaError, messageOf } from "./KafkaJsErrors.js"

export const disconnect = (what: string, close: () => Promise<void>): Effect.Effect<void> =>
  Effect.tryPromise({ try: close, catch: kafkaError(`Disconnecting the ${what}`) }).pipe(
    Effect.catch((error) => Effect.logWarning(error.message))
  )

/** A kafkajs client connected in the scope and disconnected when it closes (also when connecting fails halfway). */
export const connected = <Client extends { readonly disconnect: () => Promise<void> }>(
  what: string,
  create: () => Client,
  connect: (client: Client) => Promise<void>
) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const client = create()
        try {
          await connect(client)
          return client
        } catch (error) {
          await client.disconnect().catch(() => undefined)
          throw error
        }
      },
      catch: kafkaError(`Connecting the ${what}`)
    }),
    (client) => disconnect(what, () => client.disconnect())
  )

/** Who connects where, and for how long the brokers may stay out of reach. */
export interface Reach {
  /** For the messages: `consumer of group orders`. */
  readonly what: string
  readonly brokers: ReadonlyArray<string>
  /** The restart budget: past it, a broker still out of reach fails the connect. */
  readonly budgetMs: number
}

/** Between two attempts; each is kafkajs's own connect with its retries (about 8 s against a closed port). */
export const reconnectDelayMs = 1_000

/**
 * `attempt` (a connect) again while it fails because no broker can be reached, until it has
 * failed for `budgetMs`: the budget a crashing consumer gets, so that Kafka out of reach at the
 * start fails the run when it would have mid-run. Said once when it starts failing (a warning),
 * once when it gives up (the failure); kafkajs's own retries are debug lines. Any other failure
 * (a broker's answer: a missing topic, an authentication) fails at once.
 */
export const whileUnreachable = (reach: Reach) => <A, R>(attempt: Effect.Effect<A, KafkaError, R>) =>
  Effect.gen(function*() {
    const since = yield* Clock.currentTimeMillis
    for (let attempts = 1;; attempts++) {
      const result = yield* Effect.result(attempt)
      if (result._tag === "Success") {
        if (attempts > 1) yield* Effect.logInfo(`Kafka ${reach.what} reached the brokers ${reach.brokers.join(",")}`)
        return result.success
      }
      const error = result.failure
      if (!isConnectionFailure(error.cause)) return yield* error
      const failingFor = (yield* Clock.currentTimeMillis) - since
      const cannotReach = `Kafka ${reach.what} cannot reach the brokers ${reach.brokers.join(",")}: ${messageOf(error.cause)}`
      if (failingFor >= reach.budgetMs) {
        return yield* new KafkaError({
          message: `${cannotReach}; gave up after ${failingFor} ms, past the restart budget of ${reach.budgetMs} ms (restartBudgetMs)`,
          cause: error.cause
        })
      }
      if (attempts === 1) {
        yield* Effect.logWarning(`${cannotReach}; trying again for up to ${reach.budgetMs} ms (restartBudgetMs)`)
      }
      yield* Effect.sleep(reconnectDelayMs)
    }
  })

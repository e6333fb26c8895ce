/**
 * kafkajs clients (consumers, producers, the admin client) connected in a
 * scope and disconnected when it closes; a disconnect that fails is a warning,
 * not an error of whatever is shutting down.
 */
import { Effect } from "effect"
import { kafkaError } from "./KafkaJsErrors.js"

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

// Run as `node --import tsx test/support/loaded-modules.mts CLIENT`: builds ChosenClient's layer for
// CLIENT (no broker needed: building does not connect) and prints whether @platformatic/kafka
// was loaded.
import { registerHooks } from "node:module"
import { Effect, Layer } from "effect"

let platformaticLoaded = false
registerHooks({
  resolve: (specifier, context, nextResolve) => {
    if (specifier === "@platformatic/kafka") platformaticLoaded = true
    return nextResolve(specifier, context)
  }
})

const ChosenClient = await import("../../src/layers/kafka/ChosenClient.js")
const client = process.argv[2] as "kafkajs" | "platformatic"
await Effect.runPromise(
  Layer.build(ChosenClient.layer({ brokers: ["127.0.0.1:1"], ssl: false, sasl: undefined, client }, "loaded-modules")).pipe(Effect.scoped)
)
console.log(JSON.stringify({ platformaticLoaded }))

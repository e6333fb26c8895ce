/**
 * The `KafkaClient` Layer of the client a configuration names (`client`: kafkajs or
 * platformatic), built from its connection settings: what `kafka-pipeline run` provides, and
 * what the benchmark's pipeline variants run on. The platformatic client is loaded only when it
 * is chosen: loading @platformatic/kafka costs a process about 20 MB that a kafkajs run would
 * carry for nothing.
 */
import { Effect, Layer } from "effect"
import type { PipelineConfig } from "../../domain/PipelineConfig.js"
import type { KafkaClient } from "./KafkaClient.js"
import * as KafkaJs from "./KafkaJs.js"

export const layer = (
  settings: Pick<PipelineConfig, "brokers" | "ssl" | "sasl" | "client">,
  clientId: string
): Layer.Layer<KafkaClient> => {
  const options = {
    brokers: settings.brokers,
    clientId,
    ssl: settings.ssl,
    ...(settings.sasl === undefined ? {} : { sasl: settings.sasl })
  }
  return settings.client === "platformatic"
    ? Layer.unwrap(
      Effect.tryPromise({
        try: () => import("./Platformatic.js"),
        catch: (cause) => new Error(`Loading the platformatic client (@platformatic/kafka): ${String(cause)}`, { cause })
      }).pipe(Effect.map((Platformatic) => Platformatic.layer(options)), Effect.orDie)
    )
    : KafkaJs.layer(options)
}

/**
 * The `KafkaClient` Layer of the client a configuration names (`client`: kafkajs or
 * platformatic), built from its connection settings: what `kafka-pipeline run` provides, and
 * what the benchmark's pipeline variants run on.
 */
import type { Layer } from "effect"
import type { PipelineConfig } from "../../domain/PipelineConfig.js"
import type { KafkaClient } from "./KafkaClient.js"
import * as KafkaJs from "./KafkaJs.js"
import * as Platformatic from "./Platformatic.js"

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
  return settings.client === "platformatic" ? Platformatic.layer(options) : KafkaJs.layer(options)
}

import { Context, Layer } from "effect"
import type { PipelineConfig } from "../../domain/PipelineConfig.js"

/** The validated configuration the pipeline runs with. */
export class PipelineSettings extends Context.Service<PipelineSettings, PipelineConfig>()(
  "effect-kafka-pipeline/PipelineSettings"
) {
  static readonly layer = (config: PipelineConfig): Layer.Layer<PipelineSettings> => Layer.succeed(PipelineSettings, config)
}

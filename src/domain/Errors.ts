import { Schema } from "effect"
import { archiveFailureMessage } from "./ArchiveFailure.js"

/** A call to Kafka failed. `rebalance` marks commit/heartbeat rejections that mean "not ours any more", never fatal. */
export class KafkaError extends Schema.TaggedError<KafkaError>()("KafkaError", {
  message: Schema.String,
  rebalance: Schema.optionalKey(Schema.Boolean),
  cause: Schema.optionalKey(Schema.Defect())
}) {}

/** Writing, flushing or rotating an archive file failed: the pipeline stops gracefully. Its message says what the operator can do. */
export class ArchiveError extends Schema.TaggedError<ArchiveError>()("ArchiveError", {
  archive: Schema.Literals(["backup", "dlq"]),
  path: Schema.String,
  operation: Schema.Literals(["open", "write", "rotate", "close"]),
  cause: Schema.Defect()
}) {
  override get message(): string {
    return archiveFailureMessage(this)
  }
}

/** The configuration is invalid; `issues` name each field, the value given and what was expected. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Invalid configuration:\n${this.issues.map((issue) => `  - ${issue}`).join("\n")}`
  }
}

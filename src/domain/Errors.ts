import { Schema } from "effect"

/** A call to Kafka failed. `rebalance` marks commit/heartbeat rejections that mean "not ours any more", never fatal. */
export class KafkaError extends Schema.TaggedError<KafkaError>()("KafkaError", {
  message: Schema.String,
  rebalance: Schema.optionalKey(Schema.Boolean),
  cause: Schema.optionalKey(Schema.Defect())
}) {}

/** Writing, flushing or rotating an archive file failed: the pipeline stops gracefully. */
export class ArchiveError extends Schema.TaggedError<ArchiveError>()("ArchiveError", {
  archive: Schema.Literals(["backup", "dlq"]),
  path: Schema.String,
  operation: Schema.Literals(["open", "write", "rotate", "close"]),
  cause: Schema.Defect()
}) {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.archive} archive: ${this.operation} of ${this.path} failed: ${cause}`
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

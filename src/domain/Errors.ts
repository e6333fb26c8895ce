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
  operation: Schema.Literals(["open", "write", "close"]),
  cause: Schema.Defect()
}) {
  override get message(): string {
    return archiveFailureMessage(this)
  }
}

/** More records went to the DLQ than the DLQ budget allows (`dlqMaxRatio`, `dlqMaxConsecutive`): the pipeline stops gracefully. */
export class DlqBudgetExceeded extends Schema.TaggedError<DlqBudgetExceeded>()("DlqBudgetExceeded", {
  reason: Schema.String
}) {
  override get message(): string {
    return `the DLQ budget is spent: ${this.reason}; stopping (what was handled is committed, the rest is read again by the next run)`
  }
}

/** What stops a run before its end: Kafka unreachable past the restart budget, an archive that cannot be written, the DLQ budget spent. */
export type PipelineError = KafkaError | ArchiveError | DlqBudgetExceeded

/** The configuration is invalid; `issues` name each field, the value given and what was expected. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Invalid configuration:\n${this.issues.map((issue) => `  - ${issue}`).join("\n")}`
  }
}

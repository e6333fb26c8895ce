/**
 * effect-kafka-pipeline: the public API.
 */
export * as Pipeline from "./streams/Pipeline.js"
export type { PipelineSummary, RunOptions, StopReason } from "./streams/Pipeline.js"
export { RunState } from "./layers/RunState.js"
export type { RunSnapshot } from "./layers/RunState.js"
export type { RunPhase } from "./domain/RunPhase.js"
export type { Ordering } from "./domain/KeyScheduler.js"
export * as KafkaJs from "./layers/kafka/KafkaJs.js"
export * as Platformatic from "./layers/kafka/Platformatic.js"
export { MemoryKafka } from "./layers/kafka/MemoryKafka.js"
export { groupLag, KafkaClient } from "./layers/kafka/KafkaClient.js"
export type {
  ConsumerHandlers,
  ConsumerOptions,
  KafkaConsumer,
  KafkaProducer,
  PartitionLag,
  ProducerMessage
} from "./layers/kafka/KafkaClient.js"
export { Observability, PipelineMetrics, terminalProgress } from "./layers/Observability.js"
export type { ObservabilityOptions, ObservabilityService, ProgressOutput, RunProbe } from "./layers/Observability.js"
export { PipelineSettings } from "./layers/config/PipelineSettings.js"
export { cliDefaults, configOptions } from "./domain/ConfigOptions.js"
export { loadConfig } from "./layers/config/ConfigLoader.js"
export { decodePipelineConfig, makePipelineConfig, PipelineConfig } from "./domain/PipelineConfig.js"
export type { PipelineConfigInput } from "./domain/PipelineConfig.js"
export type { Processor, ProcessorInput } from "./domain/Processor.js"
export type { KafkaRecord, RecordHeader, TopicPartition, TopicPartitionOffset } from "./domain/KafkaRecord.js"
export { ArchiveError, ConfigError, DlqBudgetExceeded, KafkaError } from "./domain/Errors.js"
export type { PipelineError } from "./domain/Errors.js"
export {
  BadRecord,
  DownstreamUnavailable,
  InvalidUtf8,
  MessageTooLarge,
  NonRetryable,
  NullValue,
  ProcessingTimeout
} from "./domain/Failure.js"
export type { BreakerState } from "./domain/CircuitBreaker.js"
export { OffsetLedger } from "./domain/OffsetLedger.js"
export * as Logging from "./layers/Logging.js"
export * as Replay from "./streams/Replay.js"
export type { PlannedRecord, PlanOptions, ReplayOptions, ReplayStopReason, ReplaySummary } from "./streams/Replay.js"
export type { ReplayFilter, ResumePoint, TimeColumn } from "./domain/ReplayFilter.js"
export type { ArchivedRecord, ReplayMessage } from "./domain/ReplayRow.js"
export { MalformedArchive, ReplayIncomplete, ReplayTargetError } from "./domain/ReplayErrors.js"
export type { ReplayError } from "./domain/ReplayErrors.js"
export * as ArchiveVerify from "./streams/ArchiveVerify.js"
export type {
  ArchiveFileError,
  ArchiveReport,
  DuplicateRange,
  KindReport,
  OffsetRange,
  PartitionSummary,
  RowCopy,
  VerifiedFile,
  VerifyOptions
} from "./streams/ArchiveVerify.js"
export type { SkippedFile } from "./domain/ArchiveListing.js"
export { builtinProcessors, jsonValidate } from "./processors/builtin.js"

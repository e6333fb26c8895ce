/**
 * The dead-letter stage: a record that failed for good is logged, produced to
 * the DLQ topic when one is set (with error headers), and appended to the DLQ
 * archive, whose flush acknowledges it. A record whose DLQ row cannot be
 * written stays unhandled: not committed, read again by the next run.
 */
import { Clock, Effect } from "effect"
import { writeDlqRow } from "../domain/Csv.js"
import type { KafkaRecord, RecordHeader } from "../domain/KafkaRecord.js"
import type { Failed } from "../domain/Outcome.js"
import type { KafkaProducer } from "../layers/kafka/KafkaClient.js"
import type { ArchiveSink } from "./ArchiveSink.js"

export interface DeadLetterOptions {
  readonly archive: ArchiveSink
  /** Also produce failed records to this topic, with this producer. */
  readonly topic?: { readonly name: string; readonly producer: KafkaProducer } | undefined
}

const text = new TextEncoder()

/** The headers a record carries to the DLQ topic: why it failed, after how many attempts, where from. */
export const dlqHeaders = (record: KafkaRecord, outcome: Failed): ReadonlyArray<RecordHeader> => [
  { key: "dlq.error.type", value: text.encode(outcome.failure.errorType) },
  { key: "dlq.error.message", value: text.encode(outcome.failure.message) },
  { key: "dlq.attempts", value: text.encode(String(outcome.attempts)) },
  { key: "dlq.source", value: text.encode(`${record.topic}:${record.partition}:${record.offset}`) }
]

export const make = (options: DeadLetterOptions) => (record: KafkaRecord, outcome: Failed): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { failure } = outcome
    const log = failure.defect ? Effect.logError : Effect.logWarning
    yield* log(`sent to the DLQ: ${failure.errorType}: ${failure.message}`).pipe(
      Effect.annotateLogs({ errorType: failure.errorType, attempts: outcome.attempts })
    )
    const failedAt = yield* Clock.currentTimeMillis
    if (options.topic !== undefined) {
      yield* options.topic.producer.send([{
        topic: options.topic.name,
        key: record.key,
        value: record.value,
        headers: [...record.headers, ...dlqHeaders(record, outcome)]
      }]).pipe(Effect.catch((error) => Effect.logError(`could not produce to the DLQ topic: ${error.message}`)))
    }
    const described = { ...failure, attempts: outcome.attempts }
    yield* options.archive.append(record, (out, failed) => writeDlqRow(out, failed, described, failedAt)).pipe(
      Effect.ignore
    )
  })

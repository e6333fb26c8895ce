/**
 * The sending side of a replay: the target topics checked first (each must
 * exist, with the partitions records go to by number), then the records
 * produced in batches, bounded by count and bytes, one request at a time.
 * A request is not interrupted halfway: a stop (SIGINT) waits for its answer,
 * so the count of records sent is exact.
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import type { KafkaError } from "../domain/Errors.js"
import { recordSize } from "../domain/KafkaRecord.js"
import { ReplayIncomplete, ReplayTargetError } from "../domain/ReplayErrors.js"
import type { KafkaClient, ProducerMessage } from "../layers/kafka/KafkaClient.js"
import type { PlannedRecord } from "./Replay.js"
import type { ReplayCounts, Survey } from "./ReplaySurvey.js"

export interface Sender {
  readonly add: (planned: PlannedRecord) => Effect.Effect<void, ReplayIncomplete>
  /** Sends what is left. */
  readonly flush: Effect.Effect<void, ReplayIncomplete>
  /** Where a replay stopped now would go on: the first record not confirmed (`file:line`), or null when none was confirmed. */
  readonly resumeFrom: () => string | null
}

export interface SenderOptions {
  readonly kafka: KafkaClient["Service"]
  readonly counts: ReplayCounts
  readonly survey: Survey
  readonly batchRecords: number
  readonly batchBytes: number
}

/** The problems of the target topics: missing, or without a partition that records go to. */
export const checkTargets = (
  kafka: KafkaClient["Service"],
  targets: ReadonlyMap<string, number>
): Effect.Effect<void, ReplayTargetError> =>
  Effect.gen(function*() {
    const issues: Array<string> = []
    for (const [topic, highest] of targets) {
      const offsets = yield* Effect.result(kafka.topicOffsets(topic))
      if (offsets._tag === "Failure") {
        issues.push(`topic ${topic}: cannot read its partitions (does it exist?): ${offsets.failure.message}`)
      } else if (highest >= offsets.success.length) {
        issues.push(
          `topic ${topic} has ${offsets.success.length} partitions; records of partition ${highest} go back to that partition`
        )
      }
    }
    if (issues.length > 0) return yield* new ReplayTargetError({ issues })
  })

const toProducerMessage = ({ message }: PlannedRecord): ProducerMessage => ({
  topic: message.topic,
  key: message.key,
  value: message.value,
  headers: message.headers,
  ...(message.partition === undefined ? {} : { partition: message.partition })
})

const at = (planned: PlannedRecord): string => `${planned.file}:${planned.line}`

export const makeSender = (options: SenderOptions): Effect.Effect<Sender, ReplayTargetError | KafkaError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* checkTargets(options.kafka, options.survey.targets)
    const producer = yield* options.kafka.producer
    const { counts } = options
    let batch: Array<PlannedRecord> = []
    let bytes = 0
    let lastSent: PlannedRecord | undefined

    const resumeFrom = () => {
      if (batch.length > 0) return at(batch[0]!)
      return lastSent === undefined ? null : `${lastSent.file}:${lastSent.line + 1}`
    }

    const flush = Effect.suspend(() => {
      if (batch.length === 0) return Effect.void
      const sending = batch
      // The answer and its bookkeeping as one: a stop waits for both, so `sent` is exact.
      return producer.send(sending.map(toProducerMessage)).pipe(
        Effect.mapError((error) =>
          new ReplayIncomplete({
            sent: counts.sent,
            selected: counts.selected,
            resumeFrom: at(sending[0]!),
            inFlight: sending.length,
            reason: `producing failed: ${error.message}`,
            cause: error
          })
        ),
        Effect.tap(() =>
          Effect.sync(() => {
            counts.sent += sending.length
            lastSent = sending[sending.length - 1]
            batch = []
            bytes = 0
          })
        ),
        Effect.uninterruptible
      )
    })

    const add = (planned: PlannedRecord) =>
      Effect.suspend(() => {
        const size = recordSize(planned.message)
        // A record that would take the batch past its bytes goes in the next one (alone if it is that large).
        const room = batch.length > 0 && bytes + size > options.batchBytes ? flush : Effect.void
        return Effect.andThen(room, () => {
          batch.push(planned)
          bytes += size
          return batch.length >= options.batchRecords ? flush : Effect.void
        })
      })

    return { add, flush, resumeFrom }
  })

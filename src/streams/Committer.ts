/**
 * The committer: the offset ledger's acknowledgements, the commit schedule and
 * the stop-at targets.
 *
 * Every `commitIntervalMs` (on the `Clock`) it commits each partition whose
 * contiguous handled prefix moved, and only partitions this member owns (the
 * ledger drops the others at each join); a commit rejected because the group
 * is rebalancing is "not ours now", retried at the next tick, never fatal. In
 * devMode it logs what it would have committed instead. Its finalizer makes
 * the last commit: it is acquired after the consumer, so that commit happens
 * before the member leaves the group (kafkajs #751).
 *
 * A target behind the group's committed offset counts as handled, whoever
 * committed it: this member before a restart, or another member that owns the
 * partition (without that, no member of a group would stop unless it owned
 * every target partition). The group's offsets are read at the start and,
 * while targets remain, after each commit tick.
 */
import type { Scope } from "effect"
import { Clock, Deferred, Effect, Exit, Fiber, Schedule } from "effect"
import { encodeArchivePosition } from "../domain/ArchivePosition.js"
import type { KafkaError, PipelineError } from "../domain/Errors.js"
import type { CommittedOffset, TopicPartitionOffset } from "../domain/KafkaRecord.js"
import { partitionKey } from "../domain/KafkaRecord.js"
import type { KafkaClient, KafkaConsumer } from "../layers/kafka/KafkaClient.js"
import type { ObservabilityService } from "../layers/Observability.js"
import type { RunState } from "../layers/RunState.js"

export interface CommitterOptions {
  readonly groupId: string
  readonly commitIntervalMs: number
  readonly devMode: boolean
}

export interface Committer {
  /**
   * Acknowledges records (`Ack` bits: processed, or their backup row on disk).
   * Completes `stop` once every stop-at target is handled.
   */
  readonly acknowledge: (records: ReadonlyArray<TopicPartitionOffset>, ack: number) => void
  /** `acknowledge` for one record. */
  readonly acknowledgeOne: (record: TopicPartitionOffset, ack: number) => void
  /** Completes `stop` if every stop-at target is handled already. */
  readonly checkTargets: Effect.Effect<void>
}

type Stop = Deferred.Deferred<"stopAtOffsets", PipelineError>

const describe = (offsets: ReadonlyArray<TopicPartitionOffset>) =>
  offsets.map((o) => `${partitionKey(o.topic, o.partition)}=${o.offset}`).join(",")

export const make = Effect.fnUntraced(function*(deps: {
  readonly kafka: KafkaClient["Service"]
  readonly consumer: KafkaConsumer
  readonly runState: RunState["Service"]
  readonly observability: ObservabilityService
  readonly stop: Stop
  readonly options: CommitterOptions
}): Effect.fn.Return<Committer, KafkaError, Scope.Scope> {
  const { consumer, kafka, observability, options, runState, stop } = deps
  const { counts, ledger, targets } = runState
  const watermark = (topic: string, partition: number) => ledger.watermark(topic, partition)

  const stopIfAllTargetsHandled = () => {
    if (targets.allHandled(watermark)) Deferred.doneUnsafe(stop, Exit.succeed("stopAtOffsets"))
  }

  const readGroupCommitted = Effect.forEach(
    targets.topics,
    (topic) => Effect.map(kafka.committedOffsets(options.groupId, topic), (offsets) => targets.groupCommitted(offsets)),
    { discard: true }
  )
  const checkGroupCommitted = Effect.suspend(() =>
    targets.isEmpty || targets.allHandled(watermark) ? Effect.void : readGroupCommitted.pipe(
      Effect.andThen(Effect.sync(stopIfAllTargetsHandled)),
      Effect.catch((error) => Effect.logWarning(`could not read the group's committed offsets: ${error.message}`))
    )
  )

  /** Each offset with its archive position: where the next owner's recovery starts reading. */
  const withPositions = (offsets: ReadonlyArray<TopicPartitionOffset>) =>
    Effect.map(Clock.currentTimeMillis, (now) =>
      offsets.map((offset): CommittedOffset => ({
        ...offset,
        metadata: encodeArchivePosition(runState.archiveIndex.position(offset, now))
      })))

  const commitOffsets = Effect.fn("Pipeline.commit", { root: true })(function*(offsets: ReadonlyArray<TopicPartitionOffset>) {
    const described = describe(offsets)
    yield* Effect.annotateCurrentSpan("offsets", described)
    if (options.devMode) {
      yield* Effect.logInfo(`devMode: skipped commit of ${described}`)
    } else {
      const committed = yield* withPositions(offsets).pipe(
        Effect.flatMap(consumer.commit),
        Effect.as(true),
        Effect.catch((error) => {
          counts.recordCommitFailure(error.rebalance === true)
          return (error.rebalance
            ? Effect.logWarning(`commit rejected during a rebalance, will retry: ${error.message}`)
            : Effect.logError(`commit failed, will retry: ${error.message}`)).pipe(Effect.as(false))
        })
      )
      if (!committed) return
      yield* Effect.logDebug(`committed ${described}`)
    }
    ledger.markCommitted(offsets)
    counts.recordCommit(offsets)
    observability.committed(offsets)
  })

  const commit = Effect.suspend(() => {
    const offsets = ledger.committable()
    return offsets.length === 0 ? Effect.void : commitOffsets(offsets)
  })

  if (!targets.isEmpty) {
    yield* readGroupCommitted
  }
  const loop = yield* commit.pipe(
    Effect.andThen(checkGroupCommitted),
    Effect.repeat(Schedule.spaced(options.commitIntervalMs)),
    Effect.delay(options.commitIntervalMs),
    Effect.forkScoped
  )
  runState.fibers.set("commit", loop)
  yield* Effect.addFinalizer(() => Effect.andThen(Fiber.interrupt(loop), commit))

  /** Stops the run when the partition's own target is reached and, with it, every target. */
  const checkTarget = (topic: string, partition: number) => {
    if (targets.reachedBy(topic, partition, ledger.watermark(topic, partition))) stopIfAllTargetsHandled()
  }
  return {
    acknowledgeOne: (record, ack) => {
      ledger.ack(record.topic, record.partition, record.offset, ack)
      if (!targets.isEmpty) checkTarget(record.topic, record.partition)
    },
    acknowledge: (records, ack) => {
      for (const record of records) ledger.ack(record.topic, record.partition, record.offset, ack)
      if (targets.isEmpty) return
      // Once per run of one partition's records (an archive flush holds runs of a batch).
      for (let index = 0; index < records.length; index++) {
        const record = records[index]!
        const next = records[index + 1]
        if (next === undefined || next.partition !== record.partition || next.topic !== record.topic) {
          checkTarget(record.topic, record.partition)
        }
      }
    },
    checkTargets: Effect.sync(stopIfAllTargetsHandled)
  }
})

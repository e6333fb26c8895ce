/**
 * What the phases of a benchmark run share: the broker, and the child processes started on it
 * (`bench/run.ts` makes it).
 */
import type { Broker } from "../test/support/broker.js"
import type { ConsumeResult, Extent, Job, ProduceResult, Producer, VariantName } from "./common.js"

/** The run's broker, admin client and work directory, and the children it starts on them. */
export interface Bench {
  readonly broker: Broker
  readonly runId: string
  /** A fresh number for each group, topic and directory of the run. */
  readonly next: () => number
  readonly groupId: (variant: string) => string
  readonly extentOf: (topic: string, limitPerPartition?: number) => Promise<Extent>
  readonly produce: (
    topic: string,
    records: number,
    valueBytes: number,
    paced?: { readonly rate: number; readonly producer: Producer }
  ) => Promise<ProduceResult>
  readonly consume: (
    variant: VariantName,
    extent: Extent,
    extra?: Partial<Extract<Job, { _tag: "consume" }>>,
    onReady?: () => void
  ) => Promise<ConsumeResult>
  readonly deleteTopic: (topic: string) => Promise<void>
}


import type { KafkaRecord } from "./KafkaRecord.js"
import { recordSize } from "./KafkaRecord.js"

/**
 * A run of consecutive records of one fetched batch (so of one partition, in
 * offset order): the unit the poll side hands to a worker. A queue item, a
 * semaphore take and a wake-up per slice instead of per record is most of what
 * keeps the pipeline's cost near the client's; the worker still takes each
 * record through the processor one at a time.
 */
export interface Slice {
  readonly records: ReadonlyArray<KafkaRecord>
  /** Key, value and header bytes of its records (see `recordSize`). */
  readonly bytes: number
}

export interface SliceLimits {
  /** Workers that take slices: a batch is cut in at least this many slices, when it has the records (see `minRecords`). */
  readonly concurrency: number
  /**
   * Records worth a slice of their own (the pipeline: `recordsWorthASlice`): a batch is cut in no
   * more than count / `minRecords` slices (rounded up), unless `maxRecords` asks for more. Spreading
   * a few records of a fast processor over several workers costs more hand-overs than it saves.
   */
  readonly minRecords: number
  /** At most this many records per slice (the pipeline: queueSize / concurrency, so that a slice per worker fits in the queue's bounds). */
  readonly maxRecords: number
  /**
   * At most this many bytes per slice, unless a single record is larger:
   * large records then travel one per slice, as they would without slicing.
   */
  readonly maxBytes: number
}

/**
 * Cuts a batch in `concurrency` slices of nearly equal size (they differ by
 * one record at most), or more when `maxRecords` or `maxBytes` asks: a large
 * batch keeps every worker busy. A small one (a paced stream: one to a few
 * records per fetch) goes out in at most count / `minRecords` slices (rounded
 * up): record by record to a slow processor, with no added latency, in one
 * slice to a fast one.
 */
export const sliceBatch = (records: ReadonlyArray<KafkaRecord>, limits: SliceLimits): Array<Slice> => {
  const count = records.length
  if (count === 0) return []
  const wanted = Math.max(
    Math.min(Math.ceil(count / limits.minRecords), limits.concurrency),
    Math.ceil(count / limits.maxRecords)
  )
  const base = Math.floor(count / wanted)
  const longer = count % wanted
  const slices: Array<Slice> = []
  let perSlice = longer > 0 ? base + 1 : base
  let start = 0
  let bytes = 0
  for (let index = 0; index < count; index++) {
    const size = recordSize(records[index]!)
    if (index > start && (index - start === perSlice || bytes + size > limits.maxBytes)) {
      slices.push({ records: records.slice(start, index), bytes })
      perSlice = slices.length < longer ? base + 1 : base
      start = index
      bytes = 0
    }
    bytes += size
  }
  slices.push({ records: start === 0 ? records : records.slice(start), bytes })
  return slices
}

/**
 * How many records take a worker about `ms`, given how long a record has taken
 * so far (smoothed), rounded by `round` and kept within 1 … `maxRecords`; one
 * until the speed is known.
 */
const recordsTaking = (
  ms: number,
  msPerRecord: number | undefined,
  maxRecords: number,
  round: (records: number) => number
): number =>
  msPerRecord === undefined ? 1 : Math.max(1, Math.min(maxRecords, round(ms / Math.max(msPerRecord, 1e-6))))

/**
 * How many records a slice may hold so that a worker spends about `targetMs`
 * on it (at most): a fast processor gets slices up to `maxRecords`, a slow one
 * slices of one record. Slices of one until the speed is known. A partition's
 * commit waits for the slowest slice in flight, so long slices of a slow
 * processor would hold it back.
 */
export const recordsPerSlice = (
  msPerRecord: number | undefined,
  limits: { readonly targetMs: number; readonly maxRecords: number }
): number => recordsTaking(limits.targetMs, msPerRecord, limits.maxRecords, Math.floor)

/**
 * How many records a slice should hold at least, so that a worker spends about
 * `minMs` on it: one for a processor slower than that (each record to a worker
 * of its own), up to `maxRecords` for a fast one, whose records would take a
 * worker less time than handing them over does. One until the speed is known.
 * A record then waits for the ones before it in its slice: about `minMs` at
 * most.
 */
export const recordsWorthASlice = (
  msPerRecord: number | undefined,
  limits: { readonly minMs: number; readonly maxRecords: number }
): number => recordsTaking(limits.minMs, msPerRecord, limits.maxRecords, Math.ceil)

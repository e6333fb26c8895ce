/**
 * An archive's pending batch: the bytes of the rows not written yet (a
 * `RowBuffer`, handed to the file as it is) and the records they are for,
 * reported once those bytes are on disk.
 *
 * Two buffers take turns, one filling while the other is on its way to disk:
 * a written batch's buffer comes back through `recycle` for the next batch,
 * instead of a new multi-megabyte one per batch, whose allocation and release
 * grow the process's RSS over a long run.
 */
import { RowBuffer } from "./RowBuffer.js"

export interface RowBatchOptions {
  /** Rows that make a full batch. */
  readonly maxRows: number
  /** Row bytes that make a full batch, however few the rows (large records). */
  readonly maxBytes: number
  /** A new buffer's size; it grows as its batches need. */
  readonly minCapacity?: number | undefined
  /** A written batch's buffer larger than this (and than twice what it held) is not kept for the next batch. */
  readonly maxKeptCapacity?: number | undefined
}

/** A batch taken out to be written: its rows' bytes (`rows.contents`) and their records. */
export interface TakenBatch<A> {
  readonly rows: RowBuffer
  readonly records: ReadonlyArray<A>
}

const DEFAULT_MIN_CAPACITY = 64 * 1024
const DEFAULT_MAX_KEPT_CAPACITY = 4 * 1024 * 1024

export class RowBatch<A> {
  readonly #maxRows: number
  readonly #maxBytes: number
  readonly #minCapacity: number
  readonly #maxKeptCapacity: number
  #rows: RowBuffer
  #records: Array<A> = []
  /** Where each pending row ends in `#rows`. */
  #rowEnds: Array<number> = []
  #spare: RowBuffer | undefined

  constructor(options: RowBatchOptions) {
    this.#maxRows = options.maxRows
    this.#maxBytes = options.maxBytes
    this.#minCapacity = options.minCapacity ?? DEFAULT_MIN_CAPACITY
    this.#maxKeptCapacity = options.maxKeptCapacity ?? DEFAULT_MAX_KEPT_CAPACITY
    this.#rows = new RowBuffer(this.#minCapacity)
  }

  /** Rows pending. */
  get size(): number {
    return this.#records.length
  }

  /** Bytes of the rows pending. */
  get byteLength(): number {
    return this.#rows.length
  }

  /** Whether the rows pending make a batch: `maxRows` of them, or `maxBytes`. */
  get isFull(): boolean {
    return this.#records.length >= this.#maxRows || this.#rows.length >= this.#maxBytes
  }

  /**
   * Adds the row `writeRow` writes for `record`, keeping `kept` for it until the row is written
   * (by default the record itself; less of it keeps less memory alive while rows wait for the
   * disk). Rows stay whole: if `writeRow` throws, what it wrote is cut off again and the error
   * goes on to the caller, with `record` not added.
   */
  append<R>(record: R, writeRow: (out: RowBuffer, record: R) => void, kept: A): void
  append<R extends A>(record: R, writeRow: (out: RowBuffer, record: R) => void): void
  append<R>(record: R, writeRow: (out: RowBuffer, record: R) => void, kept: A = record as unknown as A): void {
    const rows = this.#rows
    const rowStart = rows.length
    try {
      writeRow(rows, record)
    } catch (defect) {
      rows.truncate(rowStart)
      throw defect
    }
    this.#records.push(kept)
    this.#rowEnds.push(rows.length)
  }

  /**
   * Drops the pending rows of the records `keep` refuses (a rebalance took their partition: their
   * next owner writes them); returns how many were dropped.
   */
  retain(keep: (record: A) => boolean): number {
    const records = this.#records
    if (records.every(keep)) return 0
    const old = this.#rows.contents
    const rows = this.#spare ?? new RowBuffer(this.#minCapacity)
    this.#spare = undefined
    const kept: Array<A> = []
    const keptEnds: Array<number> = []
    let start = 0
    for (let index = 0; index < records.length; index++) {
      const end = this.#rowEnds[index]!
      if (keep(records[index]!)) {
        rows.bytes(old.subarray(start, end))
        kept.push(records[index]!)
        keptEnds.push(rows.length)
      }
      start = end
    }
    const dropped = records.length - kept.length
    this.recycle(this.#rows)
    this.#rows = rows
    this.#records = kept
    this.#rowEnds = keptEnds
    return dropped
  }

  /** Takes the pending rows out, leaving the batch empty (on the spare buffer, if there is one). */
  take(): TakenBatch<A> {
    const taken: TakenBatch<A> = { rows: this.#rows, records: this.#records }
    this.#rows = this.#spare ?? new RowBuffer(this.#minCapacity)
    this.#spare = undefined
    this.#records = []
    this.#rowEnds = []
    return taken
  }

  /**
   * Gives back the buffer of a batch that was written, to be the next batch's. Not kept if a
   * burst (large records) left it far larger than batches need: it would hold that memory for
   * good.
   */
  recycle(rows: RowBuffer): void {
    if (rows.capacity > Math.max(this.#maxKeptCapacity, 2 * rows.length)) return
    rows.clear()
    this.#spare = rows
  }
}

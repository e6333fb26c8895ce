/**
 * What an archive holds per topic partition (pure): rows are added one at a
 * time as the files are read, then summed up as the number of rows, the
 * lowest and highest offset, the gaps (offsets between those two that no row
 * has) and the duplicates (offsets more than one row has, with where each
 * copy is).
 *
 * Memory grows with runs, not rows: a row whose offset follows the previous
 * row's of its partition, on the next line of the same file, extends that
 * run. A backup file is mostly such runs (one per batch of a partition), so
 * millions of rows take thousands of runs. Rows spanning several lines (a
 * value with line breaks), sparse offsets (a DLQ, a compacted topic) and
 * interleaved partitions take more.
 */

/** Offsets `from` to `to`, both included. */
export interface OffsetRange {
  readonly from: number
  readonly to: number
}

/**
 * One copy of a duplicated range: its rows are in `file`, one per line, the
 * row of the range's `from` on `fromLine`, that of its `to` on `toLine`.
 */
export interface RowCopy {
  readonly file: string
  readonly fromLine: number
  readonly toLine: number
}

/** Offsets that more than one row has: every copy, in the order the files were read. */
export interface DuplicateRange extends OffsetRange {
  readonly copies: ReadonlyArray<RowCopy>
}

export interface PartitionSummary {
  readonly topic: string
  readonly partition: number
  readonly rows: number
  /** Distinct offsets among the rows. */
  readonly offsets: number
  readonly lowestOffset: number
  readonly highestOffset: number
  /**
   * Offsets between the lowest and the highest that no row has. Informational:
   * compaction and transaction markers leave such gaps in the topic itself.
   */
  readonly gaps: ReadonlyArray<OffsetRange>
  /** How many offsets the gaps hold. */
  readonly missingOffsets: number
  readonly duplicates: ReadonlyArray<DuplicateRange>
  /** Rows beyond the first of their offset: `rows − offsets`. */
  readonly duplicateRows: number
}

/** One row of an archive file. */
export interface TalliedRow {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly file: string
  /** The line the row starts on. */
  readonly line: number
}

/** Offsets `from`…`to` on consecutive lines of one file, `from` on `line`. */
interface Run {
  readonly from: number
  to: number
  readonly file: number
  readonly line: number
}

interface PartitionRuns {
  readonly topic: string
  readonly partition: number
  readonly runs: Array<Run>
  rows: number
}

export class ArchiveTally {
  readonly #files: Array<string> = []
  readonly #fileIndex = new Map<string, number>()
  /** By topic, then partition. */
  readonly #partitions = new Map<string, Map<number, PartitionRuns>>()

  add(row: TalliedRow): void {
    const file = this.#indexOf(row.file)
    const partition = this.#partition(row.topic, row.partition)
    partition.rows++
    const last = partition.runs.at(-1)
    if (
      last !== undefined && last.file === file && row.offset === last.to + 1 &&
      row.line === last.line + (last.to - last.from) + 1
    ) {
      last.to = row.offset
      return
    }
    partition.runs.push({ from: row.offset, to: row.offset, file, line: row.line })
  }

  /** Every partition that has rows, by topic and partition. */
  summaries(): Array<PartitionSummary> {
    const topics = [...this.#partitions.keys()].sort()
    return topics.flatMap((topic) => {
      const partitions = this.#partitions.get(topic)!
      return [...partitions.keys()].sort((a, b) => a - b).map((partition) =>
        summarize(partitions.get(partition)!, this.#files)
      )
    })
  }

  #indexOf(name: string): number {
    const known = this.#fileIndex.get(name)
    if (known !== undefined) return known
    this.#files.push(name)
    this.#fileIndex.set(name, this.#files.length - 1)
    return this.#files.length - 1
  }

  #partition(topic: string, partition: number): PartitionRuns {
    let partitions = this.#partitions.get(topic)
    if (partitions === undefined) {
      partitions = new Map()
      this.#partitions.set(topic, partitions)
    }
    let runs = partitions.get(partition)
    if (runs === undefined) {
      runs = { topic, partition, runs: [], rows: 0 }
      partitions.set(partition, runs)
    }
    return runs
  }
}

const byPlace = (a: Run, b: Run) => a.file - b.file || a.line - b.line

/**
 * A sweep over the offsets where runs start and end: between two such
 * points the same runs cover every offset, so the stretch is a gap (none),
 * a single copy, or a duplicate (several).
 */
const summarize = (partition: PartitionRuns, files: ReadonlyArray<string>): PartitionSummary => {
  const runs = [...partition.runs].sort((a, b) => a.from - b.from || byPlace(a, b))
  const points = [...new Set(runs.flatMap((run) => [run.from, run.to + 1]))].sort((a, b) => a - b)
  const gaps: Array<OffsetRange> = []
  const duplicates: Array<DuplicateRange> = []
  let active: Array<Run> = []
  let next = 0
  let offsets = 0
  let missingOffsets = 0
  for (let index = 0; index + 1 < points.length; index++) {
    const from = points[index]!
    const to = points[index + 1]! - 1
    while (next < runs.length && runs[next]!.from === from) active.push(runs[next++]!)
    active = active.filter((run) => run.to >= from)
    if (active.length === 0) {
      gaps.push({ from, to })
      missingOffsets += to - from + 1
      continue
    }
    offsets += to - from + 1
    if (active.length === 1) continue
    const copies = [...active].sort(byPlace).map((run) => ({
      file: files[run.file]!,
      fromLine: run.line + (from - run.from),
      toLine: run.line + (to - run.from)
    }))
    duplicates.push({ from, to, copies })
  }
  return {
    topic: partition.topic,
    partition: partition.partition,
    rows: partition.rows,
    offsets,
    lowestOffset: points[0]!,
    highestOffset: points.at(-1)! - 1,
    gaps,
    missingOffsets,
    duplicates,
    duplicateRows: partition.rows - offsets
  }
}

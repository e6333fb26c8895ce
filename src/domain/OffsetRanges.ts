/**
 * A set of offsets as sorted, disjoint, inclusive ranges: the offsets of a
 * partition found in an archive are mostly runs (a file holds a partition's
 * records in offset order), so a run of any length costs two numbers.
 */
export class OffsetRanges {
  readonly #starts: Array<number> = []
  readonly #ends: Array<number> = []

  /** Offsets held. */
  get size(): number {
    let size = 0
    for (let index = 0; index < this.#starts.length; index++) size += this.#ends[index]! - this.#starts[index]! + 1
    return size
  }

  /** The ranges, lowest first. */
  ranges(): ReadonlyArray<readonly [number, number]> {
    return this.#starts.map((start, index) => [start, this.#ends[index]!] as const)
  }

  has(offset: number): boolean {
    const index = this.#lastStartingAtOrBefore(offset)
    return index >= 0 && offset <= this.#ends[index]!
  }

  add(offset: number): void {
    const starts = this.#starts
    const ends = this.#ends
    const last = starts.length - 1
    // The usual case: the next offset of a run, or a new run after the last.
    if (last >= 0 && offset === ends[last]! + 1) {
      ends[last] = offset
      return
    }
    if (last < 0 || offset > ends[last]! + 1) {
      starts.push(offset)
      ends.push(offset)
      return
    }
    const index = this.#lastStartingAtOrBefore(offset)
    if (index >= 0 && offset <= ends[index]! + 1) {
      if (offset <= ends[index]!) return
      ends[index] = offset
      this.#joinWithNext(index)
      return
    }
    // Before the range at index + 1 (or before every range).
    const next = index + 1
    if (offset + 1 === starts[next]) {
      starts[next] = offset
      return
    }
    starts.splice(next, 0, offset)
    ends.splice(next, 0, offset)
  }

  /** Drops the offsets below `offset`. */
  dropBelow(offset: number): void {
    let cut = 0
    while (cut < this.#starts.length && this.#ends[cut]! < offset) cut++
    this.#starts.splice(0, cut)
    this.#ends.splice(0, cut)
    if (this.#starts.length > 0 && this.#starts[0]! < offset) this.#starts[0] = offset
  }

  #joinWithNext(index: number): void {
    const next = index + 1
    if (next < this.#starts.length && this.#starts[next] === this.#ends[index]! + 1) {
      this.#ends[index] = this.#ends[next]!
      this.#starts.splice(next, 1)
      this.#ends.splice(next, 1)
    }
  }

  /** The index of the last range starting at or before `offset`, or -1. */
  #lastStartingAtOrBefore(offset: number): number {
    let low = 0
    let high = this.#starts.length - 1
    let found = -1
    while (low <= high) {
      const middle = (low + high) >>> 1
      if (this.#starts[middle]! <= offset) {
        found = middle
        low = middle + 1
      } else {
        high = middle - 1
      }
    }
    return found
  }
}

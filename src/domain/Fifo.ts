/** Below this many consumed slots a FIFO is not worth copying. */
const COMPACT_MIN_HEAD = 64

/**
 * A first-in first-out list on an array with a moving head: `push` and `shift`
 * in amortised O(1) (`Array.prototype.shift` is O(n)). The consumed slots are
 * dropped once they are at least half of the array, so each item is copied at
 * most once per time it was passed over.
 */
export class Fifo<A> {
  #items: Array<A | undefined> = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: A): void {
    this.#items.push(item)
  }

  /** The oldest item, without removing it. */
  peek(): A | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined
  }

  shift(): A | undefined {
    const items = this.#items
    if (this.#head >= items.length) return undefined
    const item = items[this.#head]
    items[this.#head++] = undefined
    if (this.#head === items.length) {
      items.length = 0
      this.#head = 0
    } else if (this.#head >= COMPACT_MIN_HEAD && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Removes every item. */
  clear(): void {
    this.#items = []
    this.#head = 0
  }
}

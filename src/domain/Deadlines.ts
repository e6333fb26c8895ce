/**
 * Calls in flight with a deadline each, oldest first. Every call gets the
 * same timeout, so adding order is deadline order: a doubly linked list gives
 * the earliest deadline, an add and a removal in O(1), and holds only the calls
 * still in flight. One timer for the oldest call then replaces a timer (and a
 * race) per call.
 */
export interface Deadline {
  readonly at: number
  /** Called once, by whoever expires the call. */
  readonly expire: () => void
  /** @internal */
  previous: Deadline | undefined
  /** @internal */
  next: Deadline | undefined
  /** @internal */
  listed: boolean
}

export class Deadlines {
  #first: Deadline | undefined = undefined
  #last: Deadline | undefined = undefined
  #size = 0

  /** Lists a call due at `at` (not before the last one listed: same timeout, later start). */
  add(at: number, expire: () => void): Deadline {
    const deadline: Deadline = { at, expire, previous: this.#last, next: undefined, listed: true }
    if (this.#last === undefined) this.#first = deadline
    else this.#last.next = deadline
    this.#last = deadline
    this.#size++
    return deadline
  }

  /** Unlists a call; false when it was not listed any more (settled, or expired, before). */
  remove(deadline: Deadline): boolean {
    if (!deadline.listed) return false
    deadline.listed = false
    if (deadline.previous === undefined) this.#first = deadline.next
    else deadline.previous.next = deadline.next
    if (deadline.next === undefined) this.#last = deadline.previous
    else deadline.next.previous = deadline.previous
    deadline.previous = deadline.next = undefined
    this.#size--
    return true
  }

  /** The listed call with the earliest deadline. */
  get first(): Deadline | undefined {
    return this.#first
  }

  get size(): number {
    return this.#size
  }

  /** Unlists and returns every call due at `now` or before, earliest first. */
  takeDue(now: number): Array<Deadline> {
    const due: Array<Deadline> = []
    while (this.#first !== undefined && this.#first.at <= now) {
      const deadline = this.#first
      this.remove(deadline)
      due.push(deadline)
    }
    return due
  }
}

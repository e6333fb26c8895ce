import { Effect } from "effect"

/**
 * Fibers waiting for a condition that other fibers make true. `await(ready)`
 * checks the condition and, when it does not hold, registers in the same
 * synchronous step, so no `notify` between the check and the wait is missed;
 * `notify(n)` resumes the `n` longest waiting (each checks again: another may
 * have taken what it was woken for). Unlike a latch, a record that becomes
 * ready wakes one worker, not every idle one.
 */
export class Waiters {
  readonly #waiting = new Set<(effect: Effect.Effect<void>) => void>()

  /** Resumes at once when `ready()` holds, else on a later `notify`. */
  await(ready: () => boolean): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (ready()) return resume(Effect.void)
      this.#waiting.add(resume)
      return Effect.sync(() => {
        this.#waiting.delete(resume)
      })
    })
  }

  get size(): number {
    return this.#waiting.size
  }

  notify(count = 1): void {
    for (const resume of this.#waiting) {
      if (count-- <= 0) return
      this.#waiting.delete(resume)
      resume(Effect.void)
    }
  }

  notifyAll(): void {
    this.notify(this.#waiting.size)
  }
}

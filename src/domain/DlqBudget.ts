/**
 * The dead-letter budget: how much of what a run handles may go to the DLQ
 * before the run stops, because something upstream is sending bad records
 * (or the processor rejects good ones) and the DLQ would otherwise fill
 * silently.
 *
 * Two limits, each off when unset: more than `maxRatio` of the last `window`
 * handled records dead-lettered (judged once `window` records were handled),
 * and `maxConsecutive` records in a row dead-lettered.
 */

export interface DlqBudgetOptions {
  /** Largest share (0–1) of the last `window` handled records that may be dead-lettered. */
  readonly maxRatio: number | undefined
  readonly window: number
  /** Most records in a row that may be dead-lettered. */
  readonly maxConsecutive: number | undefined
}

/** Why the budget is spent, in words for the log and the error. */
export type BudgetSpent = string

export class DlqBudget {
  readonly #options: DlqBudgetOptions
  /** The last `window` outcomes, 1 for dead-lettered, as a ring. */
  readonly #recent: Uint8Array
  #next = 0
  #seen = 0
  #deadLettered = 0
  #inARow = 0

  constructor(options: DlqBudgetOptions) {
    this.#options = options
    this.#recent = new Uint8Array(options.maxRatio === undefined ? 0 : options.window)
  }

  /** Whether any limit is set. */
  get isOn(): boolean {
    return this.#options.maxRatio !== undefined || this.#options.maxConsecutive !== undefined
  }

  /** Counts one handled record; says why when this one spends the budget. */
  record(deadLettered: boolean): BudgetSpent | undefined {
    this.#inARow = deadLettered ? this.#inARow + 1 : 0
    const { maxConsecutive, maxRatio, window } = this.#options
    if (maxRatio !== undefined) {
      const mark = deadLettered ? 1 : 0
      this.#deadLettered += mark - (this.#seen >= window ? this.#recent[this.#next]! : 0)
      this.#recent[this.#next] = mark
      this.#next = (this.#next + 1) % window
      this.#seen++
    }
    if (maxConsecutive !== undefined && this.#inARow > maxConsecutive) {
      return `${this.#inARow} records in a row were dead-lettered, more than dlqMaxConsecutive (${maxConsecutive})`
    }
    if (maxRatio === undefined || this.#seen < window || this.#deadLettered / window <= maxRatio) return undefined
    return `${this.#deadLettered} of the last ${window} handled records were dead-lettered, ` +
      `more than dlqMaxRatio (${maxRatio}) allows`
  }
}

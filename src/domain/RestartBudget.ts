/**
 * How long a Kafka consumer may keep crashing before its `run` fails: a
 * streak of crashes starts at the first crash after a successful fetch and
 * lasts until the next one; a crash is restarted while its streak has lasted
 * less than the budget. Shared by every `KafkaClient` implementation, so that
 * they give up at the same point and say so in the same words.
 */

export interface RestartBudget {
  readonly budgetMs: number
  /** When the current streak of crashes began; `undefined` after a successful fetch. */
  readonly crashingSince: number | undefined
  /** How long the streak had lasted at its latest crash. */
  readonly crashingFor: number
}

export const make = (budgetMs: number): RestartBudget => ({ budgetMs, crashingSince: undefined, crashingFor: 0 })

/** Counts a crash at `now` into the current streak (or starts one). */
export const crashed = (budget: RestartBudget, now: number): RestartBudget => {
  const crashingSince = budget.crashingSince ?? now
  return { budgetMs: budget.budgetMs, crashingSince, crashingFor: now - crashingSince }
}

/** A successful fetch ends the streak: the next crash starts a new one. */
export const fetched = (budget: RestartBudget): RestartBudget =>
  budget.crashingSince === undefined ? budget : make(budget.budgetMs)

/** Whether the streak, as of its latest crash, has used up the budget: that crash is not restarted. */
export const isSpent = (budget: RestartBudget): boolean =>
  budget.crashingSince !== undefined && budget.crashingFor >= budget.budgetMs

/** Why a run fails once the budget is spent, as its error message says it. */
export const spentMessage = (budget: RestartBudget): string =>
  `kept crashing for ${budget.crashingFor} ms, over its restart budget of ${budget.budgetMs} ms`

/** How far into the budget the streak is, for a log line about a restart. */
export const progress = (budget: RestartBudget): string => `crashing for ${budget.crashingFor} of ${budget.budgetMs} ms`

/**
 * Where an archive is in its life, as a tagged state and a pure transition
 * function:
 *
 * ```text
 * Open ─Failed→ Failed(error) ─Closed→ Closed(error)
 * Open ─Closed→ Closed ─Failed→ Closed(error)   (the final flush failed)
 * ```
 *
 * Only the first failure is kept: later ones follow from it, and every call
 * fails with it, after a close too (the error says more than "closed").
 */
import type { ArchiveError } from "./Errors.js"

export type ArchiveLifecycle =
  | { readonly _tag: "Open" }
  /** A write, an open or a rotation failed: no more rows, and no more files. */
  | { readonly _tag: "Failed"; readonly error: ArchiveError }
  /** Closed, after a failure or not: closing again does nothing. */
  | { readonly _tag: "Closed"; readonly failure: ArchiveError | undefined }

export type ArchiveEvent =
  | { readonly _tag: "Failed"; readonly error: ArchiveError }
  | { readonly _tag: "Closed" }

export const Open: ArchiveLifecycle = { _tag: "Open" }

/** The failure every call fails with, if there was one. */
export const failureOf = (state: ArchiveLifecycle): ArchiveError | undefined =>
  state._tag === "Failed" ? state.error : state._tag === "Closed" ? state.failure : undefined

export const transition = (state: ArchiveLifecycle, event: ArchiveEvent): ArchiveLifecycle => {
  switch (event._tag) {
    case "Failed":
      if (failureOf(state) !== undefined) return state
      return state._tag === "Open" ? { _tag: "Failed", error: event.error } : { _tag: "Closed", failure: event.error }
    case "Closed":
      return state._tag === "Closed" ? state : { _tag: "Closed", failure: failureOf(state) }
  }
}

/**
 * What an archive failure means to an operator (pure: no I/O): the file, what could not be done
 * to it, why (from the errno Node's file system error carries), and what to do about it, e.g.
 *
 *     backup archive: cannot write /data/backup/backup-2026-11-22T10.csv: no space left on device
 *     (ENOSPC). Free space on that disk (or set backupDir to a directory on another), then start
 *     the pipeline again: the records whose rows were not written were not committed, so it reads
 *     them again.
 */
import type { ArchiveKind } from "./ArchiveFile.js"

export type ArchiveOperation = "open" | "write" | "close"

interface Explanation {
  /** Why, in words, with the errno: `no space left on device (ENOSPC)`. */
  readonly reason: string
  /** What the operator can do, before starting the pipeline again. */
  readonly advice: string
}

const settingOf = (archive: ArchiveKind) => archive === "backup" ? "backupDir" : "dlqDir"

/** The errnos a disk or a directory gives, with what each means and what to do. */
const byErrno: Readonly<Record<string, (archive: ArchiveKind) => Explanation>> = {
  ENOSPC: (archive) => ({
    reason: "no space left on device",
    advice: `Free space on that disk (or set ${settingOf(archive)} to a directory on another)`
  }),
  EDQUOT: (archive) => ({
    reason: "disk quota exceeded",
    advice: `Free space in, or raise, the disk quota of the pipeline's user (or set ${settingOf(archive)} elsewhere)`
  }),
  EFBIG: () => ({
    reason: "file too large for this process (its file size limit, ulimit -f, or the file system's largest file)",
    advice: "Raise the file size limit of the pipeline's process (ulimit -f, systemd LimitFSIZE)"
  }),
  EACCES: (archive) => ({
    reason: "permission denied",
    advice: `Make ${settingOf(archive)} writable by the pipeline's user`
  }),
  EPERM: (archive) => ({
    reason: "operation not permitted",
    advice: `Make ${settingOf(archive)} writable by the pipeline's user`
  }),
  EROFS: (archive) => ({
    reason: "read-only file system",
    advice: `Remount that file system read-write (or set ${settingOf(archive)} to a writable one)`
  }),
  EIO: () => ({
    reason: "input/output error: the disk or its file system failed",
    advice: "Check the disk (the kernel log says more)"
  }),
  ENOENT: (archive) => ({
    reason: "no such file or directory: the directory was removed",
    advice: `Create ${settingOf(archive)} again`
  }),
  EMFILE: () => ({ reason: "too many open files", advice: "Raise the open file limit of the pipeline's process (ulimit -n)" }),
  ENFILE: () => ({ reason: "too many open files in the system", advice: "Raise the system's open file limit" })
}

/** The `code` (`ENOSPC`) of the first error in `cause`'s chain that has one. */
export const errnoOf = (cause: unknown): string | undefined => {
  for (let current = cause, depth = 0; typeof current === "object" && current !== null && depth < 5; depth++) {
    const code = (current as { readonly code?: unknown }).code
    if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}

/**
 * A cause's message, followed by that of the error it wraps when it says more: Node's file
 * system errors reach the pipeline as a `PlatformError` whose own message names only the call
 * and the descriptor (`Unknown: FileSystem.writeAll (22)`), the errno being in its `cause`.
 */
export const describeCause = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  const inner = cause.cause
  return inner instanceof Error && !cause.message.includes(inner.message)
    ? `${cause.message}: ${inner.message}`
    : cause.message
}

const explain = (archive: ArchiveKind, cause: unknown): Explanation => {
  const errno = errnoOf(cause)
  const known = errno === undefined ? undefined : byErrno[errno]
  if (known !== undefined) {
    const { advice, reason } = known(archive)
    return { reason: `${reason} (${errno})`, advice }
  }
  return { reason: describeCause(cause), advice: "Fix the cause" }
}

const verbs: Readonly<Record<ArchiveOperation, string>> = {
  open: "create",
  write: "write",
  close: "close"
}

/** The one message of a failed archive operation: what, on which file, why, and what to do. */
export const archiveFailureMessage = (failure: {
  readonly archive: ArchiveKind
  readonly path: string
  readonly operation: ArchiveOperation
  readonly cause: unknown
}): string => {
  const { advice, reason } = explain(failure.archive, failure.cause)
  return `${failure.archive} archive: cannot ${verbs[failure.operation]} ${failure.path}: ${reason}. ${advice}, ` +
    "then start the pipeline again: the records whose rows were not written were not committed, so it reads them again."
}

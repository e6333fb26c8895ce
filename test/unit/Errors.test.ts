import { describe, expect, it } from "@effect/vitest"
import { PlatformError } from "effect"
import { errnoOf } from "../../src/domain/ArchiveFailure.js"
import { ArchiveError } from "../../src/domain/Errors.js"

/** Node's file system error as the platform's FileSystem reports it: the errno is in its `cause`. */
const systemError = (options: { readonly description?: string; readonly cause?: unknown }) =>
  PlatformError.systemError({ _tag: "Unknown", module: "FileSystem", method: "writeAll", pathOrDescriptor: 25, ...options })

const nodeError = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}, write`), { code })

const failure = (cause: unknown, archive: "backup" | "dlq" = "backup", operation: ArchiveError["operation"] = "write") =>
  new ArchiveError({ archive, path: "/data/backup/backup-2026-11-22T10.csv", operation, cause }).message

const AGAIN = "then start the pipeline again: the records whose rows were not written were not committed, so it reads them again."

describe("ArchiveError", () => {
  it("a full disk: what failed, on which file, why, and what the operator can do, in one sentence", () => {
    expect(failure(systemError({ cause: nodeError("ENOSPC", "no space left on device") }))).toBe(
      "backup archive: cannot write /data/backup/backup-2026-11-22T10.csv: no space left on device (ENOSPC). " +
        `Free space on that disk (or set backupDir to a directory on another), ${AGAIN}`
    )
  })

  it("names the setting of the archive that failed, and what each errno means", () => {
    expect(failure(nodeError("ENOSPC", "no space left on device"), "dlq")).toContain("set dlqDir to a directory on another")
    expect(failure(systemError({ cause: nodeError("EFBIG", "file too large") }))).toContain(
      ": file too large for this process (its file size limit, ulimit -f, or the file system's largest file) (EFBIG). " +
        "Raise the file size limit of the pipeline's process"
    )
    expect(failure(nodeError("EDQUOT", "quota"))).toContain("disk quota exceeded (EDQUOT)")
    expect(failure(nodeError("EACCES", "denied"))).toContain("permission denied (EACCES). Make backupDir writable")
    expect(failure(nodeError("EPERM", "denied"))).toContain("operation not permitted (EPERM)")
    expect(failure(nodeError("EROFS", "ro"))).toContain("read-only file system (EROFS)")
    expect(failure(nodeError("EIO", "io"))).toContain("input/output error: the disk or its file system failed (EIO)")
    expect(failure(nodeError("ENOENT", "gone"), "backup", "open")).toBe(
      "backup archive: cannot create /data/backup/backup-2026-11-22T10.csv: no such file or " +
        `directory: the directory was removed (ENOENT). Create backupDir again, ${AGAIN}`
    )
    expect(failure(nodeError("EMFILE", "many"), "dlq", "open")).toContain("cannot create /data")
    expect(failure(nodeError("ENFILE", "many"))).toContain("too many open files in the system (ENFILE)")
  })

  it("every errno it knows: its words and its advice, with the archive's own setting", () => {
    const reasons: ReadonlyArray<readonly [string, "backup" | "dlq", string]> = [
      ["ENOSPC", "dlq", "no space left on device (ENOSPC). Free space on that disk (or set dlqDir to a directory on another)"],
      ["EDQUOT", "backup", "disk quota exceeded (EDQUOT). Free space in, or raise, the disk quota of the pipeline's user (or set backupDir elsewhere)"],
      ["EDQUOT", "dlq", "disk quota exceeded (EDQUOT). Free space in, or raise, the disk quota of the pipeline's user (or set dlqDir elsewhere)"],
      ["EFBIG", "dlq", "file too large for this process (its file size limit, ulimit -f, or the file system's largest file) (EFBIG). Raise the file size limit of the pipeline's process (ulimit -f, systemd LimitFSIZE)"],
      ["EACCES", "dlq", "permission denied (EACCES). Make dlqDir writable by the pipeline's user"],
      ["EPERM", "backup", "operation not permitted (EPERM). Make backupDir writable by the pipeline's user"],
      ["EPERM", "dlq", "operation not permitted (EPERM). Make dlqDir writable by the pipeline's user"],
      ["EROFS", "backup", "read-only file system (EROFS). Remount that file system read-write (or set backupDir to a writable one)"],
      ["EROFS", "dlq", "read-only file system (EROFS). Remount that file system read-write (or set dlqDir to a writable one)"],
      ["EIO", "dlq", "input/output error: the disk or its file system failed (EIO). Check the disk (the kernel log says more)"],
      ["ENOENT", "dlq", "no such file or directory: the directory was removed (ENOENT). Create dlqDir again"],
      ["EMFILE", "backup", "too many open files (EMFILE). Raise the open file limit of the pipeline's process (ulimit -n)"],
      ["ENFILE", "dlq", "too many open files in the system (ENFILE). Raise the system's open file limit"]
    ]
    for (const [errno, archive, explanation] of reasons) {
      expect(failure(nodeError(errno, "detail"), archive, "close")).toBe(
        `${archive} archive: cannot close /data/backup/backup-2026-11-22T10.csv: ${explanation}, ${AGAIN}`
      )
    }
  })

  it("an errno it has no words for, or no errno: the cause as it is (its wrapped message once)", () => {
    expect(failure(systemError({ cause: nodeError("EXDEV", "cross-device link") }))).toBe(
      "backup archive: cannot write /data/backup/backup-2026-11-22T10.csv: Unknown: FileSystem.writeAll (25): " +
        `EXDEV: cross-device link, write. Fix the cause, ${AGAIN}`
    )
    const enospc = new Error("ENOSPC: no space left on device")
    expect(failure(systemError({ description: enospc.message, cause: enospc }))).toContain(
      ": Unknown: FileSystem.writeAll (25): ENOSPC: no space left on device. Fix the cause,"
    )
    expect(failure("the file was deleted (or its directory removed) while open", "dlq", "close")).toBe(
      "dlq archive: cannot close /data/backup/backup-2026-11-22T10.csv: the file was deleted (or its directory " +
        `removed) while open. Fix the cause, ${AGAIN}`
    )
  })

  it("finds the errno down the cause chain, not past five levels, and only errno-shaped codes", () => {
    const deep = { cause: { cause: { code: "ENOSPC" } } }
    expect(errnoOf(deep)).toBe("ENOSPC")
    expect(errnoOf({ cause: { cause: { cause: { cause: { cause: { code: "ENOSPC" } } } } } })).toBeUndefined()
    expect(errnoOf({ code: "ERR_INVALID_ARG_TYPE" })).toBeUndefined()
    expect(errnoOf("ENOSPC")).toBeUndefined()
    expect(errnoOf({ code: "ERR_EIO" })).toBeUndefined()
    expect(errnoOf({ code: ["EIO"] })).toBeUndefined()
    expect(errnoOf({ cause: null })).toBeUndefined()
    expect(errnoOf(null)).toBeUndefined()
  })
})

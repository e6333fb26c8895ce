import { describe, expect, it } from "@effect/vitest"
import { PlatformError } from "effect"
import { ArchiveError } from "../../src/domain/Errors.js"

const writeError = (options: { readonly description?: string; readonly cause?: unknown }) =>
  new ArchiveError({
    archive: "backup",
    path: "/data/backup-2026-11-22T10.csv",
    operation: "write",
    cause: PlatformError.systemError({
      _tag: "Unknown",
      module: "FileSystem",
      method: "writeAll",
      pathOrDescriptor: 22,
      ...options
    })
  })

describe("ArchiveError", () => {
  it("names the errno that Node's file system error wraps (the platform error names only the call)", () => {
    const efbig = Object.assign(new Error("EFBIG: file too large, write"), { code: "EFBIG", errno: -27 })
    expect(writeError({ cause: efbig }).message).toBe(
      "backup archive: write of /data/backup-2026-11-22T10.csv failed: Unknown: FileSystem.writeAll (22): " +
        "EFBIG: file too large, write"
    )
  })

  it("does not repeat a wrapped message the error already says, and takes any cause", () => {
    const enospc = new Error("ENOSPC: no space left on device")
    expect(writeError({ description: enospc.message, cause: enospc }).message).toBe(
      "backup archive: write of /data/backup-2026-11-22T10.csv failed: Unknown: FileSystem.writeAll (22): " +
        "ENOSPC: no space left on device"
    )
    expect(writeError({}).message).toBe(
      "backup archive: write of /data/backup-2026-11-22T10.csv failed: Unknown: FileSystem.writeAll (22)"
    )
    expect(new ArchiveError({ archive: "dlq", path: "/d", operation: "close", cause: "archive is closed" }).message)
      .toBe("dlq archive: close of /d failed: archive is closed")
  })
})

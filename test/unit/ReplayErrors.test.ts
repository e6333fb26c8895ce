import { assert, describe, it } from "@effect/vitest"
import { MalformedArchive, shellWord } from "../../src/domain/ReplayErrors.js"

describe("MalformedArchive", () => {
  it("one row or several, and how many were left out of the list", () => {
    assert.strictEqual(
      new MalformedArchive({ problems: ["a.csv:4: the last row has no line end (a torn row?)"], count: 1 }).message,
      "nothing was sent: 1 malformed row (or unreadable files):\n  a.csv:4: the last row has no line end (a torn row?)"
    )
    assert.strictEqual(
      new MalformedArchive({ problems: ["a.csv:2: offset: expected an integer"], count: 3 }).message,
      "nothing was sent: 3 malformed rows (or unreadable files):\n  a.csv:2: offset: expected an integer\n  … and 2 more"
    )
  })
})

describe("shellWord", () => {
  it("leaves a plain path as it is and quotes anything else for the shell", () => {
    assert.strictEqual(shellWord("dlq/dlq-2026-11-22T10.csv:17"), "dlq/dlq-2026-11-22T10.csv:17")
    assert.strictEqual(shellWord("my dlq/it's.csv:3"), "'my dlq/it'\\''s.csv:3'")
  })
})

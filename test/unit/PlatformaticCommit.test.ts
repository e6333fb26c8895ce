import { assert, describe, it } from "@effect/vitest"
import { newestSupported, offsetCommitApis } from "../../src/layers/kafka/PlatformaticCommit.js"

const offsetCommit = (minVersion: number, maxVersion: number) => ({ apiKey: 8, minVersion, maxVersion })

describe("PlatformaticCommit.newestSupported", () => {
  it("picks the newest OffsetCommit version both the broker and the client have", () => {
    // Kafka 4.x (2–10): the client's newest, 9; Kafka 3.5 (0–8): 8.
    assert.strictEqual(newestSupported(offsetCommitApis, [{ apiKey: 1, minVersion: 0, maxVersion: 17 }, offsetCommit(2, 10)])?.version, 9)
    assert.strictEqual(newestSupported(offsetCommitApis, [offsetCommit(0, 8)])?.version, 8)
    assert.strictEqual(newestSupported(offsetCommitApis, [offsetCommit(0, 8)])?.key, 8)
  })

  it("none when the broker has no OffsetCommit or only versions without the member's generation", () => {
    assert.isUndefined(newestSupported(offsetCommitApis, [{ apiKey: 1, minVersion: 0, maxVersion: 17 }]))
    assert.isUndefined(newestSupported(offsetCommitApis, [offsetCommit(0, 0)]))
    assert.isUndefined(newestSupported([], [offsetCommit(0, 9)]))
  })
})

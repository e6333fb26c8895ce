import { assert, describe, it } from "@effect/vitest"
import { summaryCovers } from "../../bench/cli-memory.js"

const extent = { topic: "t", partitions: [{ partition: 0, count: 3 }, { partition: 1, count: 2 }] }
const committed = [{ partition: 0, offset: 3 }, { partition: 1, offset: 2 }]

describe("the CLI's memory run", () => {
  it("checks out when every record was processed and every partition committed to its end", () => {
    assert.isTrue(summaryCovers({ processed: 5, deadLettered: 0, committed }, extent))
  })

  it("fails on a record missing, one dead-lettered, or a partition not committed to its end", () => {
    assert.isFalse(summaryCovers({ processed: 4, deadLettered: 0, committed }, extent))
    assert.isFalse(summaryCovers({ processed: 5, deadLettered: 1, committed }, extent))
    assert.isFalse(summaryCovers({ processed: 5, deadLettered: 0, committed: [{ partition: 0, offset: 3 }, { partition: 1, offset: 1 }] }, extent))
    assert.isFalse(summaryCovers({ processed: 5, deadLettered: 0, committed: [{ partition: 0, offset: 3 }] }, extent))
  })
})

import { assert, describe, it } from "@effect/vitest"
import type { KafkaRecord } from "../../src/domain/KafkaRecord.js"
import { StopAtTargets } from "../../src/domain/StopAt.js"

const record = (partition: number, offset: number): KafkaRecord => ({
  topic: "t",
  partition,
  offset,
  timestamp: 0,
  key: null,
  value: null,
  headers: []
})

describe("StopAtTargets", () => {
  const twoTargets = () => new StopAtTargets([{ topic: "t", partition: 0, offset: 4 }, { topic: "t", partition: 1, offset: 9 }])

  it("cut: a batch is taken up to its partition's target, which pauses it", () => {
    const targets = twoTargets()
    assert.deepStrictEqual(targets.cut([3, 4, 5].map((o) => record(0, o))), { take: 2, reached: true })
    assert.deepStrictEqual(targets.cut([2, 3].map((o) => record(0, o))), { take: 2, reached: false })
    assert.deepStrictEqual(targets.cut([4].map((o) => record(0, o))), { take: 1, reached: true })
    // offsets can skip the target itself (compaction): the first past it reaches it
    assert.deepStrictEqual(targets.cut([3, 6].map((o) => record(0, o))), { take: 1, reached: true })
    assert.deepStrictEqual(targets.cut([7, 8].map((o) => record(2, o))), { take: 2, reached: false })
    assert.deepStrictEqual(new StopAtTargets([]).cut([record(0, 0)]), { take: 1, reached: false })
  })

  it("cut: an empty batch takes nothing and reaches nothing, with targets or without", () => {
    assert.deepStrictEqual(twoTargets().cut([]), { take: 0, reached: false })
    assert.deepStrictEqual(new StopAtTargets([]).cut([]), { take: 0, reached: false })
  })

  it("isEmpty: only without targets", () => {
    assert.isFalse(twoTargets().isEmpty)
    assert.isTrue(new StopAtTargets([]).isEmpty)
  })

  it("reachedBy: a partition's own target, by its watermark (the next offset to commit)", () => {
    const targets = twoTargets()
    assert.isFalse(targets.reachedBy("t", 0, undefined))
    assert.isFalse(targets.reachedBy("t", 0, 4))
    assert.isTrue(targets.reachedBy("t", 0, 5))
    assert.isFalse(targets.reachedBy("t", 2, 100))
    assert.isFalse(targets.reachedBy("u", 0, 100))
  })

  it("allHandled: every target, here or committed by the group; never without targets", () => {
    const watermarks = new Map([[0, 5], [1, 3]])
    const watermark = (_topic: string, partition: number) => watermarks.get(partition)
    const group = new StopAtTargets([{ topic: "t", partition: 0, offset: 4 }, { topic: "t", partition: 1, offset: 9 }])
    assert.isFalse(group.allHandled(watermark))
    group.groupCommitted([{ topic: "t", partition: 1, offset: 10 }])
    assert.isTrue(group.allHandled(watermark))
    assert.deepStrictEqual(group.topics, ["t"])
    assert.isFalse(new StopAtTargets([]).allHandled(watermark))
  })

  it("allHandled: a watermark or a group commit equal to the target is not past it (the target itself is still to handle)", () => {
    const targets = twoTargets()
    const watermarks = new Map([[0, 4], [1, 10]])
    assert.isFalse(targets.allHandled((_topic, partition) => watermarks.get(partition)))
    targets.groupCommitted([{ topic: "t", partition: 0, offset: 4 }])
    assert.isFalse(targets.allHandled((_topic, partition) => watermarks.get(partition)))
    targets.groupCommitted([{ topic: "t", partition: 0, offset: 5 }])
    assert.isTrue(targets.allHandled((_topic, partition) => watermarks.get(partition)))
  })
})

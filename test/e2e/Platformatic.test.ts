/**
 * What the `Platformatic` layer adds to @platformatic/kafka beyond the contract
 * (test/support/contract.ts): commits under the generation of the assignment last announced.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"
import * as Platformatic from "../../src/layers/kafka/Platformatic.js"
import { sharedBroker, uniqueName } from "../support/broker.js"
import { consumerOptions, recorder } from "../support/contract.js"

const withClient = <A, E>(body: Effect.Effect<A, E, KafkaClient>) =>
  Effect.gen(function*() {
    const broker = yield* Effect.promise(() => sharedBroker())
    return yield* body.pipe(Effect.provide(Platformatic.layer({ brokers: broker.brokers.split(","), clientId: "platformatic-e2e" })))
  })

describe("Platformatic consumer commits", () => {
  it.live("before its run announced an assignment: a rebalance rejection, nothing committed", () =>
    withClient(Effect.scoped(Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("plat-early")
      const groupId = uniqueName("plat-early-group")
      yield* client.createTopic(topic, 1)
      const consumer = yield* client.consumer(consumerOptions(groupId, topic))
      const error = yield* Effect.flip(consumer.commit([{ topic, partition: 0, offset: 1 }]))
      assert.isTrue(error.rebalance)
      assert.match(error.message, /no assignment announced yet/)
      assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [])
    }))), 60_000)

  it.live("after the group moved on, before the new assignment is announced: rejected; after it, committed", () =>
    withClient(Effect.scoped(Effect.gen(function*() {
      const client = yield* KafkaClient
      const topic = uniqueName("plat-stale")
      const groupId = uniqueName("plat-stale-group")
      yield* client.createTopic(topic, 2)
      const producer = yield* client.producer
      yield* producer.send([0, 1].map((partition) => ({ topic, partition, key: null, value: `v${partition}` })))
      // The first batch holds the run (uninterruptibly) until released: the new assignment waits behind it.
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      let first = true
      const seen = yield* recorder(() =>
        Effect.suspend(() => {
          if (!first) return Effect.void
          first = false
          return Effect.uninterruptible(Effect.andThen(Deferred.succeed(entered, undefined), Deferred.await(release)))
        })
      )
      const consumer = yield* client.consumer(consumerOptions(groupId, topic))
      yield* Effect.forkScoped(consumer.run(seen.handlers))
      yield* Deferred.await(entered).pipe(Effect.timeout("45 seconds"))
      // A second member joins, and is given a partition: the group is at a new generation.
      const other = yield* recorder()
      yield* Effect.forkScoped((yield* client.consumer(consumerOptions(groupId, topic))).run(other.handlers))
      yield* other.untilAssignments(1)

      const stale = yield* Effect.flip(consumer.commit([{ topic, partition: 0, offset: 1 }, { topic, partition: 1, offset: 1 }]))
      assert.isTrue(stale.rebalance, stale.message)
      assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [])

      yield* Deferred.succeed(release, undefined)
      yield* seen.untilAssignments(2)
      const mine = seen.assignments[1]![0]!.partition
      assert.deepStrictEqual(seen.assignments[1], [{ topic, partition: mine }])
      yield* consumer.commit([{ topic, partition: mine, offset: 1 }])
      assert.deepStrictEqual(yield* client.committedOffsets(groupId, topic), [{ topic, partition: mine, offset: 1 }])
    }))), 90_000)
})

/** The `KafkaClient` contract (test/support/contract.ts) against the in-memory client, on the `TestClock`. */
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { partitionKey } from "../../src/domain/KafkaRecord.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import type { BrokerOps, ContractHarness } from "../support/contract.js"
import { kafkaClientContract } from "../support/contract.js"

const inMemory: ContractHarness["run"] = (body) =>
  Effect.gen(function*() {
    const kafka = yield* MemoryKafka
    const ops: BrokerOps = {
      elapse: (ms) => TestClock.adjust(ms),
      committedByKafka: (groupId, topic) =>
        kafka.committed(groupId).pipe(Effect.map((committed) =>
          new Map([0, 1, 2, 3].flatMap((p) => {
            const offset = committed.get(partitionKey(topic, p))
            return offset === undefined ? [] : [[p, offset] as const]
          }))
        )),
      // One member per group in memory: the group is given one of the two partitions.
      rebalance: (groupId, topic) => kafka.rebalance(groupId, [{ topic, partition: 1 }]),
      outage: (budgetMs) => Effect.andThen(kafka.crash("broker gone"), TestClock.adjust(budgetMs))
    }
    return yield* body(ops)
  }).pipe(Effect.scoped, Effect.provide(MemoryKafka.layer))

kafkaClientContract({
  name: "MemoryKafka",
  test: it.effect,
  timeoutMs: 30_000,
  run: inMemory,
  runWithOutage: inMemory,
  outageSupported: true,
  nullHeaderValue: "null"
})

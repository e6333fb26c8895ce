/**
 * `KafkaClient` over the in-memory broker: the producer and the admin calls
 * here, consumers from `MemoryConsumer`.
 */
import { Clock, Effect } from "effect"
import { KafkaError } from "../../../domain/Errors.js"
import type { KafkaProducer, PartitionOffsets, ProducerMessage } from "../KafkaClient.js"
import { KafkaClient } from "../KafkaClient.js"
import type { MemoryBroker } from "./MemoryBroker.js"
import { makeConsumer } from "./MemoryConsumer.js"
import { encode, hashKey } from "./PartitionLog.js"

export const makeClient = (broker: MemoryBroker): KafkaClient["Service"] =>
  KafkaClient.of({
    consumer: makeConsumer(broker),
    producer: Effect.succeed(makeProducer(broker)),
    createTopic: (topic, partitions) =>
      Effect.sync(() => {
        broker.ensureTopic(topic, partitions)
        broker.signal()
      }),
    topicOffsets: Effect.fn("MemoryKafka.topicOffsets")(function*(topic: string) {
      const failure = broker.adminFailures.take()
      if (failure !== undefined) return yield* new KafkaError({ message: failure })
      const logs = broker.partitions(topic)
      if (logs === undefined) return yield* new KafkaError({ message: `Unknown topic ${topic}` })
      return logs.map((log, partition): PartitionOffsets => ({ partition, low: 0, high: log.next }))
    }),
    committedOffsets: (groupId, topic) =>
      Effect.suspend(() => {
        const failure = broker.adminFailures.take()
        return failure !== undefined
          ? Effect.fail(new KafkaError({ message: failure }))
          : Effect.succeed(broker.committedOn(groupId, topic))
      })
  })

/** Without a partition, a keyed record goes to its key's partition and a keyless one round robin. */
const makeProducer = (broker: MemoryBroker): KafkaProducer => ({
  send: Effect.fn("MemoryKafka.send")(function*(messages: ReadonlyArray<ProducerMessage>) {
    const failure = broker.sendFailures.take()
    if (failure !== undefined) return yield* new KafkaError({ message: failure })
    const now = yield* Clock.currentTimeMillis
    for (const message of messages) {
      const partitions = broker.ensureTopic(message.topic, 1).length
      const key = encode(message.key)
      const partition = message.partition ??
        (key === null ? broker.nextRoundRobin(partitions) : hashKey(key) % partitions)
      if (partition < 0 || partition >= partitions) {
        return yield* new KafkaError({ message: `Topic ${message.topic} has no partition ${partition}` })
      }
      broker.append(message.topic, partition, [message], now)
    }
  })
})

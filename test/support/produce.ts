/** Producing test records with kafkajs (acks=all), outside the code under test. */
import { Kafka, logLevel, Partitioners } from "kafkajs"
import { uniqueName } from "./broker.js"

/**
 * Produces `values[i]` (string or null) with key `keyOf(i)` (default `k<i>`) to partition `partitionOf(i)`, in sends of 2,000,
 * each record exactly once: idempotent, so that a send kafkajs retries on a busy machine (a timeout whose
 * request did reach the broker) is not written twice, which tests counting records per partition would
 * read as the pipeline's doing.
 */
export const produceValues = async (
  brokers: string,
  topic: string,
  values: ReadonlyArray<string | null>,
  partitionOf: (i: number) => number = () => 0,
  keyOf: (i: number) => string | null = (i) => `k${i}`
): Promise<void> => {
  const producer = new Kafka({ clientId: uniqueName("e2e-producer"), brokers: brokers.split(","), logLevel: logLevel.NOTHING })
    .producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      // Not kafkajs's idempotent default (retry forever): a test should fail, not hang.
      retry: { retries: 10 }
    })
  await producer.connect()
  try {
    for (let start = 0; start < values.length; start += 2000) {
      await producer.send({
        topic,
        acks: -1,
        messages: values.slice(start, start + 2000).map((value, j) => ({
          key: keyOf(start + j),
          value,
          partition: partitionOf(start + j)
        }))
      })
    }
  } finally {
    await producer.disconnect()
  }
}

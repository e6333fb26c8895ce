/**
 * The real-broker harness itself: scripts/kafka.sh + test/support/broker.ts + kcat.
 * kafkajs, kcat (librdkafka) and Kafka's own ConsumerGroupCommand check one another.
 * With KAFKA_TESTCONTAINERS=1 the same contract holds for brokers in containers (CI runs it so).
 */
import { randomBytes } from "node:crypto"
import { execFile } from "node:child_process"
import { connect, createServer, type AddressInfo } from "node:net"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Kafka, logLevel, Partitioners, type KafkaMessage } from "kafkajs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  BROKER_START_TIMEOUT_MS,
  BrokerControlUnsupported,
  KAFKA_SH,
  sharedBroker,
  startBroker,
  uniqueName,
  type Broker
} from "../support/broker.js"
import { brokerSource } from "../support/brokerSource.js"
import { kcatConsume, kcatProduce, kcatProduceFile, kcatVersion } from "../support/kcat.js"

const external = Boolean(process.env["KAFKA_BROKERS"]?.trim())
const inContainers = brokerSource(process.env, true) === "testcontainers"
const BIG = 9.5 * 1024 * 1024

const kafka = (brokers: string) =>
  new Kafka({ clientId: uniqueName("broker-test"), brokers: brokers.split(","), logLevel: logLevel.NOTHING })

const kafkaSh = (...args: Array<string>) =>
  new Promise<string>((resolve, reject) =>
    execFile(KAFKA_SH, args, (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(stderr))))
  )

const connectTo = (hostPort: string) =>
  new Promise<void>((resolve, reject) => {
    const [host, port] = hostPort.split(",")[0]!.split(":")
    const socket = connect({ host: host!, port: Number(port) })
    socket.once("connect", () => {
      socket.destroy()
      resolve()
    })
    socket.once("error", reject)
  })

interface Received {
  readonly partition: number
  readonly message: KafkaMessage
}

/** Consumes `count` messages from `topic` in consumer group `group` with kafkajs, without committing. */
const consumeWithKafkajs = async (brokers: string, topic: string, group: string, count: number) => {
  const consumer = kafka(brokers).consumer({
    groupId: group,
    maxBytesPerPartition: 16 * 1024 * 1024,
    maxBytes: 32 * 1024 * 1024,
    // kafkajs's disconnect() waits for the fetch in flight, which the broker holds for up
    // to maxWaitTimeInMs (default 5 s) when there is nothing new
    maxWaitTimeInMs: 200
  })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    const received: Array<Received> = []
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kafkajs got ${received.length} of ${count} messages`)), 25_000)
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            received.push({ partition, message })
            if (received.length >= count) {
              clearTimeout(timer)
              resolve()
            }
          }
        })
        .catch(reject)
    })
    return { consumer, received }
  } catch (e) {
    await consumer.disconnect()
    throw e
  }
}

describe("real Kafka broker harness", { tags: ["testcontainers"] }, () => {
  let broker: Broker
  let scratch: string

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "broker-test-"))
    broker = await startBroker()
  }, BROKER_START_TIMEOUT_MS)

  afterAll(async () => {
    await broker?.close()
    await rm(scratch, { recursive: true, force: true })
  }, 60_000)

  it("starts a broker that answers metadata on loopback", async () => {
    expect(broker.brokers).toMatch(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/)
    if (!external) {
      expect(broker.kind).toBe(inContainers ? "container" : "local")
      expect(broker.brokers).toMatch(/^127\.0\.0\.1:\d+$/)
    }
    const admin = kafka(broker.brokers).admin()
    await admin.connect()
    try {
      const cluster = await admin.describeCluster()
      expect(cluster.brokers.length).toBeGreaterThanOrEqual(1)
      if (!external) expect(`${cluster.brokers[0]!.host}:${cluster.brokers[0]!.port}`).toBe(broker.brokers)
    } finally {
      await admin.disconnect()
    }
    expect(await kcatVersion()).toMatch(/^Version \d+\.\d+/)
  })

  it("kafka.sh wait (how a container's broker is awaited): ready at its address, exit 1 where none answers", async () => {
    const first = broker.brokers.split(",")[0]!
    expect(await kafkaSh("wait", first)).toBe(`KAFKA_BROKERS=${first}\n`)
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    await expect(kafkaSh("wait", `127.0.0.1:${port}`, "0")).rejects.toThrow(/no ready broker at 127\.0\.0\.1:\d+ within 0s/)
  })

  it("creates a topic with 3 partitions", async () => {
    const topic = uniqueName("three")
    await broker.createTopic(topic, 3)
    const admin = kafka(broker.brokers).admin()
    await admin.connect()
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] })
      expect(meta.topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2])
    } finally {
      await admin.disconnect()
    }
  })

  it("kcat produces records (keys, headers, null values, raw bytes, 9.5 MB) that kafkajs consumes byte-exact", async () => {
    const topic = uniqueName("kcat-to-kafkajs")
    await broker.createTopic(topic, 3)
    const binary = Buffer.from([0x00, 0xff, 0x0a, 0x1e, 0x1f, 0xc3, 0x28, 0x0d])
    await kcatProduce(broker.brokers, topic, [
      { key: "k-0", value: "plain text, with a comma", partition: 0 },
      { key: "k-1", value: null, partition: 0 },
      { value: "no key", partition: 1, headers: { source: "kcat", "trace-id": "abc" } },
      { key: "", value: "", partition: 1 },
      { key: Buffer.from([0x01, 0x02]), value: binary, partition: 2 },
      { value: null, partition: 2 }
    ])
    const bigFile = join(scratch, "big.bin")
    const big = randomBytes(BIG)
    await writeFile(bigFile, big)
    await kcatProduceFile(broker.brokers, topic, bigFile, { key: "big", partition: 2, headers: { kind: "big" } })

    const { consumer, received } = await consumeWithKafkajs(broker.brokers, topic, uniqueName("g"), 7)
    await consumer.disconnect()
    const by = (p: number) =>
      received
        .filter((r) => r.partition === p)
        .sort((a, b) => Number(a.message.offset) - Number(b.message.offset))
        .map((r) => r.message)
    const [p0, p1, p2] = [by(0), by(1), by(2)]
    expect(p0.map((m) => [m.key?.toString(), m.value?.toString() ?? null])).toEqual([
      ["k-0", "plain text, with a comma"],
      ["k-1", null]
    ])
    expect(p1[0]!.key).toBeNull()
    expect(p1[0]!.value!.toString()).toBe("no key")
    expect(p1[0]!.headers!["source"]!.toString()).toBe("kcat")
    expect(p1[0]!.headers!["trace-id"]!.toString()).toBe("abc")
    expect(p1[1]!.key!.length).toBe(0)
    expect(p1[1]!.value!.length).toBe(0)
    expect(p2[0]!.key).toEqual(Buffer.from([0x01, 0x02]))
    expect(p2[0]!.value).toEqual(binary)
    expect(p2[1]!.key).toBeNull()
    expect(p2[1]!.value).toBeNull()
    expect(p2[2]!.key!.toString()).toBe("big")
    expect(p2[2]!.headers!["kind"]!.toString()).toBe("big")
    expect(p2[2]!.value!.equals(big)).toBe(true)

    // and kcat reads back what it wrote, byte-exact, as it comes off the broker
    const back = await kcatConsume(broker.brokers, topic, { partition: 2 })
    expect(back.map((m) => m.offset)).toEqual([0, 1, 2])
    expect(back[0]!.value).toEqual(binary)
    expect(back[1]!.value).toBeNull()
    expect(back[2]!.value!.equals(big)).toBe(true)
    expect(back[2]!.headers).toEqual({ kind: "big" })
  })

  it("a kafkajs commit is read back with Kafka's own ConsumerGroupCommand", async () => {
    const topic = uniqueName("commits")
    const group = uniqueName("group")
    await broker.createTopic(topic, 3)
    await kcatProduce(
      broker.brokers,
      topic,
      Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 3 }))
    )
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map())

    const { consumer } = await consumeWithKafkajs(broker.brokers, topic, group, 12)
    // commit partitions 0 and 2 only; 1 stays uncommitted
    await consumer.commitOffsets([
      { topic, partition: 0, offset: "4" },
      { topic, partition: 2, offset: "2" }
    ])
    await consumer.disconnect()

    expect(await broker.committedOffsets(group, topic)).toEqual(
      new Map([
        [0, 4],
        [2, 2]
      ])
    )
    // the harness reads Kafka's view, which agrees with kafkajs's
    const admin = kafka(broker.brokers).admin()
    await admin.connect()
    try {
      const fetched = await admin.fetchOffsets({ groupId: group, topics: [topic] })
      expect(fetched[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
        [0, "4"],
        [1, "-1"],
        [2, "2"]
      ])
    } finally {
      await admin.disconnect()
    }
  })

  it.skipIf(external)("restarts on the same port and keeps topics, records and commits", async () => {
    const topic = uniqueName("restart")
    const group = uniqueName("group")
    await broker.createTopic(topic, 3)
    await kcatProduce(broker.brokers, topic, [
      { key: "a", value: "1", partition: 0 },
      { key: "b", value: "2", partition: 1 }
    ])
    const { consumer } = await consumeWithKafkajs(broker.brokers, topic, group, 2)
    await consumer.commitOffsets([{ topic, partition: 1, offset: "1" }])
    await consumer.disconnect()

    const before = broker.brokers
    await broker.restart()
    expect(broker.brokers).toBe(before)

    const back = await kcatConsume(broker.brokers, topic)
    expect(back.map((m) => `${m.partition}:${m.key}=${m.value}`).sort()).toEqual(["0:a=1", "1:b=2"])
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[1, 1]]))

    // and it takes new writes
    const producer = kafka(broker.brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: [{ value: "after restart", partition: 2 }] })
    await producer.disconnect()
    expect((await kcatConsume(broker.brokers, topic, { partition: 2 })).map((m) => m.value?.toString())).toEqual([
      "after restart"
    ])
  }, 60_000)

  it.skipIf(external)("comes back on the same port after SIGKILL with every acknowledged record", async () => {
    const topic = uniqueName("crash")
    await broker.createTopic(topic, 1)
    const producer = kafka(broker.brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 50 }, (_, i) => ({ value: `m${i}` }))
    })
    await producer.disconnect()

    await broker.kill()
    await expect(connectTo(broker.brokers)).rejects.toThrow(/ECONNREFUSED/)
    await broker.start()

    const back = await kcatConsume(broker.brokers, topic)
    expect(back.map((m) => m.value?.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`))
  }, 90_000)

  it("the shared broker works and refuses stop/kill/restart", async () => {
    const shared = await sharedBroker()
    expect(await sharedBroker()).toBe(shared)
    expect(shared.kind).toBe(external ? "external" : "shared")
    const topic = uniqueName("shared")
    await shared.createTopic(topic, 2)
    await kcatProduce(shared.brokers, topic, [{ key: "x", value: "y", partition: 1 }])
    expect((await kcatConsume(shared.brokers, topic)).map((m) => m.value?.toString())).toEqual(["y"])
    await expect(shared.stop()).rejects.toBeInstanceOf(BrokerControlUnsupported)
    await expect(shared.kill()).rejects.toBeInstanceOf(BrokerControlUnsupported)
    await expect(shared.restart()).rejects.toThrow(/not supported/)
  }, BROKER_START_TIMEOUT_MS)
})

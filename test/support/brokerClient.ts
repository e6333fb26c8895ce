/**
 * How the tests reach a real broker besides the pipeline itself: `scripts/kafka.sh` (its
 * start/stop/wait and Kafka's own tools from the jars), topic creation with kafkajs, and
 * committed offsets read with Kafka's ConsumerGroupCommand — never with kafkajs, so they
 * check kafkajs independently. Whatever runs the broker (kafka.sh, a container), these work
 * the same.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Kafka, logLevel } from "kafkajs"

/** Absolute path of `scripts/kafka.sh`. */
export const KAFKA_SH = fileURLToPath(new URL("../../scripts/kafka.sh", import.meta.url))

/**
 * Give `beforeAll` hooks that start a broker this long (vitest's default hook timeout is
 * 10 s; a first start takes ~3 s, a restart after SIGKILL ~7 s, a cold JVM on a busy
 * machine more).
 */
export const BROKER_START_TIMEOUT_MS = 120_000

export interface ShResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const runKafkaSh = (args: ReadonlyArray<string>, timeoutMs = BROKER_START_TIMEOUT_MS): Promise<ShResult> =>
  new Promise((resolve, reject) => {
    execFile(
      KAFKA_SH,
      [...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: process.env },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ code: 0, stdout, stderr })
        const code = typeof error.code === "number" ? error.code : -1
        if (code > 0) return resolve({ code, stdout, stderr })
        reject(new Error(`scripts/kafka.sh ${args.join(" ")}: ${error.message}\n${tail(stderr)}`))
      }
    )
  })

export const tail = (text: string, lines = 40): string => text.trimEnd().split("\n").slice(-lines).join("\n")

/** `kafka.sh ARGS`: its stdout, or an error with the end of its stderr. */
export const kafkaSh = async (args: ReadonlyArray<string>, timeoutMs?: number): Promise<string> => {
  const r = await runKafkaSh(args, timeoutMs)
  if (r.code !== 0) {
    throw new Error(`scripts/kafka.sh ${args.join(" ")} failed (exit ${r.code}):\n${tail(r.stderr)}`)
  }
  return r.stdout
}

/** The address in a `KAFKA_BROKERS=…` line (kafka.sh start, wait). */
export const parseBrokers = (stdout: string): string => {
  const m = /^KAFKA_BROKERS=(\S+)$/m.exec(stdout)
  if (m?.[1] === undefined) throw new Error(`scripts/kafka.sh start printed no KAFKA_BROKERS line:\n${stdout}`)
  return m[1]
}

/** Parses `kafka-consumer-groups --describe --offsets` output for one topic. */
export const parseConsumerGroupOffsets = (output: string, topic: string): Map<number, number> => {
  const result = new Map<number, number>()
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
  const headerAt = lines.findIndex((l) => /^GROUP\s+TOPIC\s+PARTITION\s/.test(l))
  if (headerAt < 0) return result
  const header = lines[headerAt]!.split(/\s+/)
  const topicCol = header.indexOf("TOPIC")
  const partitionCol = header.indexOf("PARTITION")
  const offsetCol = header.indexOf("CURRENT-OFFSET")
  if (topicCol < 0 || partitionCol < 0 || offsetCol < 0) {
    throw new Error(`unexpected ConsumerGroupCommand header: ${lines[headerAt]}`)
  }
  for (const line of lines.slice(headerAt + 1)) {
    const cols = line.split(/\s+/)
    if (cols[topicCol] !== topic) continue
    const partition = Number(cols[partitionCol])
    const offset = cols[offsetCol]
    if (!Number.isInteger(partition) || offset === undefined || offset === "-") continue
    result.set(partition, Number(offset))
  }
  return result
}

/** Creates a topic (replication factor 1) and waits for its partition leaders. */
export const createTopicWithKafkajs = async (
  brokers: string,
  name: string,
  partitions: number,
  configs: Readonly<Record<string, string>> | undefined
): Promise<void> => {
  const admin = new Kafka({
    clientId: "test-support-broker",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING
  }).admin()
  await admin.connect()
  try {
    await admin.createTopics({
      waitForLeaders: false,
      timeout: 30_000,
      topics: [
        {
          topic: name,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries(configs ?? {}).map(([name, value]) => ({ name, value }))
        }
      ]
    })
    // kafkajs's own wait for leaders gives up on UNKNOWN_TOPIC_OR_PARTITION, which a busy broker
    // answers for a moment after creating a topic; this wait retries on any error.
    const deadline = Date.now() + 30_000
    for (;;) {
      const found = await admin.fetchTopicMetadata({ topics: [name] }).then(
        ({ topics }) => topics[0]?.partitions,
        (error: unknown) => {
          if (Date.now() > deadline) throw error
          return undefined
        }
      )
      if (found !== undefined && found.length > 0 && found.every((p) => p.leader >= 0)) {
        if (found.length === partitions) return
        throw new Error(`topic ${name} already exists with ${found.length} partitions, not ${partitions}`)
      }
      if (Date.now() > deadline) throw new Error(`topic ${name}: its partitions have no leader after 30 s`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    await admin.disconnect()
  }
}

/** Committed offsets of `group` on `topic`, by ConsumerGroupCommand (`kafka.sh groups`). */
export const committedOffsetsOf = async (brokers: string, group: string, topic: string): Promise<Map<number, number>> => {
  const r = await runKafkaSh(["groups", "--group", group, "--brokers", brokers], 60_000)
  if (r.code === 3) return new Map() // the group does not exist: nothing committed
  if (r.code !== 0) throw new Error(`kafka.sh groups --group ${group} failed (exit ${r.code}):\n${tail(r.stderr)}`)
  return parseConsumerGroupOffsets(r.stdout, topic)
}

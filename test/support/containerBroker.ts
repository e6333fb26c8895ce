/**
 * Brokers in containers (kafkaContainer.ts) as the tests' `Broker`s, with
 * `KAFKA_TESTCONTAINERS=1`: the run's shared broker, and the brokers tests stop, kill and
 * restart themselves — `docker stop`, `docker kill` and `docker start`, which on the host's
 * network bring a broker back on the same port with its data, as `kafka.sh` does locally.
 */
import type { Broker } from "./broker.js"
import { BROKER_START_TIMEOUT_MS, committedOffsetsOf, createTopicWithKafkajs, kafkaSh } from "./brokerClient.js"
import {
  containerEnv,
  DATA_DIR,
  IMAGE_ENV,
  kafkaImage,
  killKafkaContainer,
  removeKafkaContainer,
  startKafkaContainer,
  startStoppedKafkaContainer,
  stopKafkaContainer,
  TEST_RUN_LABEL
} from "./kafkaContainer.js"

/** Ports are chosen before the broker binds them: another process may take them first. */
const PORT_ATTEMPTS = 3

export interface StartedContainer {
  readonly id: string
  /** `127.0.0.1:port`, ready as after `kafka.sh start` (coordinators, producer ids). */
  readonly brokers: string
}

/** A broker container on free loopback ports, labelled with the test run's id. */
export const startContainer = async (runId: string): Promise<StartedContainer> => {
  const image = kafkaImage(process.env, (await kafkaSh(["version"])).trim())
  for (let attempt = 1; ; attempt++) {
    const port = (await kafkaSh(["free-port"])).trim()
    const controllerPort = (await kafkaSh(["free-port", port])).trim()
    const settings = await kafkaSh(["settings", "--port", port, "--controller-port", controllerPort, "--data-dir", DATA_DIR])
    let id: string
    try {
      id = await startKafkaContainer({
        image,
        env: containerEnv(settings),
        labels: { [TEST_RUN_LABEL]: runId },
        startupTimeoutMs: BROKER_START_TIMEOUT_MS,
        // a named image may come from a registry; the default one is built here
        pull: Boolean(process.env[IMAGE_ENV]?.trim())
      })
    } catch (e) {
      if (attempt < PORT_ATTEMPTS && /Address already in use/.test(String(e))) continue
      throw e
    }
    const brokers = `127.0.0.1:${port}`
    try {
      await kafkaSh(["wait", brokers])
    } catch (e) {
      await removeKafkaContainer(id)
      throw e
    }
    return { id, brokers }
  }
}

/** A container broker this test controls; `close()` removes it (else the run's teardown does). */
export const containerBroker = async (runId: string): Promise<Broker> => {
  const { id, brokers } = await startContainer(runId)
  const stop = () => stopKafkaContainer(id)
  const start = async () => {
    await startStoppedKafkaContainer(id)
    await kafkaSh(["wait", brokers])
  }
  return {
    brokers,
    kind: "container",
    dir: undefined,
    logFile: undefined,
    stop,
    kill: () => killKafkaContainer(id),
    start,
    restart: async () => {
      await stop()
      await start()
    },
    createTopic: (name, partitions, configs) => createTopicWithKafkajs(brokers, name, partitions, configs),
    committedOffsets: (group, topic) => committedOffsetsOf(brokers, group, topic),
    close: () => removeKafkaContainer(id)
  }
}

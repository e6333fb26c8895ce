/**
 * The shared test broker in a Docker container (`KAFKA_TESTCONTAINERS=1`, see
 * brokerSource.ts): the official `apache/kafka` image of the version the jar broker runs
 * (pom.xml), single node, KRaft combined mode, started with testcontainers.
 *
 * NOT RUN on the project's machines, which have no Docker engine: this path is only
 * type-checked against testcontainers, and its pure parts (image, environment, starter
 * script) are unit-tested. Keep it small.
 *
 * Not `@testcontainers/kafka`'s KafkaContainer: it drives Confluent images only
 * (`/etc/confluent/docker/run`), and its `withKraft()` rejects an `apache/kafka:4.x` tag
 * as a Confluent Platform version below 7. This does what testcontainers-java's
 * KafkaContainer does for `apache/kafka`: the container starts with a command that waits
 * for a starter script; once the host port mapped to 9092 is known, the script is copied
 * in and starts Kafka advertising that address. So every client on the host — kafkajs,
 * kcat, and ConsumerGroupCommand (`kafka.sh groups --brokers host:port`, which reads the
 * committed offsets) — bootstraps at host:mappedPort and is sent back to it by metadata
 * and FindCoordinator; the broker reaches itself on its BROKER listener.
 *
 * testcontainers is imported only here, and only when a container is started or stopped.
 */
type Environment = Record<string, string>

/** The container port of the listener clients use (mapped to a random host port). */
export const KAFKA_PORT = 9092

const STARTER_SCRIPT = "/tmp/ekp-kafka-start.sh"
/** Copied after the script, so the waiting command never runs a half-copied one. */
const STARTER_READY = "/tmp/ekp-kafka-start.ready"
const WAITING = "ekp: waiting for the starter script"

/** A Kafka cluster id: 16 bytes in base64url ("ekp-test-broker!"); each container is a new cluster. */
export const CLUSTER_ID = "ZWtwLXRlc3QtYnJva2VyIQ"

export const kafkaImage = (kafkaVersion: string): string => `apache/kafka:${kafkaVersion}`

/** The node's own settings: KRaft combined mode; clients on PLAINTEXT, the broker itself on BROKER. */
const NODE_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ["process.roles", "broker,controller"],
  ["node.id", "1"],
  ["controller.quorum.voters", "1@localhost:9094"],
  ["listeners", `PLAINTEXT://0.0.0.0:${KAFKA_PORT},BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094`],
  ["listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT"],
  ["inter.broker.listener.name", "BROKER"],
  ["controller.listener.names", "CONTROLLER"]
]

/** `k=v` lines (`kafka.sh settings`), without blanks and `#` comments. */
export const parseSettings = (text: string): Array<[string, string]> =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("#"))
    .map((line) => {
      const at = line.indexOf("=")
      if (at <= 0) throw new Error(`not a k=v setting: ${line}`)
      return [line.slice(0, at), line.slice(at + 1)]
    })

/**
 * The image's environment variable for a broker setting (its KafkaDockerWrapper reads
 * `KAFKA_` variables back with `_` → `.`, `__` → `_`, `___` → `-`).
 */
export const settingEnvName = (setting: string): string =>
  "KAFKA_" + setting.replaceAll("_", "__").replaceAll("-", "___").replaceAll(".", "_").toUpperCase()

/** The container's environment: the node's settings plus `settings` (`kafka.sh settings`). */
export const containerEnv = (settings: string): Environment => ({
  CLUSTER_ID,
  ...Object.fromEntries([...NODE_SETTINGS, ...parseSettings(settings)].map(([k, v]) => [settingEnvName(k), v]))
})

/** Starts Kafka advertising `brokers` (the host and mapped port) to clients. */
export const starterScript = (brokers: string, containerHostname: string): string =>
  `#!/bin/sh\nexport KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://${brokers},BROKER://${containerHostname}:9093\n` +
  `exec /etc/kafka/docker/run\n`

/**
 * Starts the container and Kafka in it; returns once the starter script is in, not once
 * Kafka is ready (wait with `kafka.sh wait B`). Not reaped when this process
 * exits (vitest workers come and go): `stopKafkaContainer` stops it.
 */
export const startKafkaContainer = async (options: {
  readonly image: string
  readonly env: Readonly<Environment>
  readonly labels: Readonly<Record<string, string>>
}): Promise<{ readonly brokers: string; readonly id: string }> => {
  const { GenericContainer, Wait } = await import("testcontainers")
  const container = await new GenericContainer(options.image)
    .withEnvironment({ ...options.env })
    .withExposedPorts(KAFKA_PORT)
    .withLabels({ ...options.labels })
    .withAutoCleanup(false)
    .withCommand(["sh", "-c", `echo '${WAITING}'; while [ ! -f ${STARTER_READY} ]; do sleep 0.1; done; exec ${STARTER_SCRIPT}`])
    .withWaitStrategy(Wait.forLogMessage(WAITING))
    .start()
  const brokers = `${container.getHost()}:${container.getMappedPort(KAFKA_PORT)}`
  await container.copyContentToContainer([
    { content: starterScript(brokers, container.getHostname()), target: STARTER_SCRIPT, mode: 0o755 }
  ])
  await container.copyContentToContainer([{ content: "", target: STARTER_READY }])
  return { brokers, id: container.getId() }
}

/** Stops and removes the container (gone already: nothing to do). */
export const stopKafkaContainer = async (id: string): Promise<void> => {
  const { getContainerRuntimeClient } = await import("testcontainers")
  const client = await getContainerRuntimeClient()
  const container = client.container.getById(id)
  try {
    await client.container.stop(container, { timeout: 10 })
    await client.container.remove(container, { removeVolumes: true })
  } catch (e) {
    if ((e as { statusCode?: unknown }).statusCode !== 404) throw e
  }
}

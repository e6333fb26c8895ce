/**
 * A Kafka broker in a Docker container, started with testcontainers (`KAFKA_TESTCONTAINERS=1`,
 * see brokerSource.ts): by default the image `scripts/docker.sh build` makes of the version the
 * jar broker runs (pom.xml); with `KAFKA_TESTCONTAINERS_IMAGE`, any other, such as the official
 * `apache/kafka` of that version, pulled from Docker Hub. Both read their broker settings from
 * the same `KAFKA_*` variables (scripts/kafka-image-run.sh does as apache/kafka does).
 *
 * Host networking only: the broker listens on 127.0.0.1 ports chosen on the host beforehand,
 * with the very settings of a local broker of `kafka.sh` (`kafka.sh settings --port …`). So
 * every client on the host — kafkajs, kcat, ConsumerGroupCommand — bootstraps at
 * 127.0.0.1:port and is sent back there, and a container stopped or killed and started again
 * comes back on the same port with its data. No bridge network, no mapped ports.
 *
 * Run by CI (.ci/run) on the private engine of `scripts/docker.sh`. Containers are not left to
 * testcontainers' reaper (ryuk): a container outlives the vitest worker that started it, so the
 * tests remove their own (by id, and a run's leftovers by the label `TEST_RUN_LABEL`). Ryuk,
 * which would need its image from Docker Hub, is disabled unless asked for.
 *
 * testcontainers is imported only here, and only when a container is started or stopped.
 */
import { randomBytes } from "node:crypto"
import type { Readable } from "node:stream"
import type { Env } from "./brokerSource.js"

type Environment = Record<string, string>

/** Names the image the tests run; unset, the one `scripts/docker.sh build` makes. */
export const IMAGE_ENV = "KAFKA_TESTCONTAINERS_IMAGE"

/** The image `scripts/docker.sh build` makes (its name without `KAFKA_TESTCONTAINERS_IMAGE`). */
export const localImage = (kafkaVersion: string): string => `effect-kafka-pipeline/kafka:${kafkaVersion}`

export const kafkaImage = (env: Env, kafkaVersion: string): string => env[IMAGE_ENV]?.trim() || localImage(kafkaVersion)

/** On every container of a test run, valued with the run's id: a killed run's are found by it. */
export const TEST_RUN_LABEL = "effect-kafka-pipeline.test-run"
const CONTAINER_LABEL = "effect-kafka-pipeline.container"

/** The broker's data dir in the container (apache/kafka's user may write there; ours runs as root). */
export const DATA_DIR = "/var/lib/kafka/data"

/** A Kafka cluster id: 16 bytes in base64url ("ekp-test-broker!"); each container is a new cluster. */
export const CLUSTER_ID = "ZWtwLXRlc3QtYnJva2VyIQ"

/** What the broker logs once it serves (KafkaRaftServer); testcontainers waits for it. */
export const STARTED = /Kafka Server started/

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
 * The variable a broker setting is read from (`_` → `.`, `__` → `_`, `___` → `-`, as
 * apache/kafka's KafkaDockerWrapper and scripts/kafka-image-run.sh read them back).
 */
export const settingEnvName = (setting: string): string =>
  "KAFKA_" + setting.replaceAll("_", "__").replaceAll("-", "___").replaceAll(".", "_").toUpperCase()

/** The container's environment for a node's settings (`kafka.sh settings --port … --data-dir …`). */
export const containerEnv = (settings: string): Environment => ({
  CLUSTER_ID,
  ...Object.fromEntries(parseSettings(settings).map(([k, v]) => [settingEnvName(k), v]))
})

/**
 * testcontainers' settings for host networking, unless set already: no reaper (see above),
 * and the host is this machine's loopback (else, seeing /.dockerenv, it would look for a
 * bridge network's gateway and run an `alpine` container to find one).
 */
export const testcontainersDefaults = (env: Env): Environment =>
  Object.fromEntries(
    Object.entries({ TESTCONTAINERS_RYUK_DISABLED: "true", TESTCONTAINERS_HOST_OVERRIDE: "127.0.0.1" }).filter(
      ([name]) => env[name] === undefined
    )
  )

const testcontainers = async () => {
  Object.assign(process.env, testcontainersDefaults(process.env))
  return import("testcontainers")
}

const runtime = async () => (await testcontainers()).getContainerRuntimeClient()

/** The last `max` lines of a container's log as it is written. */
const logTail = (max: number) => {
  const lines: Array<string> = []
  let stream: Readable | undefined
  return {
    consume: (s: Readable) => {
      stream = s
      s.on("data", (chunk: unknown) => {
        lines.push(...String(chunk).split("\n").filter((l) => l.length > 0))
        lines.splice(0, Math.max(lines.length - max, 0))
      })
    },
    text: () => lines.join("\n"),
    close: () => stream?.destroy()
  }
}

/**
 * Starts a container on the host's network and waits until Kafka says it has started (then
 * wait with `kafka.sh wait` for it to be ready as a local broker is). Not reaped when this
 * process exits: `removeKafkaContainer` removes it. On failure the container is removed and
 * the error carries the end of its log.
 */
export const startKafkaContainer = async (options: {
  readonly image: string
  readonly env: Readonly<Environment>
  readonly labels: Readonly<Record<string, string>>
  readonly startupTimeoutMs: number
  /** false: the image must be here already (the local one is built, never pulled). */
  readonly pull: boolean
}): Promise<string> => {
  const { GenericContainer, PullPolicy, Wait } = await testcontainers()
  const tag = randomBytes(8).toString("hex")
  const log = logTail(40)
  try {
    const container = await new GenericContainer(options.image)
      .withNetworkMode("host")
      .withEnvironment({ ...options.env })
      .withLabels({ ...options.labels, [CONTAINER_LABEL]: tag })
      .withAutoCleanup(false)
      .withPullPolicy(options.pull ? PullPolicy.defaultPolicy() : PullPolicy.neverPull())
      .withLogConsumer(log.consume)
      .withWaitStrategy(Wait.forLogMessage(STARTED))
      .withStartupTimeout(options.startupTimeoutMs)
      .start()
    return container.getId()
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    const client = await runtime()
    const left = await client.container.fetchByLabel(CONTAINER_LABEL, tag).catch(() => undefined)
    if (left !== undefined) await removeKafkaContainer(left.id)
    const hint = /does not exist locally/.test(message) ? " (build it with: scripts/docker.sh build)" : ""
    throw new Error(`Kafka container ${options.image} failed to start: ${message}${hint}\n${log.text()}`)
  } finally {
    log.close()
  }
}

/** `docker stop`: SIGTERM (a clean shutdown), SIGKILL after `timeoutMs`; returns once it has exited. */
export const stopKafkaContainer = async (id: string, timeoutMs = 30_000): Promise<void> => {
  const client = await runtime()
  // testcontainers takes milliseconds (and passes whole seconds on to Docker)
  await client.container.stop(client.container.getById(id), { timeout: timeoutMs })
}

/** `docker kill` (SIGKILL, a crash); returns once it has exited. */
export const killKafkaContainer = async (id: string): Promise<void> => {
  const container = (await runtime()).container.getById(id)
  await container.kill({ signal: "SIGKILL" })
  await container.wait()
}

/** `docker start` of a stopped container: the same ports, the same data. */
export const startStoppedKafkaContainer = async (id: string): Promise<void> => {
  const client = await runtime()
  await client.container.start(client.container.getById(id))
}

/** `docker rm -f`: kills and removes the container, its data with it (gone already: nothing to do). */
export const removeKafkaContainer = async (id: string): Promise<void> => {
  const container = (await runtime()).container.getById(id)
  try {
    await container.remove({ force: true, v: true })
  } catch (e) {
    if ((e as { statusCode?: unknown }).statusCode !== 404) throw e
  }
}

/** Removes every container of a test run (`TEST_RUN_LABEL`), running or not. */
export const removeRunContainers = async (runId: string): Promise<number> => {
  const client = await runtime()
  const found = await client.container.dockerode.listContainers({
    all: true,
    filters: { label: [`${TEST_RUN_LABEL}=${runId}`] }
  })
  await Promise.all(found.map((c) => removeKafkaContainer(c.Id)))
  return found.length
}

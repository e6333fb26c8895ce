/**
 * A real Apache Kafka broker for e2e tests, driven through `scripts/kafka.sh`
 * (single-node KRaft on 127.0.0.1, Maven Central jars, the machine's Java 17).
 *
 * Two ways to get one:
 *
 * - `sharedBroker()` — one broker for the whole vitest run, shared by every test file
 *   (starting Kafka costs seconds). Started lazily by the first test file that asks,
 *   whatever worker it runs in; the others wait for it. Stopped by the `teardown` of
 *   this module when it is a vitest `globalSetup` entry, otherwise by the watchdog of
 *   `kafka.sh start --owner-pid` when the vitest process exits. Tests must use unique
 *   topic and group names (see `uniqueName`). It cannot be stopped, killed or restarted.
 *
 * - `startBroker()` — a broker of the test file's own, in a fresh temp dir, which
 *   `stop()`, `kill()`, `start()` and `restart()` control (same port, same data).
 *   Call `close()` when done (stops it and deletes its dir).
 *
 * Both honour `KAFKA_BROKERS`: when it is set, that broker is used as is and
 * `stop` / `kill` / `start` / `restart` throw `BrokerControlUnsupported`.
 *
 * With `KAFKA_TESTCONTAINERS=1` (and no `KAFKA_BROKERS`) both are containers instead
 * (kafkaContainer.ts, containerBroker.ts; the order is in brokerSource.ts) on the host's
 * network, configured as the local ones: the shared one started by the first test file that
 * asks, like the local one, and a test's own stopped, killed and started with Docker (same
 * port, same data). Every container of the run carries its id as a label; `teardown`
 * removes them all. Asked for with no Docker engine answering, `setup` (and `sharedBroker`)
 * fail at once with `NoDockerEngine`. CI runs the broker contract and a slice of the e2e
 * tests this way (.ci/run); see the README for the engine and image (scripts/docker.sh).
 *
 * Committed offsets are read with Kafka's own ConsumerGroupCommand (from the same
 * jars, via `kafka.sh groups`), never with kafkajs, so they check kafkajs independently.
 */
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { isMainThread } from "node:worker_threads"
import {
  BROKER_START_TIMEOUT_MS,
  committedOffsetsOf,
  createTopicWithKafkajs,
  kafkaSh,
  parseBrokers,
  runKafkaSh
} from "./brokerClient.js"
import { brokerSource, resolveBrokerSource } from "./brokerSource.js"
import { containerBroker, startContainer } from "./containerBroker.js"
import { removeRunContainers } from "./kafkaContainer.js"

export { BROKER_START_TIMEOUT_MS, KAFKA_SH, parseConsumerGroupOffsets } from "./brokerClient.js"

export type BrokerKind = "local" | "container" | "shared" | "external"

export interface Broker {
  /** Bootstrap servers, `host:port[,host:port]`. */
  readonly brokers: string
  /**
   * `local` / `container`: this test's own (with `KAFKA_TESTCONTAINERS=1`, in a container);
   * `shared`: the run's shared one; `external`: `KAFKA_BROKERS`.
   */
  readonly kind: BrokerKind
  /** Data dir of a local broker, shared or not (holds `kafka.log`, `server.properties`). */
  readonly dir: string | undefined
  /** The broker's log file, for debugging a failed test (a container's: `docker logs`). */
  readonly logFile: string | undefined
  /** SIGTERM and wait for a clean shutdown. A test's own broker only. */
  stop(): Promise<void>
  /** SIGKILL (a crash). A test's own broker only. */
  kill(): Promise<void>
  /** Start again after `stop`/`kill`: same port, same data. A test's own broker only. */
  start(): Promise<void>
  /** `stop()` (if running) then `start()`: same port, same data. A test's own broker only. */
  restart(): Promise<void>
  /** Creates a topic (replication factor 1) and waits for its partition leaders. */
  createTopic(name: string, partitions: number, configs?: Readonly<Record<string, string>>): Promise<void>
  /**
   * Committed offsets of `group` on `topic`, partition → next offset to read, as Kafka's
   * ConsumerGroupCommand reports them. Partitions with no commit are absent; an unknown
   * group gives an empty map.
   */
  committedOffsets(group: string, topic: string): Promise<Map<number, number>>
  /** Local: stop and delete the data dir; container: remove it. Shared / external: nothing. */
  close(): Promise<void>
}

export class BrokerControlUnsupported extends Error {
  override readonly name = "BrokerControlUnsupported"
}

/** A name no other test (or earlier run against the same broker) uses. */
export const uniqueName = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`

// ------------------------------------------------------------------ brokers

const uncontrollable = (brokers: string, kind: "shared" | "external", dir?: string): Broker => {
  const refuse = (what: string) => (): Promise<void> =>
    Promise.reject(
      new BrokerControlUnsupported(
        kind === "external"
          ? `${what}() is not supported on an external broker (KAFKA_BROKERS=${brokers}); ` +
            `unset KAFKA_BROKERS to let the tests start their own`
          : `${what}() is not supported on the shared broker (${brokers}); ` +
            `use startBroker() for a broker this test controls`
      )
    )
  return {
    brokers,
    kind,
    dir,
    logFile: dir === undefined ? undefined : join(dir, "kafka.log"),
    stop: refuse("stop"),
    kill: refuse("kill"),
    start: refuse("start"),
    restart: refuse("restart"),
    createTopic: (name, partitions, configs) => createTopicWithKafkajs(brokers, name, partitions, configs),
    committedOffsets: (group, topic) => committedOffsetsOf(brokers, group, topic),
    close: () => Promise.resolve()
  }
}

const externalBroker = (): Broker | undefined => {
  const brokers = process.env["KAFKA_BROKERS"]?.trim()
  return brokers ? uncontrollable(brokers, "external") : undefined
}

/**
 * A broker this test controls: `KAFKA_BROKERS` if set (then not controllable), else with
 * `KAFKA_TESTCONTAINERS=1` a new container (removed by the run's teardown if `close()` is
 * never called), else a new local broker in a fresh temp dir (or `options.dir`, and
 * `options.port`: local only), stopped when this process exits even if `close()` is never
 * called (kafka.sh's owner-pid watchdog).
 */
export const startBroker = async (options: { readonly dir?: string; readonly port?: number } = {}): Promise<Broker> => {
  const external = externalBroker()
  if (external !== undefined) return external
  if ((await resolveBrokerSource()) === "testcontainers") return containerBroker(runId())

  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "ekp-kafka-")))
  // Stopped (and a temp dir deleted) by kafka.sh's watchdog if this process dies first.
  const watch = ["--owner-pid", String(process.pid), ...(options.dir === undefined ? ["--rm-on-owner-exit"] : [])]
  const startArgs = ["start", "--dir", dir, ...watch]
  if (options.port !== undefined) startArgs.push("--port", String(options.port))
  const brokers = parseBrokers(await kafkaSh(startArgs))
  const stop = async () => void (await kafkaSh(["stop", "--dir", dir]))
  // `start` reuses the port recorded in the dir, so the address never changes.
  const start = async () => {
    const again = parseBrokers(await kafkaSh(["start", "--dir", dir, ...watch]))
    if (again !== brokers) throw new Error(`broker came back on ${again}, expected ${brokers}`)
  }
  return {
    brokers,
    kind: "local",
    dir,
    logFile: join(dir, "kafka.log"),
    stop,
    kill: async () => void (await kafkaSh(["kill", "--dir", dir])),
    start,
    restart: async () => {
      await stop()
      await start()
    },
    createTopic: (name, partitions, configs) => createTopicWithKafkajs(brokers, name, partitions, configs),
    committedOffsets: (group, topic) => committedOffsetsOf(brokers, group, topic),
    close: async () => {
      await stop()
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true })
    }
  }
}

// ------------------------------------------------------------------ the shared broker

const RUN_ID_ENV = "EKP_KAFKA_RUN_ID"

/**
 * The vitest run this process belongs to: set by `setup()` when this module is a
 * globalSetup; otherwise the vitest main process — the parent of a `forks` worker, or
 * this process for a `threads` worker or plain Node.
 */
const runId = (): string => {
  const fromEnv = process.env[RUN_ID_ENV]
  if (fromEnv) return fromEnv
  const inForkWorker = process.env["VITEST_POOL_ID"] !== undefined && isMainThread && process.send !== undefined
  return String(inForkWorker ? process.ppid : process.pid)
}

const sharedDir = (id: string): string => join(tmpdir(), `ekp-kafka-shared-${id}`)

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** How the shared broker is started, recognised as still running, and named. */
interface SharedStarter {
  /** Starts it (recording what `teardown` needs in `dir`); its bootstrap servers. */
  readonly start: (dir: string, id: string) => Promise<string>
  readonly alive: (dir: string, brokers: string) => Promise<boolean>
  /** Its `Broker.dir` (the local broker's data dir holds its log). */
  readonly brokerDir: (dir: string) => string | undefined
}

const localShared: SharedStarter = {
  start: async (dir, id) => parseBrokers(await kafkaSh(["start", "--dir", dir, "--owner-pid", id, "--rm-on-owner-exit"])),
  alive: async (dir) => (await runKafkaSh(["status", "--dir", dir], 30_000)).code === 0,
  brokerDir: (dir) => dir
}

// Removed by `teardown` with the run's other containers (found by its label).
const containerShared: SharedStarter = {
  start: async (_dir, id) => (await startContainer(id)).brokers,
  alive: async (_dir, brokers) => (await runKafkaSh(["wait", brokers, "0"], 30_000)).code === 0,
  brokerDir: () => undefined
}

const startShared = async (starter: SharedStarter): Promise<Broker> => {
  const id = runId()
  const dir = sharedDir(id)
  const lock = `${dir}.lock`
  const ready = join(dir, "shared-brokers")
  const failed = join(dir, "shared-failed")
  const deadline = Date.now() + BROKER_START_TIMEOUT_MS
  for (;;) {
    if (existsSync(ready)) {
      const brokers = (await readFile(ready, "utf8")).trim()
      // It may have died since (or be left over from a run whose pid was reused).
      if (await starter.alive(dir, brokers)) return uncontrollable(brokers, "shared", starter.brokerDir(dir))
      await rm(ready, { force: true })
    }
    if (existsSync(failed)) throw new Error(await readFile(failed, "utf8"))
    try {
      await mkdir(lock)
    } catch {
      // Someone else is starting it; take over only if they died.
      const owner = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "0"))
      if (owner > 0 && !pidAlive(owner)) await rm(lock, { recursive: true, force: true })
      if (Date.now() > deadline) throw new Error(`timed out waiting for the shared Kafka broker in ${dir}`)
      await sleep(200)
      continue
    }
    try {
      await writeFile(join(lock, "pid"), String(process.pid))
      await mkdir(dir, { recursive: true })
      if (existsSync(ready)) continue // started while we were taking the lock
      try {
        const brokers = await starter.start(dir, id)
        await writeFile(`${ready}.tmp`, brokers)
        await rename(`${ready}.tmp`, ready)
        return uncontrollable(brokers, "shared", starter.brokerDir(dir))
      } catch (e) {
        await writeFile(failed, `shared Kafka broker failed to start: ${e instanceof Error ? e.message : String(e)}`)
        throw e
      }
    } finally {
      await rm(lock, { recursive: true, force: true })
    }
  }
}

let shared: Promise<Broker> | undefined

/**
 * The broker shared by the whole test run: `KAFKA_BROKERS` if set, else one broker
 * started on first use (across all vitest workers), in a container with
 * `KAFKA_TESTCONTAINERS=1`, else local. Not controllable.
 */
export const sharedBroker = (): Promise<Broker> => {
  shared ??= (async () => {
    const source = await resolveBrokerSource()
    return externalBroker() ?? (await startShared(source === "testcontainers" ? containerShared : localShared))
  })().catch((e: unknown) => {
    shared = undefined
    throw e
  })
  return shared
}

// ------------------------------------------------------------------ vitest globalSetup

/**
 * vitest `globalSetup` entry (optional): `globalSetup: ["test/support/broker.ts"]`.
 * Starts nothing (the shared broker starts on first use, so unit-only runs stay fast);
 * fails the run at once if `KAFKA_TESTCONTAINERS=1` finds no Docker engine; pins the run
 * id for every worker and stops the shared broker at the end of the run.
 */
export const setup = async (): Promise<() => Promise<void>> => {
  await resolveBrokerSource()
  process.env[RUN_ID_ENV] ??= String(process.pid)
  return teardown
}

/** Stops the shared broker, and removes every container of the run (a test's not closed too). */
export const teardown = async (): Promise<void> => {
  const id = process.env[RUN_ID_ENV] ?? String(process.pid)
  const dir = sharedDir(id)
  const inContainers = brokerSource(process.env, true) === "testcontainers"
  if (inContainers) await removeRunContainers(id)
  if (!existsSync(dir)) return
  if (!inContainers) await kafkaSh(["stop", "--dir", dir], 60_000)
  await rm(dir, { recursive: true, force: true })
}

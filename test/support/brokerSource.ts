/**
 * Which Kafka broker the tests' shared broker is (issue 3), in this order:
 *
 * 1. `external`: `KAFKA_BROKERS` when set — an existing broker, used as is;
 * 2. `testcontainers`: when `KAFKA_TESTCONTAINERS=1` asks for it — Kafka containers
 *    (test/support/kafkaContainer.ts), which need a Docker engine: asked for with none
 *    answering, the run fails at once with `NoDockerEngine`;
 * 3. `local`: otherwise — the single-node broker of `scripts/kafka.sh` (Maven Central jars).
 *
 * A Docker engine counts as available when it answers `GET /_ping` at `DOCKER_HOST`, else
 * at `unix:///var/run/docker.sock`. Nothing here loads testcontainers.
 */
import { request } from "node:http"

export type BrokerSource = "external" | "testcontainers" | "local"

export type Env = Readonly<Record<string, string | undefined>>

/** The environment variable that asks for a testcontainers broker. */
export const TESTCONTAINERS_ENV = "KAFKA_TESTCONTAINERS"

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

/** A set-up error, not a bug: its message says it all, so it carries no stack trace. */
export class NoDockerEngine extends Error {
  override readonly name = "NoDockerEngine"
  constructor(message: string) {
    super(message)
    this.stack = `${this.name}: ${message}`
  }
}

/** Where the Docker engine is looked for: `DOCKER_HOST`, else the default socket. */
export const dockerEndpoint = (env: Env): string => env["DOCKER_HOST"]?.trim() || DEFAULT_DOCKER_HOST

/** `KAFKA_TESTCONTAINERS`: 1/true/yes/on ask; unset, empty, 0/false/no/off do not; anything else throws. */
export const testcontainersRequested = (env: Env): boolean => {
  const value = env[TESTCONTAINERS_ENV]?.trim().toLowerCase() ?? ""
  if (["1", "true", "yes", "on"].includes(value)) return true
  if (["", "0", "false", "no", "off"].includes(value)) return false
  throw new Error(`${TESTCONTAINERS_ENV}=${env[TESTCONTAINERS_ENV]} is neither 1 (use a testcontainers broker) nor 0`)
}

/**
 * The decision, pure: `dockerAnswers` says whether a Docker engine answered at
 * `dockerEndpoint(env)` (it matters only when testcontainers is asked for and
 * `KAFKA_BROKERS` is not set). Throws `NoDockerEngine` (one line) when it is asked for
 * and none answered.
 */
export const brokerSource = (env: Env, dockerAnswers: boolean): BrokerSource => {
  if (env["KAFKA_BROKERS"]?.trim()) return "external"
  if (!testcontainersRequested(env)) return "local"
  if (dockerAnswers) return "testcontainers"
  throw new NoDockerEngine(
    `${TESTCONTAINERS_ENV}=${env[TESTCONTAINERS_ENV]} asks for a Kafka broker in a Docker container, ` +
      `but no Docker engine answered at ${dockerEndpoint(env)} ` +
      `(${env["DOCKER_HOST"]?.trim() ? "DOCKER_HOST" : "the default; DOCKER_HOST names another"}): ` +
      `unset ${TESTCONTAINERS_ENV} to use the local broker (scripts/kafka.sh), or set KAFKA_BROKERS to use an existing one`
  )
}

/** How to reach a Docker endpoint with plain HTTP; undefined for schemes not probed (ssh://, npipe://). */
export const dockerProbeTarget = (
  endpoint: string
): { readonly socketPath: string } | { readonly host: string; readonly port: number } | undefined => {
  if (endpoint.startsWith("unix://")) return { socketPath: endpoint.slice("unix://".length) }
  const tcp = /^tcp:\/\/\[?([^\]/]+?)\]?:(\d+)\/?$/.exec(endpoint)
  return tcp === null ? undefined : { host: tcp[1]!, port: Number(tcp[2]) }
}

/**
 * Does a Docker engine answer `GET /_ping` at `endpoint`? Any HTTP answer counts (a TLS
 * port answers plain HTTP with 400). Endpoints not probed here count as answering: then
 * testcontainers itself says whether it can use them.
 */
export const dockerAnswers = (endpoint: string, timeoutMs = 2_000): Promise<boolean> => {
  const target = dockerProbeTarget(endpoint)
  if (target === undefined) return Promise.resolve(true)
  return new Promise((resolve) => {
    const req = request({ ...target, path: "/_ping", method: "GET", timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(true)
    })
    req.once("timeout", () => req.destroy(new Error("timed out")))
    req.once("error", () => resolve(false))
    req.end()
  })
}

/** `brokerSource` for this environment, asking the Docker engine only when it matters. */
export const resolveBrokerSource = async (env: Env = process.env): Promise<BrokerSource> => {
  const ifDockerAnswers = brokerSource(env, true)
  if (ifDockerAnswers !== "testcontainers") return ifDockerAnswers
  return brokerSource(env, await dockerAnswers(dockerEndpoint(env)))
}

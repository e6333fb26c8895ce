/**
 * Which broker the tests use (test/support/brokerSource.ts). No Docker engine is needed:
 * the engine probe runs against real sockets here (an HTTP server standing in for the
 * engine, and paths and ports where nothing answers). The container's configuration:
 * KafkaContainer.test.ts.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { mkdtemp, rm } from "node:fs/promises"
import { createServer as createHttpServer, type Server as HttpServer } from "node:http"
import { createServer as createNetServer, type AddressInfo, type Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { vi } from "vitest"
import { setup, sharedBroker } from "../support/broker.js"
import {
  brokerSource,
  DEFAULT_DOCKER_HOST,
  dockerAnswers,
  dockerEndpoint,
  dockerProbeTarget,
  NoDockerEngine,
  resolveBrokerSource,
  TESTCONTAINERS_ENV,
  testcontainersRequested
} from "../support/brokerSource.js"

const listen = <S extends Server | HttpServer>(server: S, at: string | number): Promise<S> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(at, () => resolve(server))
  })

const close = (server: Server | HttpServer) => new Promise<void>((resolve) => server.close(() => resolve()))

const withTempDir = async <A>(use: (dir: string) => Promise<A>): Promise<A> => {
  const dir = await mkdtemp(join(tmpdir(), "broker-source-"))
  try {
    return await use(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  return assert.fail("did not throw")
}

const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => assert.fail("resolved"),
    (e: unknown) => e
  )

/** An HTTP server on a unix socket that answers `/_ping` as a Docker engine does. */
const withFakeEngine = <A>(use: (dockerHost: string) => Promise<A>): Promise<A> =>
  withTempDir(async (dir) => {
    const socket = join(dir, "docker.sock")
    const server = await listen(
      createHttpServer((req, res) => res.writeHead(req.url === "/_ping" ? 200 : 404).end("OK")),
      socket
    )
    try {
      return await use(`unix://${socket}`)
    } finally {
      await close(server)
    }
  })

describe("brokerSource: KAFKA_BROKERS, else testcontainers when asked for, else local", () => {
  it("KAFKA_BROKERS wins, whatever else is set", () => {
    for (const docker of [true, false]) {
      assert.strictEqual(brokerSource({ KAFKA_BROKERS: "k:9092" }, docker), "external")
      assert.strictEqual(brokerSource({ KAFKA_BROKERS: "k:9092", [TESTCONTAINERS_ENV]: "1" }, docker), "external")
    }
  })

  it("testcontainers only when asked for and a Docker engine answers", () => {
    assert.strictEqual(brokerSource({ [TESTCONTAINERS_ENV]: "1" }, true), "testcontainers")
    assert.strictEqual(brokerSource({ [TESTCONTAINERS_ENV]: "1", KAFKA_BROKERS: "  " }, true), "testcontainers")
    assert.strictEqual(brokerSource({}, true), "local")
    assert.strictEqual(brokerSource({ [TESTCONTAINERS_ENV]: "0" }, true), "local")
  })

  it("local otherwise", () => {
    assert.strictEqual(brokerSource({}, false), "local")
    assert.strictEqual(brokerSource({ KAFKA_BROKERS: "" }, false), "local")
  })

  it("asked for with no Docker engine: one line naming the variable, where it looked, and what to do", () => {
    const error = thrown(() => brokerSource({ [TESTCONTAINERS_ENV]: "1" }, false))
    assert.instanceOf(error, NoDockerEngine)
    const message = (error as NoDockerEngine).message
    assert.notInclude(message, "\n")
    assert.include(message, "KAFKA_TESTCONTAINERS=1")
    assert.include(message, "no Docker engine answered at unix:///var/run/docker.sock")
    assert.include(message, "unset KAFKA_TESTCONTAINERS")
    assert.include(message, "set KAFKA_BROKERS")
    const elsewhere = thrown(() => brokerSource({ [TESTCONTAINERS_ENV]: "1", DOCKER_HOST: "tcp://d:2375" }, false))
    assert.include((elsewhere as Error).message, "at tcp://d:2375 (DOCKER_HOST)")
  })

  it("KAFKA_TESTCONTAINERS takes yes/no words; anything else is an error, not a silent no", () => {
    for (const yes of ["1", "true", "YES", " on "]) assert.isTrue(testcontainersRequested({ [TESTCONTAINERS_ENV]: yes }))
    for (const no of [undefined, "", "0", "false", "No", "off"]) {
      assert.isFalse(testcontainersRequested({ [TESTCONTAINERS_ENV]: no }))
    }
    assert.throws(() => testcontainersRequested({ [TESTCONTAINERS_ENV]: "docker" }), /KAFKA_TESTCONTAINERS=docker/)
  })
})

describe("the Docker engine probe", () => {
  it("looks at DOCKER_HOST, else the default socket", () => {
    assert.strictEqual(dockerEndpoint({}), DEFAULT_DOCKER_HOST)
    assert.strictEqual(dockerEndpoint({ DOCKER_HOST: " " }), DEFAULT_DOCKER_HOST)
    assert.strictEqual(dockerEndpoint({ DOCKER_HOST: "tcp://127.0.0.1:2375" }), "tcp://127.0.0.1:2375")
    assert.deepStrictEqual(dockerProbeTarget("unix:///run/user/1000/docker.sock"), {
      socketPath: "/run/user/1000/docker.sock"
    })
    assert.deepStrictEqual(dockerProbeTarget("tcp://10.0.0.5:2376"), { host: "10.0.0.5", port: 2376 })
    assert.deepStrictEqual(dockerProbeTarget("tcp://[::1]:2375/"), { host: "::1", port: 2375 })
    assert.isUndefined(dockerProbeTarget("ssh://me@host"))
  })

  it("an engine answering /_ping on a unix socket counts", () =>
    withFakeEngine(async (dockerHost) => {
      assert.isTrue(await dockerAnswers(dockerHost))
      assert.strictEqual(await resolveBrokerSource({ [TESTCONTAINERS_ENV]: "1", DOCKER_HOST: dockerHost }), "testcontainers")
    }))

  it("no socket, a closed port or a silent listener do not", () =>
    withTempDir(async (dir) => {
      assert.isFalse(await dockerAnswers(`unix://${join(dir, "docker.sock")}`))
      const closed = await listen(createNetServer(), 0)
      const port = (closed.address() as AddressInfo).port
      await close(closed)
      assert.isFalse(await dockerAnswers(`tcp://127.0.0.1:${port}`))
      const silent = await listen(createNetServer(() => {}), 0)
      try {
        assert.isFalse(await dockerAnswers(`tcp://127.0.0.1:${(silent.address() as AddressInfo).port}`, 200))
      } finally {
        silent.close()
      }
    }))

  it("endpoints it cannot probe (ssh://) are left to testcontainers", async () => {
    assert.isTrue(await dockerAnswers("ssh://me@host"))
  })
})

describe("resolveBrokerSource and the test harness: asked for, no Docker engine, the run stops at once", () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it("asks the engine only when it matters", async () => {
    assert.strictEqual(await resolveBrokerSource({}), "local")
    // No probe here: an unanswerable DOCKER_HOST would make it throw.
    const nowhere = "unix:///nonexistent/docker.sock"
    assert.strictEqual(
      await resolveBrokerSource({ KAFKA_BROKERS: "k:9092", [TESTCONTAINERS_ENV]: "1", DOCKER_HOST: nowhere }),
      "external"
    )
    assert.strictEqual(await resolveBrokerSource({ [TESTCONTAINERS_ENV]: "0", DOCKER_HOST: nowhere }), "local")
  })

  it("rejects with NoDockerEngine when nothing answers where it looks", () =>
    withTempDir(async (dir) => {
      const dockerHost = `unix://${join(dir, "docker.sock")}`
      const error = await rejection(resolveBrokerSource({ [TESTCONTAINERS_ENV]: "1", DOCKER_HOST: dockerHost }))
      assert.instanceOf(error, NoDockerEngine)
      assert.include((error as Error).message, `no Docker engine answered at ${dockerHost} (DOCKER_HOST)`)
    }))

  it("the vitest globalSetup and sharedBroker() fail with it, starting nothing", () =>
    withTempDir(async (dir) => {
      vi.stubEnv("KAFKA_BROKERS", "")
      vi.stubEnv(TESTCONTAINERS_ENV, "1")
      vi.stubEnv("DOCKER_HOST", `unix://${join(dir, "docker.sock")}`)
      const failsFast = async (run: () => Promise<unknown>) => {
        const started = Date.now()
        const error = await rejection(run())
        assert.instanceOf(error, NoDockerEngine)
        assert.isBelow(Date.now() - started, 5_000)
      }
      await failsFast(setup)
      await failsFast(sharedBroker)
    }))
})

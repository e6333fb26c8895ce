/**
 * The testcontainers broker's configuration (test/support/kafkaContainer.ts): which image,
 * and the environment that makes a container on the host's network the broker `kafka.sh`
 * runs locally. Read back both as the apache/kafka image reads it and by running the local
 * image's own entrypoint (scripts/kafka-image-run.sh --print-config). No Docker engine needed.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import {
  CLUSTER_ID,
  containerEnv,
  DATA_DIR,
  IMAGE_ENV,
  kafkaImage,
  localImage,
  parseSettings,
  settingEnvName,
  STARTED,
  testcontainersDefaults
} from "../support/kafkaContainer.js"

const script = (name: string) => new URL(`../../scripts/${name}`, import.meta.url).pathname
const kafkaSh = (...args: Array<string>) => execFileSync(script("kafka.sh"), args, { encoding: "utf8" })
const version = kafkaSh("version").trim()

/** A node of kafka.sh's on these ports, data in the container's data dir. */
const nodeSettings = (port = 23456, controllerPort = 23457) =>
  kafkaSh("settings", "--port", String(port), "--controller-port", String(controllerPort), "--data-dir", DATA_DIR)

/** How the apache/kafka image reads a KAFKA_ variable back (its KafkaDockerWrapper). */
const imageReadsBack = (name: string) =>
  name.replace(/^KAFKA_/, "").toLowerCase().replaceAll("_", ".").replaceAll("...", "-").replaceAll("..", "_")

/** The server.properties the local image's entrypoint writes for `env` (nothing else in its environment). */
const entrypointConfig = (env: Record<string, string>): Map<string, string> =>
  new Map(
    parseSettings(
      execFileSync("/bin/sh", [script("kafka-image-run.sh"), "--print-config"], {
        encoding: "utf8",
        env: { PATH: process.env["PATH"], ...env }
      })
    )
  )

describe("the image", () => {
  it("is the one scripts/docker.sh builds, of the version the jar broker runs (pom.xml)", () => {
    assert.match(version, /^\d+\.\d+\.\d+$/)
    assert.strictEqual(kafkaImage({}, version), `effect-kafka-pipeline/kafka:${version}`)
    assert.strictEqual(kafkaImage({ [IMAGE_ENV]: " " }, version), localImage(version))
  })

  it("KAFKA_TESTCONTAINERS_IMAGE names another, such as apache/kafka of that version", () => {
    assert.strictEqual(kafkaImage({ [IMAGE_ENV]: `apache/kafka:${version}` }, version), `apache/kafka:${version}`)
  })
})

describe("the container's environment", () => {
  it("is a node of kafka.sh's on the host's loopback: the ports chosen on the host, no mapping", () => {
    const settings = new Map(parseSettings(nodeSettings(23456, 23457)))
    assert.strictEqual(settings.get("listeners"), "PLAINTEXT://127.0.0.1:23456,CONTROLLER://127.0.0.1:23457")
    assert.strictEqual(settings.get("advertised.listeners"), "PLAINTEXT://127.0.0.1:23456")
    assert.strictEqual(settings.get("controller.quorum.voters"), "1@127.0.0.1:23457")
    assert.strictEqual(settings.get("process.roles"), "broker,controller")
    assert.strictEqual(settings.get("log.dirs"), DATA_DIR)
    // and every setting a local broker gets besides
    for (const [k, v] of parseSettings(kafkaSh("settings"))) assert.strictEqual(settings.get(k), v, k)
  })

  it("carries every setting under the name apache/kafka reads back, and the cluster id", () => {
    const expected = parseSettings(nodeSettings())
    const env = containerEnv(nodeSettings())
    const fromEnv = new Map(
      Object.entries(env)
        .filter(([name]) => name.startsWith("KAFKA_"))
        .map(([name, value]) => [imageReadsBack(name), value])
    )
    assert.isAbove(expected.length, 25)
    assert.deepStrictEqual(fromEnv, new Map(expected))
    assert.strictEqual(fromEnv.get("message.max.bytes"), "16777216")
    assert.strictEqual(env["CLUSTER_ID"], CLUSTER_ID)
    assert.strictEqual(Buffer.from(CLUSTER_ID, "base64url").length, 16) // a Kafka Uuid
  })

  it("is turned back into exactly those settings by the local image's entrypoint", () => {
    const settings = nodeSettings()
    assert.deepStrictEqual(entrypointConfig(containerEnv(settings)), new Map(parseSettings(settings)))
  })

  it("the entrypoint keeps the JVM's variables out of server.properties, as apache/kafka does", () => {
    const config = entrypointConfig({ KAFKA_HEAP_OPTS: "-Xmx1g", KAFKA_OPTS: "-Dx=y", KAFKA_VERSION: "1", KAFKA_A_B: "c" })
    assert.deepStrictEqual(config, new Map([["a.b", "c"]]))
  })

  it("names settings with dots, underscores and dashes as both images expect", () => {
    for (const setting of ["log.dirs", "a_b.c", "x-y.z_w"]) {
      assert.strictEqual(imageReadsBack(settingEnvName(setting)), setting)
      assert.deepStrictEqual(entrypointConfig({ [settingEnvName(setting)]: "v" }), new Map([[setting, "v"]]))
    }
    assert.strictEqual(settingEnvName("group.min.session.timeout.ms"), "KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS")
    assert.throws(() => parseSettings("no-equals-sign"), /not a k=v setting/)
    assert.deepStrictEqual(parseSettings("# c\n\n a=b=c \n"), [["a", "b=c"]])
  })
})

describe("testcontainers' settings", () => {
  it("no reaper, the host's loopback as the host, unless set otherwise", () => {
    assert.deepStrictEqual(testcontainersDefaults({}), {
      TESTCONTAINERS_RYUK_DISABLED: "true",
      TESTCONTAINERS_HOST_OVERRIDE: "127.0.0.1"
    })
    assert.deepStrictEqual(testcontainersDefaults({ TESTCONTAINERS_RYUK_DISABLED: "false" }), {
      TESTCONTAINERS_HOST_OVERRIDE: "127.0.0.1"
    })
  })

  it("waits for the line Kafka logs once it serves", () => {
    assert.match("[2026-01-01 00:00:00,000] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)", STARTED)
  })
})

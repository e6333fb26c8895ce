/**
 * scripts/docker.sh, the parts that need no Docker engine: which image it builds and what
 * the build is cached by, and that it starts or stops nothing it should not — a DOCKER_HOST
 * that does not answer, a folder too long for the engine's sockets, a registry image to
 * build, a stop with nothing of its own running. Its engine and build run in CI (.ci/run).
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { kafkaImage } from "../support/kafkaContainer.js"

const DOCKER_SH = new URL("../../scripts/docker.sh", import.meta.url).pathname

const withTempDir = <A>(use: (dir: string) => A): A => {
  const dir = mkdtempSync(join(tmpdir(), "docker-sh-"))
  try {
    return use(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs docker.sh with the caller's environment minus anything naming an engine or an image. */
const dockerSh = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !["DOCKER_HOST", "DOCKER_ENGINE_DIR", "KAFKA_TESTCONTAINERS_IMAGE", "JAVA"].includes(name)
    )
  )
  const r = spawnSync(DOCKER_SH, [...args], { encoding: "utf8", env: { ...base, ...env }, timeout: 30_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const version = spawnSync(new URL("../../scripts/kafka.sh", import.meta.url).pathname, ["version"], {
  encoding: "utf8"
}).stdout.trim()

describe("docker.sh image and image-key", () => {
  it("names the image as the tests do: effect-kafka-pipeline/kafka:<version>, or KAFKA_TESTCONTAINERS_IMAGE", () => {
    assert.strictEqual(dockerSh(["image"]).stdout, `${kafkaImage({}, version)}\n`)
    const named = dockerSh(["image"], { KAFKA_TESTCONTAINERS_IMAGE: "registry.example/kafka:x" })
    assert.strictEqual(named.stdout, "registry.example/kafka:x\n")
  })

  it("caches the build by a key of what goes in: the same twice, another for another Java build", () =>
    withTempDir((dir) => {
      const key = dockerSh(["image-key"])
      assert.strictEqual(key.code, 0, key.stderr)
      assert.match(key.stdout, /^[0-9a-f]{16}\n$/)
      assert.strictEqual(dockerSh(["image-key"]).stdout, key.stdout)
      // a JRE that is another build: only its release file differs here
      mkdirSync(join(dir, "bin"))
      writeFileSync(join(dir, "bin", "java"), "#!/bin/sh\n")
      chmodSync(join(dir, "bin", "java"), 0o755)
      writeFileSync(join(dir, "release"), 'JAVA_VERSION="17.0.99"\n')
      const other = dockerSh(["image-key"], { JAVA: join(dir, "bin", "java") })
      assert.strictEqual(other.code, 0, other.stderr)
      assert.notStrictEqual(other.stdout, key.stdout)
    }))
})

describe("docker.sh leaves engines alone that are not its own", () => {
  it("start with a DOCKER_HOST that does not answer: an error naming it, nothing started", () =>
    withTempDir((dir) => {
      const r = dockerSh(["start"], { DOCKER_HOST: `unix://${dir}/docker.sock`, DOCKER_ENGINE_DIR: join(dir, "engine") })
      assert.strictEqual(r.code, 1)
      assert.include(r.stderr, `no engine answers at DOCKER_HOST=unix://${dir}/docker.sock`)
      assert.strictEqual(r.stdout, "")
      assert.strictEqual(dockerSh(["status"], { DOCKER_ENGINE_DIR: join(dir, "engine") }).code, 1)
    }))

  it("start in a folder too long for unix sockets: refused before anything is installed or started", () => {
    const r = dockerSh(["start"], { DOCKER_ENGINE_DIR: join(tmpdir(), "x".repeat(80)) })
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "too long a path for the engine's sockets")
  })

  it("stop and status with nothing of its own running: nothing to do, and safe to repeat", () =>
    withTempDir((dir) => {
      for (let i = 0; i < 2; i++) {
        const stop = dockerSh(["stop"], { DOCKER_ENGINE_DIR: dir })
        assert.strictEqual(stop.code, 0, stop.stderr)
        assert.include(stop.stderr, "no dockerd of ours running")
      }
      const status = dockerSh(["status"], { DOCKER_ENGINE_DIR: dir })
      assert.strictEqual(status.code, 1)
      assert.include(status.stderr, "not running")
    }))

  it("build of a registry's image (apache/kafka): refused, testcontainers pulls it", () => {
    const r = dockerSh(["build"], { KAFKA_TESTCONTAINERS_IMAGE: `apache/kafka:${version}` })
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "comes from a registry")
  })
})

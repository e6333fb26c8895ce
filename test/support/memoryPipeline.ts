/**
 * Helpers for pipeline tests over the in-memory Kafka, the in-memory file
 * system and `TestClock`: one group consuming one topic.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Path } from "effect"
import { TestClock } from "effect/testing"
import type { PipelineConfigInput } from "../../src/domain/PipelineConfig.js"
import { makePipelineConfig } from "../../src/domain/PipelineConfig.js"
import { MemoryKafka } from "../../src/layers/kafka/MemoryKafka.js"
import { captureLogs } from "./logs.js"
import { MemoryFileSystem } from "./MemoryFileSystem.js"

export const GROUP = "group"
export const TOPIC = "orders"

/** A configuration for `GROUP` on `TOPIC` with the archives in `/backup` and `/dlq`, fast commits, flushes and retries. */
export const settings = (overrides: Partial<PipelineConfigInput> = {}) =>
  makePipelineConfig({
    brokers: ["memory:9092"],
    topics: [TOPIC],
    groupId: GROUP,
    backupDir: "/backup",
    dlqDir: "/dlq",
    commitIntervalMs: 1_000,
    flushIntervalMs: 100,
    retryBaseDelayMs: 10,
    retryMaxDelayMs: 100,
    ...overrides
  })

/** Advances virtual time in steps until `done` holds (everything is in memory, so only time can be missing). */
export const advanceUntil = <E, R>(done: Effect.Effect<boolean, E, R>, stepMs = 100, maxSteps = 5_000) =>
  Effect.gen(function*() {
    for (let step = 0; step < maxSteps; step++) {
      if (yield* done) return
      yield* TestClock.adjust(stepMs)
    }
    assert.fail(`condition not reached after ${maxSteps} steps of ${stepMs} ms`)
  })

/** The group's committed offset of `TOPIC`/`partition` is at least `offset`. */
export const committedAt = (partition: number, offset: number) =>
  Effect.gen(function*() {
    const committed = yield* (yield* MemoryKafka).committed(GROUP)
    return (committed.get(`${TOPIC}:${partition}`) ?? -1) >= offset
  })

/** Appends records with keys `k<i>` to `TOPIC`/`partition`. */
export const produce = (partition: number, values: ReadonlyArray<string | Uint8Array | null>) =>
  Effect.gen(function*() {
    const kafka = yield* MemoryKafka
    return yield* kafka.produce(TOPIC, partition, values.map((value, i) => ({ key: `k${i}`, value })))
  })

export type Row = Record<string, string>

/** Data rows of every archive file under a directory, as objects keyed by the header. */
export const archiveRows = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* MemoryFileSystem
    return fs.paths().filter((path) => path.startsWith(`${dir}/`)).flatMap((path) => {
      const [header, ...rows] = fs.rows(path)
      return rows.map((row) => Object.fromEntries(header!.map((column, i) => [column, row[i]!])) as Row)
    })
  })

/** it.effect with fresh in-memory Kafka, files and captured logs. */
export const test = (name: string, body: (logs: ReturnType<typeof captureLogs>) => Effect.Effect<void, unknown, any>) =>
  it.effect(name, () => {
    const logs = captureLogs()
    return body(logs).pipe(
      Effect.provide(Layer.mergeAll(MemoryKafka.layer, MemoryFileSystem.layer, Path.layer, logs.layer))
    ) as Effect.Effect<void, unknown, never>
  })

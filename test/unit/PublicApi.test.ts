import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, References } from "effect"
import * as Api from "../../src/index.js"

describe("public API", () => {
  it("exports the pipeline, both Kafka layers, the settings and the config helpers", () => {
    assert.isFunction(Api.Pipeline.run)
    assert.isFunction(Api.KafkaJs.layer)
    assert.isFunction(Api.KafkaJs.layerConfig)
    assert.isTrue(Layer.isLayer(Api.MemoryKafka.layer))
    assert.isFunction(Api.PipelineSettings.layer)
    assert.isFunction(Api.makePipelineConfig)
    assert.isFunction(Api.loadConfig)
    assert.deepStrictEqual(Object.keys(Api.builtinProcessors).sort(), ["builtin:json", "builtin:noop"])
    assert.isFunction(Api.Observability.layer)
    assert.isFunction(Api.terminalProgress)
    assert.isFunction(Api.groupLag)
    assert.strictEqual(Api.cliDefaults.metricsPort, 9464)
  })

  it("exports the replay of archived records and its errors", () => {
    assert.isFunction(Api.Replay.run)
    assert.isFunction(Api.Replay.plan)
    assert.strictEqual(Api.Replay.REPLAYED_FROM_HEADER, "x-replayed-from")
    assert.strictEqual(new Api.MalformedArchive({ problems: [], count: 0 })._tag, "MalformedArchive")
    assert.strictEqual(new Api.ReplayTargetError({ issues: [] })._tag, "ReplayTargetError")
    assert.strictEqual(
      new Api.ReplayIncomplete({ sent: 0, selected: 1, resumeFrom: "f.csv:2", inFlight: 0, reason: "x" })._tag,
      "ReplayIncomplete"
    )
  })

  it("exports the archive check", () => {
    assert.isFunction(Api.ArchiveVerify.run)
    assert.isFunction(Api.ArchiveVerify.failures)
    assert.isFunction(Api.ArchiveVerify.formatReport)
  })

  it.effect("Observability does nothing unless its layer is provided", () =>
    Effect.gen(function*() {
      for (const observability of [yield* Api.Observability, yield* Api.Observability.pipe(Effect.provide(Api.Observability.noop))]) {
        assert.strictEqual(observability.started(), 0)
        assert.strictEqual(yield* observability.traceRecord({ topic: "t", partition: 0, offset: 0, timestamp: 0, key: null, value: null, headers: [] })(Effect.succeed(1)), 1)
      }
    }))

  it.effect("Logging.layer sets the minimum level from the configuration", () =>
    Effect.gen(function*() {
      for (const format of ["json", "pretty", "auto"] as const) {
        const level = yield* References.MinimumLogLevel.pipe(
          Effect.provide(Api.Logging.layer({ level: "Debug", format, isTTY: false }))
        )
        assert.strictEqual(level, "Debug")
      }
    }))
})

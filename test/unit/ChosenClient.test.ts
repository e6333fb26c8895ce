import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { KafkaClients } from "../../src/domain/ConfigValues.js"
import * as ChosenClient from "../../src/layers/kafka/ChosenClient.js"
import { KafkaClient } from "../../src/layers/kafka/KafkaClient.js"

// Nothing listens on port 1: a layer that connected while it was built would fail here.
const settings = { brokers: ["127.0.0.1:1"], ssl: false, sasl: undefined }

describe("ChosenClient.layer", () => {
  for (const client of KafkaClients) {
    it.effect(`builds the ${client} client without connecting`, () =>
      Effect.gen(function*() {
        const kafka = yield* KafkaClient
        assert.isFunction(kafka.consumer)
        assert.isTrue(Effect.isEffect(kafka.producer))
        assert.isFunction(kafka.topicOffsets)
      }).pipe(Effect.provide(ChosenClient.layer({ ...settings, client }, "chosen-client-test"))))
  }

  // In a fresh process: this one's module graph has loaded both clients already.
  const platformaticLoaded = (client: string): boolean => {
    const root = fileURLToPath(new URL("../../", import.meta.url))
    const output = execFileSync(`${root}node_modules/.bin/node`, ["--import", "tsx", "test/support/loaded-modules.mts", client], {
      cwd: root,
      encoding: "utf8"
    })
    return (JSON.parse(output) as { platformaticLoaded: boolean }).platformaticLoaded
  }

  it("loads @platformatic/kafka only when it is the client chosen", () => {
    assert.isFalse(platformaticLoaded("kafkajs"))
    assert.isTrue(platformaticLoaded("platformatic"))
  }, 60_000)
})

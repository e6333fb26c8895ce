import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // The examples import the package by name, as users do: the sources, not a build.
  resolve: { alias: { "effect-kafka-pipeline": fileURLToPath(new URL("./src/index.ts", import.meta.url)) } },
  test: {
    // examples/processor.test.ts: how a user tests a processor (docs/TESTING.md shows it).
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 30_000,
    // kafkajs 2.2.4 calls setTimeout with a negative delay: `KafkaJs` fixes that in kafkajs when it
    // loads, but the test helpers (a producer, the broker's readiness check) use kafkajs without it.
    execArgv: ["--disable-warning=TimeoutNegativeWarning"],
    hookTimeout: 180_000,
    // Starts nothing by itself: the shared broker starts on the first e2e test that needs it,
    // and this stops it at the end of the run.
    globalSetup: ["test/support/broker.ts"],
    tags: [
      {
        name: "testcontainers",
        description:
          "Also run by CI against brokers in Docker containers: npm run test:testcontainers (KAFKA_TESTCONTAINERS=1, .ci/run)"
      }
    ],
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      // The CLI entry runs only as a child process in the e2e tests, where v8 coverage does not reach.
      exclude: ["src/cli.ts"],
      thresholds: {
        lines: 95,
        statements: 95,
        functions: 95,
        branches: 95,
        "src/domain/OffsetLedger.ts": { lines: 100, branches: 100, functions: 100, statements: 100 }
      }
    }
  }
})

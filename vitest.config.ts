import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      exclude: ["src/cli.ts", "src/bin.ts"],
      thresholds: {
        lines: 95,
        branches: 95,
        "src/domain/OffsetLedger.ts": { lines: 100, branches: 100, functions: 100, statements: 100 }
      }
    }
  }
})

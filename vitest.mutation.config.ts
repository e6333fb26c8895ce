import { defineConfig } from "vitest/config"
import base from "./vitest.config.js"

/**
 * The tests Stryker runs for each mutant (`npm run test:mutation`): unit and integration
 * only, with no broker and no coverage. The e2e tests need a real broker and take minutes;
 * a mutant run must take a second.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
    // No broker: the unit and integration tests never start one.
    globalSetup: [],
    // One worker that keeps its modules between test files and between mutants: a mutant run
    // then costs its tests, not a fresh import of Effect for every file (3 times faster).
    isolate: false,
    coverage: { enabled: false }
  }
})

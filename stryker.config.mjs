// Mutation testing: `npm run test:mutation` (docs/TESTING.md). Not part of `npm test`.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts" },
  // The pure domain and the pipeline's stages.
  mutate: [
    "src/domain/**/*.ts",
    "src/streams/ArchiveSink.ts",
    "src/streams/ArchiveFiles.ts",
    "src/streams/Committer.ts",
    "src/streams/Dispatch.ts",
    "src/streams/RecordHandler.ts"
  ],
  // Only the mutants whose code or tests changed since the last run are run again.
  incremental: true,
  incrementalFile: "reports/stryker-incremental.json",
  // A static mutant (in code that runs once, at import: the option table, schemas, constants)
  // needs the whole suite again in a fresh module graph, about a minute each: 573 of them
  // would take ten hours. They are left out of the run and of the score (docs/TESTING.md).
  ignoreStatic: true,
  // The machine has two cores and others use them.
  concurrency: 1,
  // A mutant that hangs (a fiber waiting on TestClock forever) counts as caught after this,
  // on top of 1.5 times its tests' normal time.
  timeoutMS: 5_000,
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  // Stryker rewrites a tsconfig's `extends` and `references` with the compiler's JS API, which
  // TypeScript 7 no longer has; this project's tsconfig has neither, so nothing needs rewriting.
  tsconfigFile: "tsconfig.stryker-none.json",
  // Vitest strips types without checking them, and the tests read some files verbatim
  // (examples/*.ts): no `// @ts-nocheck` added to the sandbox's files.
  disableTypeChecks: false,
  ignorePatterns: [".kafka", "demo-output", "bench/results", "coverage", "dist", "dist-check", "reports"],
  thresholds: { high: 90, low: 80, break: null }
}

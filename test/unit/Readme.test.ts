import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import { optionsTable } from "../../scripts/options-table.js"

const read = (path: string) => fs.readFileSync(new URL(`../../${path}`, import.meta.url), "utf8")

describe("README", () => {
  it("documents every configuration option exactly as the option table defines it", () => {
    assert.include(read("README.md"), optionsTable())
  })

  it("shows the complete config file exactly as examples/pipeline.config.json, which a test loads", () => {
    assert.include(read("README.md"), "```json\n" + read("examples/pipeline.config.json") + "```\n")
  })

  it("says which stops print the JSON summary: a configuration error (exit 2) prints none", () => {
    const readme = read("README.md").replaceAll(/\s+/g, " ")
    assert.include(readme, "A run that started, however it stops (exit 0 or 1), prints a one-line JSON summary")
    assert.include(readme, "a configuration error (exit 2) prints none")
    assert.notInclude(readme, "However it stops, `run` prints")
  })

  it("shows the library example exactly as examples/library.ts, which the type check compiles", () => {
    assert.include(read("README.md"), "```ts\n" + read("examples/library.ts") + "```\n")
  })

  it("shows the archive verify example exactly as examples/archive-verify.ts, which a test runs", () => {
    assert.include(read("README.md"), "```ts\n" + read("examples/archive-verify.ts") + "```\n")
  })

  it("shows the processor that tells bad records from a downstream that is down exactly as examples/inventory-processor.ts", () => {
    assert.include(read("README.md"), "```ts\n" + read("examples/inventory-processor.ts") + "```\n")
  })
})

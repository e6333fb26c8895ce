import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import { optionsTable } from "../../scripts/options-table.js"

describe("README", () => {
  it("documents every configuration option exactly as the option table defines it", () => {
    const readme = fs.readFileSync(new URL("../../README.md", import.meta.url), "utf8")
    assert.include(readme, optionsTable())
  })
})

import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"

const read = (path: string) => fs.readFileSync(new URL(`../../${path}`, import.meta.url), "utf8")

/** Every test file's text, for finding the test names the guide quotes. */
const testSources = () =>
  (fs.readdirSync(new URL("../", import.meta.url), { recursive: true }) as Array<string>)
    .filter((file) => file.endsWith(".test.ts"))
    .map((file) => read(`test/${file}`))
    .join("\n")

/**
 * The test names quoted in the guide's scenario map: the quoted strings of the table rows, up
 * to a "…" where the guide shortens a name.
 */
const quotedTestNames = (guide: string) => {
  const map = guide.slice(guide.indexOf("## The requirement's scenarios"), guide.indexOf("## The fault matrix"))
  const names: Array<string> = []
  for (const line of map.split("\n").filter((line) => line.startsWith("|"))) {
    for (const [, quoted] of line.matchAll(/"((?:[^"\\]|\\.)+)"/g)) {
      const name = quoted!.replaceAll("\\\"", "\"").split("…")[0]!.trim()
      if (name.length > 0) names.push(name)
    }
  }
  return names
}

describe("docs/TESTING.md", () => {
  it("shows the processor test exactly as examples/processor.test.ts, which the type check compiles and the suite runs", () => {
    assert.include(read("docs/TESTING.md"), "```ts\n" + read("examples/processor.test.ts") + "```\n")
  })

  it("maps the requirement's scenarios to tests that exist, under the names it quotes", () => {
    const names = quotedTestNames(read("docs/TESTING.md"))
    assert.isAbove(names.length, 80)
    const sources = testSources().replaceAll("\\\"", "\"")
    const missing = names.filter((name) => !sources.includes(name))
    assert.deepStrictEqual(missing, [])
  })
})

import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

/** `effect/cli` → `effect`, `@effect/platform-node/NodeStream` → `@effect/platform-node`. */
const packageOf = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")

describe("package.json", () => {
  it("every package the library's code imports at run time is a dependency, not a dev dependency", () => {
    const manifest = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> }
    const imported = new Set<string>()
    for (const file of sources("src")) {
      for (const match of readFileSync(file, "utf8").matchAll(/^import (?!type )[^;]*? from "([^".][^"]*)"/gm)) {
        if (!match[1]!.startsWith("node:")) imported.add(packageOf(match[1]!))
      }
    }
    assert.isTrue(imported.has("kafkajs") && imported.has("@platformatic/kafka"), [...imported].join(","))
    assert.deepStrictEqual([...imported].filter((name) => manifest.dependencies[name] === undefined), [])
  })
})

/**
 * Summarises a V8 `.cpuprofile` (from `npm run bench -- --cpu-prof`): self time
 * by function and by package/file, heaviest first.
 *
 *   npx tsx bench/profile.ts bench/results/profiles/3-pipeline-full.cpuprofile [top]
 */
import { readFileSync } from "node:fs"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const file = process.argv[2]
if (file === undefined) throw new Error("usage: bench/profile.ts FILE.cpuprofile [top]")
const top = Number(process.argv[3] ?? 30)
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const self = new Map<number, number>()
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...self.values()].reduce((a, b) => a + b, 0)

const where = (url: string): string => {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url)
  if (pkg !== null) return `${pkg[1]}/${pkg[2]!.split("/").slice(-1)[0]}`
  const src = /\/(src|bench)\/(.*)$/.exec(url)
  return src !== null ? `${src[1]}/${src[2]}` : url === "" ? "(native)" : url.replace(/^node:/, "node:")
}

const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
const functions = new Map<string, number>()
const files = new Map<string, number>()
for (const [id, us] of self) {
  const { functionName, lineNumber, url } = byId.get(id)!.callFrame
  add(functions, `${functionName || "(anonymous)"} ${where(url)}:${lineNumber + 1}`, us)
  add(files, where(url), us)
}
const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`)
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`)
  }
}
// Inclusive time: a node's self time counts for each distinct function on its stack (recursion once).
const parent = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
const inclusive = new Map<string, number>()
for (const [id, us] of self) {
  const seen = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { functionName, lineNumber, url } = byId.get(at)!.callFrame
    if (!url.includes("/src/")) continue
    const key = `${functionName || "(anonymous)"} ${where(url)}:${lineNumber + 1}`
    if (seen.has(key)) continue
    seen.add(key)
    add(inclusive, key, us)
  }
}
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`)
print("self time by file", files)
print("self time by function", functions)
print("inclusive time of the project's own functions (src/)", inclusive)

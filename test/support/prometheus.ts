/** Reads the Prometheus text exposition format (what `/metrics` serves) for assertions. */

export interface Samples {
  /** The value of the sample `name` with exactly these labels, if present. */
  readonly get: (name: string, labels?: Readonly<Record<string, string>>) => number | undefined
  /** The sum over every sample of `name` (whatever its labels). */
  readonly sum: (name: string) => number
  /** Every sample of `name`: its labels and value. */
  readonly all: (name: string) => ReadonlyArray<{ readonly labels: Record<string, string>; readonly value: number }>
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

const key = (labels: Readonly<Record<string, string>>) =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

const number = (text: string) => (text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : Number(text))

/** Parses the text; throws on a line that is neither a comment nor a sample. */
export const parsePrometheus = (text: string): Samples => {
  const samples = new Map<string, Array<{ labels: Record<string, string>; value: number }>>()
  const types = new Map<string, string>()
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    if (line.startsWith("#")) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line)
      if (type !== null) types.set(type[1]!, type[2]!)
      continue
    }
    const match = SAMPLE.exec(line)
    if (match === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    for (const [, name, value] of (match[2] ?? "").matchAll(LABEL)) {
      labels[name!] = value!.replace(/\\n/g, "\n").replace(/\\"/g, "\"").replace(/\\\\/g, "\\")
    }
    const list = samples.get(match[1]!) ?? []
    list.push({ labels, value: number(match[3]!) })
    samples.set(match[1]!, list)
  }
  return {
    get: (name, labels = {}) => samples.get(name)?.find((sample) => key(sample.labels) === key(labels))?.value,
    sum: (name) => (samples.get(name) ?? []).reduce((total, sample) => total + sample.value, 0),
    all: (name) => samples.get(name) ?? [],
    types
  }
}

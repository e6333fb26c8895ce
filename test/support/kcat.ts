/**
 * `kcat` (librdkafka) as an independent Kafka client for e2e tests: produce records the
 * pipeline did not write itself, and read back what it produced. Debian package `kcat`
 * (bookworm: kcat 1.7.1, librdkafka 2.0.2).
 *
 * What kcat can and cannot send (checked against kcat 1.7.1):
 * - keys and values are arbitrary bytes; records go through stdin in batches with
 *   delimiter bytes chosen so that they occur in none of the batch's keys/values, or one
 *   record per kcat run from a file when a value uses (almost) every byte value;
 * - a null value needs `-Z`, an empty value or empty key needs the opposite, so such
 *   records are sent in separate batches;
 * - a record with a null key and an empty (zero-length, non-null) value cannot be sent
 *   by kcat at all (it skips empty messages): `kcatProduce` throws for it;
 * - headers are per kcat run (`-H n=v`): records are batched by identical headers;
 *   header names cannot contain `=`;
 * - without `partition`, kcat is told to use `murmur2_random`, the Java client's and
 *   kafkajs's default partitioner, so keyed records land where they would land with them.
 *
 * Consuming uses a length-prefixed output format, so keys and values come back byte-exact;
 * headers come from kcat's `n=v` CSV rendering (values must not contain `,` or newlines).
 */
import { spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface KcatRecord {
  /** `undefined` and `null` both mean no key. */
  readonly key?: string | Uint8Array | null
  readonly value: string | Uint8Array | null
  readonly headers?: Readonly<Record<string, string>>
  /** Explicit partition; otherwise murmur2 on the key (random when there is none). */
  readonly partition?: number
}

export interface KcatMessage {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Readonly<Record<string, string>>
}

export interface KcatConsumeOptions {
  /** One partition only; default all. */
  readonly partition?: number
  /** `beginning` (default), `end`, or an absolute offset (requires `partition`). */
  readonly offset?: "beginning" | "end" | number
  /** Stop after this many messages. */
  readonly count?: number
  /**
   * Stop at the end of the partitions (kcat `-e`). Default: true without `count`,
   * false with it (then wait for `count` messages or the timeout).
   */
  readonly untilEnd?: boolean
  /** Default 30 s; on timeout the call fails and says how many messages it had. */
  readonly timeoutMs?: number
}

const MAX_BYTES = 16 * 1024 * 1024
const KCAT = process.env["KCAT"] ?? "kcat"

interface RunResult {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
  readonly timedOut: boolean
}

const run = (args: ReadonlyArray<string>, input: Buffer | undefined, timeoutMs: number): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(KCAT, [...args], { stdio: ["pipe", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    let err = ""
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGTERM")
    }, timeoutMs)
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")))
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(
        e.code === "ENOENT"
          ? new Error(`${KCAT} not found: install it (Debian: apt-get install -y kcat)`)
          : e
      )
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out), stderr: err, timedOut })
    })
    child.stdin.on("error", () => {}) // kcat exiting early surfaces through its exit code
    child.stdin.end(input ?? Buffer.alloc(0))
  })

const fail = (what: string, args: ReadonlyArray<string>, r: RunResult): Error =>
  new Error(
    `${what}: ${KCAT} ${args.join(" ")} ${r.timedOut ? "timed out" : `exited with ${r.code}`}\n${r.stderr.trim()}`
  )

/** `kcat -V` first line with the librdkafka version, e.g. "Version 1.7.1 (…, librdkafka 2.0.2 …)". */
export const kcatVersion = async (): Promise<string> => {
  const r = await run(["-V"], undefined, 10_000)
  const text = r.stdout.toString("utf8") + r.stderr
  const line = text.split("\n").find((l) => l.startsWith("Version"))
  if (line === undefined) throw fail("kcat -V", ["-V"], r)
  return line.trim()
}

// ------------------------------------------------------------------ produce

interface Normalized {
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly headersKey: string
  readonly partition: number | undefined
  /** "z": needs -Z (null value); "plain": must not have -Z (empty key/value); "any". */
  readonly mode: "z" | "plain" | "any"
  readonly present: Uint8Array // 256 flags: byte values used in key or value
}

const toBuffer = (v: string | Uint8Array): Buffer => (typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v))

const markBytes = (present: Uint8Array, b: Buffer | null): void => {
  if (b === null) return
  let seen = 0
  for (let i = 0; i < 256; i++) seen += present[i]!
  for (let i = 0; i < b.length && seen < 256; i++) {
    const c = b[i]!
    if (present[c] === 0) {
      present[c] = 1
      seen++
    }
  }
}

const normalize = (r: KcatRecord, index: number): Normalized => {
  const key = r.key === undefined || r.key === null ? null : toBuffer(r.key)
  const value = r.value === null ? null : toBuffer(r.value)
  const headers = Object.entries(r.headers ?? {})
  for (const [name] of headers) {
    if (name.includes("=") || name.length === 0) throw new Error(`record ${index}: kcat cannot send header name ${JSON.stringify(name)}`)
  }
  if (key === null && value !== null && value.length === 0) {
    throw new Error(`record ${index}: kcat cannot send an empty value with a null key (it skips empty messages); give it a key`)
  }
  const needsZ = value === null
  const needsPlain = (value !== null && value.length === 0) || (key !== null && key.length === 0)
  if (needsZ && needsPlain) {
    throw new Error(`record ${index}: kcat cannot send a null value with an empty (non-null) key`)
  }
  const present = new Uint8Array(256)
  present[0] = 1 // never use NUL as a delimiter
  markBytes(present, key)
  markBytes(present, value)
  return {
    key,
    value,
    headers,
    headersKey: JSON.stringify(headers),
    partition: r.partition,
    mode: needsZ ? "z" : needsPlain ? "plain" : "any",
    present
  }
}

const freeBytes = (present: Uint8Array, n: number): Array<number> | undefined => {
  const free: Array<number> = []
  // Prefer printable-free control bytes, then anything.
  const order = [0x1e, 0x1f, 0x1d, 0x1c, 0x0a, ...Array.from({ length: 255 }, (_, i) => i + 1)]
  for (const c of order) {
    if (present[c] === 0 && !free.includes(c)) free.push(c)
    if (free.length === n) return free
  }
  return undefined
}

const hex = (c: number) => `\\x${c.toString(16).padStart(2, "0")}`

// librdkafka retries a failing delivery for message.timeout.ms (default 5 min): keep it
// inside our own timeout so kcat fails (exit 1) instead of being killed.
const producerArgs = (brokers: string, topic: string, timeoutMs: number): Array<string> => [
  "-P", "-b", brokers, "-t", topic, "-q",
  "-X", `message.max.bytes=${MAX_BYTES}`,
  "-X", `message.timeout.ms=${Math.max(1000, timeoutMs - 5000)}`
]

const commonArgs = (brokers: string, topic: string, r: Normalized, timeoutMs: number): Array<string> => {
  const args = producerArgs(brokers, topic, timeoutMs)
  if (r.partition === undefined) args.push("-X", "partitioner=murmur2_random")
  else args.push("-p", String(r.partition))
  for (const [n, v] of r.headers) args.push("-H", `${n}=${v}`)
  return args
}

const sendBatch = async (brokers: string, topic: string, batch: ReadonlyArray<Normalized>, z: boolean, timeoutMs: number) => {
  const present = new Uint8Array(256)
  for (const r of batch) for (let i = 0; i < 256; i++) present[i] = present[i]! | r.present[i]!
  const [d, k] = freeBytes(present, 2)!
  const parts: Array<Buffer> = []
  for (const r of batch) {
    // no key: no key delimiter (kcat gives a null key); null value: "key<K>" with -Z
    if (r.key !== null) parts.push(r.key, Buffer.of(k!))
    else if (r.value === null) parts.push(Buffer.of(k!))
    if (r.value !== null) parts.push(r.value)
    parts.push(Buffer.of(d!))
  }
  const args = [...commonArgs(brokers, topic, batch[0]!, timeoutMs), "-D", hex(d!), "-K", hex(k!)]
  if (z) args.push("-Z")
  const res = await run(args, Buffer.concat(parts), timeoutMs)
  if (res.code !== 0 || res.timedOut || /ERROR/.test(res.stderr)) throw fail(`kcat produce to ${topic}`, args, res)
}

const sendAlone = async (brokers: string, topic: string, r: Normalized, timeoutMs: number) => {
  // A value that uses (almost) every byte value: send it as a whole file.
  const dir = await mkdtemp(join(tmpdir(), "kcat-"))
  try {
    const file = join(dir, "value.bin")
    await writeFile(file, r.value!)
    const args = commonArgs(brokers, topic, r, timeoutMs)
    if (r.key !== null) {
      const key = r.key.toString("utf8")
      if (!Buffer.from(key, "utf8").equals(r.key) || key.includes("\0")) {
        throw new Error("kcat cannot send a non-UTF-8 key together with a value that uses every byte value")
      }
      args.push("-k", key)
    }
    args.push(file)
    const res = await run(args, undefined, timeoutMs)
    if (res.code !== 0 || res.timedOut || /ERROR/.test(res.stderr)) throw fail(`kcat produce to ${topic}`, args, res)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Produces `records` to `topic` in order (per partition), acks=all, and resolves once
 * kcat has had every one of them acknowledged.
 */
export const kcatProduce = async (
  brokers: string,
  topic: string,
  records: ReadonlyArray<KcatRecord>,
  options: { readonly timeoutMs?: number } = {}
): Promise<void> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const all = records.map(normalize)
  let batch: Array<Normalized> = []
  let batchMode: "z" | "plain" | "any" = "any"
  let batchPresent = new Uint8Array(256)
  const flush = async () => {
    if (batch.length > 0) await sendBatch(brokers, topic, batch, batchMode === "z", timeoutMs)
    batch = []
    batchMode = "any"
    batchPresent = new Uint8Array(256)
  }
  for (const r of all) {
    if (freeBytes(r.present, 2) === undefined) {
      await flush()
      await sendAlone(brokers, topic, r, timeoutMs)
      continue
    }
    const merged = batchPresent.map((v, i) => v | r.present[i]!)
    const head = batch[0]
    const fits =
      head === undefined ||
      (head.partition === r.partition &&
        head.headersKey === r.headersKey &&
        (r.mode === "any" || batchMode === "any" || r.mode === batchMode) &&
        freeBytes(merged, 2) !== undefined)
    if (!fits) await flush()
    batch.push(r)
    batchPresent = batchPresent.map((v, i) => v | r.present[i]!)
    if (r.mode !== "any") batchMode = r.mode
  }
  await flush()
}

/** Produces the whole file as one record, byte for byte (`kcat -P … FILE`). */
export const kcatProduceFile = async (
  brokers: string,
  topic: string,
  file: string,
  options: {
    readonly key?: string
    readonly partition?: number
    readonly headers?: Readonly<Record<string, string>>
    readonly timeoutMs?: number
  } = {}
): Promise<void> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const args = producerArgs(brokers, topic, timeoutMs)
  if (options.partition === undefined) args.push("-X", "partitioner=murmur2_random")
  else args.push("-p", String(options.partition))
  if (options.key !== undefined) args.push("-k", options.key)
  for (const [n, v] of Object.entries(options.headers ?? {})) args.push("-H", `${n}=${v}`)
  args.push(file)
  const res = await run(args, undefined, timeoutMs)
  if (res.code !== 0 || res.timedOut || /ERROR/.test(res.stderr)) throw fail(`kcat produce ${file} to ${topic}`, args, res)
}

// ------------------------------------------------------------------ consume

// One message: "<topic> <partition> <offset> <timestamp> <keylen> <valuelen>\n<key><value><headers CSV>\n"
const FORMAT = "%t %p %o %T %K %S\\n%k%s%h\\n"

export const parseKcatOutput = (out: Buffer): Array<KcatMessage> => {
  const messages: Array<KcatMessage> = []
  let pos = 0
  while (pos < out.length) {
    const nl = out.indexOf(0x0a, pos)
    if (nl < 0) break
    const [topic, p, o, ts, kl, vl] = out.subarray(pos, nl).toString("utf8").split(" ")
    const keyLen = Number(kl)
    const valueLen = Number(vl)
    if (topic === undefined || !Number.isInteger(keyLen) || !Number.isInteger(valueLen)) {
      throw new Error(`unexpected kcat output at byte ${pos}: ${out.subarray(pos, nl).toString("utf8")}`)
    }
    let at = nl + 1
    const key = keyLen < 0 ? null : Buffer.from(out.subarray(at, at + Math.max(keyLen, 0)))
    at += Math.max(keyLen, 0)
    const value = valueLen < 0 ? null : Buffer.from(out.subarray(at, at + Math.max(valueLen, 0)))
    at += Math.max(valueLen, 0)
    const end = out.indexOf(0x0a, at)
    if (end < 0) break // truncated (killed mid-write)
    const headers: Record<string, string> = {}
    const csv = out.subarray(at, end).toString("utf8")
    if (csv.length > 0) {
      for (const pair of csv.split(",")) {
        const eq = pair.indexOf("=")
        if (eq > 0) headers[pair.slice(0, eq)] = pair.slice(eq + 1)
      }
    }
    messages.push({ topic, partition: Number(p), offset: Number(o), timestamp: Number(ts), key, value, headers })
    pos = end + 1
  }
  return messages
}

/** Reads messages from `topic` with kcat (no consumer group, nothing committed). */
export const kcatConsume = async (
  brokers: string,
  topic: string,
  options: KcatConsumeOptions = {}
): Promise<Array<KcatMessage>> => {
  const args = ["-C", "-b", brokers, "-t", topic, "-q", "-f", FORMAT, "-X", `fetch.message.max.bytes=${MAX_BYTES}`]
  if (options.partition !== undefined) args.push("-p", String(options.partition))
  args.push("-o", String(options.offset ?? "beginning"))
  if (options.count !== undefined) args.push("-c", String(options.count))
  if (options.untilEnd ?? options.count === undefined) args.push("-e")
  const timeoutMs = options.timeoutMs ?? 30_000
  const res = await run(args, undefined, timeoutMs)
  const messages = parseKcatOutput(res.stdout)
  if (res.timedOut) {
    throw new Error(
      `kcat consume from ${topic}: timed out after ${timeoutMs} ms with ${messages.length}` +
        `${options.count === undefined ? "" : ` of ${options.count}`} messages\n${res.stderr.trim()}`
    )
  }
  if (res.code !== 0) throw fail(`kcat consume from ${topic}`, args, res)
  return messages
}

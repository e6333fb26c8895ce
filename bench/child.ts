/**
 * One benchmark job in a fresh process (fresh heap, fair RSS): produce a topic,
 * or consume an extent of it with one variant. The job comes as JSON in
 * argv[2]; the result goes back to the parent (`bench/run.ts`) over IPC.
 *
 *   kafkajs-raw          kafkajs `eachBatch`, no-op handler, the pipeline's fetch settings
 *   kafkajs-archive      kafkajs `eachBatch` writing every record's backup row, as by hand (no Effect)
 *   kafkajs-archive-worker  the same with the rows encoded and written on a worker thread
 *   pipeline-*           `Pipeline.run` with a no-op (or 5 ms) processor, key ordering (the default)
 *   pipeline-full-unordered  `pipeline-full` with `ordering: "unordered"`: what key ordering costs
 *   pipeline-*-platformatic  the same pipeline variant with `client: "platformatic"`
 *   pipeline-io-slow-key `pipeline-io` with one key's records 100× slower: what it costs the others
 *   platformatic-raw     @platformatic/kafka consumer stream, no-op
 *   kcat-raw             kcat (librdkafka) as a child of this process, its CPU/RSS from /usr/bin/time
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import type { Batch } from "kafkajs"
import { Kafka, logLevel, Partitioners } from "kafkajs"
import { spawn } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { open } from "node:fs/promises"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { Worker } from "node:worker_threads"
import { backupHeader, encodeRow, writeBackupRow } from "../src/domain/Csv.js"
import { makePipelineConfig } from "../src/domain/PipelineConfig.js"
import type { ProcessorInput } from "../src/domain/Processor.js"
import type { TopicPartition, TopicPartitionOffset } from "../src/domain/KafkaRecord.js"
import { RowBuffer } from "../src/domain/RowBuffer.js"
import { KafkaClient } from "../src/layers/kafka/KafkaClient.js"
import * as ChosenClient from "../src/layers/kafka/ChosenClient.js"
import * as Logging from "../src/layers/Logging.js"
import { PipelineSettings } from "../src/layers/config/PipelineSettings.js"
import * as Pipeline from "../src/streams/Pipeline.js"
import type { ToWorker } from "./archive-worker.js"
import { META_FIELDS } from "./archive-worker.js"
import type { ChildMessage, ConsumeResult, Job, LatencySummary, ProduceResult } from "./common.js"
import {
  clientOf,
  Coverage,
  deferred,
  IO_MS,
  ioVariants,
  makeText,
  makeValue,
  measure,
  pacedKey,
  pacedPartition,
  percentile,
  SLOW_KEY,
  settingsOf,
  SLOW_KEY_MS,
  totalOf
} from "./common.js"

type ConsumeJob = Extract<Job, { _tag: "consume" }>
type ProduceJob = Extract<Job, { _tag: "produce" }>

/** The pipeline's fetch settings (src/layers/kafka/KafkaJsConsumer.ts and Pipeline.ts): the raw clients use the same. */
export const FETCH = {
  maxBytesPerPartition: 1_048_576,
  maxWaitTimeInMs: 1_000,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000
} as const

const send = (message: ChildMessage): Promise<void> =>
  new Promise((resolve) => process.send!(message, () => resolve()))

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------- produce

const produce = async (job: ProduceJob): Promise<ProduceResult> => {
  if (job.rate !== undefined && job.producer === "kcat") return producePacedWithKcat(job, job.rate)
  const kafka = new Kafka({ clientId: "bench-producer", brokers: job.brokers.split(","), logLevel: logLevel.ERROR })
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
  await producer.connect()
  const value = makeValue(job.valueBytes)
  const message = (i: number) => ({
    partition: pacedPartition("kafkajs", i, job.partitions),
    key: pacedKey(i),
    value: value(i)
  })
  const t0 = performance.now()
  // At most ~4 MB per request (the broker refuses requests over socket.request.max.bytes: 64 MiB here).
  const perBatch = Math.max(1, Math.min(4000, Math.floor(4_000_000 / job.valueBytes)))
  if (job.rate === undefined) {
    // Real batching: ~4 MB per request, 4 requests in flight.
    let next = 0
    const lane = async () => {
      while (next < job.records) {
        const start = next
        next = Math.min(job.records, next + perBatch)
        const messages = []
        for (let i = start; i < next; i++) messages.push(message(i))
        await producer.send({ topic: job.topic, acks: 1, messages })
      }
    }
    await Promise.all([lane(), lane(), lane(), lane()])
  } else {
    // Paced: every tick sends what is due since the start (the record timestamps are set at send
    // time), in requests of at most `perBatch`: a producer that falls behind on a busy machine
    // catches up in several requests, not in one that grows until the broker refuses it.
    let sent = 0
    while (sent < job.records) {
      const due = Math.min(job.records, Math.floor((job.rate * (performance.now() - t0)) / 1000))
      if (due <= sent) {
        await sleep(1)
        continue
      }
      const upTo = Math.min(due, sent + perBatch)
      const messages = []
      for (let i = sent; i < upTo; i++) messages.push(message(i))
      sent = upTo
      await producer.send({ topic: job.topic, acks: 1, messages })
    }
  }
  const elapsedMs = performance.now() - t0
  await producer.disconnect()
  return { _tag: "produced", records: job.records, elapsedMs, recordsPerSec: job.records / (elapsedMs / 1000) }
}

/**
 * Paced through kcat: every millisecond, the lines due since the start (`key<TAB>value`) go to its
 * standard input; librdkafka stamps each record as it reads it and sends it within its 5 ms linger.
 * Keys pick the partitions (`pacedPartition`). kcat exits once everything is delivered.
 */
const producePacedWithKcat = async (job: ProduceJob, rate: number): Promise<ProduceResult> => {
  const kcat = spawn("kcat", [
    "-P", "-b", job.brokers, "-t", job.topic, "-K", "\\t",
    "-X", "partitioner=consistent", "-X", "linger.ms=5", "-X", "acks=1"
  ], { stdio: ["pipe", "ignore", "pipe"] })
  let stderr = ""
  kcat.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  // A kcat that exits early closes its input: the write fails (EPIPE) and `exited` says why.
  kcat.stdin.on("error", () => undefined)
  const exited = new Promise<number | null>((resolve, reject) => {
    kcat.on("error", reject)
    kcat.on("close", resolve)
  })
  exited.catch(() => undefined)
  const failed = (code: number | null) => new Error(`kcat -P exited with ${code}: ${stderr.slice(-2000)}`)
  const text = makeText(job.valueBytes)
  const t0 = performance.now()
  let sent = 0
  while (sent < job.records) {
    if (kcat.exitCode !== null) throw failed(kcat.exitCode)
    const due = Math.min(job.records, Math.floor((rate * (performance.now() - t0)) / 1000))
    if (due <= sent) {
      await sleep(1)
      continue
    }
    const lines: Array<string> = []
    for (let i = sent; i < due; i++) lines.push(`${pacedKey(i)}\t${text(i)}\n`)
    sent = due
    if (!kcat.stdin.write(lines.join(""))) {
      const early = await Promise.race([
        new Promise<undefined>((resolve) => kcat.stdin.once("drain", () => resolve(undefined))),
        exited.then((code) => ({ code }))
      ])
      if (early !== undefined) throw failed(early.code)
    }
  }
  const elapsedMs = performance.now() - t0
  kcat.stdin.end()
  const code = await exited
  if (code !== 0) throw failed(code)
  return { _tag: "produced", records: job.records, elapsedMs, recordsPerSec: job.records / (elapsedMs / 1000) }
}

// ---------------------------------------------------------------- consume: raw clients

/** A kafkajs consumer of the job's group with the pipeline's fetch settings, announcing when it has joined. */
const kafkajsConsumer = (job: ConsumeJob) => {
  const kafka = new Kafka({ clientId: `bench-${job.variant}`, brokers: job.brokers.split(","), logLevel: logLevel.ERROR })
  const consumer = kafka.consumer({
    groupId: job.groupId,
    sessionTimeout: FETCH.sessionTimeoutMs,
    heartbeatInterval: FETCH.heartbeatIntervalMs,
    maxBytesPerPartition: FETCH.maxBytesPerPartition,
    maxWaitTimeInMs: FETCH.maxWaitTimeInMs
  })
  consumer.on(consumer.events.GROUP_JOIN, () => job.signalReady && void send({ _tag: "ready" }))
  return consumer
}

const kafkajsRaw = async (job: ConsumeJob, coverage: Coverage, m: ReturnType<typeof measure>) => {
  let bytes = 0
  const warmupUntil = Date.now() + (job.latency?.warmupMs ?? 0)
  const produceToHandled: Array<number> = []
  const consumer = kafkajsConsumer(job)
  const done = deferred<void>()
  await consumer.connect()
  await consumer.subscribe({ topics: [job.extent.topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const now = Date.now()
      for (const message of batch.messages) {
        bytes += message.value?.length ?? 0
        m.record()
        if (job.latency !== undefined && now >= warmupUntil) produceToHandled.push(now - Number(message.timestamp))
        if (coverage.mark(batch.partition, Number(message.offset))) {
          m.lastRecord()
          done.resolve()
        }
      }
    }
  })
  await done.promise
  await consumer.disconnect()
  return { bytes, ...(job.latency === undefined ? {} : { latency: summarizeLatency(produceToHandled, []) }) }
}

/** Where a kafkajs consumer written by hand archives each fetched batch. */
interface BatchArchive {
  /** Resolves when the archive can take the next batch. */
  readonly write: (batch: Batch) => Promise<void>
  /** Resolves once every batch handed over is written. */
  readonly drain: () => Promise<void>
  readonly close: () => Promise<void>
}

/**
 * A kafkajs consumer written by hand that archives every batch before it takes the next, no
 * Effect: kafkajs commits the batches handled (`autoCommit`, the pipeline's interval). Its
 * guarantee is weaker than the pipeline's: it may commit rows that are written but not yet synced.
 */
const kafkajsArchiving =
  (openArchive: (job: ConsumeJob, fail: (error: unknown) => void) => Promise<BatchArchive>) =>
  async (job: ConsumeJob, coverage: Coverage, m: ReturnType<typeof measure>) => {
    let bytes = 0
    const warmupUntil = Date.now() + (job.latency?.warmupMs ?? 0)
    const produceToHandled: Array<number> = []
    const consumer = kafkajsConsumer(job)
    mkdirSync(job.dir, { recursive: true })
    const done = deferred<void>()
    // A failed write or sync fails the run (rather than kafkajs retrying the batch for ever).
    const archive = await openArchive(job, done.reject)
    await consumer.connect()
    await consumer.subscribe({ topics: [job.extent.topic], fromBeginning: true })
    await consumer.run({
      autoCommitInterval: 5_000,
      eachBatch: async ({ batch }) => {
        const now = Date.now()
        let last = false
        for (const message of batch.messages) {
          bytes += message.value?.length ?? 0
          m.record()
          if (job.latency !== undefined && now >= warmupUntil) produceToHandled.push(now - Number(message.timestamp))
          if (coverage.mark(batch.partition, Number(message.offset))) last = true
        }
        try {
          await archive.write(batch)
          if (last) await archive.drain()
        } catch (error) {
          done.reject(error)
          throw error
        }
        if (last) {
          m.lastRecord()
          done.resolve()
        }
      }
    })
    await done.promise
    await consumer.disconnect()
    await archive.close()
    rmSync(job.dir, { recursive: true, force: true })
    return { bytes, ...(job.latency === undefined ? {} : { latency: summarizeLatency(produceToHandled, []) }) }
  }

/**
 * The backup archive written by hand on the client's thread: each batch's rows (the pipeline's
 * bytes, `writeBackupRow`) go to one CSV file in one awaited write, the file is synced once a
 * second. What the archive costs on the client's thread without a worker pool, a ledger or a DLQ.
 */
const kafkajsArchive = kafkajsArchiving(async (job, fail) => {
  const file = await open(join(job.dir, "backup.csv"), "wx")
  await file.write(encodeRow(backupHeader))
  const syncing = setInterval(() => file.sync().catch(fail), 1_000)
  /** One batch's rows: kafkajs hands over one batch at a time (`partitionsConsumedConcurrently` 1). */
  const rows = new RowBuffer()
  return {
    write: async (batch) => {
      rows.clear()
      for (const message of batch.messages) {
        writeBackupRow(rows, {
          topic: batch.topic,
          partition: batch.partition,
          offset: Number(message.offset),
          timestamp: Number(message.timestamp),
          key: message.key ?? null,
          value: message.value,
          headers: [] // the bench's records have none
        })
      }
      const contents = rows.contents
      for (let at = 0; at < contents.byteLength;) at += (await file.write(contents, at)).bytesWritten
    },
    drain: () => Promise.resolve(),
    close: async () => {
      clearInterval(syncing)
      await file.sync()
      await file.close()
    }
  }
})

/**
 * The same archive on a worker thread (`bench/archive-worker.ts`): the client's thread copies
 * each batch's keys and values into one `SharedArrayBuffer` (as the pipeline copies every batch),
 * lists their offsets, timestamps and positions, posts the batch and goes on to the next while the
 * worker writes, waiting only while 64 MiB of the batches' bytes are not written yet (as the
 * pipeline's poll loop waits for its archive). What the client's thread would still pay with the
 * archive's encoding and writes moved off it. Weaker still: kafkajs may commit a batch the worker
 * has not written yet.
 */
const kafkajsArchiveWorker = kafkajsArchiving(async (job, fail) => {
  const maxPendingBytes = 64 * 1024 * 1024
  const here = import.meta.url
  const worker = new Worker(new URL(here.endsWith(".ts") ? "./archive-worker.ts" : "./archive-worker.js", here), {
    workerData: { file: join(job.dir, "backup.csv") }
  })
  /** Batches posted and not written yet, oldest first (the worker writes them in order). */
  const pending = new Map<number, { readonly size: number; readonly written: Promise<void>; readonly resolve: () => void }>()
  let pendingBytes = 0
  let nextId = 0
  worker.on("message", (id: number) => {
    const batch = pending.get(id)
    if (batch === undefined) return
    pending.delete(id)
    pendingBytes -= batch.size
    batch.resolve()
  })
  worker.on("error", fail)
  const post = (message: ToWorker, size: number, transfer: ReadonlyArray<ArrayBuffer> = []): Promise<void> => {
    const id = message._tag === "batch" ? message.id : -1
    const { promise, resolve } = deferred<void>()
    pending.set(id, { size, written: promise, resolve })
    pendingBytes += size
    worker.postMessage(message, [...transfer])
    return promise
  }
  /** Waits until at most `bytes` of the batches posted are not written yet. */
  const writtenDownTo = async (bytes: number) => {
    while (pendingBytes > bytes) await pending.values().next().value!.written
  }
  return {
    write: async (batch) => {
      const { messages } = batch
      let size = 0
      for (const message of messages) size += (message.key?.length ?? 0) + (message.value?.length ?? 0)
      const bytes = new Uint8Array(new SharedArrayBuffer(size))
      const meta = new Float64Array(messages.length * META_FIELDS)
      let at = 0
      let field = 0
      const put = (part: Buffer | null) => {
        if (part === null) {
          meta[field++] = 0
          meta[field++] = -1
          return
        }
        bytes.set(part, at)
        meta[field++] = at
        meta[field++] = part.length
        at += part.length
      }
      for (const message of messages) {
        meta[field++] = Number(message.offset)
        meta[field++] = Number(message.timestamp)
        put(message.key ?? null)
        put(message.value)
      }
      void post({ _tag: "batch", id: nextId++, topic: batch.topic, partition: batch.partition, bytes, meta }, size, [
        meta.buffer as ArrayBuffer
      ])
      await writtenDownTo(maxPendingBytes)
    },
    drain: () => writtenDownTo(0),
    close: async () => {
      await post({ _tag: "close" }, 0)
      await worker.terminate()
    }
  }
})

const platformaticRaw = async (job: ConsumeJob, coverage: Coverage, m: ReturnType<typeof measure>) => {
  const { Consumer } = await import("@platformatic/kafka")
  let bytes = 0
  const consumer = new Consumer({
    groupId: job.groupId,
    clientId: "bench-platformatic-raw",
    bootstrapBrokers: job.brokers.split(","),
    sessionTimeout: FETCH.sessionTimeoutMs,
    heartbeatInterval: FETCH.heartbeatIntervalMs,
    maxBytesPerPartition: FETCH.maxBytesPerPartition,
    maxWaitTime: FETCH.maxWaitTimeInMs
  })
  const stream = await consumer.consume({ topics: [job.extent.topic], mode: "committed", fallbackMode: "earliest", autocommit: false })
  const done = deferred<void>()
  stream.on("data", (message) => {
    bytes += message.value?.length ?? 0
    m.record()
    if (coverage.mark(message.partition, Number(message.offset))) {
      m.lastRecord()
      done.resolve()
    }
  })
  stream.on("error", (error) => done.reject(error))
  await done.promise
  await stream.close()
  await consumer.close()
  return { bytes }
}

/**
 * kcat (librdkafka) reading every partition from the beginning to the end (`-e`); with `-G`
 * (a group) kcat has no exit-at-end and its output is block-buffered, so it runs without a
 * group. Its own CPU and peak RSS come from /usr/bin/time; reading its output costs this
 * process, not kcat.
 */
const kcatRaw = async (job: ConsumeJob, coverage: Coverage, m: ReturnType<typeof measure>) => {
  let bytes = 0
  const child = spawn("/usr/bin/time", [
    "-f", "TIME %U %S %M",
    "kcat", "-C", "-q", "-e", "-o", "beginning", "-b", job.brokers, "-t", job.extent.topic,
    "-X", `fetch.wait.max.ms=${FETCH.maxWaitTimeInMs}`,
    "-X", `max.partition.fetch.bytes=${FETCH.maxBytesPerPartition}`,
    "-f", "%p %o %S\n"
  ], { stdio: ["ignore", "pipe", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const closed = new Promise((resolve) => child.once("close", resolve))
  for await (const line of createInterface({ input: child.stdout })) {
    const [p, o, s] = line.split(" ")
    bytes += Number(s)
    m.record()
    if (coverage.mark(Number(p), Number(o))) m.lastRecord()
  }
  await closed
  const match = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr)
  if (match === null) throw new Error(`kcat: no timing from /usr/bin/time:\n${stderr.slice(-2000)}`)
  return {
    bytes,
    cpuMicros: (Number(match[1]) + Number(match[2])) * 1e6,
    peakRssMb: Math.round(Number(match[3]) / 1024)
  }
}

// ---------------------------------------------------------------- consume: the pipeline

/** Per-partition handled times (ms since epoch), and the commits that cover them. */
class CommitLatency {
  readonly #handledAt = new Map<number, Float64Array>()
  readonly #committedUpTo = new Map<number, number>()
  readonly samples: Array<number> = []

  constructor(extent: ConsumeJob["extent"], readonly warmupUntil: number) {
    for (const { count, partition } of extent.partitions) this.#handledAt.set(partition, new Float64Array(count))
  }

  handled(partition: number, offset: number, at: number) {
    const times = this.#handledAt.get(partition)
    if (times !== undefined && offset < times.length) times[offset] = at
  }

  committed(offsets: ReadonlyArray<TopicPartitionOffset>, at: number) {
    for (const { offset, partition } of offsets) {
      const times = this.#handledAt.get(partition)
      if (times === undefined) continue
      const from = this.#committedUpTo.get(partition) ?? 0
      for (let o = from; o < Math.min(offset, times.length); o++) {
        if (times[o]! >= this.warmupUntil) this.samples.push(at - times[o]!)
      }
      this.#committedUpTo.set(partition, Math.max(from, offset))
    }
  }
}

/** A `KafkaClient` layer, plus hooks on assignments and successful commits (for readiness and commit latency). */
const instrumentedKafka = (
  inner: Layer.Layer<KafkaClient>,
  hooks: {
    readonly onAssignment: (assignment: ReadonlyArray<TopicPartition>) => void
    readonly onCommitted: (offsets: ReadonlyArray<TopicPartitionOffset>) => void
  }
) =>
  Layer.effect(
    KafkaClient,
    Effect.gen(function*() {
      const kafka = yield* KafkaClient
      return KafkaClient.of({
        ...kafka,
        consumer: (options) =>
          kafka.consumer(options).pipe(Effect.map((consumer) => ({
            ...consumer,
            run: (handlers) =>
              consumer.run({
                ...handlers,
                onAssignment: (assignment) =>
                  handlers.onAssignment(assignment).pipe(Effect.tap(() => Effect.sync(() => hooks.onAssignment(assignment))))
              }),
            commit: (offsets) => consumer.commit(offsets).pipe(Effect.tap(() => Effect.sync(() => hooks.onCommitted(offsets))))
          })))
      })
    })
  ).pipe(Layer.provide(inner))

const slowKey = Buffer.from(SLOW_KEY)
const isSlowKey = (input: ProcessorInput) => input.key !== null && Buffer.compare(input.key, slowKey) === 0

/**
 * A pipeline variant's processor: `handled` at once, or after `IO_MS` (the io variants). In
 * `pipeline-io-slow-key` the slow key's records take `SLOW_KEY_MS`, and `others` counts the rest
 * and the time (since `t0`) the last of them was handled: their rate is the figure, while the run
 * goes on to the slow key's last record.
 */
const processorOf = (job: ConsumeJob, handled: (input: ProcessorInput) => void, t0: number) => {
  const variant = settingsOf(job.variant)
  if (!ioVariants.has(variant)) return { processor: handled, others: undefined }
  const slow = variant === "pipeline-io-slow-key"
  const others = { records: 0, elapsedMs: 0 }
  const processor = (input: ProcessorInput) => {
    const slowRecord = slow && isSlowKey(input)
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        handled(input)
        if (slow && !slowRecord) {
          others.records++
          others.elapsedMs = performance.now() - t0
        }
        resolve()
      }, slowRecord ? SLOW_KEY_MS : IO_MS)
    )
  }
  return { processor, others: slow ? others : undefined }
}

const pipeline = async (job: ConsumeJob, coverage: Coverage, m: ReturnType<typeof measure>) => {
  // The variant's settings, on the client it names (`pipeline-full-platformatic`: `pipeline-full` on platformatic).
  const variant = settingsOf(job.variant)
  const archive = variant !== "pipeline-no-archive"
  const io = ioVariants.has(variant)
  const backupDir = join(job.dir, "backup")
  const dlqDir = join(job.dir, "dlq")
  mkdirSync(backupDir, { recursive: true })
  mkdirSync(dlqDir, { recursive: true })
  let bytes = 0
  const latency = job.latency
  const warmupUntil = Date.now() + (latency?.warmupMs ?? 0)
  const produceToHandled: Array<number> = []
  const commits = new CommitLatency(job.extent, warmupUntil)

  const handled = (input: ProcessorInput) => {
    m.record()
    bytes += input.value?.byteLength ?? 0
    if (latency !== undefined) {
      const now = Date.now()
      if (now >= warmupUntil) produceToHandled.push(now - input.timestamp)
      commits.handled(input.partition, input.offset, now)
    }
    if (coverage.mark(input.partition, input.offset)) m.lastRecord()
  }
  const { others, processor } = processorOf(job, handled, m.t0)

  const hooks = {
    onAssignment: (assignment: ReadonlyArray<TopicPartition>) => {
      if (job.signalReady && assignment.length > 0) void send({ _tag: "ready" })
    },
    onCommitted: (offsets: ReadonlyArray<TopicPartitionOffset>) => commits.committed(offsets, Date.now())
  }
  const program = Effect.gen(function*() {
    const config = yield* makePipelineConfig({
      brokers: job.brokers.split(","),
      topics: [job.extent.topic],
      groupId: job.groupId,
      clientId: `bench-${job.variant}`,
      client: clientOf(job.variant),
      dlqDir,
      ...(archive ? { backupDir } : {}),
      concurrency: io ? 100 : 16,
      // Key ordering is the default: the other variants measure it.
      ...(variant === "pipeline-full-unordered" ? { ordering: "unordered" as const } : {}),
      ...(latency === undefined ? {} : { commitIntervalMs: latency.commitIntervalMs }),
      logLevel: "Warn",
      stopAtOffsets: job.extent.partitions
        .filter((p) => p.count > 0)
        .map((p) => ({ topic: job.extent.topic, partition: p.partition, offset: p.count - 1 }))
    })
    // The client chosen as the CLI chooses it (the option `client`).
    const kafka = instrumentedKafka(ChosenClient.layer(config, config.clientId), hooks)
    return yield* Pipeline.run(processor).pipe(Effect.provide(Layer.mergeAll(PipelineSettings.layer(config), kafka)))
  }).pipe(
    Effect.provide(Layer.mergeAll(
      NodeFileSystem.layer,
      NodePath.layer,
      Logging.layer({ level: "Warn", format: "json", isTTY: false })
    ))
  )
  const summary = await Effect.runPromise(program)
  rmSync(job.dir, { recursive: true, force: true })
  const latencySummary = latency === undefined ? undefined : summarizeLatency(produceToHandled, commits.samples)
  return {
    bytes,
    note: `consumed ${summary.consumed}, processed ${summary.processed}, dead-lettered ${summary.deadLettered}`,
    ...(latencySummary === undefined ? {} : { latency: latencySummary }),
    ...(others === undefined ? {} : { others })
  }
}

const summarizeLatency = (produceToHandled: ReadonlyArray<number>, handledToCommitted: ReadonlyArray<number>): LatencySummary => {
  const p = Float64Array.from(produceToHandled).sort()
  const c = Float64Array.from(handledToCommitted).sort()
  return {
    samples: p.length,
    p50Ms: percentile(p, 0.5),
    p95Ms: percentile(p, 0.95),
    p99Ms: percentile(p, 0.99),
    maxMs: p.length === 0 ? Number.NaN : p[p.length - 1]!,
    commitSamples: c.length,
    commitP50Ms: percentile(c, 0.5),
    commitP95Ms: percentile(c, 0.95),
    commitP99Ms: percentile(c, 0.99)
  }
}

// ---------------------------------------------------------------- main

const consume = async (job: ConsumeJob): Promise<ConsumeResult> => {
  const coverage = new Coverage(job.extent)
  const m = measure()
  const run = job.variant === "kafkajs-raw"
    ? kafkajsRaw
    : job.variant === "kafkajs-archive"
    ? kafkajsArchive
    : job.variant === "kafkajs-archive-worker"
    ? kafkajsArchiveWorker
    : job.variant === "platformatic-raw"
    ? platformaticRaw
    : job.variant === "kcat-raw"
    ? kcatRaw
    : pipeline
  const outcome: {
    bytes: number
    cpuMicros?: number
    peakRssMb?: number
    note?: string
    latency?: LatencySummary
    others?: ConsumeResult["others"]
  } = await run(job, coverage, m)
  const measured = m.finish()
  return {
    _tag: "consumed",
    records: totalOf(job.extent),
    bytes: outcome.bytes,
    elapsedMs: measured.elapsedMs,
    firstRecordMs: measured.firstRecordMs,
    wallMs: measured.wallMs,
    ...(outcome.others === undefined ? {} : { others: outcome.others }),
    cpuMicros: outcome.cpuMicros ?? measured.cpuMicros,
    ...(job.variant === "kcat-raw" ? {} : { mainThreadBusyPct: measured.mainThreadBusyPct, eventLoopDelay: measured.eventLoopDelay }),
    peakRssMb: outcome.peakRssMb ?? measured.peakRssMb,
    rss: measured.rss,
    missing: coverage.missing,
    duplicates: coverage.duplicates + coverage.outside,
    ...(outcome.latency === undefined ? {} : { latency: outcome.latency }),
    ...(outcome.note === undefined ? {} : { note: outcome.note })
  }
}

const main = async () => {
  const job = JSON.parse(process.argv[2]!) as Job
  try {
    await send(job._tag === "produce" ? await produce(job) : await consume(job))
  } catch (error) {
    await send({ _tag: "failed", message: error instanceof Error ? error.stack ?? error.message : String(error) })
  }
  process.exit(0)
}

void main()

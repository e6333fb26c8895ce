/**
 * Fault scenarios of issue 3 against the real (shared) broker, the CLI as child processes sent
 * real signals: a processor slower than the session timeout (5); SIGKILL at five moments of one
 * 50,000-record run, each run restarted on the same archive (7); a rebalance with a late joiner,
 * a clean leaver and a killed member (9) and three members started together, one killed, the
 * others stopping at their stop-at offsets (9b), each group sharing one archive directory; and an
 * archive that cannot be written any more (12). 7, 9 and 9b hold every record exactly once in the
 * archive (issue 17). Committed offsets come from Kafka's own ConsumerGroupCommand, archives are
 * read back with csv-parse and checked with `archive verify`. (Broker outages, 8: outage.test.ts.)
 */
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { archiveFiles, countRowsLoosely, readArchiveDir, readRows } from "../support/archive.js"
import { exactlyOnceDiff, range, verifyExactlyOnce } from "../support/archiveVerify.js"
import { uniqueName } from "../support/broker.js"
import {
  awaitExit,
  type CliRun,
  cliE2e,
  failsByDesign,
  jsonValues,
  logLines,
  readProcessed,
  runArgs as runArgsOf,
  spawnCli,
  waitFor,
  watching
} from "../support/cli.js"
import { produceValues } from "../support/produce.js"

const SLOW = new URL("../fixtures/slow-processor.mjs", import.meta.url).pathname

const e2e = cliE2e("faults-e2e")
const { dirs } = e2e


/** Backup rows on disk, cheaply: line breaks minus one header per file (the rows of these tests have no line breaks). */
const backupLines = (dir: string): number =>
  archiveFiles(dir, "backup").reduce((n, file) => {
    const bytes = readFileSync(file)
    let lines = 0
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) lines++
    return n + Math.max(lines - 1, 0)
  }, 0)

/** `topic:partition=offset` entries of the pipeline's debug line `committed …`. */
const commitsOf = (message: string): Array<readonly [key: string, offset: number]> =>
  message.startsWith("committed ")
    ? message.slice("committed ".length).split(",").map((entry) => {
      const eq = entry.lastIndexOf("=")
      return [entry.slice(0, eq), Number(entry.slice(eq + 1))] as const
    })
    : []

/** A member of a group: a CLI process, and the log of the records it processed. */
interface Member {
  readonly name: string
  readonly run: CliRun
  readonly log: string
}

/** The partitions of the member's latest assignment (`topic:partition`). */
const assigned = (m: Member): Array<string> => {
  const last = logLines(m.run.stderr()).filter((l) => l.text === "partitions assigned").pop()
  return String(last?.annotations["assigned"] ?? "").split(",").filter((p) => p.length > 0)
}
const processedBy = (m: Member) => readProcessed(m.log).length
/** What to show when a wait fails: each member's log lines but its commits. */
const context = (...ms: Array<Member>) => () =>
  ms.map((m) => {
    const lines = logLines(m.run.stderr()).filter((l) => !l.text.startsWith("committed ")).map((l) => JSON.stringify(l))
    return `--- ${m.name} (pid ${m.run.child.pid}, exit ${m.run.child.exitCode}), without its commits:\n${lines.join("\n")}`
  }).join("\n")
const anyExited = (...ms: Array<Member>) => () => ms.map((m) => watching(m.run).abort()).find((r) => r !== undefined)

/**
 * A topic of `P` partitions of `PER` records each (every 50th of a partition fails: to the DLQ),
 * a group, and one archive directory that the group's members share for their backup and DLQ files.
 */
const sharedArchiveGroup = async (
  runArgs: (o: Parameters<typeof runArgsOf>[0]) => Array<string>,
  prefix: string,
  P: number,
  PER: number,
  /** Records per partition produced at once; `produceMore` adds the rest, up to `PER`. */
  first = PER
) => {
  const broker = e2e.broker()
  const topic = uniqueName(prefix)
  const group = uniqueName("g")
  const FAIL_EVERY = 50
  const fails = failsByDesign(FAIL_EVERY)
  await broker.createTopic(topic, P)
  let produced = 0
  /** Produces `perPartition` more records on each partition (never past `PER`). */
  const produceMore = async (perPartition: number) => {
    const count = Math.min(perPartition, PER - produced)
    await produceValues(broker.brokers, topic, jsonValues(P * count), (i) => i % P)
    produced += count
  }
  await produceMore(first)
  const archive = (await dirs()).backupDir
  const { base } = await dirs()

  const member = (name: string, o: {
    readonly concurrency: number
    readonly queueSize: number
    readonly delayMs: number
    readonly logLevel?: string
    readonly stopAt?: ReadonlyArray<readonly [number, number]>
  }): Member => {
    const log = join(base, `processed-${name}.log`)
    const run = spawnCli(
      runArgs({
        brokers: broker.brokers, topic, group, backupDir: archive, dlqDir: archive, processor: SLOW,
        ...(o.stopAt === undefined ? {} : { stopAt: o.stopAt }),
        extra: [
          "--concurrency", String(o.concurrency), "--queue-size", String(o.queueSize), "--client-id", name,
          // a killed member holds its partitions until its session expires: keep that short
          "--session-timeout-ms", "6000", "--heartbeat-interval-ms", "1000",
          "--log-level", o.logLevel ?? "info"
        ]
      }),
      { PROCESSED_LOG: log, PROCESS_DELAY_MS: String(o.delayMs), FAIL_EVERY: String(FAIL_EVERY) }
    )
    return { name, run, log }
  }

  /**
   * Every record once in the archive: a backup row each, a DLQ row each failing record, whoever
   * wrote them (`archive verify` agreeing); and handled: processed (by someone) or dead-lettered.
   */
  const assertExactlyOnce = async (members: ReadonlyArray<Member>) => {
    const reading = await verifyExactlyOnce(archive)
    const partitions = (offsets: Array<number>) =>
      new Map(Array.from({ length: P }, (_, p) => [`${topic}:${p}`, offsets] as const))
    expect(exactlyOnceDiff(reading.backup, partitions(range(0, PER))), "backup rows").toEqual({})
    expect(exactlyOnceDiff(reading.dlq, partitions(range(0, PER).filter(fails))), "DLQ rows").toEqual({})
    const processed = new Set(members.flatMap((m) => readProcessed(m.log).map(([p, o]) => p * PER + o)))
    const unhandled = range(0, P * PER).filter((i) => !processed.has(i) && !fails(i % PER))
    expect(unhandled.map((i) => `${Math.floor(i / PER)}:${i % PER}`), "neither processed nor dead-lettered").toEqual([])
    return reading
  }
  return { broker, topic, group, archive, member, assertExactlyOnce, produceMore }
}

// One at a time: each scenario runs several CLI processes, some at full speed (7), and the
// timing-sensitive ones (session timeouts in 5, a late join in 9) should not compete with them
// for the two cores; the other e2e files still run alongside in their own workers.
// Each scenario with each Kafka client (`--client`).
describe.each(["kafkajs", "platformatic"])("fault scenarios against a real broker (%s)", (client) => {
  const runArgs = (o: Parameters<typeof runArgsOf>[0]) => runArgsOf({ ...o, client })
  // The container pass (.ci/run) runs scenario 7 with one client: the two differ in no container matter.
  const containerSlice = client === "kafkajs" ? ["testcontainers"] : []
  it("5. a processor slower than the session timeout, a byte-bounded queue: backpressure, one join, no loss", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("slow")
    const group = uniqueName("g")
    await broker.createTopic(topic, 1)
    // ~720 bytes each: with --queue-bytes 1024 one record is queued at a time, so the batch's
    // hand-over waits on the processor (6.5 s a record, over the 6 s session timeout).
    await produceValues(broker.brokers, topic, [0, 1, 2].map((i) => JSON.stringify({ i, pad: "x".repeat(700) })))
    const { backupDir, dlqDir, base } = await dirs()
    const log = join(base, "processed.log")
    const started = Date.now()
    const run = spawnCli(
      runArgs({
        brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: SLOW, stopAt: [[0, 2]],
        extra: [
          "--concurrency", "1", "--queue-size", "10", "--queue-bytes", "1024",
          "--session-timeout-ms", "6000", "--heartbeat-interval-ms", "1000"
        ]
      }),
      { PROCESSED_LOG: log, PROCESS_DELAY_MS: "6500" }
    )
    // Records taken from Kafka (a backup row is written once a record has room in the queue) but
    // not yet processed: the one in the worker; the next waits for room (the byte bound holds
    // one record) before its row is written.
    let maxAhead = 0
    const sampler = setInterval(() => {
      const taken = countRowsLoosely(backupDir, "backup")
      maxAhead = Math.max(maxAhead, taken - readProcessed(log).length)
    }, 200)
    const res = await awaitExit(run, 90_000).finally(() => clearInterval(sampler))
    const elapsed = Date.now() - started
    expect(res.code, res.stderr.slice(-3000)).toBe(0)
    expect(elapsed).toBeGreaterThan(3 * 6500) // really slower than the session timeout, three times over
    expect(maxAhead).toBe(1)

    const lines = logLines(res.stderr)
    // No rebalance storm: the member joined once and kept its membership while the batch waited.
    expect(lines.filter((l) => l.text === "Kafka consumer joined its group")).toHaveLength(1)
    expect(lines.filter((l) => l.level === "WARN" || l.level === "ERROR"), res.stderr.slice(-3000)).toEqual([])
    // No loss, and no duplicate (a rejoin would have fetched the batch again)
    expect(readProcessed(log)).toEqual([[0, 0], [0, 1], [0, 2]])
    expect(readRows(backupDir, "backup").map((r) => r.offset)).toEqual(["0", "1", "2"])
    expect(res.summary).toMatchObject({ processed: 3, deadLettered: 0 })
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, 3]]))
    console.log(`scenario 5: ${elapsed} ms`)
  }, 120_000)

  it("7. SIGKILL at five moments of one 50,000-record run, restarted each time: every offset once in the backup archive, every failing record once in the DLQ archive, nothing missing, no commit ahead of a backup row", { timeout: 300_000, tags: containerSlice }, async () => {
    const broker = e2e.broker()
    const topic = uniqueName("sigkill")
    const group = uniqueName("g")
    const N = 50_000
    const FAIL_EVERY = 100
    const fails = failsByDesign(FAIL_EVERY)
    await broker.createTopic(topic, 1)
    await produceValues(broker.brokers, topic, jsonValues(N))
    const { base, backupDir, dlqDir } = await dirs()
    const log = join(base, "processed.log")
    const args = (stopAt?: ReadonlyArray<readonly [number, number]>) =>
      runArgs({
        brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: SLOW,
        ...(stopAt === undefined ? {} : { stopAt }),
        extra: [
          "--concurrency", "40", "--queue-size", "200",
          // a killed member holds its partition until its session expires: keep that short
          "--session-timeout-ms", "6000", "--heartbeat-interval-ms", "1000"
        ]
      })
    const env = { PROCESSED_LOG: log, PROCESS_DELAY_MS: "10", FAIL_EVERY: String(FAIL_EVERY) }
    const recoveryLine = (run: CliRun) => logLines(run.stderr()).find((l) => l.text === "archive recovery")
    // When each run is killed: mid-stream after rows of its own, as soon as it has read the archive
    // (before it writes), at its first row on disk.
    const moments: ReadonlyArray<{ readonly what: string; readonly reached: (run: CliRun, newRows: number) => boolean }> = [
      { what: "after 5,000 rows of its own", reached: (_, newRows) => newRows >= 5000 },
      { what: "once it has read the archive", reached: (run) => recoveryLine(run) !== undefined },
      { what: "after 12,000 rows of its own", reached: (_, newRows) => newRows >= 12_000 },
      { what: "at its first row on disk", reached: (_, newRows) => newRows >= 1 },
      { what: "after 8,000 rows of its own", reached: (_, newRows) => newRows >= 8000 }
    ]
    const key = `${topic}:0`
    const covered = (offsets: Iterable<number>) => {
      const set = new Uint8Array(N)
      for (const o of offsets) set[o] = 1
      return set
    }

    let previous = 0
    const report: Array<string> = []
    for (const [k, moment] of moments.entries()) {
      const before = backupLines(backupDir)
      const started = Date.now()
      const run = spawnCli(args(), env)
      await waitFor(`run ${k + 1} killed ${moment.what}`, () => moment.reached(run, backupLines(backupDir) - before), {
        timeoutMs: 60_000, ...watching(run)
      })
      run.child.kill("SIGKILL")
      expect((await run.done).signal).toBe("SIGKILL")

      const committed = (await broker.committedOffsets(group, topic)).get(0) ?? 0
      expect(committed, `run ${k + 1}: the commit never goes back`).toBeGreaterThanOrEqual(previous)
      expect(committed, `run ${k + 1} was killed mid-stream`).toBeLessThan(N)
      // Every file whole (a strict parse): the backup rows are a prefix of the partition, each
      // once; the DLQ rows are failing records, each once, every one below the commit there (a DLQ
      // row may reach the disk before its record's backup row: the next run writes that one).
      const backup = readArchiveDir(backupDir).backup
      const written = Math.max(...backup.map((row) => row.offset)) + 1
      expect(exactlyOnceDiff(backup, new Map([[key, range(0, written)]])), `run ${k + 1}: backup rows`).toEqual({})
      expect(committed, `run ${k + 1}: no commit ahead of a backup row`).toBeLessThanOrEqual(written)
      const dlq = readArchiveDir(dlqDir).dlq
      const deadLettered = new Set(dlq.map((row) => row.offset))
      const dlqExpected = range(0, N).filter((o) => fails(o) && (o < committed || deadLettered.has(o)))
      expect(exactlyOnceDiff(dlq, new Map([[key, dlqExpected]])), `run ${k + 1}: DLQ rows`).toEqual({})
      // Nothing committed is unhandled: below the commit, every record processed or dead-lettered.
      const processed = covered(readProcessed(log).map(([, offset]) => offset))
      for (let o = 0; o < committed; o++) {
        if (processed[o] !== 1 && !deadLettered.has(o)) expect.fail(`run ${k + 1}: offset ${o} is below the commit ${committed} but was not handled`)
      }
      report.push(`${moment.what}: committed ${committed}, rows ${written}, found past the commit ${recoveryLine(run)?.annotations["rowsPastCommitted"] ?? "-"} (${Date.now() - started} ms)`)
      previous = committed
    }

    const last = await awaitExit(spawnCli(args([[0, N - 1]]), env), 120_000)
    expect(last.code, last.stderr.slice(-3000)).toBe(0)
    // Exactly once: every offset has one backup row, every failing record one DLQ row, and every
    // other record was processed.
    const backup = (await verifyExactlyOnce(backupDir)).backup
    expect(exactlyOnceDiff(backup, new Map([[key, range(0, N)]])), "backup rows").toEqual({})
    const dlq = (await verifyExactlyOnce(dlqDir)).dlq
    expect(exactlyOnceDiff(dlq, new Map([[key, range(0, N).filter(fails)]])), "DLQ rows").toEqual({})
    const processed = covered(readProcessed(log).map(([, offset]) => offset))
    expect(range(0, N).filter((o) => !fails(o) && processed[o] !== 1)).toEqual([])
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map([[0, N]]))
    console.log(`scenario 7: ${report.join("; ")}`)
  })

  it("9. rebalance: three members sharing one archive directory, one joins late, one leaves (SIGTERM), one is SIGKILLed: every record once in the archive, none unhandled, no commit for a partition not owned", async () => {
    const P = 4
    const PER = 1000
    // Half at first; a quarter once c owns partitions, a quarter once b has left: whatever the
    // machine's speed, there is work left for c at each step.
    const { broker, topic, group, member, assertExactlyOnce, produceMore } = await sharedArchiveGroup(runArgs, "rebalance", P, PER, PER / 2)
    const memberOptions = { concurrency: 8, queueSize: 50, delayMs: 50, logLevel: "debug" } // debug: the `committed …` lines

    const a = member("a", memberOptions)
    const b = member("b", memberOptions)
    await waitFor("a and b share the partitions and make progress", () =>
      assigned(a).length > 0 && assigned(b).length > 0 && processedBy(a) + processedBy(b) >= 200, {
      timeoutMs: 60_000, abort: anyExited(a, b), context: context(a, b)
    })
    const c = member("c", memberOptions)
    await waitFor("c joins late", () => assigned(c).length > 0, {
      timeoutMs: 60_000, abort: anyExited(a, b, c), context: context(a, b, c)
    })
    await produceMore(PER / 4)
    await waitFor("c processes", () => processedBy(c) >= 40, {
      timeoutMs: 60_000, abort: anyExited(a, b, c), context: context(a, b, c)
    })
    b.run.child.kill("SIGTERM")
    const resB = await awaitExit(b.run, 60_000)
    expect(resB.code, resB.stderr.slice(-3000)).toBe(0)
    const cBefore = processedBy(c)
    await produceMore(PER / 4)
    await waitFor("c goes on after b left", () => processedBy(c) >= cBefore + 40, {
      timeoutMs: 60_000, abort: anyExited(a, c), context: context(a, c)
    })
    c.run.child.kill("SIGKILL")
    expect((await c.run.done).signal).toBe("SIGKILL")

    const members = [a, b, c]
    const commitLog = () =>
      members.flatMap((m) =>
        logLines(m.run.stderr()).flatMap((l) =>
          commitsOf(l.text).map(([key, offset]) => ({ member: m.name, at: l.timestamp, key, offset }))
        )
      )
    const highestCommits = () => {
      const highest = new Map<string, number>()
      for (const c of commitLog()) highest.set(c.key, Math.max(highest.get(c.key) ?? 0, c.offset))
      return Array.from({ length: P }, (_, p) => highest.get(`${topic}:${p}`))
    }
    await waitFor("a takes over and commits every partition to its end", () => highestCommits().every((o) => o === PER), {
      timeoutMs: 120_000,
      abort: anyExited(a),
      context: () =>
        `highest commits ${highestCommits().join(",")}; a owns ${assigned(a).join(",")}\n` +
        logLines(a.run.stderr()).filter((l) => !l.text.startsWith("committed ")).map((l) => JSON.stringify(l)).join("\n")
    })
    a.run.child.kill("SIGTERM")
    const resA = await awaitExit(a.run, 60_000)
    expect(resA.code, resA.stderr.slice(-3000)).toBe(0)
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map(Array.from({ length: P }, (_, p) => [p, PER])))

    await assertExactlyOnce(members)
    // Each member handled some, and the late joiner and the killed member really owned partitions.
    for (const m of members) expect(processedBy(m), m.name).toBeGreaterThan(0)

    // No member commits a partition outside its latest assignment (its own log, in order) ...
    for (const m of members) {
      let owned = new Set<string>()
      for (const line of logLines(m.run.stderr())) {
        if (line.text === "partitions assigned") {
          owned = new Set(String(line.annotations["assigned"]).split(",").filter((p) => p.length > 0))
        }
        for (const [key, offset] of commitsOf(line.text)) {
          expect(owned.has(key), `${m.name} committed ${key}=${offset} owning only ${[...owned].join(",")}`).toBe(true)
        }
      }
    }
    // ... and across members a partition's commits never go back (a stale owner's commit would).
    const byTime = commitLog().sort((x, y) => x.at < y.at ? -1 : x.at > y.at ? 1 : 0)
    const last = new Map<string, { readonly member: string; readonly offset: number }>()
    for (const c of byTime) {
      const before = last.get(c.key)
      if (before !== undefined) {
        expect(c.offset, `${c.member} committed ${c.key}=${c.offset} after ${before.member}'s ${before.offset}`)
          .toBeGreaterThanOrEqual(before.offset)
      }
      last.set(c.key, c)
    }
    const owners = new Map<string, Set<string>>()
    for (const c of byTime) owners.set(c.key, (owners.get(c.key) ?? new Set()).add(c.member))
    console.log(`scenario 9: committers per partition ${JSON.stringify([...owners].map(([k, v]) => [k.split(":").pop(), [...v]]))}`)
  }, 240_000)

  it("9b. three members sharing one archive directory, started together, one SIGKILLed mid-run, the others stopping at the end (stop-at): every record once in the archive", async () => {
    const P = 6
    const PER = 4000
    // A quarter at first, the rest once the three share the partitions: however late one of them
    // starts, the others cannot reach the end (their stop-at offsets) without it.
    const { broker, topic, group, member, assertExactlyOnce, produceMore } = await sharedArchiveGroup(runArgs, "shared", P, PER, PER / 4)
    const stopAt = Array.from({ length: P }, (_, p) => [p, PER - 1] as const)
    const members = ["a", "b", "c"].map((name) => member(name, { concurrency: 10, queueSize: 200, delayMs: 10, stopAt }))
    const [a, b, c] = members as [Member, Member, Member]
    await waitFor("the three share the partitions", () => members.every((m) => assigned(m).length > 0), {
      timeoutMs: 90_000, abort: anyExited(...members), context: context(...members)
    })
    await produceMore(PER)
    await waitFor("a third of the records processed", () => members.reduce((n, m) => n + processedBy(m), 0) >= (P * PER) / 3, {
      timeoutMs: 90_000, abort: anyExited(...members), context: context(...members)
    })
    c.run.child.kill("SIGKILL")
    expect((await c.run.done).signal).toBe("SIGKILL")
    for (const res of await Promise.all([awaitExit(a.run, 120_000), awaitExit(b.run, 120_000)])) {
      expect(res.code, res.stderr.slice(-3000)).toBe(0)
      expect(res.summary).toMatchObject({ reason: "stopAtOffsets" })
    }
    expect(await broker.committedOffsets(group, topic)).toEqual(new Map(Array.from({ length: P }, (_, p) => [p, PER])))
    await assertExactlyOnce(members)
    const recoveries = members.map((m) =>
      `${m.name}: ${logLines(m.run.stderr()).filter((l) => l.text === "archive recovery").map((l) => l.annotations["rowsPastCommitted"]).join(",")}`
    )
    console.log(`scenario 9b: rows found past the commits at each assignment ${recoveries.join("; ")}`)
  }, 240_000)

  it("12. the backup archive stops being writable mid-run: error logged once, graceful stop, exit 1, nothing committed past the last backup row", async () => {
    const broker = e2e.broker()
    const topic = uniqueName("unwritable")
    const group = uniqueName("g")
    const N = 3000
    await broker.createTopic(topic, 1)
    await produceValues(broker.brokers, topic, jsonValues(N))
    const { backupDir, dlqDir } = await dirs()
    // ~200 records/s: mid-stream for ~15 s. No processed log: it would hit the limit below too.
    const run = spawnCli(runArgs({
      brokers: broker.brokers, topic, group, backupDir, dlqDir, processor: SLOW,
      extra: ["--concurrency", "4", "--log-level", "debug"] // debug: the `committed …` lines
    }))
    const lastCommit = () => logLines(run.stderr()).flatMap((l) => commitsOf(l.text)).map(([, o]) => o).pop() ?? 0
    await waitFor("a commit past offset 300", () => lastCommit() > 300, {
      timeoutMs: 60_000, ...watching(run)
    })
    // How to make the archive unwritable: these tests run as root (chmod 000 does not stop root),
    // and the pipeline keeps each hourly file open, so chmod-ing, replacing or removing the
    // directory would not make a write fail before the next hourly rotation (writes go to the open
    // file). What does make every further write fail, for any user, is a file size limit:
    // RLIMIT_FSIZE set to 1 byte on the running process (prlimit) makes each write that would grow
    // a file fail with EFBIG, as a full disk or a quota would (Node ignores SIGXFSZ).
    await promisify(execFile)("prlimit", ["--pid", String(run.child.pid), "--fsize=1:1"])
    const res = await awaitExit(run, 60_000)
    expect(res.signal, res.stderr.slice(-3000)).toBeNull()
    expect(res.code, res.stderr.slice(-3000)).toBe(1)

    const lines = logLines(res.stderr)
    const messages = lines.map((l) => `${l.level} ${l.text}`)
    // Said once, when it stops the run: what failed, on which file, why, and what to do.
    const archiveErrors = messages.filter((m) => m.startsWith("ERROR") && m.includes("archive"))
    expect(archiveErrors, messages.join("\n")).toHaveLength(1)
    expect(archiveErrors[0]).toMatch(
      /^ERROR fatal: backup archive: cannot write \/.*\/backup-[\dT-]+(\.\d+)?\.csv: file too large for this process .*\(EFBIG\)\. Raise the file size limit of the pipeline's process .*then start the pipeline again/
    )
    expect(messages).toContain("INFO stopped") // the graceful sequence ran to its end

    const rows = readRows(backupDir, "backup") // whole rows only: the failed write was cut back
    const offsets = rows.map((r) => Number(r.offset))
    expect(new Set(offsets).size).toBe(offsets.length)
    const committed = (await broker.committedOffsets(group, topic)).get(0)
    expect(committed, "something was committed before the failure").toBeDefined()
    expect(committed!).toBeGreaterThan(300)
    expect(committed!).toBeLessThan(N)
    expect(committed!).toBeLessThanOrEqual(Math.max(...offsets) + 1)
    const backedUp = new Set(offsets)
    for (let o = 0; o < committed!; o++) expect(backedUp.has(o), `offset ${o} below the commit ${committed}`).toBe(true)
    expect(res.summary).toMatchObject({ reason: "failed", committed: [{ topic, partition: 0, offset: committed }] })
    console.log(`scenario 12: committed ${committed}, ${rows.length} backup rows`)
  }, 120_000)
})

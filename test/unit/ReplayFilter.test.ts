import { assert, describe, it } from "@effect/vitest"
import { listArchiveDirectory, listArchiveFiles } from "../../src/domain/ArchiveListing.js"
import {
  filterIssues,
  matches,
  parseIsoTime,
  parseReplayFlags,
  parseResumePoint,
  type ReplayFilter
} from "../../src/domain/ReplayFilter.js"
import type { ArchivedRecord } from "../../src/domain/ReplayRow.js"

const T0 = Date.UTC(2026, 10, 22, 10)

const record = (overrides: Partial<ArchivedRecord> = {}): ArchivedRecord => ({
  topic: "orders",
  partition: 2,
  offset: 100,
  timestamp: T0,
  key: null,
  value: null,
  headers: [],
  errorType: "SyntaxError",
  failedAt: T0 + 60_000,
  ...overrides
})

describe("matches", () => {
  it("an empty filter selects everything, backup rows included", () => {
    assert.isTrue(matches({}, record()))
    assert.isTrue(matches({}, record({ errorType: undefined, failedAt: undefined })))
  })

  it("each field narrows: error types, topics, partitions, offsets (both ends included)", () => {
    const cases: Array<[ReplayFilter, Partial<ArchivedRecord>, boolean]> = [
      [{ errorTypes: ["SyntaxError", "NullValue"] }, {}, true],
      [{ errorTypes: ["NullValue"] }, {}, false],
      [{ errorTypes: ["SyntaxError"] }, { errorType: undefined }, false],
      [{ errorTypes: [""] }, { errorType: undefined }, false],
      [{ topics: ["orders"] }, {}, true],
      [{ topics: ["payments"] }, {}, false],
      [{ partitions: [0, 2] }, {}, true],
      [{ partitions: [1] }, {}, false],
      [{ fromOffset: 100, toOffset: 100 }, {}, true],
      [{ fromOffset: 101 }, {}, false],
      [{ toOffset: 99 }, {}, false]
    ]
    for (const [filter, overrides, expected] of cases) {
      assert.strictEqual(matches(filter, record(overrides)), expected, JSON.stringify(filter))
    }
  })

  it("times: from included, to excluded, on the record's timestamp or on failed_at (which backup rows lack)", () => {
    assert.isTrue(matches({ fromTime: T0, toTime: T0 + 1 }, record()))
    assert.isFalse(matches({ fromTime: T0 + 1 }, record()))
    assert.isFalse(matches({ toTime: T0 }, record()))
    assert.isTrue(matches({ toTime: T0 + 1 }, record()))
    assert.isTrue(matches({ fromTime: T0 + 60_000, timeColumn: "failed_at" }, record()))
    assert.isFalse(matches({ toTime: T0 + 60_000, timeColumn: "failed_at" }, record()))
    assert.isFalse(matches({ fromTime: 0, timeColumn: "failed_at" }, record({ failedAt: undefined })))
  })

  it("a time column without a time range reads no time: backup rows match too", () => {
    assert.isTrue(matches({ timeColumn: "failed_at" }, record({ errorType: undefined, failedAt: undefined })))
  })
})

describe("filterIssues", () => {
  it("a filter in code: integers where integers go, ranges in order, topic names, the time column", () => {
    assert.deepStrictEqual(filterIssues({}), [])
    assert.deepStrictEqual(
      filterIssues({
        fromOffset: -1,
        toOffset: 1.5,
        partitions: [0, -2],
        fromTime: Number.NaN,
        topics: ["ok", "not ok"],
        timeColumn: "when" as never
      }),
      [
        "fromOffset: expected an integer ≥ 0, got -1",
        "toOffset: expected an integer ≥ 0, got 1.5",
        "partitions: expected an integer ≥ 0, got -2",
        "fromTime: expected a time in epoch ms, got NaN",
        "topics: expected a topic name (1–249 characters of a-z A-Z 0-9 . _ -), got \"not ok\"",
        "timeColumn: expected timestamp or failed_at, got \"when\""
      ]
    )
    assert.deepStrictEqual(filterIssues({ fromOffset: 5, toOffset: 4, fromTime: T0, toTime: T0 }), [
      "toOffset: expected an offset ≥ fromOffset (5), got 4",
      "toTime: expected a time after fromTime (2026-11-22T10:00:00.000Z), got 2026-11-22T10:00:00.000Z"
    ])
    assert.deepStrictEqual(filterIssues({ fromTime: 9e15, toTime: 8e15 }), [
      "toTime: expected a time after fromTime (9000000000000000), got +255479-11-28T14:13:20.000Z"
    ])
  })

  it("a range of one offset; times before 1970; a time that is not finite", () => {
    assert.deepStrictEqual(filterIssues({ fromOffset: 5, toOffset: 5, fromTime: -2_000, toTime: -1_000 }), [])
    assert.deepStrictEqual(filterIssues({ toTime: Number.POSITIVE_INFINITY }), [
      "toTime: expected a time in epoch ms, got Infinity"
    ])
  })
})

describe("parseIsoTime", () => {
  it("reads dates (midnight UTC) and date-times with their zone", () => {
    assert.strictEqual(parseIsoTime("2026-11-22"), Date.UTC(2026, 10, 22))
    assert.strictEqual(parseIsoTime("2026-11-22T10:00Z"), T0)
    assert.strictEqual(parseIsoTime("2026-11-22T10:00:00Z"), T0)
    assert.strictEqual(parseIsoTime("2026-11-22T10:00:00.5Z"), T0 + 500)
    assert.strictEqual(parseIsoTime("2026-11-22T10:00:00.123456789Z"), T0 + 123)
    assert.strictEqual(parseIsoTime("2026-11-22T12:00:00+02:00"), T0)
    assert.strictEqual(parseIsoTime("2026-11-22T05:30:00-0430"), T0)
    assert.strictEqual(parseIsoTime("0001-01-01"), new Date("0001-01-01T00:00:00Z").getTime())
  })

  it("the last second of a day and the widest zones are times", () => {
    assert.strictEqual(parseIsoTime("2026-11-22T23:59:59Z"), Date.UTC(2026, 10, 22, 23, 59, 59))
    assert.strictEqual(parseIsoTime("2026-11-22T10:00+23:59"), T0 - (23 * 60 + 59) * 60_000)
    assert.strictEqual(parseIsoTime("2026-11-22T10:00-23:59"), T0 + (23 * 60 + 59) * 60_000)
  })

  it("rejects times without a zone, impossible dates and anything else", () => {
    for (const text of ["2026-11-22T10:00:00", "2026-02-31", "2026-13-01", "2026-11-22T24:00Z", "2026-11-22T10:60Z", "2026-11-22T10:00:61Z", "2026-11-22T10:00+24:00", "2026-11-22T10:00+00:60", "yesterday", ""]) {
      assert.strictEqual(parseIsoTime(text), undefined, text)
    }
  })
})

describe("parseResumePoint", () => {
  it("splits file and line at the last colon", () => {
    assert.deepStrictEqual(parseResumePoint("dlq/a:b.csv:17"), { file: "dlq/a:b.csv", line: 17 })
    assert.deepStrictEqual(parseResumePoint("f.csv:1"), { file: "f.csv", line: 1 })
    for (const text of ["dlq.csv", ":3", "f.csv:0", "f.csv:x", "f.csv:", "f.csv:99999999999999999"]) {
      assert.strictEqual(parseResumePoint(text), undefined, text)
    }
  })
})

describe("parseReplayFlags", () => {
  it("reads every flag into the selection", () => {
    assert.deepStrictEqual(
      parseReplayFlags({
        "error-type": "SyntaxError, NullValue",
        topic: "orders,payments",
        partition: "0,2",
        "from-offset": "10",
        "to-offset": " 20 ",
        "from-time": "2026-11-22T10:00:00Z",
        "to-time": "2026-11-22T11:00:00Z",
        "time-column": "failed_at",
        "to-topic": "orders-retry",
        "resume-from": "dlq/dlq-2026-11-22T10.csv:17"
      }),
      {
        filter: {
          errorTypes: ["SyntaxError", "NullValue"],
          topics: ["orders", "payments"],
          partitions: [0, 2],
          fromOffset: 10,
          toOffset: 20,
          fromTime: T0,
          toTime: T0 + 3_600_000,
          timeColumn: "failed_at"
        },
        toTopic: "orders-retry",
        resumeFrom: { file: "dlq/dlq-2026-11-22T10.csv", line: 17 }
      }
    )
  })

  it("no flags: everything, to the records' own topics", () => {
    assert.deepStrictEqual(parseReplayFlags({}), {
      filter: {
        errorTypes: undefined,
        topics: undefined,
        partitions: undefined,
        fromOffset: undefined,
        toOffset: undefined,
        fromTime: undefined,
        toTime: undefined,
        timeColumn: undefined
      },
      toTopic: undefined,
      resumeFrom: undefined
    })
  })

  it("names each bad flag, its value and what was expected", () => {
    assert.deepStrictEqual(
      parseReplayFlags({
        "error-type": " , ",
        topic: "orders,bad topic",
        partition: "1,-1",
        "from-offset": "ten",
        "to-offset": "1e3",
        "from-time": "yesterday",
        "to-time": "2026-11-22T10:00:00",
        "time-column": "created",
        "to-topic": "a,b",
        "resume-from": "nowhere"
      }),
      {
        issues: [
          "--partition: expected a partition number (an integer ≥ 0), got \"-1\"",
          "--time-column: expected timestamp or failed_at, got \"created\"",
          "--to-topic: expected one topic name, got \"a,b\"",
          "--resume-from: expected file:line (the row to start at), got \"nowhere\"",
          "--error-type: expected error types, comma-separated, got \" , \"",
          "--topic: expected a topic name (1–249 characters of a-z A-Z 0-9 . _ -), got \"bad topic\"",
          "--from-offset: expected an integer ≥ 0, got \"ten\"",
          "--to-offset: expected an integer ≥ 0, got \"1e3\"",
          "--from-time: expected an ISO 8601 time with its zone, e.g. 2026-11-22T10:00:00Z, got \"yesterday\"",
          "--to-time: expected an ISO 8601 time with its zone, e.g. 2026-11-22T10:00:00Z, got \"2026-11-22T10:00:00\""
        ]
      }
    )
  })

  it("values with spaces around them; the largest partition number", () => {
    const selection = parseReplayFlags({
      partition: "2147483647",
      "from-time": " 2026-11-22T10:00:00Z ",
      "time-column": " failed_at ",
      "resume-from": " f.csv:3 "
    })
    assert.deepStrictEqual(selection, {
      filter: {
        errorTypes: undefined,
        topics: undefined,
        partitions: [2_147_483_647],
        fromOffset: undefined,
        toOffset: undefined,
        fromTime: T0,
        toTime: undefined,
        timeColumn: "failed_at"
      },
      toTopic: undefined,
      resumeFrom: { file: "f.csv", line: 3 }
    })
  })

  it("lists with no item, a partition past the largest, one bad target topic of two", () => {
    assert.deepStrictEqual(parseReplayFlags({ topic: " , ", partition: "," }), {
      issues: [
        "--partition: expected partition numbers, comma-separated, got \",\"",
        "--topic: expected topic names, comma-separated, got \" , \""
      ]
    })
    assert.deepStrictEqual(parseReplayFlags({ partition: "2147483647,2147483648" }), {
      issues: ["--partition: expected a partition number (an integer ≥ 0), got \"2147483648\""]
    })
    assert.deepStrictEqual(parseReplayFlags({ "to-topic": "orders,bad topic" }), {
      issues: ["--to-topic: expected a topic name (1–249 characters of a-z A-Z 0-9 . _ -), got \"bad topic\""]
    })
  })

  it("ranges whose ends are out of order, in the flags' names", () => {
    assert.deepStrictEqual(
      parseReplayFlags({ "from-offset": "9", "to-offset": "3", "from-time": "2026-11-22T11:00Z", "to-time": "2026-11-22T10:00Z" }),
      {
        issues: [
          "--to-offset: expected an offset ≥ --from-offset (9), got 3",
          "--to-time: expected a time after --from-time (2026-11-22T11:00:00.000Z), got 2026-11-22T10:00:00.000Z"
        ]
      }
    )
  })
})

describe("listArchiveFiles", () => {
  it("the files of one kind, .csv and .csv.gz, in the order they were written; other names skipped with the reason", () => {
    const names = [
      "dlq-2026-11-22T11.csv",
      "dlq-2026-11-22T10.10.csv",
      "dlq-2026-11-22T10.2.csv.gz",
      "dlq-2026-11-22T10.csv",
      "dlq-2026-11-22T10.1.csv",
      "backup-2026-11-22T10.csv",
      "dlq-2026-11-22T11.csv.gz",
      "notes.txt",
      "dlq-2026-02-31T10.csv"
    ]
    assert.deepStrictEqual(listArchiveFiles(names, "dlq"), {
      files: [
        "dlq-2026-11-22T10.csv",
        "dlq-2026-11-22T10.1.csv",
        "dlq-2026-11-22T10.2.csv.gz",
        "dlq-2026-11-22T10.10.csv",
        "dlq-2026-11-22T11.csv"
      ],
      skipped: [
        { name: "backup-2026-11-22T10.csv", reason: "a backup archive file (this replay reads dlq files)" },
        { name: "notes.txt", reason: "not an archive file name" },
        { name: "dlq-2026-02-31T10.csv", reason: "not an archive file name" },
        { name: "dlq-2026-11-22T11.csv.gz", reason: "a compressed copy of dlq-2026-11-22T11.csv, which is read" }
      ]
    })
    assert.deepStrictEqual(listArchiveFiles(names, "backup").files, ["backup-2026-11-22T10.csv"])
  })

  it("listArchiveDirectory: both kinds' files; skipped once, by name, only what neither kind reads", () => {
    const names = [
      "dlq-2026-11-22T10.csv",
      "backup-2026-11-22T10.1.csv",
      "backup-2026-11-22T10.csv.gz",
      "backup-2026-11-22T10.1.csv.gz",
      "notes.txt",
      "dlq-2026-11-22T10.csv.gz",
      "backup-2026-11-22T10.csv.gz.part"
    ]
    assert.deepStrictEqual(listArchiveDirectory(names), {
      backup: ["backup-2026-11-22T10.csv.gz", "backup-2026-11-22T10.1.csv"],
      dlq: ["dlq-2026-11-22T10.csv"],
      skipped: [
        { name: "backup-2026-11-22T10.1.csv.gz", reason: "a compressed copy of backup-2026-11-22T10.1.csv, which is read" },
        { name: "backup-2026-11-22T10.csv.gz.part", reason: "not an archive file name" },
        { name: "dlq-2026-11-22T10.csv.gz", reason: "a compressed copy of dlq-2026-11-22T10.csv, which is read" },
        { name: "notes.txt", reason: "not an archive file name" }
      ]
    })
  })
})

/** Reads the pipeline's CSV archives back (independently of the project's own CSV code). */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { parse } from "csv-parse/sync"
import type { NaiveRow } from "./archiveTally.js"

export interface ArchiveRow {
  readonly topic: string
  readonly partition: string
  readonly offset: string
  readonly timestamp: string
  readonly key: string
  readonly key_encoding: string
  readonly value: string
  readonly value_encoding: string
  readonly headers: string
  readonly error_type?: string
  readonly error_message?: string
  readonly error_detail?: string
  readonly attempts?: string
  readonly failed_at?: string
}

/** The archive files of `kind` in `dir`, in name order. */
export const archiveFiles = (dir: string, kind: "backup" | "dlq"): Array<string> =>
  existsSync(dir)
    ? readdirSync(dir).filter((f) => f.startsWith(`${kind}-`) && f.endsWith(".csv")).sort().map((f) => join(dir, f))
    : []

/** Every row of one archive file (strict RFC 4180 parse: a torn row throws). */
export const readFileRows = (file: string): Array<ArchiveRow> =>
  parse(readFileSync(file), { columns: true, relax_quotes: false, relax_column_count: false }) as Array<ArchiveRow>

/** Every row of every `kind` file in `dir` (strict RFC 4180 parse: a torn row throws). */
export const readRows = (dir: string, kind: "backup" | "dlq"): Array<ArchiveRow> =>
  archiveFiles(dir, kind).flatMap(readFileRows)

/** Parses as many whole rows as are there, tolerating a file being written (for polling). */
export const countRowsLoosely = (dir: string, kind: "backup" | "dlq"): number => {
  let n = 0
  for (const file of archiveFiles(dir, kind)) {
    try {
      n += (parse(readFileSync(file), { columns: true }) as Array<unknown>).length
    } catch {
      // mid-write: ignore
    }
  }
  return n
}

/** The line each data row of a CSV text starts on, as csv-parse reads it (raw rows; LFs inside quotes count). */
export const rowLines = (csv: string): Array<number> => {
  const rows = parse(csv, { raw: true }) as unknown as Array<{ raw: string }>
  const lines: Array<number> = []
  let line = 1
  for (const row of rows) {
    lines.push(line)
    line += row.raw.split("\n").length
  }
  return lines.slice(1)
}

/** Every archive row of a directory as csv-parse reads it: the rows of each kind with their file and line, and the rows of each file. */
export interface ArchiveReading {
  readonly rowsByFile: Map<string, number>
  readonly backup: Array<NaiveRow>
  readonly dlq: Array<NaiveRow>
}

const ARCHIVE_NAME = /^(backup|dlq)-.*\.csv(\.gz)?$/

/** `[kind and hour, restart sequence]`: the order files are written in (`….csv`, `….1.csv`, …, `….10.csv`, next hour). */
const writtenOrder = (name: string): [string, number] => {
  const [, hour, sequence] = /^(.*T\d\d)(?:\.(\d+))?\.csv/.exec(name)!
  return [hour!, Number(sequence ?? 0)]
}

/**
 * Every archive file of `dir` (backup and DLQ, plain and gzip-compressed), read with csv-parse
 * (strict: a torn row throws), in the order written. A row is a DLQ row when it has `failed_at`.
 */
export const readArchiveDir = (dir: string): ArchiveReading => {
  const reading: ArchiveReading = { rowsByFile: new Map(), backup: [], dlq: [] }
  const names = readdirSync(dir).filter((name) => ARCHIVE_NAME.test(name)).map((name) => [name, ...writtenOrder(name)] as const)
  names.sort(([, a, x], [, b, y]) => a < b ? -1 : a > b ? 1 : x - y)
  for (const [name] of names) {
    const bytes = readFileSync(join(dir, name))
    const csv = (name.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8")
    const rows = parse(csv, { columns: true }) as Array<{ topic: string; partition: string; offset: string; failed_at?: string }>
    const lines = rowLines(csv)
    reading.rowsByFile.set(name, rows.length)
    rows.forEach((row, i) =>
      reading[row.failed_at === undefined ? "backup" : "dlq"].push({
        topic: row.topic,
        partition: Number(row.partition),
        offset: Number(row.offset),
        file: name,
        line: lines[i]!
      })
    )
  }
  return reading
}

/** Reads the pipeline's CSV archives back (independently of the project's own CSV code). */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parse } from "csv-parse/sync"

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

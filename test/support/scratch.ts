/** A scratch directory per test file, and a backup + DLQ directory pair per run in it. */
import { mkdir, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface RunDirs {
  readonly base: string
  readonly backupDir: string
  readonly dlqDir: string
}

/** Call in `beforeAll`; `dirs()` makes a fresh pair for a run (other files may go in `path`), `remove()` goes in `afterAll`. */
export const makeScratch = async (prefix: string) => {
  const scratch = await mkdtemp(join(tmpdir(), prefix))
  return {
    path: scratch,
    dirs: async (): Promise<RunDirs> => {
      const base = await mkdtemp(join(scratch, "run-"))
      const backupDir = join(base, "backup")
      const dlqDir = join(base, "dlq")
      await mkdir(backupDir)
      await mkdir(dlqDir)
      return { base, backupDir, dlqDir }
    },
    remove: () => rm(scratch, { recursive: true, force: true })
  }
}

export type Scratch = Awaited<ReturnType<typeof makeScratch>>

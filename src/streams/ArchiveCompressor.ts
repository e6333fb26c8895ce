/**
 * Compresses an archive's closed hours with gzip, in the background: the file
 * a rotation has just closed, and at each sweep (the sink's start, each
 * rotation) the plain files of hours that ended more than
 * `HOUR_CLOSE_MARGIN_MS` ago, left by a run that crashed or stopped, or by
 * another member sharing the directory. The open hour stays plain.
 *
 * A file is compressed into a temporary of its own (`ArchiveCompression`),
 * synced, renamed to `<name>.csv.gz`, the directory synced, then the `.csv`
 * removed: a reader sees the plain file, or the whole compressed one, or both
 * (the listing reads the plain one then). Two members compressing one file
 * compress the same whole rows (a closed file does not change), so whichever
 * rename lands last leaves the same rows; one that finds the `.csv` gone
 * has nothing left to do.
 *
 * A torn last row (a crash mid-write) is cut before compressing, with a
 * warning: its records were never reported written, so never committed. A
 * failure (a full disk) leaves the file plain, is logged, and the next sweep
 * tries again: compression never fails the run. A stop interrupts the
 * compression under way, whose temporary is removed.
 */
import { NodeStream } from "@effect/platform-node"
import { Clock, Effect, Fiber, FileSystem, Path, Semaphore, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { createGzip } from "node:zlib"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import {
  compressedName,
  CompressionError,
  GZIP_LEVEL,
  planSweep,
  temporaryName
} from "../domain/ArchiveCompression.js"
import { WholeRows } from "../domain/WholeRows.js"

export interface ArchiveCompressorOptions {
  readonly kind: ArchiveKind
  readonly dir: string
  /** Each file compressed: the bytes of its whole rows, and of the `.csv.gz`. */
  readonly onCompressed?: ((path: string, plainBytes: number, compressedBytes: number) => void) | undefined
}

export interface ArchiveCompressor {
  /**
   * Queues a sweep of the directory that first compresses `closed` (the file
   * a rotation has just closed, if any); returns at once. Sweeps run one at a
   * time, in the scope the compressor was made in.
   */
  readonly sweep: (closed: string | undefined) => Effect.Effect<void>
  /** Waits for every sweep queued so far to end. */
  readonly idle: Effect.Effect<void>
}

type Step = CompressionError["step"]

export const make = Effect.fnUntraced(function*(options: ArchiveCompressorOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const scope = yield* Effect.scope
  const oneAtATime = yield* Semaphore.make(1)
  const running = new Set<Fiber.Fiber<void>>()

  const failed = (step: Step, filePath: string) => (cause: unknown) =>
    new CompressionError({ archive: options.kind, path: filePath, step, cause })
  const removeIfThere = (filePath: string) =>
    fs.remove(filePath).pipe(Effect.catchIf((error) => error.reason._tag === "NotFound", () => Effect.void))
  const compressedPath = (source: string) => path.join(options.dir, compressedName(path.basename(source)))
  const syncDirectory = Effect.scoped(Effect.flatMap(fs.open(options.dir, { flag: "r" }), (dir) => dir.sync))

  /** Gzips the whole rows of `source` into `temporary` and syncs it; the bytes read, written and cut. */
  const writeCompressed = Effect.fnUntraced(function*(source: string, temporary: string) {
    const handle = yield* Effect.acquireRelease(
      fs.open(temporary, { flag: "wx" }),
      // Once renamed, it is not there any more: this removes it only after a failure or an interruption.
      () => Effect.ignore(removeIfThere(temporary))
    )
    const rows = new WholeRows()
    let compressedBytes = 0
    yield* fs.stream(source).pipe(
      Stream.map((chunk) => rows.push(chunk)),
      Stream.flattenIterable,
      NodeStream.pipeThroughDuplex({ evaluate: () => createGzip({ level: GZIP_LEVEL }), onError: (cause) => cause }),
      Stream.runForEach((bytes) => {
        compressedBytes += bytes.byteLength
        return handle.writeAll(bytes)
      })
    )
    const cut = rows.end()
    yield* handle.sync
    return { plainBytes: rows.wholeBytes, compressedBytes, cut }
  })

  /** Puts the compressed copy in the place of `source`; uninterruptible, so that a stop finds it done or not begun. */
  const replace = (source: string, temporary: string) =>
    Effect.uninterruptible(
      fs.rename(temporary, compressedPath(source)).pipe(
        Effect.mapError(failed("rename", source)),
        Effect.andThen(Effect.mapError(syncDirectory, failed("sync", source))),
        Effect.andThen(Effect.mapError(removeIfThere(source), failed("remove", source)))
      )
    )

  const compressFile = (name: string) =>
    Effect.gen(function*() {
      const source = path.join(options.dir, name)
      const temporary = path.join(options.dir, temporaryName(name, yield* Clock.currentTimeMillis, token()))
      yield* Effect.scoped(Effect.gen(function*() {
        const written = yield* writeCompressed(source, temporary).pipe(Effect.mapError(failed("compress", source)))
        if (written.cut > 0) yield* logCut(options.kind, source, written.cut, written.plainBytes === 0)
        if (written.plainBytes === 0) return yield* Effect.mapError(removeIfThere(source), failed("remove", source))
        yield* replace(source, temporary)
        options.onCompressed?.(source, written.plainBytes, written.compressedBytes)
        yield* Effect.logInfo(`${options.kind} archive: compressed ${source} into ${compressedName(name)}`).pipe(
          Effect.annotateLogs({ plainBytes: written.plainBytes, compressedBytes: written.compressedBytes })
        )
      }))
    }).pipe(
      Effect.catch((error) =>
        // Another member compressed it first (or it was removed): nothing left to do.
        Effect.flatMap(fs.exists(error.path).pipe(Effect.orElseSucceed(() => true)), (there) =>
          there
            ? Effect.logWarning(error.message)
            : Effect.logDebug(`${options.kind} archive: ${error.path} was compressed by another member`))
      ),
      Effect.withSpan("ArchiveCompressor.compress", { attributes: { archive: options.kind, file: name } })
    )

  const runSweep = (closed: string | undefined) =>
    Effect.gen(function*() {
      const names = yield* fs.readDirectory(options.dir).pipe(Effect.mapError(failed("list", options.dir)))
      const now = yield* Clock.currentTimeMillis
      const plan = planSweep(names, options.kind, now, closed === undefined ? undefined : path.basename(closed))
      for (const name of plan.remove) {
        const leftover = path.join(options.dir, name)
        yield* removeIfThere(leftover).pipe(
          Effect.andThen(Effect.logInfo(`${options.kind} archive: removed ${leftover}, left by a compression that did not end`)),
          Effect.catch((error) => Effect.logWarning(failed("remove", leftover)(error).message))
        )
      }
      for (const name of plan.compress) yield* compressFile(name)
    }).pipe(Effect.catch((error) => Effect.logWarning(error.message)))

  const sweep = (closed: string | undefined): Effect.Effect<void> =>
    oneAtATime.withPermits(1)(runSweep(closed)).pipe(
      Effect.forkIn(scope),
      Effect.flatMap((fiber) =>
        Effect.sync(() => {
          running.add(fiber)
          fiber.addObserver(() => running.delete(fiber))
        })
      )
    )

  const idle: Effect.Effect<void> = Effect.suspend(() =>
    running.size === 0 ? Effect.void : Effect.andThen(Fiber.awaitAll([...running]), idle)
  )

  return { sweep, idle } satisfies ArchiveCompressor
})

/** A token no other compression of the file (in this process or another) takes. */
const token = () => randomBytes(6).toString("hex")

const logCut = (kind: ArchiveKind, source: string, cut: number, nothingLeft: boolean) =>
  Effect.logWarning(
    `${kind} archive: ${source} ends in a torn row (a crash mid-write): cut ${cut} bytes after its last whole row` +
      (nothingLeft ? ", which leaves no row: the file is removed" : " before compressing") +
      "; the records of a torn row were never reported written, so never committed, and are read again"
  ).pipe(Effect.annotateLogs({ file: source, cutBytes: cut }))

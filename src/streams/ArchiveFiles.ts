/**
 * An archive's files: one per hour, named by the hour the `Clock` is in, each
 * created (`wx`) with its header row, synced, before it takes any. A file is
 * created when the first rows are written to it, not before: a run (or an
 * hour) that archives nothing leaves no file holding only a header. The
 * current one takes the batches until a rotation closes it; the next rows
 * open the next.
 *
 * A restart within the same hour takes the next sequence number: it never
 * appends after a tail that a crash may have torn.
 */
import { Effect, Exit, FileSystem, Option, Path, Scope } from "effect"
import type { ArchiveKind } from "../domain/ArchiveFile.js"
import { archiveFileName, hourStart as hourStartOf } from "../domain/ArchiveFile.js"
import { encodeRow } from "../domain/Csv.js"
import { ArchiveError } from "../domain/Errors.js"

export interface OpenFile {
  readonly path: string
  readonly handle: FileSystem.File
  readonly scope: Scope.Closeable
  /** Start of the UTC hour it is named by. */
  readonly hourStart: number
  /** Bytes up to its last whole row. */
  size: number
}

export interface ArchiveFilesOptions {
  readonly kind: ArchiveKind
  readonly dir: string
  readonly header: ReadonlyArray<string>
  readonly onOpened?: ((path: string) => void) | undefined
}

export interface ArchiveFiles {
  /** The file rows go to: the current one, or a new one for the hour holding `epochMs`. */
  readonly current: (epochMs: number) => Effect.Effect<OpenFile, ArchiveError>
  /** Closes the current file, if any: the next rows go to a new one. */
  readonly closeCurrent: Effect.Effect<void>
  /** The current file's path, if one is open. */
  readonly currentPath: () => string | undefined
  /** Appends whole rows to `file` and syncs it; a write that fails is cut back to the last whole row. */
  readonly write: (file: OpenFile, bytes: Uint8Array) => Effect.Effect<void, ArchiveError>
  /** Every file created, oldest first. */
  readonly created: () => ReadonlyArray<string>
}

const encoder = new TextEncoder()

export const make = Effect.fnUntraced(function*(
  options: ArchiveFilesOptions
): Effect.fn.Return<ArchiveFiles, never, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const created: Array<string> = []
  let current: OpenFile | undefined

  const failed = (operation: ArchiveError["operation"], filePath: string) => (cause: unknown) =>
    new ArchiveError({ archive: options.kind, path: filePath, operation, cause })

  /** Creates `filePath` with the header; undefined if it exists already. */
  const create = (filePath: string, hourStart: number) =>
    Effect.flatMap(Scope.make(), (scope) =>
      fs.open(filePath, { flag: "wx" }).pipe(
        Scope.provide(scope),
        Effect.flatMap((handle) => {
          const headerBytes = encoder.encode(encodeRow(options.header))
          return handle.writeAll(headerBytes).pipe(
            Effect.andThen(handle.sync),
            Effect.as<OpenFile>({ path: filePath, handle, scope, hourStart, size: headerBytes.byteLength })
          )
        }),
        Effect.onError(() => Scope.close(scope, Exit.void)),
        Effect.catchTag("PlatformError", (error) =>
          error.reason._tag === "AlreadyExists"
            ? Effect.succeed(undefined)
            : Effect.fail(failed("open", filePath)(error)))
      ))

  const openFor = Effect.fnUntraced(function*(now: number) {
    for (let sequence = 0;; sequence++) {
      const filePath = path.join(options.dir, archiveFileName(options.kind, now, sequence))
      const opened = yield* create(filePath, hourStartOf(now))
      if (opened === undefined) continue
      created.push(filePath)
      options.onOpened?.(filePath)
      return opened
    }
  })

  const closeCurrent = Effect.suspend(() => {
    const file = current
    if (file === undefined) return Effect.void
    current = undefined
    return Scope.close(file.scope, Exit.void)
  })

  const currentFile = (epochMs: number) =>
    current !== undefined ? Effect.succeed(current) : openFor(epochMs).pipe(
      Effect.tap((file) =>
        Effect.sync(() => {
          current = file
        })
      )
    )

  const write = Effect.fnUntraced(function*(file: OpenFile, bytes: Uint8Array) {
    const writeFailed = failed("write", file.path)
    yield* file.handle.writeAll(bytes).pipe(
      Effect.andThen(file.handle.sync),
      // Whole rows only: a partial write is cut back to the end of the last batch.
      Effect.onError(() => file.handle.truncate(file.size).pipe(Effect.ignore)),
      Effect.mapError(writeFailed)
    )
    // A file deleted while open (or its directory removed) still takes writes, into an inode
    // that is gone once closed: rows "on disk" only there must not count as archived.
    const info = yield* file.handle.stat.pipe(Effect.mapError(writeFailed))
    if (Option.getOrUndefined(info.nlink) === 0n) {
      return yield* writeFailed("the file was deleted (or its directory removed) while open")
    }
    file.size += bytes.byteLength
  })

  return {
    current: currentFile,
    closeCurrent,
    currentPath: () => current?.path,
    write,
    created: () => created
  }
})

/**
 * An in-memory FileSystem for integration tests under TestClock: every
 * operation completes without real I/O, so virtual time alone drives the
 * archives. Write and open failures can be injected; files are read back
 * with a real CSV parser. `remove` unlinks like POSIX: a file open at the time
 * still takes writes (into nothing) and its handle's `stat` says `nlink` 0.
 * Directories are the paths that files are under; `stat`, `readDirectory` and
 * `stream` (in chunks of `streamChunkBytes`) read them back. `rename` moves a
 * file atomically, replacing the target; a directory opens (flag `r`) to be synced.
 */
import { ByteSize, Context, Effect, FileSystem, Layer, Option, PlatformError, Stream } from "effect"
import { parse } from "csv-parse/sync"

export interface MemoryFiles {
  /** File contents by path. */
  readonly files: Map<string, Uint8Array>
  /** Paths closed so far (in order). */
  readonly closed: Array<string>
  /** Paths synced so far (in order), files and directories. */
  readonly synced: Array<string>
  /** Fail writes to paths matching this predicate (ENOSPC) until cleared. */
  failWrites: ((path: string) => boolean) | undefined
  /** Fail opening paths matching this predicate until cleared. */
  failOpens: ((path: string) => boolean) | undefined
  /** Every write fails after `partialWriteBytes` bytes have been written (a torn write), when set. */
  partialWriteBytes: number | undefined
  /** When set, every write first waits for this (a slow disk), then writes. */
  writeGate: Effect.Effect<void> | undefined
  /** Fail reading (`stream`) paths matching this predicate, after the first `afterBytes` bytes. */
  failReads: { readonly path: (path: string) => boolean; readonly afterBytes: number } | undefined
  /** Size of the chunks `stream` emits (default 64 KiB). */
  streamChunkBytes: number
  /** The rows of a CSV file, parsed with csv-parse (header row included). */
  readonly rows: (path: string) => Array<Array<string>>
  readonly text: (path: string) => string
  readonly paths: () => Array<string>
}

export class MemoryFileSystem extends Context.Service<MemoryFileSystem, MemoryFiles>()(
  "test/MemoryFileSystem"
) {
  static readonly layer: Layer.Layer<MemoryFileSystem | FileSystem.FileSystem> = Layer.effectContext(
    Effect.sync(() => {
      const state: MemoryFiles = {
        files: new Map(),
        closed: [],
        synced: [],
        failWrites: undefined,
        failOpens: undefined,
        partialWriteBytes: undefined,
        writeGate: undefined,
        failReads: undefined,
        streamChunkBytes: 64 * 1024,
        rows: (path) => parse(state.files.get(path) ?? new Uint8Array(), { relaxColumnCount: false }) as Array<Array<string>>,
        text: (path) => new TextDecoder().decode(state.files.get(path)),
        paths: () => Array.from(state.files.keys()).sort()
      }
      // As Node's: the errno (`ENOSPC`) is the `code` of the error the platform's error wraps.
      const error = (method: string, path: string, tag: PlatformError.SystemErrorTag, description: string) =>
        PlatformError.systemError({
          _tag: tag,
          module: "FileSystem",
          method,
          pathOrDescriptor: path,
          description,
          cause: Object.assign(new Error(description), { code: /^E[A-Z]+/.exec(description)?.[0] })
        })

      const append = (path: string, bytes: Uint8Array) => {
        const before = state.files.get(path) ?? new Uint8Array()
        const next = new Uint8Array(before.byteLength + bytes.byteLength)
        next.set(before)
        next.set(bytes, before.byteLength)
        state.files.set(path, next)
      }

      interface Handle {
        closed: boolean
        unlinked: boolean
      }
      const handles = new Map<string, Array<Handle>>()

      // Like a real descriptor, a handle is unusable once its scope has closed it.
      const makeFile = (path: string, handle: Handle): FileSystem.File => {
        const closedError = (method: string) => error(method, path, "BadResource", "EBADF: bad file descriptor")
        const writeAll = (buffer: Uint8Array): Effect.Effect<void, PlatformError.PlatformError> =>
          state.writeGate !== undefined ? Effect.andThen(state.writeGate, write(buffer)) : write(buffer)
        const write = (buffer: Uint8Array) =>
          Effect.suspend(() => {
            if (handle.closed) return Effect.fail(closedError("write"))
            if (state.failWrites?.(path)) return Effect.fail(error("write", path, "Unknown", "ENOSPC: no space left on device"))
            if (state.partialWriteBytes !== undefined) {
              append(path, buffer.subarray(0, state.partialWriteBytes))
              return Effect.fail(error("write", path, "Unknown", "ENOSPC: no space left on device (partial write)"))
            }
            if (!handle.unlinked) append(path, buffer)
            return Effect.void
          })
        return {
          [FileSystem.FileTypeId]: FileSystem.FileTypeId,
          stat: Effect.sync(() =>
            ({
              type: "File",
              nlink: Option.some(handle.unlinked ? 0n : 1n),
              size: ByteSize.bytes(state.files.get(path)?.byteLength ?? 0)
            }) as FileSystem.File.Info
          ),
          seek: () => Effect.die("not implemented"),
          sync: Effect.sync(() => {
            state.synced.push(path)
          }),
          read: () => Effect.die("not implemented"),
          readAlloc: () => Effect.succeed(Option.none()),
          truncate: (length = 0) =>
            Effect.suspend(() => {
              if (handle.closed) return Effect.fail(closedError("truncate"))
              state.files.set(path, (state.files.get(path) ?? new Uint8Array()).slice(0, length))
              return Effect.void
            }),
          write: (buffer) => Effect.as(writeAll(buffer), buffer.byteLength),
          writeAll
        } as FileSystem.File
      }

      const isDirectory = (path: string) => {
        const prefix = path.endsWith("/") ? path : `${path}/`
        return Array.from(state.files.keys()).some((file) => file.startsWith(prefix))
      }

      const fs = FileSystem.makeNoop({
        exists: (path) => Effect.succeed(state.files.has(path) || isDirectory(path)),
        stat: (path) =>
          Effect.suspend(() => {
            const content = state.files.get(path)
            if (content === undefined && !isDirectory(path)) return Effect.fail(error("stat", path, "NotFound", "no such file"))
            return Effect.succeed({
              type: content === undefined ? "Directory" : "File",
              nlink: Option.some(1n),
              size: ByteSize.bytes(content?.byteLength ?? 0)
            } as FileSystem.File.Info)
          }),
        readDirectory: (path) =>
          Effect.suspend(() => {
            if (!isDirectory(path)) return Effect.fail(error("readDirectory", path, "NotFound", "no such directory"))
            const prefix = path.endsWith("/") ? path : `${path}/`
            const names = new Set(Array.from(state.files.keys()).filter((file) => file.startsWith(prefix)).map((file) =>
              file.slice(prefix.length).split("/")[0]!
            ))
            return Effect.succeed(Array.from(names))
          }),
        stream: (path, options) =>
          Stream.suspend(() => {
            const content = state.files.get(path)
            if (content === undefined) return Stream.fail(error("stream", path, "NotFound", "no such file"))
            const end = options?.bytesToRead === undefined ? content.byteLength : Number(options.bytesToRead)
            const readable = content.subarray(0, end)
            const failing = state.failReads?.path(path) === true ? state.failReads.afterBytes : undefined
            const chunks: Array<Uint8Array> = []
            for (let at = 0; at < (failing ?? readable.byteLength); at += state.streamChunkBytes) {
              chunks.push(readable.slice(at, Math.min(at + state.streamChunkBytes, failing ?? readable.byteLength)))
            }
            const bytes = Stream.fromIterable(chunks)
            return failing === undefined
              ? bytes
              : Stream.concat(bytes, Stream.fail(error("stream", path, "Unknown", "EIO: i/o error")))
          }),
        remove: (path, options) =>
          Effect.sync(() => {
            const removed = (file: string) => file === path || (options?.recursive === true && file.startsWith(`${path}/`))
            for (const file of Array.from(state.files.keys()).filter(removed)) state.files.delete(file)
            for (const [file, open] of handles) if (removed(file)) for (const handle of open) handle.unlinked = true
          }),
        readFile: (path) =>
          Effect.suspend(() => {
            const content = state.files.get(path)
            return content === undefined
              ? Effect.fail(error("readFile", path, "NotFound", "no such file"))
              : Effect.succeed(content)
          }),
        rename: (from, to) =>
          Effect.suspend(() => {
            const content = state.files.get(from)
            if (content === undefined) return Effect.fail(error("rename", from, "NotFound", "ENOENT: no such file or directory"))
            state.files.delete(from)
            state.files.set(to, content)
            return Effect.void
          }),
        open: (path, options) =>
          Effect.gen(function*() {
            if (state.failOpens?.(path)) return yield* error("open", path, "PermissionDenied", "EACCES: permission denied")
            const flag = options?.flag ?? "r"
            // A directory opens for reading, as on Linux: to sync it.
            if (flag === "r" && !state.files.has(path) && isDirectory(path)) return makeFile(path, { closed: false, unlinked: false })
            if (flag.includes("x") && state.files.has(path)) {
              return yield* error("open", path, "AlreadyExists", "EEXIST: file already exists")
            }
            if (flag.startsWith("r") && !state.files.has(path)) {
              return yield* error("open", path, "NotFound", "ENOENT: no such file or directory")
            }
            if (flag.startsWith("w") || !state.files.has(path)) state.files.set(path, new Uint8Array())
            const handle: Handle = { closed: false, unlinked: false }
            handles.set(path, [...(handles.get(path) ?? []), handle])
            yield* Effect.addFinalizer(() =>
              Effect.sync(() => {
                handle.closed = true
                state.closed.push(path)
              })
            )
            return makeFile(path, handle)
          })
      })
      return Context.make(MemoryFileSystem, state).pipe(Context.add(FileSystem.FileSystem, fs))
    })
  )
}

/**
 * An in-memory FileSystem for integration tests under TestClock: every
 * operation completes without real I/O, so virtual time alone drives the
 * archives. Write and open failures can be injected; files are read back
 * with a real CSV parser. `remove` unlinks like POSIX: a file open at the time
 * still takes writes (into nothing) and its handle's `stat` says `nlink` 0.
 */
import { ByteSize, Context, Effect, FileSystem, Layer, Option, PlatformError } from "effect"
import { parse } from "csv-parse/sync"

export interface MemoryFiles {
  /** File contents by path. */
  readonly files: Map<string, Uint8Array>
  /** Paths closed so far (in order). */
  readonly closed: Array<string>
  /** Fail writes to paths matching this predicate (ENOSPC) until cleared. */
  failWrites: ((path: string) => boolean) | undefined
  /** Fail opening paths matching this predicate until cleared. */
  failOpens: ((path: string) => boolean) | undefined
  /** Every write fails after `partialWriteBytes` bytes have been written (a torn write), when set. */
  partialWriteBytes: number | undefined
  /** When set, every write first waits for this (a slow disk), then writes. */
  writeGate: Effect.Effect<void> | undefined
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
        failWrites: undefined,
        failOpens: undefined,
        partialWriteBytes: undefined,
        writeGate: undefined,
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
          sync: Effect.void,
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

      const fs = FileSystem.makeNoop({
        exists: (path) => Effect.succeed(state.files.has(path)),
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
        open: (path, options) =>
          Effect.gen(function*() {
            if (state.failOpens?.(path)) return yield* error("open", path, "PermissionDenied", "EACCES: permission denied")
            const flag = options?.flag ?? "r"
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

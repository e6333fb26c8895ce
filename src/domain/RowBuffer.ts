/**
 * A growing byte buffer that CSV rows are written into as bytes: an archive
 * batch is one of these, handed to the file as it is, with no row strings to
 * join and encode again.
 */
export class RowBuffer {
  #bytes: Buffer
  #length = 0

  constructor(capacity = 64 * 1024) {
    this.#bytes = Buffer.allocUnsafe(Math.max(16, capacity))
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length
  }

  /** Bytes it can hold before it grows. */
  get capacity(): number {
    return this.#bytes.byteLength
  }

  /** The bytes written so far, as a view (valid until the next write). */
  get contents(): Uint8Array {
    return new Uint8Array(this.#bytes.buffer, this.#bytes.byteOffset, this.#length)
  }

  /** Short text whose characters are all below U+0080 (a row's number and date columns). */
  ascii(text: string): void {
    const length = text.length
    this.#reserve(length)
    // By hand: for a few dozen characters, Buffer#write's checks cost more than the copy.
    const bytes = this.#bytes
    let at = this.#length
    for (let index = 0; index < length; index++) bytes[at++] = text.charCodeAt(index)
    this.#length = at
  }

  /** Any text, as UTF-8. */
  utf8(text: string): void {
    this.#reserve(Buffer.byteLength(text, "utf8"))
    this.#length += this.#bytes.write(text, this.#length, "utf8")
  }

  bytes(source: Uint8Array): void {
    this.#reserve(source.byteLength)
    this.#bytes.set(source, this.#length)
    this.#length += source.byteLength
  }

  /** Empties it for new rows, keeping its memory. */
  clear(): void {
    this.truncate(0)
  }

  /** Cuts what was written back to `length` bytes. */
  truncate(length: number): void {
    this.#length = Math.min(this.#length, length)
  }

  #reserve(more: number): void {
    const needed = this.#length + more
    if (needed <= this.#bytes.byteLength) return
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#bytes.byteLength * 2))
    this.#bytes.copy(grown, 0, 0, this.#length)
    this.#bytes = grown
  }
}

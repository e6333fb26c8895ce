/**
 * The whole rows of a CSV file as it streams (pure: bytes in, bytes out): the
 * bytes up to the line end of its last row pass through; a tail after it (a
 * row torn by a crash mid-write: no line end, or a quote still open) is held
 * back and, at the end, cut. Where rows end is the reader's (`CsvReader`):
 * a line end inside a quoted field does not end a row.
 */
import { CsvReader } from "./CsvReader.js"

export class WholeRows {
  readonly #reader = new CsvReader({ boundsOnly: true })
  /** Bytes read after the last row's line end, not passed on yet. */
  #held: Array<Uint8Array> = []
  #heldBytes = 0
  #passed = 0

  /** Bytes passed on so far: the whole rows. */
  get wholeBytes(): number {
    return this.#passed
  }

  /** Reads `chunk`; returns the bytes now known to be whole rows, in order. */
  push(chunk: Uint8Array): Array<Uint8Array> {
    this.#reader.push(chunk)
    this.#held.push(chunk)
    this.#heldBytes += chunk.length
    let whole = this.#heldBytes - this.#reader.unfinishedBytes
    if (whole === 0) return []
    const out: Array<Uint8Array> = []
    while (whole > 0) {
      const piece = this.#held[0]!
      if (piece.length <= whole) {
        out.push(piece)
        this.#held.shift()
        whole -= piece.length
        this.#heldBytes -= piece.length
        this.#passed += piece.length
      } else {
        out.push(piece.subarray(0, whole))
        this.#held[0] = piece.subarray(whole)
        this.#heldBytes -= whole
        this.#passed += whole
        whole = 0
      }
    }
    return out
  }

  /** The end of the input: the bytes of the torn tail that were cut (0 when the input ends on a row's line end). */
  end(): number {
    this.#reader.end()
    const cut = this.#heldBytes
    this.#held = []
    this.#heldBytes = 0
    return cut
  }
}

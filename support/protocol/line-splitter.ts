/**
 * Splits a byte stream into lines, with a cap on line length so that a node printing a 50 MB
 * line (or binary data without newlines) cannot make the master hold it all in memory.
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface Line {
  text: string;
  /** Bytes dropped from this line because it was longer than the cap. */
  cutBytes: number;
}

export class LineSplitter {
  readonly #maxBytes: number;
  readonly #onLine: (line: Line) => void;
  #parts: Buffer[] = [];
  #partBytes = 0;
  #cutBytes = 0;

  constructor(onLine: (line: Line) => void, maxBytes = DEFAULT_MAX_LINE_BYTES) {
    this.#onLine = onLine;
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(10, start);
      if (newline === -1) {
        this.#keep(chunk.subarray(start));
        return;
      }
      if (this.#partBytes === 0 && this.#cutBytes === 0 && newline - start <= this.#maxBytes) {
        // The common case, a whole line inside one chunk: decoded in place, without copies.
        // (A trailing \r byte is always the character \r, whatever came before it.)
        const end = newline > start && chunk[newline - 1] === 13 ? newline - 1 : newline;
        this.#onLine({ text: chunk.toString('utf8', start, end), cutBytes: 0 });
      } else {
        this.#keep(chunk.subarray(start, newline));
        this.#emit();
      }
      start = newline + 1;
    }
  }

  /** Emits what is left after the stream ended without a final newline. */
  end(): void {
    if (this.#partBytes > 0 || this.#cutBytes > 0) this.#emit();
  }

  #keep(piece: Buffer): void {
    if (piece.length === 0) return;
    let room = this.#maxBytes - this.#partBytes;
    if (piece.length > room) {
      // cut on a character boundary: never leave half a UTF-8 sequence at the end of a line
      while (room > 0 && (piece[room]! & 0xc0) === 0x80) room--;
    }
    if (piece.length <= room) {
      this.#parts.push(piece);
      this.#partBytes += piece.length;
    } else {
      if (room > 0) {
        this.#parts.push(piece.subarray(0, room));
        this.#partBytes += room;
      }
      this.#cutBytes += piece.length - Math.max(room, 0);
    }
  }

  #emit(): void {
    const buffer = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#partBytes);
    let text = buffer.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    const line = { text, cutBytes: this.#cutBytes };
    this.#parts = [];
    this.#partBytes = 0;
    this.#cutBytes = 0;
    this.#onLine(line);
  }
}

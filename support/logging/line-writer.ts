/** Lines gathered per event-loop turn and written to their stream in one write. */
import type { Writable } from 'node:stream';

/** Text a LineWriter holds before it writes without waiting for the end of the turn. */
const LINE_BATCH_CHARS = 64 * 1024;
/** What a LineWriter writes into: a stream, or anything that takes text. */
export interface TextSink {
  write(text: string): unknown;
}

/** Writers holding lines, so that a process exiting at once still writes them (synchronous streams: files, terminals). */
const holding = new Set<LineWriter<TextSink>>();
let exitHook = false;

/**
 * Lines for one stream, written together: at the end of the event-loop turn they were logged
 * in, or as soon as 64 KiB have gathered, or on flush(). One write of many lines instead of one
 * write per line: a busy job's lines arrive by the thousand per turn, and each write costs a
 * system call on a terminal or a file (process.stderr writes those synchronously) and a buffer
 * conversion everywhere. The order of the lines is kept.
 */
export class LineWriter<S extends TextSink = Writable> {
  readonly stream: S;
  #pending = '';
  #scheduled = false;

  constructor(stream: S) {
    this.stream = stream;
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const writer of holding) writer.flush();
      });
    }
  }

  /** Adds one line (without its newline). */
  write(line: string): void {
    this.#pending += line + '\n';
    if (this.#pending.length >= LINE_BATCH_CHARS) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      holding.add(this);
      setImmediate(() => this.flush());
    }
  }

  /** Hands what is held to the stream now. */
  flush(): void {
    this.#scheduled = false;
    holding.delete(this);
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    this.stream.write(text);
  }
}

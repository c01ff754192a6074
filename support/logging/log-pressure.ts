/** Back-pressure from the log sinks, so that a flooding node cannot fill the master's memory. */
import type { Writable } from 'node:stream';

/** Back-pressure from the log sinks: job output is read no faster than the log is written. */
export interface LogPressure {
  /** True while the console, a log file or the logger itself holds more unwritten output than it should. */
  readonly backlogged: boolean;
  /** Resolves once no sink is behind any more; at once for a sink that closed or failed. */
  drained(): Promise<void>;
}

/** Unwritten bytes the console or a log file may hold before job output is paused. */
export const LOG_BACKLOG_BYTES = 8 * 1024 * 1024;
/** A waiting sink is looked at again after this long, in case it went quiet without an event. */
const DRAIN_RECHECK_MS = 1000;

export interface Sink {
  stream: Writable;
  /** writableLength above which the sink is behind: bytes, or records for an object-mode stream. */
  limit: number;
}

function isBehind(sink: Sink): boolean {
  return !sink.stream.destroyed && sink.stream.writableLength > sink.limit;
}

/** Resolves on the sink's next 'drain', 'finish' or 'close', or after DRAIN_RECHECK_MS. */
function nextChange(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const events = ['drain', 'finish', 'close'] as const;
    const done = () => {
      clearTimeout(timer);
      for (const event of events) stream.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, DRAIN_RECHECK_MS);
    for (const event of events) stream.on(event, done);
  });
}

export class SinkPressure implements LogPressure {
  readonly #fixed: readonly Sink[];
  readonly #more: () => Writable[];
  /** One wait shared by every paused job, so a sink gets one set of listeners, not one per job. */
  #waiting: Promise<void> | undefined;

  constructor(sinks: readonly Sink[], more: () => Writable[] = () => []) {
    this.#fixed = sinks;
    this.#more = more;
  }

  get #sinks(): Sink[] {
    return [...this.#fixed, ...this.#more().map((stream) => ({ stream, limit: LOG_BACKLOG_BYTES }))];
  }

  get backlogged(): boolean {
    return this.#sinks.some(isBehind);
  }

  drained(): Promise<void> {
    this.#waiting ??= this.#wait().finally(() => {
      this.#waiting = undefined;
    });
    return this.#waiting;
  }

  async #wait(): Promise<void> {
    for (let sink = this.#sinks.find(isBehind); sink; sink = this.#sinks.find(isBehind)) await nextChange(sink.stream);
  }
}

/**
 * The live view on a terminal: one status line kept at the bottom, redrawn at most four times
 * a second, with the log lines scrolling above it:
 *   12 jobs: 7 succeeded / 3 running / 1 failed / 1 queued · 0:42 elapsed · ETA 0:20
 */
import { Writable } from 'node:stream';
import type { RunEvent } from '../records/run-events.js';
import { clockTime } from '../logging/clock-time.js';

const REDRAW_MS = 250;
const CLEAR_LINE = '\r\x1b[K';

export interface JobCounts {
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
}

export function renderStatus(counts: JobCounts, elapsedSeconds: number): string {
  const total = counts.queued + counts.running + counts.succeeded + counts.failed;
  const done = counts.succeeded + counts.failed;
  const parts = [`${counts.succeeded} succeeded`, `${counts.running} running`, `${counts.failed} failed`, `${counts.queued} queued`];
  let line = `${total} job${total === 1 ? '' : 's'}: ${parts.join(' / ')} · ${clockTime(elapsedSeconds)} elapsed`;
  // The pace so far, applied to what is left: rough, but honest about being an estimate.
  if (done > 0 && done < total) line += ` · ETA ${clockTime((elapsedSeconds / done) * (total - done))}`;
  return line;
}

export class StatusLine {
  readonly #terminal: NodeJS.WritableStream & { columns?: number };
  readonly #began = Date.now();
  readonly #counts: JobCounts = { queued: 0, running: 0, succeeded: 0, failed: 0 };
  /** The state each job was last counted in. */
  readonly #states = new Map<string, keyof JobCounts>();
  #shown = '';
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(terminal: NodeJS.WritableStream & { columns?: number }) {
    this.#terminal = terminal;
    this.#timer = setInterval(() => this.#redraw(), REDRAW_MS);
    this.#timer.unref();
  }

  /** A stream for the console log: each write goes above the status line. */
  readonly logStream = new Writable({
    write: (chunk: Buffer | string, _encoding, callback) => {
      if (this.#stopped) this.#terminal.write(chunk);
      else this.#terminal.write(CLEAR_LINE + String(chunk) + this.#shown);
      callback();
    },
  });

  onEvent(event: RunEvent): void {
    let next: keyof JobCounts;
    switch (event.type) {
      case 'job-queued': next = 'queued'; break;
      case 'job-started': next = 'running'; break;
      case 'job-ended': next = event.state === 'succeeded' ? 'succeeded' : 'failed'; break;
      default: return;
    }
    const previous = this.#states.get(event.job);
    if (previous) this.#counts[previous]--;
    this.#counts[next]++;
    this.#states.set(event.job, next);
  }

  #redraw(): void {
    if (this.#stopped || this.#states.size === 0) return;
    const width = this.#terminal.columns || 80; // a pseudo-terminal may say 0
    const text = renderStatus(this.#counts, (Date.now() - this.#began) / 1000).slice(0, Math.max(10, width - 1));
    if (text === this.#shown) return;
    this.#shown = text;
    this.#terminal.write(CLEAR_LINE + text);
  }

  /** Clears the line for good: what follows is plain output. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    if (this.#shown) this.#terminal.write(CLEAR_LINE);
  }
}

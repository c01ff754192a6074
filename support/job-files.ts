/**
 * A directory per job (the Nextflow convention): `<job_directory>/jobs/<job id>/` holds
 * `command.sh` (what ran), `args.json`, `job.log` (the job's own log lines), `result.json`
 * (state, reason, return code or signal, outputs, timings) and `exit_status`.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type winston from 'winston';
import { Fifo } from './fifo.js';
import { LineWriter, SyncTransport } from './logging.js';
import type { RunEvent } from './run-events.js';

/** Job ids are user-given names: keep them readable but safe as one path component. */
export function jobFilesDirectory(jobDirectory: string, job: string): string {
  const safe = job.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';
  return join(jobDirectory, 'jobs', safe);
}

export function jobLogPath(jobDirectory: string, job: string): string {
  return join(jobFilesDirectory(jobDirectory, job), 'job.log');
}

/** Job files written at a time: the others wait their turn, leaving the thread pool to the logs. */
const WRITES_IN_FLIGHT = 2;

interface FilesWrite {
  dir: string;
  files: Array<[name: string, text: string]>;
}

/**
 * Writes job files off the event loop, a few at a time, in the order asked. They are a view of
 * the journal (which alone is synced), so dispatch does not wait for them: written on the event
 * loop, a mkdir and four file creations per job cost 0.3 to 1 ms before the next job could
 * start, and 100,000 queued jobs held up the first for half a minute.
 */
class FileWrites {
  readonly #queue = new Fifo<FilesWrite>();
  #running = 0;
  #failure: unknown;
  readonly #idle: Array<() => void> = [];

  add(dir: string, files: FilesWrite['files']): void {
    this.#queue.push({ dir, files });
    if (this.#running < WRITES_IN_FLIGHT) this.#next();
  }

  #next(): void {
    const task = this.#queue.shift();
    if (!task) {
      if (this.#running === 0) for (const wake of this.#idle.splice(0)) wake();
      return;
    }
    this.#running++;
    void (async () => {
      await mkdir(task.dir, { recursive: true });
      await Promise.all(task.files.map(([name, text]) => writeFile(join(task.dir, name), text)));
    })().catch((error: unknown) => {
      this.#failure ??= error;
    }).finally(() => {
      this.#running--;
      this.#next();
    });
  }

  /** Resolves when every write asked for so far is done; rejects with the first that failed. */
  async done(): Promise<void> {
    if (this.#running > 0 || this.#queue.size > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    if (this.#failure !== undefined) throw this.#failure;
  }
}

type TransformableInfo = winston.Logform.TransformableInfo;
export type LineFormat = (info: TransformableInfo) => string;

export class JobFiles {
  readonly #jobDirectory: string;
  readonly #logs = new Map<string, LineWriter<WriteStream>>();
  readonly #format: LineFormat;
  /** Job logs being closed: each leaves the set once it is on disk. */
  readonly #closing = new Set<Promise<void>>();
  readonly #writes = new FileWrites();

  constructor(jobDirectory: string, format: LineFormat) {
    this.#jobDirectory = jobDirectory;
    this.#format = format;
  }

  onEvent(event: RunEvent): void {
    switch (event.type) {
      case 'job-queued':
        this.#writes.add(jobFilesDirectory(this.#jobDirectory, event.job), [
          ['command.sh', event.command + '\n'],
          ['args.json', JSON.stringify(event.args, null, 2) + '\n'],
        ]);
        break;
      case 'job-ended':
        this.#writes.add(jobFilesDirectory(this.#jobDirectory, event.job), [
          ['result.json', JSON.stringify(event, null, 2) + '\n'],
          ['exit_status', `${event.signal ?? event.returncode ?? 'none'}\n`],
        ]);
        this.#closeLog(event.job);
        break;
      default:
        break;
    }
  }

  /** A winston transport writing each record that names a job into that job's job.log. */
  transport(level: string): SyncTransport {
    const files = this;
    return new (class extends SyncTransport {
      override log(info: TransformableInfo, callback: () => void): void {
        if (typeof info.job === 'string') files.#logFor(info.job).write(files.#format(info));
        callback();
      }
    })({ level });
  }

  #logFor(job: string): LineWriter<WriteStream> {
    let writer = this.#logs.get(job);
    if (!writer) {
      const dir = jobFilesDirectory(this.#jobDirectory, job);
      mkdirSync(dir, { recursive: true });
      writer = new LineWriter(createWriteStream(join(dir, 'job.log'), { flags: 'a' }));
      this.#logs.set(job, writer);
    }
    return writer;
  }

  #closeLog(job: string): void {
    const writer = this.#logs.get(job);
    if (!writer) return;
    this.#logs.delete(job);
    writer.flush();
    const closed: Promise<void> = new Promise<void>((resolve) => writer.stream.end(resolve)).then(() => {
      this.#closing.delete(closed);
    });
    this.#closing.add(closed);
  }

  /** The streams the log writes into, for back-pressure. */
  get streams(): WriteStream[] {
    return [...this.#logs.values()].map((writer) => writer.stream);
  }

  /** Waits until every job log and job file is on disk; rejects when a job file could not be written. */
  async close(): Promise<void> {
    for (const job of [...this.#logs.keys()]) this.#closeLog(job);
    await Promise.all([...this.#closing]);
    await this.#writes.done();
  }
}

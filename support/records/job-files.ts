/**
 * A directory per job (the Nextflow convention): `<job_directory>/jobs/<job id>/` holds
 * `command.sh` (what ran), `args.json` (its arguments, if it has any), `job.log` (the job's own
 * log lines), `result.json` (state, reason, return code or signal, outputs, timings) and
 * `exit_status`. Made when the job starts (or when something is logged about a job that never
 * started, such as a host given up on), not when it is queued: 100,000 queued jobs would
 * otherwise mean 300,000 file operations before the first one starts, and as many again when
 * Ctrl-C cancels them.
 *
 * The files are written on the thread pool, in order for each job, never on the event loop:
 * creating a file costs 0.02 ms on a quiet local disk but 0.3-0.5 ms on a churned one (measured
 * on our VMs) and a metadata round trip on NFS or Lustre, five of them per job, and a master
 * that waits for them dispatches a fifth as fast. How far the writes may fall behind is bounded
 * (caughtUp()), so a slow disk slows job starts instead of filling memory.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type winston from 'winston';
import { LineWriter } from '../logging/line-writer.js';
import { SyncTransport } from '../logging/sync-transport.js';
import type { RunEvent } from './run-events.js';

/** Jobs whose files may wait to be written before job starts wait for them. */
const MAX_JOBS_BEHIND = 256;

/**
 * Job ids are user-given names: keep them readable but safe as one path component, and distinct:
 * a name that had to be changed (`a/b`, `a?b`, `..`) gets a hash of itself, so no two names share a directory.
 */
export function jobFilesDirectory(jobDirectory: string, job: string): string {
  return join(jobDirectory, 'jobs', jobPathSegment(job));
}

/** A job id as one path component, here or on a host: itself when safe, else made safe with a hash of itself added. */
export function jobPathSegment(job: string): string {
  if (/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(job)) return job;
  const safe = job.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 100);
  return `${safe}~${createHash('sha256').update(job).digest('hex').slice(0, 8)}`;
}

export function jobLogPath(jobDirectory: string, job: string): string {
  return join(jobFilesDirectory(jobDirectory, job), 'job.log');
}

type TransformableInfo = winston.Logform.TransformableInfo;
export type LineFormat = (info: TransformableInfo) => string;

/** A job.log: lines wait in memory until the job's directory exists, then go to an appending stream. */
class JobLog {
  stream: WriteStream | undefined;
  #early: string[] | undefined = [];
  #ended = false;
  #stopped = false;
  readonly #closed: Promise<void>;

  /** `directory` resolves once the job's directory exists (undefined if it could not be made). */
  constructor(directory: Promise<string | undefined>, onError: (error: Error) => void) {
    this.#closed = directory.then((dir) => new Promise<void>((resolve) => {
      if (dir === undefined || this.#stopped) {
        this.#early = undefined; // nowhere to write them: onError has heard why
        return resolve();
      }
      // Appended: a resumed job keeps the lines of its earlier runs.
      const stream = createWriteStream(join(dir, 'job.log'), { flags: 'a', mode: 0o600 });
      stream.on('error', (error) => {
        onError(error);
        resolve();
      });
      this.stream = stream;
      for (const text of this.#early ?? []) stream.write(text);
      this.#early = undefined;
      stream.on('close', resolve); // after 'finish', and also after stop() destroyed it
      if (this.#ended) stream.end();
    }));
  }

  /** Writes nothing more, not even what is buffered. */
  stop(): void {
    this.#stopped = true;
    this.#early = undefined;
    this.stream?.destroy();
  }

  write(text: string): void {
    if (this.#stopped) return;
    if (this.stream) this.stream.write(text);
    else this.#early?.push(text);
  }

  /** Ends the log; resolves once it is on disk. */
  end(): Promise<void> {
    this.#ended = true;
    this.stream?.end();
    return this.#closed;
  }
}

export class JobFiles {
  readonly #jobDirectory: string;
  readonly #format: LineFormat;
  readonly #onError: (error?: Error) => void;
  /** This run's jobs whose files are being written: each job's directory, made or being made. */
  readonly #directories = new Map<string, Promise<string | undefined>>();
  readonly #logs = new Map<string, LineWriter<JobLog>>();
  /** Each job's last write, until it is done: the writes of one job are chained, in order. */
  readonly #writing = new Map<string, Promise<void>>();
  /** The end of job.log and the last files of jobs that ended: what close() waits for. */
  readonly #finishing = new Set<Promise<void>>();
  #caughtUp: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Set once the records failed: nothing more is written, so what space is left goes to the journal. */
  #stopped = false;

  /** `onError` hears of every write that failed, and (without an error) of every one not tried after stop(). */
  constructor(jobDirectory: string, format: LineFormat, onError: (error?: Error) => void = () => {}) {
    this.#jobDirectory = jobDirectory;
    this.#format = format;
    this.#onError = onError;
  }

  /** Writes nothing more: files of jobs that start or end from now on are counted as not written. */
  stop(): void {
    this.#stopped = true;
    for (const writer of this.#logs.values()) writer.stream.stop();
  }

  onEvent(event: RunEvent): void {
    if (this.#stopped) {
      if (event.type === 'job-started' || (event.type === 'job-ended' && this.#directories.has(event.job))) this.#onError();
      return;
    }
    switch (event.type) {
      case 'job-started': {
        if (event.attempt > 1) break; // a retry: the same command, already written
        const files: FileList = [['command.sh', event.command + '\n']];
        if (event.args.length > 0) files.push(['args.json', JSON.stringify(event.args, null, 2) + '\n']);
        this.#write(event.job, files);
        break;
      }
      case 'job-ended': {
        // A job that never started and of which nothing was logged (cancelled while queued) gets no directory: the journal has its end.
        if (!this.#directories.has(event.job)) break;
        const log = this.#logs.get(event.job);
        this.#logs.delete(event.job);
        log?.flush();
        const written = this.#write(event.job, [['result.json', JSON.stringify(event, null, 2) + '\n'], ['exit_status', `${event.signal ?? event.returncode ?? 'none'}\n`]]);
        const finished: Promise<void> = Promise.all([written, log?.stream.end()]).then(() => {
          this.#finishing.delete(finished);
        });
        this.#finishing.add(finished);
        this.#directories.delete(event.job);
        break;
      }
      default:
        break;
    }
  }

  /**
   * Undefined while the files are not far behind; else resolves once they have caught up.
   * The scheduler waits for it before it starts a job.
   */
  caughtUp(): Promise<void> | undefined {
    if (this.#writing.size < MAX_JOBS_BEHIND) return undefined;
    if (!this.#caughtUp) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      this.#caughtUp = { promise, resolve };
    }
    return this.#caughtUp.promise;
  }

  /** A winston transport writing each record that names a job into that job's job.log. */
  transport(level: string): SyncTransport {
    const files = this;
    return new (class extends SyncTransport {
      override log(info: TransformableInfo, callback: () => void): void {
        if (typeof info.job === 'string' && !files.#stopped) files.#logFor(info.job).write(files.#format(info));
        callback();
      }
    })({ level });
  }

  /** The streams the job logs write into, for back-pressure. */
  get streams(): WriteStream[] {
    const streams: WriteStream[] = [];
    for (const writer of this.#logs.values()) if (writer.stream.stream) streams.push(writer.stream.stream);
    return streams;
  }

  /** Waits until every job's files are on disk. */
  async close(): Promise<void> {
    for (const [job, writer] of this.#logs) {
      writer.flush();
      this.#finishing.add(writer.stream.end());
      this.#logs.delete(job);
    }
    await Promise.all([...this.#finishing, ...this.#writing.values()]);
  }

  /** The job's directory, made the first time it is asked for in this run (resolves to undefined if it could not be). */
  #directory(job: string): Promise<string | undefined> {
    let made = this.#directories.get(job);
    if (!made) {
      const dir = jobFilesDirectory(this.#jobDirectory, job);
      made = this.#chain(job, () => mkdir(dir, { recursive: true, mode: 0o700 })).then((ok) => (ok ? dir : undefined));
      this.#directories.set(job, made);
    }
    return made;
  }

  /** Writes the files into the job's directory after what was asked for it before. */
  #write(job: string, files: FileList): Promise<boolean> {
    const dir = this.#directory(job);
    return this.#chain(job, async () => {
      const path = await dir;
      if (path !== undefined) for (const [name, text] of files) await writeFile(join(path, name), text, { mode: 0o600 });
    });
  }

  /** Runs `write` after the job's earlier writes; resolves to whether it succeeded. */
  #chain(job: string, write: () => Promise<unknown>): Promise<boolean> {
    const done = (this.#writing.get(job) ?? Promise.resolve()).then(write).then(() => true, (error: unknown) => {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
      return false;
    });
    const last = done.then(() => {
      if (this.#writing.get(job) !== last) return;
      this.#writing.delete(job);
      if (this.#caughtUp && this.#writing.size < MAX_JOBS_BEHIND / 2) {
        this.#caughtUp.resolve();
        this.#caughtUp = undefined;
      }
    });
    this.#writing.set(job, last);
    return done;
  }

  #logFor(job: string): LineWriter<JobLog> {
    let writer = this.#logs.get(job);
    if (!writer) {
      writer = new LineWriter(new JobLog(this.#directory(job), this.#onError));
      this.#logs.set(job, writer);
    }
    return writer;
  }
}

type FileList = Array<[name: string, text: string]>;

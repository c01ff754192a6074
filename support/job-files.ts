/**
 * A directory per job (the Nextflow convention): `<job_directory>/jobs/<job id>/` holds
 * `command.sh` (what ran), `args.json`, `job.log` (the job's own log lines), `result.json`
 * (state, reason, return code or signal, outputs, timings) and `exit_status`. Made when the
 * job starts (or ends, if it never started: then without command.sh and args.json), not when
 * it is queued: 100,000 queued jobs would otherwise mean 300,000 file operations before the
 * first one starts.
 */
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type winston from 'winston';
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

type TransformableInfo = winston.Logform.TransformableInfo;
export type LineFormat = (info: TransformableInfo) => string;

type FileList = Array<[name: string, text: string]>;

export class JobFiles {
  readonly #jobDirectory: string;
  readonly #format: LineFormat;
  /** Jobs whose directory this run has made. */
  readonly #made = new Set<string>();
  readonly #logs = new Map<string, LineWriter<WriteStream>>();
  /** Job logs being closed: each leaves the set once it is on disk. */
  readonly #closing = new Set<Promise<void>>();

  constructor(jobDirectory: string, format: LineFormat) {
    this.#jobDirectory = jobDirectory;
    this.#format = format;
  }

  onEvent(event: RunEvent): void {
    switch (event.type) {
      case 'job-started':
        if (this.#made.has(event.job)) break; // a retry: the same command
        writeFiles(this.#directory(event.job), [['command.sh', event.command + '\n'], ['args.json', JSON.stringify(event.args, null, 2) + '\n']]);
        break;
      case 'job-ended': {
        const dir = this.#directory(event.job);
        writeFiles(dir, [['result.json', JSON.stringify(event, null, 2) + '\n'], ['exit_status', `${event.signal ?? event.returncode ?? 'none'}\n`]]);
        this.#closeLog(event.job);
        this.#made.delete(event.job);
        break;
      }
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

  /** The job's directory, made the first time it is asked for in this run. */
  #directory(job: string): string {
    const dir = jobFilesDirectory(this.#jobDirectory, job);
    if (this.#made.has(job)) return dir;
    mkdirSync(dir, { recursive: true });
    this.#made.add(job);
    return dir;
  }

  #logFor(job: string): LineWriter<WriteStream> {
    let writer = this.#logs.get(job);
    if (!writer) {
      // Appended: a resumed job keeps the lines of its earlier runs.
      writer = new LineWriter(createWriteStream(join(this.#directory(job), 'job.log'), { flags: 'a' }));
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

  /** Waits until every job log is on disk. */
  async close(): Promise<void> {
    for (const job of [...this.#logs.keys()]) this.#closeLog(job);
    await Promise.all([...this.#closing]);
  }
}

function writeFiles(dir: string, files: FileList): void {
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
}

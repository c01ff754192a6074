/**
 * A directory per job (the Nextflow convention): `<job_directory>/jobs/<job id>/` holds
 * `command.sh` (what ran), `args.json`, `job.log` (the job's own log lines), `result.json`
 * (state, reason, return code or signal, outputs, timings) and `exit_status`.
 */
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import Transport from 'winston-transport';
import type winston from 'winston';
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

export class JobFiles {
  readonly #jobDirectory: string;
  readonly #logs = new Map<string, WriteStream>();
  readonly #format: LineFormat;
  readonly #closing: Promise<void>[] = [];

  constructor(jobDirectory: string, format: LineFormat) {
    this.#jobDirectory = jobDirectory;
    this.#format = format;
  }

  onEvent(event: RunEvent): void {
    switch (event.type) {
      case 'job-queued': {
        const dir = jobFilesDirectory(this.#jobDirectory, event.job);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'command.sh'), event.command + '\n');
        writeFileSync(join(dir, 'args.json'), JSON.stringify(event.args, null, 2) + '\n');
        break;
      }
      case 'job-ended': {
        const dir = jobFilesDirectory(this.#jobDirectory, event.job);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'result.json'), JSON.stringify(event, null, 2) + '\n');
        writeFileSync(join(dir, 'exit_status'), `${event.signal ?? event.returncode ?? 'none'}\n`);
        this.#closeLog(event.job);
        break;
      }
      default:
        break;
    }
  }

  /** A winston transport writing each record that names a job into that job's job.log. */
  transport(level: string): Transport {
    const files = this;
    return new (class extends Transport {
      override log(info: TransformableInfo, callback: () => void): void {
        if (typeof info.job === 'string') files.#logFor(info.job).write(files.#format(info) + '\n');
        callback();
      }
    })({ level });
  }

  #logFor(job: string): WriteStream {
    let stream = this.#logs.get(job);
    if (!stream) {
      const dir = jobFilesDirectory(this.#jobDirectory, job);
      mkdirSync(dir, { recursive: true });
      stream = createWriteStream(join(dir, 'job.log'), { flags: 'a' });
      this.#logs.set(job, stream);
    }
    return stream;
  }

  #closeLog(job: string): void {
    const stream = this.#logs.get(job);
    if (!stream) return;
    this.#logs.delete(job);
    this.#closing.push(new Promise((resolve) => stream.end(resolve)));
  }

  /** The streams the log writes into, for back-pressure. */
  get streams(): WriteStream[] {
    return [...this.#logs.values()];
  }

  /** Waits until every job log is on disk. */
  async close(): Promise<void> {
    for (const job of [...this.#logs.keys()]) this.#closeLog(job);
    await Promise.all(this.#closing);
  }
}

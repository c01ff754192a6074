/**
 * The job records of a job directory: an append-only NDJSON journal of RunEvents. Each event
 * is one write() of one line, so a master killed at any instant leaves whole lines (at worst a
 * torn last line, which the reader drops); the end of a job and of a run are fdatasync'ed
 * before the run goes on, so a finished job's record survives even a crash of the machine.
 * Why not a database: SQLite needs a native build (npm installs no build scripts here) or
 * Node 22's node:sqlite; a journal needs neither and `tail -f`/`jq` can read it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { JobState } from '../protocol/job-outcome.js';
import { isProcessAlive } from '../protocol/process-group.js';
import type { JobEnded, RunEnded, RunEvent, RunStarted, StepChanged } from './run-events.js';

export const JOURNAL_FILE = 'journal.ndjson';

export function journalPath(jobDirectory: string): string {
  return join(jobDirectory, JOURNAL_FILE);
}

/**
 * Space set aside beside the journal at the start and given up in two steps when the disk
 * fills: all but the last part for the ends of the jobs cancelled then, the last part for the run's end.
 */
export const RESERVE_BYTES = 256 * 1024;
const RUN_END_RESERVE_BYTES = 64 * 1024;

/**
 * Every event is written at once (a crash of the master loses nothing written). A run's start
 * and end are synced before the run goes on; job ends are synced in groups, off the event loop
 * (synced()): one fdatasync per job, measured at 0.1 to 1.5 ms here, held up dispatch.
 * A write that fails (a full disk, a read-only mount) is cut back to the last whole line and
 * reported to `onLost`; it never throws into the run.
 */
export class JobJournal {
  readonly path: string;
  readonly reservePath: string;
  readonly #onLost: (error?: unknown) => void;
  #fd: number | undefined;
  /** Bytes of whole lines in the file: where a failed write is cut back to. */
  #size = 0;
  #closed = false;
  /** Bytes of the reserve still set aside. */
  #reserved = 0;
  /** Job ends written and not yet covered by a sync that has begun. */
  #unsynced = false;
  /** The sync under way, and the next one, queued behind it for what was written meanwhile. */
  #syncing: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  /** `onLost` hears of every event that could not be written (with why, the first time). */
  constructor(path: string, onLost: (error?: unknown) => void = () => {}) {
    this.path = path;
    this.reservePath = `${path}.reserve`;
    this.#onLost = onLost;
  }

  /**
   * Creates the journal and its reserve: nothing is created before, so a run that fails its
   * input checks leaves no records. Throws when they cannot be written (nothing has run yet).
   */
  open(): void {
    if (this.#fd !== undefined) return;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const reserve = openSync(this.reservePath, 'w', 0o600);
    try {
      // Random bytes: a compressing file system would not set zeros aside.
      writeSync(reserve, randomBytes(RESERVE_BYTES));
    } finally {
      closeSync(reserve);
    }
    this.#reserved = RESERVE_BYTES;
    this.#fd = openSync(this.path, 'a', 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  append(event: RunEvent): void {
    if (this.#closed) return;
    if (this.#fd === undefined) {
      try {
        this.open();
      } catch (error) {
        this.#onLost(error);
        return;
      }
    }
    let written = this.#write(JSON.stringify(event) + '\n', event.type === 'run-ended');
    if (!written && event.type === 'run-ended' && Object.keys(event.outputs).length > 0) {
      // The run's end matters more than the recipe's outputs (they were printed): status would say crashed.
      const unrecorded = `${event.unrecorded ?? 'records incomplete'}, the recipe's outputs`;
      written = this.#write(JSON.stringify({ ...event, outputs: {}, unrecorded }) + '\n', true);
    }
    if (!written) return;
    if (event.type === 'run-started' || event.type === 'run-ended') {
      try {
        fdatasyncSync(this.#fd!);
      } catch (error) {
        this.#onLost(error);
      }
      this.#unsynced = false;
    } else if (event.type === 'job-ended') {
      this.#unsynced = true;
    }
  }

  /**
   * Writes one whole line or nothing. When it fails, part of the reserve is given up and the line
   * tried again: the first time all but the run's end's part, and that part for the run's end.
   */
  #write(line: string, runEnd: boolean): boolean {
    const bytes = Buffer.from(line);
    for (;;) {
      try {
        for (let done = 0; done < bytes.length;) done += writeSync(this.#fd!, bytes, done);
        this.#size += bytes.length;
        return true;
      } catch (error) {
        try {
          ftruncateSync(this.#fd!, this.#size); // no torn line: every event already written stays readable
        } catch {
          // the cut failed too: the reader drops a torn last line
        }
        if (this.#release(runEnd ? 0 : RUN_END_RESERVE_BYTES)) continue;
        this.#onLost(error);
        return false;
      }
    }
  }

  /** Shrinks the reserve to `keep` bytes; false if it held no more than that. */
  #release(keep: number): boolean {
    if (this.#reserved <= keep) return false;
    this.#reserved = keep;
    try {
      if (keep === 0) unlinkSync(this.reservePath);
      else truncateSync(this.reservePath, keep);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Resolves once every event appended so far is on disk. Job ends written in the same turn, or
   * while an earlier sync ran, share one fdatasync (a group commit) on the thread pool.
   */
  synced(): Promise<void> {
    if (!this.#unsynced) return this.#syncing ?? Promise.resolve();
    const after = this.#syncing ?? Promise.resolve();
    this.#queued ??= after.then(() => this.#sync(), () => this.#sync());
    return this.#queued;
  }

  #sync(): Promise<void> {
    this.#queued = undefined;
    const fd = this.#fd;
    if (!this.#unsynced || fd === undefined) return Promise.resolve(); // closed meanwhile: close() synced
    this.#unsynced = false;
    const syncing = new Promise<void>((resolve) => fdatasync(fd, (error) => {
      if (error) this.#onLost(error); // the run stops; the jobs waiting for this go on to be cancelled
      resolve();
    }));
    this.#syncing = syncing;
    void syncing.then(() => {
      if (this.#syncing === syncing) this.#syncing = undefined;
    });
    return syncing;
  }

  close(): void {
    this.#closed = true;
    this.#release(0);
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    try {
      if (this.#unsynced) fdatasyncSync(fd);
    } catch (error) {
      this.#onLost(error);
    }
    this.#unsynced = false;
    // A sync on the thread pool still uses the descriptor: close it after that.
    if (this.#syncing) void this.#syncing.then(() => closeSync(fd));
    else closeSync(fd);
  }
}

/** A job as the records know it: where it got to, and how it ended if it did. */
export interface RecordedJob {
  job: string;
  key: string;
  host: string;
  state: JobState | 'queued' | 'running';
  attempt: number;
  ended?: JobEnded;
  /** The pipeline step it ran in. */
  step?: string;
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'crashed';

export interface RecordedRun {
  started: RunStarted;
  ended?: RunEnded;
  /** By job id, in the order the jobs were queued. */
  jobs: Map<string, RecordedJob>;
  /** A pipeline run's steps as last heard of, in the order they first started. */
  steps?: Map<string, StepChanged>;
  status: RunStatus;
}

export interface JournalContents {
  runs: RecordedRun[];
  /** Jobs that succeeded, by identity key, since the last fresh start: what a resume reuses. */
  succeeded: Map<string, JobEnded>;
  /** Lines that could not be read (not the torn last line of a killed master). */
  problems: string[];
}

/** Where a recorded run got to: from its end when it has one, else whether its master still lives. */
export function statusOf(run: RecordedRun): RunStatus {
  if (run.ended) {
    if (run.ended.interrupted) return 'interrupted';
    return run.ended.returncode === 0 ? 'succeeded' : 'failed';
  }
  const here = run.started.controlHost === hostname();
  return here && !isProcessAlive(run.started.pid) ? 'crashed' : 'running';
}

/**
 * Brings a recorded run up to date with one of its events: how the journal is read, and how a
 * live run keeps its own record. An event of another run, or about a job this run never queued
 * (or queued as another job), is not counted: false, and the reader says so.
 */
export function recordEvent(run: RecordedRun, event: RunEvent): boolean {
  if (event.type !== 'run-started' && event.run !== run.started.run) return false;
  switch (event.type) {
    case 'job-queued':
      run.jobs.set(event.job, { job: event.job, key: event.key, host: event.host, state: 'queued', attempt: 0, ...(event.step !== undefined ? { step: event.step } : {}) });
      return true;
    case 'job-started': {
      const job = run.jobs.get(event.job);
      if (job?.key !== event.key) return false;
      Object.assign(job, { state: 'running', host: event.host, attempt: event.attempt });
      return true;
    }
    case 'job-ended': {
      const job = run.jobs.get(event.job);
      if (job?.key !== event.key) return false;
      Object.assign(job, { state: event.state, host: event.host, ended: event });
      return true;
    }
    case 'step':
      (run.steps ??= new Map()).set(event.step, event);
      return true;
    case 'run-ended':
      run.ended = event;
      return true;
    case 'run-started':
      return true;
  }
}

/** Bytes read at a time: a journal of 100,000 jobs is some 150 MB, never held whole. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** Calls `onLine` for each line of a file (split on \n, as String.split would), reading it piece by piece; `torn` is true for a last line without its \n. */
export function forEachLine(path: string, onLine: (line: string, index: number, torn: boolean) => void): void {
  const fd = openSync(path, 'r');
  try {
    const decoder = new StringDecoder('utf8');
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let carry = '';
    let index = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, null);
      const text = carry + (read > 0 ? decoder.write(buffer.subarray(0, read)) : decoder.end());
      let start = 0;
      for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
        onLine(text.slice(start, newline), index++, false);
        start = newline + 1;
      }
      carry = text.slice(start);
      if (read === 0) break;
    }
    onLine(carry, index, carry !== '');
  } finally {
    closeSync(fd);
  }
}

export function readJournal(path: string): JournalContents {
  const contents: JournalContents = { runs: [], succeeded: new Map(), problems: [] };
  if (!existsSync(path)) return contents;
  let run: RecordedRun | undefined;
  // One copy of each host name: a run of 100,000 jobs on ten hosts would otherwise hold 100,000 copies.
  const shared = new Map<string, string>();
  const share = (text: string): string => {
    if (typeof text !== 'string') return text;
    const known = shared.get(text);
    if (known !== undefined) return known;
    shared.set(text, text);
    return text;
  };
  forEachLine(path, (line, index, torn) => {
    if (line === '') return;
    let event: RunEvent;
    try {
      event = JSON.parse(line) as RunEvent;
      if (typeof event !== 'object' || event === null || typeof event.type !== 'string') throw new Error('not an event');
    } catch {
      if (!torn) contents.problems.push(`${path}:${index + 1}: not a JSON record`); // a torn last line: a master killed mid-write
      return;
    }
    if (event.type === 'run-started') {
      run = { started: event, jobs: new Map(), status: 'running' };
      contents.runs.push(run);
      if (event.fresh) contents.succeeded.clear();
      return;
    }
    if (!run) {
      contents.problems.push(`${path}:${index + 1}: ${event.type} before any run-started`);
      return;
    }
    if ('host' in event) event.host = share(event.host);
    if (!recordEvent(run, event)) {
      const about = 'job' in event ? ` for job ${JSON.stringify(event.job)}` : '';
      contents.problems.push(`${path}:${index + 1}: ${event.type}${about} does not belong to run ${run.started.run} (another run, or a job it never queued); not counted`);
      return;
    }
    if (event.type === 'job-ended' && event.state === 'succeeded') contents.succeeded.set(event.key, event);
  });
  for (const recorded of contents.runs) recorded.status = statusOf(recorded);
  return contents;
}

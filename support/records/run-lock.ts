/**
 * One master at a time per job directory: `run.lock` in it, created exclusively (O_EXCL, which
 * holds on NFS too), names the master that holds it (host, pid, run) and is touched every few
 * seconds while the run lives. A second run of the same job name is refused, naming the holder;
 * a lock whose master is dead (its pid gone, on this host) or silent (not touched for a minute,
 * on any host) is taken over, and the new run resumes.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { isProcessAlive } from '../protocol/process-group.js';

export const LOCK_FILE = 'run.lock';
/** How often a live master touches its lock. */
const HEARTBEAT_MS = 5_000;
/** A lock not touched for this long belongs to a master that is gone (or cut off), wherever it ran. */
export const STALE_AFTER_MS = 60_000;

interface Holder {
  host: string;
  pid: number;
  run: string;
  since: string;
}

function readHolder(path: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as Holder;
    return typeof holder.host === 'string' && Number.isInteger(holder.pid) ? holder : undefined;
  } catch {
    return undefined; // torn or being written: judged by its age alone
  }
}

/** Why the lock's holder is gone, or undefined when it may still be running. */
function whyStale(path: string, holder: Holder | undefined, now: number): string | undefined {
  let age: number;
  try {
    age = now - statSync(path).mtimeMs;
  } catch {
    return 'it is gone';
  }
  if (holder && holder.host === hostname() && !isProcessAlive(holder.pid)) return `its master (pid ${holder.pid}) is no longer running`;
  if (age > STALE_AFTER_MS) return `it was last touched ${Math.round(age / 1000)} s ago`;
  return undefined;
}

export class RunLock {
  readonly path: string;
  readonly #run: string;
  #timer: NodeJS.Timeout | undefined;
  #held = false;

  constructor(jobDirectory: string, run: string) {
    this.path = join(jobDirectory, LOCK_FILE);
    this.#run = run;
  }

  /**
   * Takes the lock; throws a UsageError naming the master that holds it. `onTakeover` hears of a
   * stale lock taken over, with why it was stale.
   */
  acquire(jobName: string, onTakeover?: (why: string, holder: Holder | undefined) => void): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.#create()) return;
      const holder = readHolder(this.path);
      const why = whyStale(this.path, holder, Date.now());
      if (why === undefined) {
        const who = holder ? `pid ${holder.pid} on ${holder.host}, run ${holder.run} since ${holder.since}` : 'a master that is starting';
        throw new UsageError(`job ${jobName} is being run by another master (${who}; ${this.path}); wait for it to end, or give this run another --job-name`);
      }
      onTakeover?.(why, holder);
      try {
        unlinkSync(this.path);
      } catch {
        // another master took it over first: the next create says who holds it now
      }
    }
    const holder = readHolder(this.path);
    throw new UsageError(`job ${jobName} was just taken by another master (${holder ? `pid ${holder.pid} on ${holder.host}` : 'unknown'}; ${this.path})`);
  }

  #create(): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      writeSync(fd, JSON.stringify({ host: hostname(), pid: process.pid, run: this.#run, since: new Date().toISOString() } satisfies Holder) + '\n');
    } catch (error) {
      closeSync(fd);
      unlinkSync(this.path); // an empty lock would hold off the next run for a minute
      throw error;
    }
    closeSync(fd);
    this.#held = true;
    this.#timer = setInterval(() => this.#touch(), HEARTBEAT_MS);
    this.#timer.unref();
    return true;
  }

  #touch(): void {
    try {
      const now = new Date();
      utimesSync(this.path, now, now);
    } catch {
      // removed under us (by hand): nothing to keep alive
    }
  }

  /** Gives the lock up, if it is still ours. */
  release(): void {
    clearInterval(this.#timer);
    if (!this.#held) return;
    this.#held = false;
    if (readHolder(this.path)?.run === this.#run) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

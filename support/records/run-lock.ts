/**
 * One master at a time per job directory: `run.lock` in it names the master that holds it (host,
 * pid, run). It is written whole to a file of its own and then hard-linked into place (link fails
 * if the lock exists, on NFS too), so no master, killed at any instant, leaves an empty lock behind.
 * The lock is touched every few
 * seconds while the run lives. A second run of the same job name is refused, naming the holder;
 * a lock whose master is dead (its pid gone, on this host) or silent (not touched for a minute,
 * on any host) is taken over, and the new run resumes.
 */
import { linkSync, readdirSync, rmSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
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
    return undefined; // not ours to read (edited by hand): judged by its age alone
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
        const who = holder ? `pid ${holder.pid} on ${holder.host}, run ${holder.run} since ${holder.since}` : 'a master it does not name';
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
    this.#sweepDrafts();
    const draft = `${this.path}.${hostname()}.${process.pid}.draft`;
    const text = JSON.stringify({ host: hostname(), pid: process.pid, run: this.#run, since: new Date().toISOString() } satisfies Holder) + '\n';
    try {
      writeFileSync(draft, text, { mode: 0o600 });
    } catch (error) {
      rmSync(draft, { force: true }); // a full disk leaves the draft empty
      throw error;
    }
    try {
      linkSync(draft, this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      unlinkSync(draft);
    }
    this.#held = true;
    this.#timer = setInterval(() => this.#touch(), HEARTBEAT_MS);
    this.#timer.unref();
    return true;
  }

  /** Removes drafts that masters killed before linking them left behind (older than a minute). */
  #sweepDrafts(): void {
    const directory = dirname(this.path);
    const prefix = `${basename(this.path)}.`;
    for (const name of readdirSync(directory)) {
      if (!name.startsWith(prefix) || !name.endsWith('.draft')) continue;
      try {
        if (Date.now() - statSync(join(directory, name)).mtimeMs > STALE_AFTER_MS) unlinkSync(join(directory, name));
      } catch {
        // removed by its own master meanwhile
      }
    }
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

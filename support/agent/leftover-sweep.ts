/**
 * What jobs of a host's agent left behind when their main process ended, stopped in batches: one
 * pass over /proc every SWEEP_MS finds the processes of every job waiting for it (by its mark),
 * not one pass per job (at hundreds of jobs a second, a pass per job was a third of the agent's
 * CPU). Each leftover gets TERM once, and KILL when it is still there after the grace; the job's
 * process group likewise. A job's exit is reported without waiting for its sweep, as the channel
 * path's guard reports the exit status and clears away after it.
 */
import { groupIsAlive, KILL_GRACE_MS, processesByMark, signalEach, signalGroup } from '../protocol/process-group.js';

/** Between two passes while any job waits for one. */
const SWEEP_MS = 50;

interface Waiting {
  group: number;
  since: number;
  termed: Set<number>;
  done: () => void;
}

export class LeftoverSweep {
  readonly #waiting = new Map<string, Waiting>();
  #timer: NodeJS.Timeout | undefined;

  /** Resolves once nothing of the job (its mark, its group) is left, or what was left got KILL. */
  add(mark: string, group: number): Promise<void> {
    signalGroup(group, 'SIGTERM'); // what stayed in the group hears at once, as from the guard
    return new Promise((done) => {
      this.#waiting.set(mark, { group, since: Date.now(), termed: new Set(), done });
      this.#timer ??= setTimeout(() => this.#pass(), SWEEP_MS);
    });
  }

  #pass(): void {
    this.#timer = undefined;
    const found = processesByMark(new Set(this.#waiting.keys()));
    const now = Date.now();
    for (const [mark, job] of this.#waiting) {
      const left = found.get(mark) ?? [];
      const groupLeft = groupIsAlive(job.group);
      if (left.length === 0 && !groupLeft) {
        this.#waiting.delete(mark);
        job.done();
        continue;
      }
      if (now - job.since >= KILL_GRACE_MS) {
        signalEach(left, 'SIGKILL');
        signalGroup(job.group, 'SIGKILL');
        this.#waiting.delete(mark);
        job.done();
        continue;
      }
      const fresh = left.filter((pid) => !job.termed.has(pid));
      signalEach(fresh, 'SIGTERM');
      for (const pid of fresh) job.termed.add(pid);
    }
    if (this.#waiting.size > 0) this.#timer = setTimeout(() => this.#pass(), SWEEP_MS);
  }
}

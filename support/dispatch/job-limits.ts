/**
 * How many jobs run at once: per host (a count, `max_per_node`, and, when the host's cores are
 * known, the cores its jobs ask for) and overall. Waiting jobs are served first come, first
 * served: a 4-core job at the head of a host's queue is not overtaken by 1-core jobs behind it.
 */
import { Fifo } from './fifo.js';

/** At most `max` units held at a time; the others wait, in order. Entry is always asynchronous (a microtask), as with p-limit. */
export class Slots {
  readonly #max: number;
  #active = 0;
  readonly #waiting = new Fifo<{ enter: () => void; units: number }>();

  constructor(max: number) {
    // As p-limit: a limit of 0, a fraction or NaN is refused (it would start nothing, ever).
    if (!((Number.isInteger(max) || max === Number.POSITIVE_INFINITY) && max > 0)) throw new TypeError('Expected `concurrency` to be a number from 1 and up');
    this.#max = max;
  }

  /** Units asked for beyond the most are taken as the most: such a holder runs alone rather than never. */
  #fit(units: number): number {
    return Math.min(units, this.#max);
  }

  /** Calls `enter` once `units` are free and those that asked before have theirs; it holds them until release(units). */
  acquire(enter: () => void, units = 1): void {
    const need = this.#fit(units);
    if (this.#active + need <= this.#max && this.#waiting.size === 0) {
      this.#active += need;
      queueMicrotask(enter);
    } else {
      this.#waiting.push({ enter, units: need });
    }
  }

  release(units = 1): void {
    this.#active -= this.#fit(units);
    for (;;) {
      const next = this.#waiting.peek();
      if (!next || this.#active + next.units > this.#max) return;
      this.#waiting.shift();
      this.#active += next.units;
      queueMicrotask(next.enter);
    }
  }
}

/** A host's slots: a count of jobs, and its cores when they are known. */
class HostSlots {
  readonly #jobs: Slots;
  readonly #cores: Slots | undefined;

  constructor(maxJobs: number, cores: number | undefined) {
    this.#jobs = new Slots(maxJobs);
    this.#cores = cores ? new Slots(cores) : undefined;
  }

  acquire(enter: () => void, cores: number): void {
    const cpu = this.#cores;
    this.#jobs.acquire(cpu ? () => cpu.acquire(enter, cores) : enter);
  }

  release(cores: number): void {
    this.#cores?.release(cores);
    this.#jobs.release();
  }
}

/**
 * Concurrency limits of one scheduleJobs call: per host and overall; a task holds its host's
 * slot while it waits for an overall one. A job that has not started waits as one callback
 * (reserve), not as a suspended chain of promises: 100,000 queued jobs would otherwise hold
 * some 2.8 KB each, 280 MB in all, in the master.
 */
export class JobLimits {
  readonly #perHost = new Map<string, HostSlots>();
  readonly #overall: Slots;
  readonly #maxPerNode: number;
  readonly #coresOf: (host: string) => number | undefined;

  /** `coresOf`: a host's cores, when the cluster description or Slurm says; its jobs then fit in them. */
  constructor(maxPerNode: number, concurrency: number, coresOf: (host: string) => number | undefined = () => undefined) {
    this.#maxPerNode = maxPerNode;
    this.#overall = new Slots(concurrency);
    this.#coresOf = coresOf;
  }

  #host(host: string): HostSlots {
    let slots = this.#perHost.get(host);
    if (!slots) this.#perHost.set(host, (slots = new HostSlots(this.#maxPerNode, this.#coresOf(host))));
    return slots;
  }

  /** Calls `start` when `host` has a slot (and `cores`) for it, in turn with every run() asked for that host; `start` passes the slot to its first run(). */
  reserve(host: string, start: () => void, cores = 1): void {
    this.#host(host).acquire(start, cores);
  }

  /** Runs `task` with a slot of `host` (`reserved`: the one reserve() gave) and an overall one; both are free again before the result is handed on. */
  run<T>(host: string, task: () => Promise<T>, reserved = false, cores = 1): Promise<T> {
    const hostSlots = this.#host(host);
    return new Promise<T>((resolve, reject) => {
      const release = () => {
        this.#overall.release();
        hostSlots.release(cores);
      };
      const withHostSlot = () => this.#overall.acquire(() => {
        let result: Promise<T>;
        try {
          result = task();
        } catch (error) {
          result = Promise.reject(error);
        }
        result.then((value) => {
          release();
          resolve(value);
        }, (error: unknown) => {
          release();
          reject(error);
        });
      });
      if (reserved) withHostSlot();
      else hostSlots.acquire(withHostSlot, cores);
    });
  }
}

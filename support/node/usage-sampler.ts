/**
 * What a node script's job uses on its host (issue 20), measured by its node runtime: CPU time
 * and peak resident memory of the runtime, of every process below it, and of the processes that
 * carry the job's mark after leaving that tree (a double-forked daemon is no one's child).
 *
 * Exact: the runtime's own CPU and peak (getrusage), and the CPU of every child it has reaped
 * (cutime and cstime in /proc/self/stat). Sampled every USAGE_SAMPLE_MS from /proc: processes
 * still running (their CPU and that of the children they reaped, their VmRSS summed over the job
 * at one moment, each one's own peak VmHWM). So a peak between samples of several processes at
 * once, and CPU a process used after the last sample of it when nothing of the job reaps it
 * (an orphan), can be missed. A sample reads a few small files per process of the job; a scan of
 * every process on the host for the mark does not stay cheap on a busy host, so it runs a second
 * into the job and then at most once a second and within 1 % of the time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { CLOCK_TICKS_PER_SECOND, USAGE_SAMPLE_MS, type JobUsage } from '../protocol/job-usage.js';
import { markedProcesses } from '../protocol/process-group.js';

/** The first scan for marked processes, and the shortest time between two. */
const MARK_SCAN_MS = 1000;
/** A scan may take at most this share of the time between scans. */
const MARK_SCAN_SHARE = 0.01;

/** One process as the last sample saw it: CPU ticks of it and of the children it reaped, its parent, its start (pids are reused). */
interface SeenProcess {
  started: string;
  parent: number;
  user: number;
  system: number;
}

/** Fields of /proc/<pid>/stat after the command name, which may hold spaces and parentheses: [0] is field 3 (state). */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // it ended while we looked
  }
}

// Indexes into statFields(): proc(5) fields 4, 14, 15, 16, 17 and 22.
const PPID = 1;
const UTIME = 11;
const STIME = 12;
const CUTIME = 13;
const CSTIME = 14;
const STARTTIME = 19;

/** The children of every thread of `pid`: a child is listed under the thread that forked it. */
function childrenOf(pid: number | 'self'): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const task of tasks) {
    try {
      for (const word of readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1').split(' ')) if (word) children.push(Number(word));
    } catch {
      // the thread or the process ended
    }
  }
  return children;
}

/** VmRSS and VmHWM of a process, in bytes; zero for a zombie, which has neither. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return { rss: 0, hwm: 0 };
  }
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

export class UsageSampler {
  readonly #mark: string | undefined;
  /** The process the job's tree hangs from: this runtime, or (in a host's agent) the job's own process. */
  readonly #root: number | undefined;
  /** The root's own ticks at its last sample (an agent's job ends reaped by the agent, where no sample sees it). */
  #rootUser = 0;
  #rootSystem = 0;
  readonly #began = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #nextScan = Date.now() + MARK_SCAN_MS;
  /** Marked processes outside the runtime's tree at the last scan: each the root of a tree of its own. */
  #markedRoots: number[] = [];
  /** The job's other processes at the last sample. */
  #seen = new Map<number, SeenProcess>();
  /** Ticks of processes that ended where nothing of the job reaped them: their time is in no cutime we read. */
  #goneUser = 0;
  #goneSystem = 0;
  #userSeconds = 0;
  #systemSeconds = 0;
  #peakRssBytes = 0;

  /** `mark`: the job's mark (PIPELINE_JOB_MARK), when it has one; `root`: the job's process when it is not this one. */
  constructor(mark: string | undefined, root?: number) {
    this.#mark = mark;
    this.#root = root;
  }

  /** Samples now (unless `now` is false) and then every USAGE_SAMPLE_MS; the timer does not keep the process alive. */
  start(now = true): this {
    if (now) this.#sampleSafely(false);
    this.#timer = setInterval(() => this.#sampleSafely(false), USAGE_SAMPLE_MS);
    this.#timer.unref();
    return this;
  }

  /** Stops sampling after a last sample (with a scan for marked processes when the job ran long enough to have had one); the totals. */
  finish(): JobUsage {
    clearInterval(this.#timer);
    this.#sampleSafely(Date.now() - this.#began >= MARK_SCAN_MS);
    return {
      userSeconds: Math.round(this.#userSeconds * 1000) / 1000,
      systemSeconds: Math.round(this.#systemSeconds * 1000) / 1000,
      peakRssBytes: this.#peakRssBytes,
    };
  }

  #sampleSafely(scan: boolean): void {
    try {
      this.#sample(scan);
    } catch {
      // measuring must never fail the job: this sample is skipped
    }
  }

  #sample(scan: boolean): void {
    if (this.#mark && (scan || Date.now() >= this.#nextScan)) {
      const began = Date.now();
      this.#markedRoots = markedProcesses(this.#mark);
      this.#nextScan = Date.now() + Math.max(MARK_SCAN_MS, (Date.now() - began) / MARK_SCAN_SHARE);
    }
    const root = this.#root ?? process.pid;
    let ownUser = 0;
    let ownSystem = 0;
    let rss: number;
    let peak: number;
    if (this.#root === undefined) {
      const own = process.resourceUsage();
      ownUser = own.userCPUTime / 1e6;
      ownSystem = own.systemCPUTime / 1e6;
      rss = process.memoryUsage.rss();
      peak = own.maxRSS * 1024;
    } else {
      // The job's process with the children it reaped; once it has ended, what the last sample saw.
      const fields = statFields(root);
      if (fields && fields[0] !== 'Z') {
        this.#rootUser = Number(fields[UTIME]) + Number(fields[CUTIME]);
        this.#rootSystem = Number(fields[STIME]) + Number(fields[CSTIME]);
      }
      const memory = memoryOf(root);
      rss = memory.rss;
      peak = memory.hwm;
    }
    const current = new Map<number, SeenProcess>();
    const queue = [...childrenOf(this.#root ?? 'self'), ...this.#markedRoots];
    const visited = new Set<number>([process.pid, root]);
    for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
      if (visited.has(pid)) continue;
      visited.add(pid);
      const fields = statFields(pid);
      if (!fields) continue;
      current.set(pid, {
        started: fields[STARTTIME]!,
        parent: Number(fields[PPID]),
        user: Number(fields[UTIME]) + Number(fields[CUTIME]),
        system: Number(fields[STIME]) + Number(fields[CSTIME]),
      });
      const memory = memoryOf(pid);
      rss += memory.rss;
      peak = Math.max(peak, memory.hwm);
      queue.push(...childrenOf(pid));
    }
    for (const [pid, was] of this.#seen) {
      if (current.get(pid)?.started === was.started) continue;
      // Reaped by the job's root or another process of the job: its time is in that one's cutime now.
      if (was.parent === root || current.has(was.parent)) continue;
      this.#goneUser += was.user;
      this.#goneSystem += was.system;
    }
    this.#seen = current;
    let user = this.#goneUser;
    let system = this.#goneSystem;
    if (this.#root === undefined) {
      const self = statFields('self');
      user += Number(self?.[CUTIME] ?? 0);
      system += Number(self?.[CSTIME] ?? 0);
    } else {
      user += this.#rootUser;
      system += this.#rootSystem;
    }
    for (const seen of current.values()) {
      user += seen.user;
      system += seen.system;
    }
    // The totals never go down: a process whose parent ended before reaping it takes its ticks along.
    this.#userSeconds = Math.max(this.#userSeconds, ownUser + user / CLOCK_TICKS_PER_SECOND);
    this.#systemSeconds = Math.max(this.#systemSeconds, ownSystem + system / CLOCK_TICKS_PER_SECOND);
    this.#peakRssBytes = Math.max(this.#peakRssBytes, rss, peak);
  }
}

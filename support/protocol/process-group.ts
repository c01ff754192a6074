/**
 * Process-group control on the host that runs a job. Every job runs in its own process group
 * (sshd and the local launcher both start it as a session leader), so killing the group kills
 * the node script, its children and their children.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/** Between TERM and KILL when a job is stopped, on every side: node runtime, shell watchdog, master. */
export const KILL_GRACE_MS = 2000;

/** The process group of this process, from /proc (Node has no getpgid). */
export function ownProcessGroup(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return process.pid;
  }
}

/** Whether a process with this pid exists (also one of another user, which we may not signal). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `signal` to a whole process group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process in the group is still alive (zombies excluded). */
export function groupIsAlive(pgid: number, except?: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (except === undefined) return true;
  return livingMembers(pgid).some((pid) => pid !== except);
}

/** Living (non-zombie) processes of a process group, from /proc. */
export function livingMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return members;
}


/**
 * The variable that marks every process of one job attempt: the launch command exports it with a
 * value of its own, and a process keeps it through `setsid`, `timeout`, `nohup` and daemonizing,
 * which all leave the job's process group. At the job's end the node runtime and the shell guard
 * look for it under /proc and stop what carries it.
 */
export const JOB_MARK_VARIABLE = 'PIPELINE_JOB_MARK';

const environBuffer = Buffer.allocUnsafe(64 * 1024);

/** The initial environment of a process (what it was started with), or undefined when unreadable (another user's process, gone). */
function readEnviron(pid: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/environ`, 'r');
  } catch {
    return undefined;
  }
  try {
    // It is rarely over 64 KiB, and the mark is near its end.
    let length = 0;
    for (let read; length < environBuffer.length && (read = readSync(fd, environBuffer, length, environBuffer.length - length, null)) > 0;) length += read;
    return length < environBuffer.length ? environBuffer.subarray(0, length) : readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Where `needle` (`NAME=`) starts an entry of `environ`, or -1. */
function entryAt(environ: Buffer, needle: Buffer): number {
  for (let at = environ.indexOf(needle); at !== -1; at = environ.indexOf(needle, at + 1)) {
    if (at === 0 || environ[at - 1] === 0) return at;
  }
  return -1;
}

/** Living process ids under /proc, except `except`. */
function processIds(except: readonly number[]): string[] {
  return readdirSync('/proc').filter((entry) => {
    const first = entry.charCodeAt(0);
    return first >= 48 && first <= 57 && !except.includes(Number(entry));
  });
}

const MARK_ENTRY = Buffer.from(`${JOB_MARK_VARIABLE}=`);

/** The living processes whose environment carries the job's mark, except `except` (this process). One pass over /proc. */
export function markedProcesses(mark: string, except: readonly number[] = [process.pid]): number[] {
  return processesByMark(new Set([mark]), except).get(mark) ?? [];
}

/** For several jobs at once (a host's agent): the living processes carrying each of `marks`, in one pass over /proc. */
export function processesByMark(marks: ReadonlySet<string>, except: readonly number[] = [process.pid]): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const entry of processIds(except)) {
    const environ = readEnviron(entry);
    const at = environ ? entryAt(environ, MARK_ENTRY) : -1;
    if (at === -1) continue;
    const end = environ!.indexOf(0, at);
    const mark = environ!.toString('latin1', at + MARK_ENTRY.length, end === -1 ? environ!.length : end);
    if (marks.has(mark)) found.set(mark, [...(found.get(mark) ?? []), Number(entry)]);
  }
  return found;
}

/**
 * Shell code defining `m SIG`: send SIG to every process whose environment holds `name=value`
 * (one grep over /proc); true when there was one. For the host side's shell: a job's guard, an
 * agent's watchdog.
 */
export function signalMarkedShellFunction(name: string, value: string): string {
  return `m() { n=1; for f in $(grep -lzx ${name}=${value} /proc/[0-9]*/environ 2>/dev/null); do f=\${f#/proc/}; kill -$1 \${f%/environ} 2>/dev/null && n=0; done; return $n; }`;
}

/** Sends `signal` to each of `pids`; the ones still there. */
export function signalEach(pids: readonly number[], signal: NodeJS.Signals | 0): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  });
}

export interface StopTarget {
  /** The job's process group, when it has one of its own. */
  group?: number;
  /** The job's mark: what left the group is found by it. */
  mark?: string;
  /** Processes never signalled with KILL nor waited for: the caller itself (a runtime in its own group). */
  except?: readonly number[];
  graceMs?: number;
}

/**
 * Stops everything of a job: TERM to its process group and to whatever carries its mark (`setsid`,
 * `timeout`, daemons), then KILL to what is still there after the grace. Resolves when nothing is
 * left, at once when nothing was (one pass over /proc for the mark).
 */
export function stopProcesses(target: StopTarget): Promise<void> {
  const { group, mark, except = [process.pid], graceMs = KILL_GRACE_MS } = target;
  const marked = () => (mark ? markedProcesses(mark, except) : []);
  if (group) signalGroup(group, 'SIGTERM');
  let left = signalEach(marked(), 'SIGTERM');
  const groupAlive = () => group !== undefined && groupIsAlive(group, except.length === 1 ? except[0] : undefined);
  // Members of the group carry the mark too (unless they cleared their environment): when no marked
  // process is left, the common case, that one pass was all it took. A group led by someone else is asked once more (one kill(0)).
  if (left.length === 0 && !(group !== undefined && !except.includes(group) && groupIsAlive(group))) return Promise.resolve();
  return new Promise((resolve) => {
    const deadline = Date.now() + graceMs;
    const check = setInterval(() => {
      if ((signalEach(left, 0).length > 0 || groupAlive()) && Date.now() < deadline) return;
      clearInterval(check);
      left = [...new Set([...left, ...marked()])]; // and whatever was started meanwhile
      signalEach(left, 'SIGKILL');
      if (group) signalEach(livingMembers(group).filter((pid) => !except.includes(pid)), 'SIGKILL');
      resolve();
    }, 50);
  });
}

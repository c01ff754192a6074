/**
 * Process-group control on the host that runs a job. Every job runs in its own process group
 * (sshd and the local launcher both start it as a session leader), so killing the group kills
 * the node script, its children and their children.
 */
import { readdirSync, readFileSync } from 'node:fs';

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


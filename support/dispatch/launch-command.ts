/**
 * The command string a job runs as. Every launcher runs the same string (DESIGN.md §5), so a
 * job behaves the same locally and remotely. Arguments of node scripts never appear here:
 * they travel on stdin, invisible to `ps` and safe from quoting.
 */
import { randomBytes } from 'node:crypto';
import type { ComputeJob } from './compute-job.js';
import type { JsonValue } from '../protocol/messages.js';
import { JOB_MARK_VARIABLE, KILL_GRACE_MS } from '../protocol/process-group.js';
import { assignments, execNode, shellQuote } from '../protocol/shell-words.js';

export interface CommandPlacement {
  /** Directory the job starts in; created when missing. */
  workingDirectory?: string;
  environment: Record<string, string>;
  /** The `node` to run node scripts with. */
  nodeExecutable: string;
  /** Maps a node script's path on the control node to its path on the host. */
  scriptPath(localPath: string): string;
}

/** The variables a job runs with: the placement's, the job's own winning. */
export function jobEnvironment(job: ComputeJob, placement: CommandPlacement): Record<string, string> {
  return { ...placement.environment, ...job.options.environment };
}

/**
 * The guard in front of a plain command (a node script guards itself): a background shell reads
 * the job's stdin, which the master keeps open, and when it closes (the job ended, was cancelled,
 * or the master died) sends TERM to the job's process group and to every process that carries
 * the job's mark (`setsid`, `timeout` and daemons leave the group but keep their environment),
 * then KILL to what is still there once the leader is gone or the grace is over. OpenSSH does
 * not kill a command whose channel closes; this does. The command runs in its own `sh -c`, so
 * its exit status is exact and its `wait` cannot see the guard. The guard does not carry the
 * mark itself (it is forked before the export reaches a program's environment, and unsets it
 * for the programs it runs), so its own `grep` and `sleep` are not taken for the job's.
 */
export function processGroupGuard(mark: string, graceMs: number = KILL_GRACE_MS): string {
  const ticks = Math.max(1, Math.ceil(graceMs / 100));
  // m SIG: signal the marked processes; true when there were any (one grep over /proc per call).
  const marked = `m() { n=1; for f in $(grep -lzx ${JOB_MARK_VARIABLE}=${mark} /proc/[0-9]*/environ 2>/dev/null); do f=\${f#/proc/}; kill -$1 \${f%/environ} && n=0; done; return $n; }`;
  return `exec 9<&0 </dev/null; { unset ${JOB_MARK_VARIABLE}; trap '' TERM; while read -r _ <&9; do :; done; ${marked}; ` +
    'kill -TERM -$$; l=; m TERM && l=1; i=0; ' +
    `while { kill -0 $$ || { [ -n "$l" ] && m 0; }; } && [ $i -lt ${ticks} ]; do sleep 0.1; i=$((i+1)); done; ` +
    '[ -n "$l" ] && m KILL; kill -KILL -$$; } >/dev/null 2>&1 & exec 9<&-';
}

/** A new mark for one launch of a job: random, so that no other job's processes carry it. */
export function newJobMark(): string {
  return randomBytes(12).toString('hex');
}

function argumentText(arg: JsonValue): string {
  return typeof arg === 'string' ? arg : JSON.stringify(arg);
}

/**
 * `guard: false` leaves out a plain command's process-group guard and the job's mark, for
 * showing the command to people (--dry-run). `mark` is the job's mark (default: a new one).
 */
export function buildCommand(job: ComputeJob, placement: CommandPlacement, { guard = true, mark = newJobMark() }: { guard?: boolean; mark?: string } = {}): string {
  const parts: string[] = [];
  if (placement.workingDirectory) {
    // `cd` first: mkdir is a program (a fork and an exec per job) and the directory exists for all but the first.
    const dir = shellQuote(placement.workingDirectory);
    parts.push(`{ cd ${dir} 2>/dev/null || { mkdir -p ${dir} && cd ${dir}; }; } || exit 126`);
  }
  // `export` is a shell builtin; `exec env K=V node` would exec one more program before node.
  const words = assignments(guard ? { ...jobEnvironment(job, placement), [JOB_MARK_VARIABLE]: mark } : jobEnvironment(job, placement));
  if (words.length > 0) parts.push(`export ${words.join(' ')}`);
  if (typeof job.command === 'string') {
    const command = [job.command, ...job.args.map((arg) => shellQuote(argumentText(arg)))].join(' ');
    if (guard) parts.push(processGroupGuard(mark), `exec /bin/sh -c ${shellQuote(command)}`);
    else parts.push(command);
  } else {
    // fd 3 carries the runtime's messages; the node's own stdout joins stderr (DESIGN.md §4).
    parts.push('exec 3>&1 1>&2');
    parts.push(execNode(placement.nodeExecutable, {}, [placement.scriptPath(job.command.path)]));
  }
  return parts.join('; ');
}

/**
 * The command string a job runs as. Every launcher runs the same string (DESIGN.md §5), so a
 * job behaves the same locally and remotely. Arguments of node scripts never appear here:
 * they travel on stdin, invisible to `ps` and safe from quoting.
 */
import type { ComputeJob } from './compute-job.js';
import type { JsonValue } from '../protocol/messages.js';
import { KILL_GRACE_MS } from '../protocol/process-group.js';
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
 * or the master died) sends TERM to the job's process group, then KILL once the leader is gone or
 * the grace is over. OpenSSH does not kill a command whose channel closes; this does. The command
 * runs in its own `sh -c`, so its exit status is exact and its `wait` cannot see the guard.
 */
export function processGroupGuard(graceMs: number = KILL_GRACE_MS): string {
  const ticks = Math.max(1, Math.ceil(graceMs / 100));
  return "exec 9<&0 </dev/null; { trap '' TERM; while read -r _ <&9; do :; done; kill -TERM -$$; i=0; " +
    `while kill -0 $$ && [ $i -lt ${ticks} ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -$$; } >/dev/null 2>&1 & exec 9<&-`;
}

function argumentText(arg: JsonValue): string {
  return typeof arg === 'string' ? arg : JSON.stringify(arg);
}

/** `guard: false` leaves out a plain command's process-group guard, for showing the command to people (--dry-run). */
export function buildCommand(job: ComputeJob, placement: CommandPlacement, { guard = true }: { guard?: boolean } = {}): string {
  const parts: string[] = [];
  if (placement.workingDirectory) {
    // `cd` first: mkdir is a program (a fork and an exec per job) and the directory exists for all but the first.
    const dir = shellQuote(placement.workingDirectory);
    parts.push(`{ cd ${dir} 2>/dev/null || { mkdir -p ${dir} && cd ${dir}; }; } || exit 126`);
  }
  // `export` is a shell builtin; `exec env K=V node` would exec one more program before node.
  const words = assignments(jobEnvironment(job, placement));
  if (words.length > 0) parts.push(`export ${words.join(' ')}`);
  if (typeof job.command === 'string') {
    const command = [job.command, ...job.args.map((arg) => shellQuote(argumentText(arg)))].join(' ');
    if (guard) parts.push(processGroupGuard(), `exec /bin/sh -c ${shellQuote(command)}`);
    else parts.push(command);
  } else {
    // fd 3 carries the runtime's messages; the node's own stdout joins stderr (DESIGN.md §4).
    parts.push('exec 3>&1 1>&2');
    parts.push(execNode(placement.nodeExecutable, {}, [placement.scriptPath(job.command.path)]));
  }
  return parts.join('; ');
}

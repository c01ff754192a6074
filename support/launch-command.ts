/**
 * The command string a job runs as. Every launcher runs the same string (DESIGN.md §5), so a
 * job behaves the same locally and remotely. Arguments of node scripts never appear here:
 * they travel on stdin, invisible to `ps` and safe from quoting.
 */
import type { ComputeJob } from './compute-job.js';
import type { JsonValue } from './protocol.js';

/** Quotes a string for POSIX sh: single quotes, with embedded single quotes closed and escaped. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export interface CommandPlacement {
  /** Directory the job starts in; created when missing. */
  workingDirectory?: string;
  environment: Record<string, string>;
  /** The `node` to run node scripts with. */
  nodeExecutable: string;
  /** Maps a node script's path on the control node to its path on the host. */
  scriptPath(localPath: string): string;
}

/** `exec [env K=V ...] 'node' args...`: how a job's node process is started, with its environment on the command line. */
export function execNode(nodeExecutable: string, environment: Record<string, string>, args: readonly string[]): string {
  const assignments = Object.entries(environment).map(([name, value]) => `${name}=${shellQuote(value)}`);
  const env = assignments.length > 0 ? `env ${assignments.join(' ')} ` : '';
  return `exec ${env}${[nodeExecutable, ...args].map(shellQuote).join(' ')}`;
}

function argumentText(arg: JsonValue): string {
  return typeof arg === 'string' ? arg : JSON.stringify(arg);
}

export function buildCommand(job: ComputeJob, placement: CommandPlacement): string {
  const parts: string[] = [];
  if (placement.workingDirectory) {
    const dir = shellQuote(placement.workingDirectory);
    parts.push(`{ mkdir -p ${dir} && cd ${dir}; } || exit 126`);
  }
  const environment = { ...placement.environment, ...job.options.environment };
  if (typeof job.command === 'string') {
    const assignments = Object.entries(environment).map(([name, value]) => `${name}=${shellQuote(value)}`);
    if (assignments.length > 0) parts.push(`export ${assignments.join(' ')}`);
    parts.push([job.command, ...job.args.map((arg) => shellQuote(argumentText(arg)))].join(' '));
  } else {
    // fd 3 carries the runtime's messages; the node's own stdout joins stderr (DESIGN.md §4).
    parts.push('exec 3>&1 1>&2');
    parts.push(execNode(placement.nodeExecutable, environment, [placement.scriptPath(job.command.path)]));
  }
  return parts.join('; ');
}

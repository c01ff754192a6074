/**
 * The command string a job runs as. Every launcher runs the same string (DESIGN.md §5), so a
 * job behaves the same locally and remotely. Arguments of node scripts never appear here:
 * they travel on stdin, invisible to `ps` and safe from quoting.
 */
import { randomBytes } from 'node:crypto';
import type { ComputeJob } from './compute-job.js';
import { PROTOCOL_VERSION, type JsonValue, type LogLevel, type StartMessage } from '../protocol/messages.js';
import type { AgentJob } from '../agent/agent-protocol.js';
import { JOB_MARK_VARIABLE, KILL_GRACE_MS, signalMarkedShellFunction } from '../protocol/process-group.js';
import { assignments, execNode, hostPath, shellQuote } from '../protocol/shell-words.js';
import { shellUsageReport, shellUsageSampler } from './shell-usage.js';

export interface CommandPlacement {
  /** Directory the job starts in; created when missing. */
  workingDirectory?: string;
  environment: Record<string, string>;
  /** The `node` to run node scripts with. */
  nodeExecutable: string;
  /** The `python3` to run Python node scripts with, and where the framework's Python runtime is on the host. */
  python?: { executable: string; runtimeDirectory: string };
  /** Maps a node script's path on the control node to its path on the host. */
  scriptPath(localPath: string): string;
}

/** The variables a job runs with: the placement's, the job's own winning. */
export function jobEnvironment(job: ComputeJob, placement: CommandPlacement): Record<string, string> {
  // OMP_NUM_THREADS from the job's cores, as lofarpipe sets it from resources['cores']; the job's own variables win.
  const cores: Record<string, string> = job.options.cores !== undefined ? { OMP_NUM_THREADS: String(job.options.cores) } : {};
  return { ...placement.environment, ...cores, ...job.options.environment };
}

/**
 * Variables that stay on the command line: the shell and node need them before stdin is read,
 * and they hold search paths, not secrets. Every other value travels on the job's stdin, where
 * `ps` on the host cannot read it.
 */
const COMMAND_LINE_VARIABLES = new Set(['PATH', 'LD_LIBRARY_PATH', 'PYTHONPATH']);

/** A job's variables split into those on its command line and those sent on its stdin. */
export function splitEnvironment(job: ComputeJob, placement: CommandPlacement): { commandLine: Record<string, string>; stdin: Record<string, string> } {
  const commandLine: Record<string, string> = {};
  const stdin: Record<string, string> = {};
  for (const [name, value] of Object.entries(jobEnvironment(job, placement))) (COMMAND_LINE_VARIABLES.has(name) ? commandLine : stdin)[name] = value;
  return { commandLine, stdin };
}

/**
 * What a plain command's launch shell reads first from stdin: `export` of the stdin variables,
 * then a line holding the job's mark, which ends the block (a value may span lines).
 */
export function environmentBlock(environment: Record<string, string>, mark: string): string {
  return `export ${assignments(environment).join(' ')}\n${mark}\n`;
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
 * With `measure`, it measures the command too: each line before that end of stdin asks it for a
 * sample, and at the end it reports the job's CPU and peak memory on the channel's stderr
 * (shell-usage.ts).
 */
export function processGroupGuard(mark: string, graceMs: number = KILL_GRACE_MS, measure = false): string {
  const ticks = Math.max(1, Math.ceil(graceMs / 100));
  // m SIG: signal the marked processes; true when there were any (one grep over /proc per call).
  const marked = signalMarkedShellFunction(JOB_MARK_VARIABLE, mark);
  // Measuring, each line on stdin asks for a usage sample (shell-usage.ts), and its end for the report before the clean-up.
  const [sampler, sample, report] = measure ? [`${shellUsageSampler()}; `, 's', `${shellUsageReport(mark)}; `] : ['', ':', ''];
  return `exec 9<&0 </dev/null; { unset ${JOB_MARK_VARIABLE}; trap '' TERM; ${sampler}while read -r _ <&9; do ${sample}; done; ${report}${marked}; ` +
    'kill -TERM -$$; l=; m TERM && l=1; i=0; ' +
    `while { kill -0 $$ || { [ -n "$l" ] && m 0; }; } && [ $i -lt ${ticks} ]; do sleep 0.1; i=$((i+1)); done; ` +
    // fd 8, measuring: the channel's stderr, for the usage report alone; the rest of the guard writes nowhere.
    `[ -n "$l" ] && m KILL; kill -KILL -$$; } ${measure ? '8>&2 ' : ''}>/dev/null 2>&1 & exec 9<&-`;
}

/** Random per master, so that no other run's processes carry a mark of this one. */
const MARK_PREFIX = randomBytes(9).toString('hex');
let marksMade = 0;

/** A new mark for one launch of a job: this master's random prefix and a count, so that no other job's processes carry it (a random draw per job cost 2 % of the master's CPU at warm-job rates). */
export function newJobMark(): string {
  return `${MARK_PREFIX}${(++marksMade).toString(36)}`;
}

function argumentText(arg: JsonValue): string {
  return typeof arg === 'string' ? arg : JSON.stringify(arg);
}

export interface CommandOptions {
  /** false: without a plain command's process-group guard and the job's mark, for people (--dry-run, records). */
  guard?: boolean;
  /** The job's mark (default: a new one). */
  mark?: string;
  /** A plain command's guard samples its processes and reports their CPU and peak memory at the end (shell-usage.ts). */
  measure?: boolean;
  /**
   * Where the variables outside COMMAND_LINE_VARIABLES go: `stdin` (the launch: a plain command's
   * shell reads them before anything else, a node script gets them in its start message), `shown`
   * (on the command line, for --dry-run) or `omitted` (for records: command.sh, the journal).
   */
  environment?: 'stdin' | 'shown' | 'omitted';
}

/** The command line a job runs as; see CommandOptions for the forms of it. */
export function buildCommand(job: ComputeJob, placement: CommandPlacement, options: CommandOptions = {}): string {
  const { guard = true, mark = newJobMark() } = options;
  const environment = options.environment ?? (guard ? 'stdin' : 'shown');
  const parts: string[] = [];
  if (placement.workingDirectory) {
    // `cd` first: mkdir is a program (a fork and an exec per job) and the directory exists for all but the first.
    const dir = hostPath(placement.workingDirectory);
    parts.push(`{ cd ${dir} 2>/dev/null || { mkdir -p ${dir} && cd ${dir}; }; } || exit 126`);
  }
  const split = splitEnvironment(job, placement);
  const exported = environment === 'shown' ? jobEnvironment(job, placement) : split.commandLine;
  // `export` is a shell builtin; `exec env K=V node` would exec one more program before node.
  const words = assignments(guard ? { ...exported, [JOB_MARK_VARIABLE]: mark } : exported);
  if (words.length > 0) parts.push(`export ${words.join(' ')}`);
  if (typeof job.command === 'string') {
    const command = [job.command, ...job.args.map((arg) => shellQuote(argumentText(arg)))].join(' ');
    if (environment === 'stdin' && Object.keys(split.stdin).length > 0) {
      // `read` takes one byte at a time from a pipe, so nothing after the block is consumed; the guard gets the rest.
      parts.push(`e=; while IFS= read -r l && [ "$l" != ${mark} ]; do e="$e$l
"; done; eval "$e"; unset e l`);
    }
    if (guard) parts.push(processGroupGuard(mark, KILL_GRACE_MS, options.measure), `exec /bin/sh -c ${shellQuote(command)}`);
    else parts.push(command);
  } else {
    // fd 3 carries the runtime's messages; the node's own stdout joins stderr (DESIGN.md §4).
    parts.push('exec 3>&1 1>&2');
    const script = placement.scriptPath(job.command.path);
    if (job.command.language === 'python') {
      const python = placement.python ?? { executable: 'python3', runtimeDirectory: '' };
      // The runtime module first on the path, before any PYTHONPATH of the job (an empty one would add the cwd).
      if (python.runtimeDirectory) parts.push(`export PYTHONPATH=${hostPath(python.runtimeDirectory)}\${PYTHONPATH:+:$PYTHONPATH}`);
      parts.push(`exec ${[python.executable, script].map(hostPath).join(' ')}`);
    } else {
      parts.push(execNode(placement.nodeExecutable, {}, [script]));
    }
  }
  return parts.join('; ');
}

/** The same job as a host's agent runs it (agent/agent-protocol.ts): no guard, the agent is one. */
export function agentJob(job: ComputeJob, placement: CommandPlacement, options: { mark: string; logLevel: LogLevel }): AgentJob {
  const env = { ...jobEnvironment(job, placement), [JOB_MARK_VARIABLE]: options.mark };
  const base = { env, mark: options.mark, ...(placement.workingDirectory ? { cwd: placement.workingDirectory } : {}) };
  if (typeof job.command === 'string') {
    return { kind: 'shell', command: [job.command, ...job.args.map((arg) => shellQuote(argumentText(arg)))].join(' '), ...base };
  }
  const start: StartMessage = { v: PROTOCOL_VERSION, type: 'start', job: job.id, args: job.args, logLevel: options.logLevel };
  const script = placement.scriptPath(job.command.path);
  if (job.command.language === 'python') {
    const python = placement.python ?? { executable: 'python3', runtimeDirectory: '' };
    return { kind: 'python', command: script, executable: python.executable, ...(python.runtimeDirectory ? { runtimeDirectory: python.runtimeDirectory } : {}), start, ...base };
  }
  return { kind: 'node', command: script, executable: placement.nodeExecutable, start, ...(job.options.warm ? { warm: true } : {}), ...base };
}

/** How a host's agent is started: the search paths of `[remote] environment`, then node with the agent at install_root. */
export function agentCommand(placement: CommandPlacement, agentScript: string): string {
  const exported = Object.fromEntries(Object.entries(placement.environment).filter(([name]) => COMMAND_LINE_VARIABLES.has(name)));
  const words = assignments(exported);
  return `${words.length > 0 ? `export ${words.join(' ')}; ` : ''}${execNode(placement.nodeExecutable, {}, [placement.scriptPath(agentScript)])}`;
}

/**
 * The Slurm launcher (`[remote] method = slurm`, LOFAR's slurm_srun): inside an allocation, each
 * job, or each node's agent, is an `srun` step pinned to its node, its stdin, stdout and stderr
 * the same wire protocol as over SSH. A step ends as a channel does: EOF on its stdin lets the
 * job's guard (or node runtime, or agent) clear the job away, also when the master is killed
 * (srun sees its stdin close and passes the EOF on); srun itself is stopped last.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { KILL_GRACE_MS, signalGroup } from '../../protocol/process-group.js';
import { HostFileError, type HostFiles } from '../host-files.js';
import { LaunchError, outputOf, RunningProcesses, type ExitStatus, type LaunchDetails, type LaunchedProcess, type Launcher } from '../launcher.js';

/** srun's own report of a task's end (`srun: error: n1: task 0: Killed`): not the job's output. */
const TASK_REPORT = /^srun: error: \S+: task \d+: (.*)$/;
/** slurmstepd's line when it cancels a step srun was told to stop. */
const STEP_CANCELLED = /^slurmstepd(?:-\S+)?: error: \*\*\* STEP \S+ ON \S+ CANCELLED/;
/** srun could not make the step at all (too many CPUs asked for, the allocation gone): the job never started. */
const STEP_REFUSED = /^srun: error: (Unable to create step .*|.*[Ii]nvalid .*)$/;
/** A partial line longer than this is passed on as it is (binary output without newlines). */
const MAX_HELD_LINE = 64 * 1024;

/**
 * The flags of every step: one task on the named node, only the CPUs it asks for (`--exact`, so
 * that steps share the allocation's nodes), quiet. `resident` (a host's agent) overlaps the other
 * steps with the node's CPUs of the allocation, which its jobs use: no --cpus-per-task, which
 * since Slurm 21.08 implies --exact and would pin them all to one CPU.
 */
export function srunArguments(host: string, command: string, details: LaunchDetails = {}): string[] {
  return [
    '--nodes=1', '--ntasks=1', `--nodelist=${host}`, '--quiet',
    ...(details.resident ? ['--overlap'] : ['--exact', `--cpus-per-task=${details.cores ?? 1}`]),
    ...(details.name ? [`--job-name=${details.name}`] : []),
    '/bin/sh', '-c', command,
  ];
}

/** Passes stderr through but for srun's own lines about the task's end, which it keeps. */
class SrunStderr extends Transform {
  #held = '';
  readonly reports: string[] = [];
  /** Why srun could not create the step, when it said so. */
  refused: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const text = this.#held + chunk.toString('latin1');
    const lines = text.split('\n');
    this.#held = lines.pop()!;
    const kept = lines.filter((line) => !this.#isReport(line));
    let out = kept.length > 0 ? `${kept.join('\n')}\n` : '';
    if (this.#held.length > MAX_HELD_LINE) {
      out += this.#held;
      this.#held = '';
    }
    done(null, out.length > 0 ? Buffer.from(out, 'latin1') : undefined);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.#held.length > 0 && !this.#isReport(this.#held) ? Buffer.from(this.#held, 'latin1') : undefined);
  }

  #isReport(line: string): boolean {
    const refused = STEP_REFUSED.exec(line);
    if (refused && !this.refused) this.refused = refused[1];
    const report = TASK_REPORT.exec(line);
    if (report) this.reports.push(report[1]!);
    return Boolean(report) || STEP_CANCELLED.test(line);
  }
}

/** srun says a signal's end as 128 + its number and a report that is not "Exited with exit code". */
function statusOf(code: number | null, signal: NodeJS.Signals | null, reports: readonly string[], refused?: string): ExitStatus {
  if (refused && reports.length === 0 && code !== 0) return { code, signal, notStarted: `srun could not create the step: ${refused}` };
  if (code !== null && code > 128 && reports.some((report) => !report.startsWith('Exited with exit code'))) {
    const name = Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0];
    if (name) return { code: null, signal: name };
  }
  return { code, signal };
}

class SrunProcess implements LaunchedProcess {
  readonly #child: ReturnType<typeof spawn>;
  readonly #stderr = new SrunStderr();
  readonly exited: Promise<ExitStatus>;
  #timers: NodeJS.Timeout[] = [];
  /** srun has ended: nothing is signalled any more (its process group id may be another's by then). */
  #closed = false;

  constructor(child: ReturnType<typeof spawn>) {
    this.#child = child;
    child.stderr!.pipe(this.#stderr);
    child.stdin!.on('error', () => {}); // EPIPE when the step ended before reading its stdin
    this.exited = new Promise((resolve) => {
      child.on('exit', () => child.stdin!.end());
      child.on('close', (code, signal) => {
        this.#closed = true;
        for (const timer of this.#timers) clearTimeout(timer);
        // Once the filter has taken in all of srun's stderr, it has seen every report (whether or not its reader is done).
        const settle = () => resolve(statusOf(code, signal, this.#stderr.reports, this.#stderr.refused));
        if (this.#stderr.writableFinished || this.#stderr.destroyed) settle();
        else {
          this.#stderr.once('finish', settle);
          this.#stderr.once('close', settle); // a reader that destroyed it
          this.#stderr.once('error', settle);
        }
      });
    });
  }

  get stdin() { return this.#child.stdin!; }
  get stdout() { return this.#child.stdout!; }
  get stderr() { return this.#stderr; }

  /** EOF first: the job's guard stops it as it would over SSH; then srun (which cancels the step), then KILL. */
  terminate(graceMs: number): void {
    this.#child.stdin!.end();
    const pid = this.#child.pid;
    if (!pid || this.#closed || this.#timers.length > 0) return;
    // With a grace of 0 (a second Ctrl-C), srun is stopped now.
    const signal = (name: NodeJS.Signals) => () => this.#closed || signalGroup(pid, name);
    const step = setTimeout(signal('SIGTERM'), graceMs === 0 ? 0 : graceMs + 1000);
    const kill = setTimeout(signal('SIGKILL'), graceMs === 0 ? 2000 : 2 * graceMs + 5000);
    step.unref();
    kill.unref();
    this.#timers.push(step, kill);
  }
}

export class SlurmLauncher implements Launcher {
  readonly name = 'slurm';
  /** srun returns once the step's output has closed: a plain command's guard keeps no stderr for a usage report. */
  readonly statusAfterOutput = true;
  readonly #running = new RunningProcesses<SrunProcess>();
  readonly #srun: string;

  constructor(srun = 'srun') {
    this.#srun = srun;
  }

  async start(host: string, command: string, details?: LaunchDetails): Promise<LaunchedProcess> {
    // detached: Ctrl-C in the terminal reaches the master, which stops the steps itself (srun would take a lone SIGINT as "print status").
    const child = spawn(this.#srun, srunArguments(host, command, details), { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error: NodeJS.ErrnoException) => reject(new LaunchError(host, error.code === 'ENOENT'
        ? `cannot start ${this.#srun} on the control node: not found (is this a Slurm node?)`
        : `cannot start ${this.#srun} on the control node: ${error.message}`, { cause: error, problem: 'not-startable' })));
    });
    return this.#running.track(new SrunProcess(child));
  }

  /** A job of several cores is a step of its own, which Slurm gives those CPUs (an agent's jobs share its one). */
  ownLaunch(details: LaunchDetails): boolean {
    return (details.cores ?? 1) > 1;
  }

  /** A step that runs `true` on the node. */
  async probe(host: string): Promise<void> {
    const { status, stderr } = await outputOf(await this.start(host, 'true'));
    if (status.code !== 0) throw new LaunchError(host, `a step on ${host} failed: ${stderr.trim() || `exit ${status.code}`}`, { problem: 'unreachable' });
  }

  /** Steps have no file transfer: the nodes of an allocation share the control node's filesystem. */
  async files(host: string): Promise<HostFiles> {
    throw new HostFileError(host, '', 'failed', `${host} is a Slurm node: copying files to it (stageIn, stageOut, deploy) needs SSH; inside an allocation the nodes share the filesystem`);
  }

  async close(graceMs = KILL_GRACE_MS): Promise<void> {
    await this.#running.terminateAll(graceMs);
  }
}

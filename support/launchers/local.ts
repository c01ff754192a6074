/** The local launcher: `sh -c` on the control node, each job in its own process group. */
import { spawn, type ChildProcess } from 'node:child_process';
import { KILL_GRACE_MS, signalGroup } from '../protocol/process-group.js';
import { LocalFiles, type HostFiles } from './host-files.js';
import { LaunchError, RunningProcesses, type ExitStatus, type LaunchedProcess, type Launcher } from './launcher.js';

class LocalProcess implements LaunchedProcess {
  readonly #child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  #killTimer: NodeJS.Timeout | undefined;
  #leftoverTimer: NodeJS.Timeout | undefined;

  constructor(child: ChildProcess) {
    this.#child = child;
    this.exited = new Promise((resolve) => {
      // The main process ended: EOF on stdin lets the job's guard (or node runtime) clear away what
      // it left running, in its group or not, as over SSH. Should nothing do so, the group is
      // killed after the grace, so that it cannot hold the pipes open for ever.
      child.on('exit', () => {
        child.stdin!.end();
        this.#leftoverTimer = setTimeout(() => {
          if (child.pid) signalGroup(child.pid, 'SIGKILL');
        }, KILL_GRACE_MS + 1000);
        this.#leftoverTimer.unref();
      });
      child.on('close', (code, signal) => {
        clearTimeout(this.#killTimer);
        clearTimeout(this.#leftoverTimer);
        resolve({ code, signal });
      });
    });
    child.stdin!.on('error', () => {}); // EPIPE when the job ends before reading its stdin
  }

  get stdin() { return this.#child.stdin!; }
  get stdout() { return this.#child.stdout!; }
  get stderr() { return this.#child.stderr!; }

  terminate(graceMs: number): void {
    const pid = this.#child.pid;
    if (!pid) return;
    signalGroup(pid, 'SIGTERM');
    clearTimeout(this.#killTimer);
    this.#killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    this.#killTimer.unref();
  }
}

export class LocalLauncher implements Launcher {
  readonly name = 'local';
  readonly #running = new RunningProcesses<LocalProcess>();

  async files(host: string): Promise<HostFiles> {
    return new LocalFiles(host);
  }

  async start(host: string, command: string): Promise<LaunchedProcess> {
    // detached: the shell becomes a session and group leader, so the whole job can be signalled.
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new LaunchError(host, `cannot start /bin/sh on the control node: ${error.message}`, { cause: error })));
    });
    return this.#running.track(new LocalProcess(child));
  }

  /** The control node is always there. */
  async probe(): Promise<void> {}

  close(graceMs = KILL_GRACE_MS): Promise<void> {
    return this.#running.terminateAll(graceMs);
  }
}

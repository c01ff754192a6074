/**
 * Runs the built `pipeline` command the way a user does, in a scratch workspace outside the
 * repository: its own pipeline.cfg and runtime directory, and a node_modules link so that
 * recipes written there can `import ... from 'pipeline-framework'`.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = join(repoRoot, 'dist', 'support', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class Workspace {
  readonly dir: string;
  readonly configPath: string;
  readonly runtimeDirectory: string;

  constructor(extraConfig = '') {
    this.dir = mkdtempSync(join(tmpdir(), 'pipeline-test-'));
    this.runtimeDirectory = join(this.dir, 'runtime');
    mkdirSync(join(this.dir, 'node_modules'));
    symlinkSync(repoRoot, join(this.dir, 'node_modules', 'pipeline-framework'));
    this.configPath = join(this.dir, 'pipeline.cfg');
    this.writeConfig(extraConfig);
  }

  /** A pipeline.cfg pointing at this workspace; `extra` is appended (more sections or keys). */
  writeConfig(extra = ''): void {
    this.write('pipeline.cfg', [
      '[DEFAULT]',
      `runtime_directory = ${this.runtimeDirectory}`,
      'working_directory = %(runtime_directory)s/working',
      `recipe_directories = [${join(this.dir, 'recipes')}]`,
      `task_files = [${join(this.dir, 'tasks.cfg')}]`,
      '',
      '[remote]',
      // The default of these tests, unless `extra` sets its own.
      ...(/^max_per_node\s*=/m.test(extra) ? [] : ['max_per_node = 4']),
      '',
      extra,
    ].join('\n'));
  }

  write(relative: string, text: string): string {
    const path = join(this.dir, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  }

  read(relative: string): string {
    return readFileSync(join(this.dir, relative), 'utf8');
  }

  jobDirectory(jobName: string): string {
    return join(this.runtimeDirectory, 'jobs', jobName);
  }

  /** Runs `pipeline <args>` with this workspace's config, from the workspace directory. */
  run(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; config?: boolean } = {}): Promise<CliResult> {
    const withConfig = options.config === false ? args : [...args, '--config', this.configPath];
    return runCli(withConfig, { cwd: this.dir, env: options.env, timeoutMs: options.timeoutMs });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs the CLI as a child process; a generous timeout proves it does not hang. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pipeline ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** A workspace holding the user project of test/fixtures/user-project (recipes/ and nodes/). */
export function userProject(extraConfig = ''): Workspace {
  const workspace = new Workspace(extraConfig);
  cpSync(join(repoRoot, 'test', 'fixtures', 'user-project'), workspace.dir, { recursive: true });
  return workspace;
}

/** A fresh user project for each test of a describe block, removed after it; `markers` is a file in it for the markers recipe. */
export function projectPerTest(): { readonly ws: Workspace; readonly markers: string } {
  let current: Workspace | undefined;
  beforeEach(() => {
    current = userProject();
  });
  afterEach(() => current?.remove());
  return {
    get ws() {
      if (!current) throw new Error('no project: use it inside a test');
      return current;
    },
    get markers() {
      return join(this.ws.dir, 'markers.txt');
    },
  };
}

/** The text of the newest run's pipeline.log under a job directory. */
export function latestLog(jobDirectory: string): string {
  const logs = join(jobDirectory, 'logs');
  const runs = readdirSync(logs).sort();
  return readFileSync(join(logs, runs[runs.length - 1]!, 'pipeline.log'), 'utf8');
}

/** Lines a run printed to stderr that are not empty. */
export function stderrLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.trim() !== '');
}

/**
 * pipeline.cfg (DESIGN.md §7): lofarpipe's sections and keys, read through IniFile, with typed
 * accessors whose errors name the file and the key.
 */
import { existsSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isVariableName } from '../protocol/shell-words.js';
import { ConfigError } from '../errors.js';
import { frameworkRoot, shippedConfigDirectory } from './framework-paths.js';
import { checkTemplate } from './command-template.js';
import { IniFile, parseBool, parseList } from './ini.js';

export type RemoteMethod = 'auto' | 'local' | 'ssh' | 'slurm' | 'custom_cmdline';
const METHODS: readonly RemoteMethod[] = ['auto', 'local', 'ssh', 'slurm', 'custom_cmdline'];
/** lofarpipe's names for running jobs as srun steps. */
const METHOD_ALIASES: Record<string, RemoteMethod> = { slurm_srun: 'slurm', slurm_srun_cep3: 'slurm' };

/** lofarpipe's max_per_node: 0 is no limit. */
export function perHostLimit(maxPerNode: number): number {
  return maxPerNode === 0 ? Number.POSITIVE_INFINITY : maxPerNode;
}

export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

/**
 * Where pipeline.cfg is looked up: --config, then ./pipeline.cfg, then ~/.pipeline.cfg, then the
 * shipped default.
 */
export function locateConfig(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit) {
    const path = resolve(cwd, expandHome(explicit));
    if (!existsSync(path)) throw new ConfigError(path, `--config ${explicit}: no such file`);
    return path;
  }
  const candidates = [join(cwd, 'pipeline.cfg'), join(homedir(), '.pipeline.cfg'), join(shippedConfigDirectory, 'pipeline.cfg')];
  return candidates.find((path) => existsSync(path)) ?? candidates[candidates.length - 1]!;
}

/**
 * The keys of the sections this framework reads: a key not listed is a typo or a setting that
 * would be silently ignored. lofarpipe's own keys of these sections are listed too, so that
 * LOFAR's files load without a warning (`globalfs`, `cmdline`, `xml_stat_file`).
 */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  remote: [
    'method', 'max_per_node', 'max_transfers_per_node', 'deploy', 'job_timeout', 'retries', 'retry_delay', 'environment', 'node_executable', 'python_executable', 'install_root',
    'ssh_config', 'identity_file', 'accept_new_host_keys', 'connect_timeout', 'keepalive_interval', 'keepalive_count_max',
    'max_sessions', 'max_connections_per_host', 'globalfs', 'cmdline', 'nodelist_variable', 'dispatch',
  ],
  layout: ['job_directory'],
  cluster: ['clusterdesc', 'cores'],
  docker: ['image'],
  logging: ['log_file', 'json_log_file', 'xml_stat_file', 'format', 'datefmt'],
};

/**
 * lofarpipe settings this framework reads past: each is said once (a section's keys in one line),
 * so a LOFAR user knows it has no effect here rather than finding out. `*`: the whole section.
 */
const NOT_IMPLEMENTED: Record<string, readonly string[] | '*'> = {
  logging: ['xml_stat_file', 'format', 'datefmt'],
  feedback: '*',
  deploy: '*',
};

/** Edit distance of two short strings (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

export class PipelineConfig {
  readonly ini: IniFile;
  readonly file: string;
  /** Values every lookup can interpolate: job_name, start_time, framework_root, cwd. */
  readonly #vars: Record<string, string>;

  constructor(ini: IniFile, vars: Record<string, string> = {}) {
    this.ini = ini;
    this.file = ini.file;
    this.#vars = { framework_root: frameworkRoot, cwd: process.cwd(), ...vars };
  }

  static async load(path: string, vars: Record<string, string> = {}): Promise<PipelineConfig> {
    return new PipelineConfig(await IniFile.load(path), vars);
  }

  /** The variables every lookup can interpolate (framework_root, cwd, and a run's job_name and start_time). */
  get vars(): Readonly<Record<string, string>> {
    return this.#vars;
  }

  /** A copy that interpolates with more variables (the run's job_name and start_time). */
  withVars(vars: Record<string, string>): PipelineConfig {
    return new PipelineConfig(this.ini, { ...this.#vars, ...vars });
  }

  /** One warning per key of a section this framework reads that it does not know, with the closest known key. */
  unknownKeyWarnings(): string[] {
    const warnings: string[] = [];
    for (const [section, known] of Object.entries(KNOWN_KEYS)) {
      for (const key of this.ini.ownKeys(section)) {
        if (known.includes(key)) continue;
        const closest = [...known].sort((a, b) => distance(key, a) - distance(key, b))[0]!;
        const hint = distance(key, closest) <= Math.max(2, Math.floor(key.length / 3)) ? `; did you mean ${closest}?` : `; the keys of [${section}] are ${known.join(', ')}`;
        warnings.push(`${this.#where(section, key)} is not a setting this framework knows, and is ignored${hint}`);
      }
    }
    for (const [section, keys] of Object.entries(NOT_IMPLEMENTED)) {
      const found = this.ini.ownKeys(section).filter((key) => keys === '*' || keys.includes(key));
      if (found.length === 0) continue;
      const line = this.ini.lineOf(section, found[0]!);
      warnings.push(`${this.file}${line ? `:${line}` : ''}: [${section}] ${found.join(', ')}: lofarpipe ${found.length === 1 ? 'setting' : 'settings'} this framework does not implement; ignored`);
    }
    return warnings;
  }

  #where(section: string, key: string): string {
    const line = this.ini.lineOf(section, key);
    return `${this.file}${line ? `:${line}` : ''}: [${section}] ${key}`;
  }

  has(section: string, key: string): boolean {
    return this.ini.has(section, key);
  }

  /** The interpolated value, or `fallback` when the key is absent. */
  get(section: string, key: string, fallback?: string): string | undefined {
    if (!this.ini.has(section, key)) return fallback;
    return this.ini.get(section, key, this.#vars);
  }

  require(section: string, key: string): string {
    const value = this.get(section, key);
    if (value === undefined) throw new ConfigError(this.file, `${this.file}: [${section}] ${key} is missing; it is required`);
    return value;
  }

  getPath(section: string, key: string, fallback?: string): string | undefined {
    const value = this.get(section, key, fallback);
    return value === undefined ? undefined : this.#resolvePath(value);
  }

  getList(section: string, key: string): string[] {
    const value = this.get(section, key);
    return value === undefined ? [] : parseList(value);
  }

  getBool(section: string, key: string, fallback: boolean): boolean {
    const value = this.get(section, key);
    return value === undefined ? fallback : parseBool(value, this.#where(section, key));
  }

  getNumber(section: string, key: string, fallback: number, { integer = false, min = 0 } = {}): number {
    const value = this.get(section, key);
    if (value === undefined) return fallback;
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
      const kind = integer ? 'an integer' : 'a number';
      throw new ConfigError(this.file, `${this.#where(section, key)}: expected ${kind} >= ${min}, got ${JSON.stringify(value)}`);
    }
    return n;
  }

  /** Relative paths in the file are taken relative to the file's own directory. */
  #resolvePath(value: string): string {
    const path = expandHome(value.trim());
    return isAbsolute(path) ? path : resolve(dirname(this.file), path);
  }

  get runtimeDirectory(): string {
    return this.#resolvePath(this.require('DEFAULT', 'runtime_directory'));
  }

  get workingDirectory(): string {
    return this.getPath('DEFAULT', 'working_directory') ?? join(this.runtimeDirectory, 'working');
  }

  /**
   * working_directory as the hosts take it, where jobs start: a leading `~` stays, for the home of
   * the user a job runs as there (expanded here it was the master's: /root/... for every host).
   */
  get hostWorkingDirectory(): string {
    const given = this.get('DEFAULT', 'working_directory');
    return given !== undefined ? this.#hostPath(given) : join(this.#hostPath(this.require('DEFAULT', 'runtime_directory')), 'working');
  }

  /** A path for the hosts: a leading `~` kept (their user's home), anything else resolved here. */
  #hostPath(value: string): string {
    const path = value.trim();
    return path === '~' || path.startsWith('~/') ? path : this.#resolvePath(path);
  }

  get recipeDirectories(): string[] {
    return this.getList('DEFAULT', 'recipe_directories').map((dir) => this.#resolvePath(dir));
  }

  get taskFiles(): string[] {
    return this.getList('DEFAULT', 'task_files').map((file) => this.#resolvePath(file));
  }

  /** `[layout] job_directory`, lofarpipe's default `<runtime_directory>/jobs/<job_name>`. */
  get jobDirectory(): string {
    return this.getPath('layout', 'job_directory') ?? join(this.runtimeDirectory, 'jobs', this.#vars.job_name ?? 'default');
  }

  /** `[logging] log_file`, default `<job_directory>/logs/<start_time>/pipeline.log`. */
  get logFile(): string {
    return this.getPath('logging', 'log_file') ?? join(this.jobDirectory, 'logs', this.#vars.start_time ?? 'run', 'pipeline.log');
  }

  /** `[logging] json_log_file`: the same records as JSON lines, each message exactly as sent (no default: none is written). */
  get jsonLogFile(): string | undefined {
    return this.getPath('logging', 'json_log_file');
  }

  get remoteMethod(): RemoteMethod {
    const given = (this.get('remote', 'method') ?? 'auto').trim();
    const method = (METHOD_ALIASES[given] ?? given) as RemoteMethod;
    if (!METHODS.includes(method)) {
      throw new ConfigError(this.file, `${this.#where('remote', 'method')}: expected one of ${[...METHODS, ...Object.keys(METHOD_ALIASES)].join(', ')}, got ${JSON.stringify(given)}`);
    }
    return method;
  }

  /** `[remote] cmdline`, checked: the template of `method = custom_cmdline`. */
  get commandLineTemplate(): string {
    const template = this.get('remote', 'cmdline');
    if (template === undefined || template.trim() === '') {
      throw new ConfigError(this.file, `${this.#where('remote', 'method')}: custom_cmdline needs [remote] cmdline, a command line with {command} (and {host}, {env}, ...)`);
    }
    checkTemplate(template.trim(), this.#where('remote', 'cmdline'), this.dockerImage);
    return template.trim();
  }

  /** `[docker] image`, for a command line's {image}. */
  get dockerImage(): string | undefined {
    const image = this.get('docker', 'image')?.trim();
    return image ? image : undefined;
  }

  /** The variable that lists an allocation's nodes (lofarpipe's `nodelist_variable`); default SLURM_JOB_NODELIST. */
  get nodelistVariable(): string {
    const name = (this.get('remote', 'nodelist_variable') ?? 'SLURM_JOB_NODELIST').trim();
    if (!isVariableName(name)) throw new ConfigError(this.file, `${this.#where('remote', 'nodelist_variable')}: ${JSON.stringify(name)} is not an environment variable name`);
    return name;
  }

  /** `[cluster] cores`: the cores of every host, when the cluster's hosts are alike; jobs then run while their cores fit. */
  get hostCores(): number | undefined {
    if (this.get('cluster', 'cores') === undefined) return undefined;
    return this.getNumber('cluster', 'cores', 1, { integer: true, min: 1 });
  }

  /** `[remote] dispatch`: `agent` (one agent per host runs its jobs; the default) or `channel` (a channel, or local process, per job). */
  get dispatchMode(): 'agent' | 'channel' {
    const mode = (this.get('remote', 'dispatch') ?? 'agent').trim();
    if (mode !== 'agent' && mode !== 'channel') {
      throw new ConfigError(this.file, `${this.#where('remote', 'dispatch')}: expected agent or channel, got ${JSON.stringify(mode)}`);
    }
    return mode;
  }

  /** Jobs at a time per host; 0 means no limit, as in lofarpipe. */
  get maxPerNode(): number {
    return perHostLimit(this.getNumber('remote', 'max_per_node', availableParallelism(), { integer: true, min: 0 }));
  }

  /** Default job timeout in seconds; 0 means none. */
  get jobTimeout(): number {
    return this.getNumber('remote', 'job_timeout', 0);
  }

  /** Retries of a job after an infrastructure failure (connection lost, launch failed); default 2. */
  get retries(): number {
    return this.getNumber('remote', 'retries', 2, { integer: true });
  }

  /** Seconds before the first retry; each further retry waits twice as long (at most 60 s). */
  get retryDelay(): number {
    return this.getNumber('remote', 'retry_delay', 1);
  }

  /** `node` used to run node scripts (on the hosts too). */
  get nodeExecutable(): string {
    return this.get('remote', 'node_executable')?.trim() || process.execPath;
  }

  /** The Python that runs Python node scripts on the hosts (lofarpipe_node); found on the hosts' PATH by default. */
  get pythonExecutable(): string {
    return this.get('remote', 'python_executable')?.trim() || 'python3';
  }

  /** `[remote] ssh_config`: the OpenSSH client configuration, default ~/.ssh/config (which need not exist; one named here must). */
  get sshConfigFile(): string {
    return this.#existingPath('remote', 'ssh_config') ?? join(homedir(), '.ssh', 'config');
  }

  get identityFile(): string | undefined {
    return this.#existingPath('remote', 'identity_file');
  }

  /** A file the configuration names explicitly: a missing one is an error, not a default. */
  #existingPath(section: string, key: string): string | undefined {
    const path = this.getPath(section, key);
    if (path !== undefined && !existsSync(path)) throw new ConfigError(this.file, `${this.#where(section, key)}: ${path} does not exist`);
    return path;
  }

  get acceptNewHostKeys(): boolean {
    return this.getBool('remote', 'accept_new_host_keys', false);
  }

  /** Seconds for TCP connect, handshake and authentication, unless ssh_config's ConnectTimeout says otherwise. */
  get connectTimeout(): number {
    return this.getNumber('remote', 'connect_timeout', 10, { min: 0.1 });
  }

  /** Exec channels per SSH connection: at most the server's MaxSessions (OpenSSH default 10). */
  get sessionsPerConnection(): number {
    return this.getNumber('remote', 'max_sessions', 10, { integer: true, min: 1 });
  }

  get connectionsPerHost(): number {
    return this.getNumber('remote', 'max_connections_per_host', 4, { integer: true, min: 1 });
  }

  /** A dead host is noticed after keepalive_interval x keepalive_count_max seconds. */
  get keepaliveInterval(): number {
    return this.getNumber('remote', 'keepalive_interval', 5, { min: 0.5 });
  }

  get keepaliveCountMax(): number {
    return this.getNumber('remote', 'keepalive_count_max', 3, { integer: true, min: 1 });
  }

  /** The hosts share no filesystem with this machine: every run deploys first (pipeline deploy) and runs the deployed node scripts. */
  get deploy(): boolean {
    return this.getBool('remote', 'deploy', false);
  }

  /** Copies of staged jobs' files to or from one host at once. */
  get transfersPerHost(): number {
    return this.getNumber('remote', 'max_transfers_per_node', 4, { integer: true, min: 1 });
  }

  /** Where the built framework lives on the hosts (a leading `~` is their user's home); default: the same path as here (shared filesystem). */
  get installRoot(): string {
    const given = this.get('remote', 'install_root');
    return given !== undefined && given.trim() !== '' ? this.#hostPath(given) : frameworkRoot;
  }

  /**
   * Environment for jobs, set on their command line: PATH, LD_LIBRARY_PATH and PYTHONPATH as the
   * master has them, plus `[remote] environment` entries (`NAME` takes the master's value, `NAME=value` sets it).
   */
  get environment(): Record<string, string> {
    const environment: Record<string, string> = {};
    for (const name of ['PATH', 'LD_LIBRARY_PATH', 'PYTHONPATH']) {
      const value = process.env[name];
      if (value !== undefined) environment[name] = value;
    }
    for (const entry of this.getList('remote', 'environment')) {
      const eq = entry.indexOf('=');
      const name = eq === -1 ? entry : entry.slice(0, eq);
      if (!isVariableName(name)) {
        throw new ConfigError(this.file, `${this.#where('remote', 'environment')}: ${JSON.stringify(name)} is not an environment variable name`);
      }
      const value = eq === -1 ? process.env[name] : entry.slice(eq + 1);
      if (value !== undefined) environment[name] = value;
    }
    return environment;
  }

  /** `[cluster] clusterdesc`, when set. */
  get clusterdesc(): string | undefined {
    return this.getPath('cluster', 'clusterdesc');
  }
}

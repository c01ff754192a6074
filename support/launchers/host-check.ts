/**
 * `pipeline hosts check`: can each host of the cluster run jobs? Per host, in parallel: the SSH
 * connection (reachable, host key known, authenticated), the `node` that jobs run with, the
 * framework under install_root, and the round-trip latency of a command. Hosts that
 * `[remote] method` runs on the control node are checked here, with the same commands.
 */
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { PipelineConfig } from '../config/pipeline-config.js';
import { execNode, hostPath, shellQuote } from '../protocol/shell-words.js';
import { AGENT_PROTOCOL_VERSION } from '../agent/agent-protocol.js';
import { frameworkRoot } from '../config/framework-paths.js';
import { makeBundle, userProjects } from '../deploy/deploy-bundle.js';
import { createLaunchers, type Launcher } from './launcher-choice.js';
import { SshLauncher, type SshLauncherOptions } from './ssh/ssh-launcher.js';
import { ChannelRefusedError, ConnectError, type ExecChannel, type SshConnection } from './ssh/connection.js';

/** One host's verdict; `null` means not checked (an earlier step failed, or not applicable to a local host). */
export interface HostCheckResult {
  host: string;
  ok: boolean;
  reachable: boolean | null;
  authenticated: boolean | null;
  /** The host key is in known_hosts (or was accepted under accept-new). */
  hostKey: boolean | null;
  /** `node --version` of `[remote] node_executable` there, e.g. `v20.19.0`. */
  node: string | null;
  /** `<install_root>/dist/support/node/runtime.js` is readable there. */
  framework: boolean | null;
  /** The protocol version the host's agent greets with (issue 16); null when it does not start. */
  agent: number | null;
  /** The version `pipeline deploy` made current under install_root there; null when none (or install_root is the framework's own directory). */
  deployed: string | null;
  /** Whether that is the version this master would deploy; null when nothing is deployed there. */
  deployedCurrent: boolean | null;
  /** Median round trip of a `true` command, in milliseconds. */
  latencyMs: number | null;
  /** What is wrong, one line (several problems joined with `; `); null when ok. */
  error: string | null;
}

export interface HostCheckOptions {
  /** Called for a host key accepted under accept-new. */
  onNewHostKey?: SshLauncherOptions['onNewHostKey'];
  /** Seconds one check command may take once connected (default 15). */
  commandTimeout?: number;
}

const LATENCY_SAMPLES = 5;
/** Hosts checked at once; SSH handshakes are further limited by the launcher. */
const CONCURRENT_HOSTS = 64;

interface CommandResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs one command on the host and reads its output; throws with a one-line message when it cannot. */
type RunCommand = (command: string) => Promise<CommandResult>;

class CheckFailed extends Error {}

function collect(stream: Readable, into: { text: string }): void {
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (into.text.length < 64 * 1024) into.text += chunk;
  });
}

/** A command over an exec channel of an open connection. */
function sshRunner(connection: SshConnection, timeoutMs: number): RunCommand {
  return async (command) => {
    const started = performance.now();
    let exec: ExecChannel;
    for (let attempt = 1; ; attempt++) {
      try {
        exec = await connection.exec(command);
        break;
      } catch (error) {
        // A refused channel is back-pressure (sshd frees a session slot a little after a close).
        if (error instanceof ChannelRefusedError && !connection.isClosed && attempt < 10) await delay(20 * attempt);
        else throw new CheckFailed(`cannot run "${command}" there: ${messageOf(error)}`);
      }
    }
    const { channel } = exec;
    channel.on('error', () => {});
    const stdout = { text: '' };
    const stderr = { text: '' };
    collect(channel, stdout);
    collect(channel.stderr, stderr);
    channel.end(); // no input
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      new Promise<'closed'>((resolve) => channel.once('close', () => resolve('closed'))),
      connection.closed.then(() => 'lost' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    const ms = performance.now() - started;
    if (outcome === 'timeout') {
      channel.close();
      throw new CheckFailed(`no answer to "${command}" within ${timeoutMs / 1000} s`);
    }
    if (!exec.exit) throw new CheckFailed(`connection lost while running "${command}"`);
    return { ...exec.exit, stdout: stdout.text, stderr: stderr.text, ms };
  };
}

/** A command on the control node, through the local launcher (`/bin/sh -c`). */
function localRunner(launcher: Launcher, host: string, timeoutMs: number): RunCommand {
  return async (command) => {
    const started = performance.now();
    const launched = await launcher.start(host, command);
    const stdout = { text: '' };
    const stderr = { text: '' };
    collect(launched.stdout, stdout);
    collect(launched.stderr, stderr);
    launched.stdin.end();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      launched.terminate(500);
    }, timeoutMs);
    const status = await launched.exited;
    clearTimeout(timer);
    const ms = performance.now() - started;
    if (timedOut) throw new CheckFailed(`no answer to "${command}" within ${timeoutMs / 1000} s`);
    return { code: status.code, signal: status.signal, stdout: stdout.text, stderr: stderr.text, ms };
  };
}

function firstLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).find((line) => line !== '') ?? '';
}

function exitText(result: CommandResult): string {
  return result.signal ? `signal ${result.signal}` : `exit ${result.code}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface Probe {
  nodeCommand: string;
  nodeExecutable: string;
  frameworkFile: string;
  /** `[DEFAULT] working_directory` as the hosts see it (`~` is their user's home). */
  workingDirectory: string;
  /** Starts the host's agent with nothing on its stdin: it greets and exits. */
  agentCommand: string;
  /** Whether jobs go through the agent (`[remote] dispatch = agent`): then an agent that does not start is a problem. */
  agentExpected: boolean;
  /** install_root and the version this master deploys, when the framework is deployed there rather than shared. */
  deployment?: { installRoot: string; version: string };
}

/** node, framework and latency, on a host that can run commands; fills `result`. */
async function probe(run: RunCommand, setup: Probe, result: HostCheckResult, problems: string[]): Promise<void> {
  try {
    const version = await run(setup.nodeCommand);
    const text = firstLine(version.stdout);
    if (version.code === 0 && /^v\d+/.test(text)) result.node = text;
    else if (version.code === 127 || version.code === 126) problems.push(`node not found: ${setup.nodeExecutable} (${firstLine(version.stderr) || exitText(version)})`);
    else problems.push(`${setup.nodeExecutable} --version failed: ${firstLine(version.stderr) || text || exitText(version)}`);
  } catch (error) {
    problems.push(messageOf(error));
  }
  try {
    const test = await run(`test -r ${hostPath(setup.frameworkFile)}`);
    result.framework = test.code === 0;
    if (!result.framework) problems.push(`framework missing at ${setup.frameworkFile}`);
  } catch (error) {
    problems.push(messageOf(error));
  }
  try {
    const agent = await run(setup.agentCommand);
    let hello: { t?: unknown; v?: unknown } | undefined;
    try {
      hello = JSON.parse(firstLine(agent.stdout)) as { t?: unknown; v?: unknown };
    } catch {
      // not an agent's greeting: said below
    }
    if (hello?.t === 'hello' && Number.isInteger(hello.v)) {
      result.agent = hello.v as number;
      if (result.agent !== AGENT_PROTOCOL_VERSION) problems.push(`the agent there speaks protocol ${result.agent}, this master ${AGENT_PROTOCOL_VERSION}`);
    } else if (setup.agentExpected) {
      problems.push(`the agent does not start there (${firstLine(agent.stderr) || exitText(agent)}); its jobs would run one channel each`);
    }
  } catch (error) {
    problems.push(messageOf(error));
  }
  if (setup.deployment) {
    try {
      const link = await run(`readlink ${hostPath(`${setup.deployment.installRoot}/current`)}`);
      const target = firstLine(link.stdout);
      if (link.code === 0 && target.startsWith('versions/')) {
        result.deployed = target.slice('versions/'.length);
        result.deployedCurrent = result.deployed === setup.deployment.version;
        if (!result.deployedCurrent) problems.push(`deployed version ${result.deployed} is not this master's ${setup.deployment.version}; run pipeline deploy`);
      }
    } catch (error) {
      problems.push(messageOf(error));
    }
  }
  try {
    // Every job starts by making it: a host where it cannot be made fails every job (as another user, a path under /root).
    const made = await run(`mkdir -p ${hostPath(setup.workingDirectory)} && test -w ${hostPath(setup.workingDirectory)}`);
    if (made.code !== 0) problems.push(`working_directory ${setup.workingDirectory} cannot be made there: ${firstLine(made.stderr) || 'not writable'}`);
  } catch (error) {
    problems.push(messageOf(error));
  }
  try {
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const round = await run('true');
      if (round.code !== 0) throw new CheckFailed(`"true" failed there: ${firstLine(round.stderr) || exitText(round)}`);
      samples.push(round.ms);
    }
    result.latencyMs = Math.round(median(samples) * 10) / 10;
  } catch (error) {
    problems.push(messageOf(error));
  }
}

/**
 * Checks every host in parallel and resolves with one result per host, in the order given.
 * Reads every setting first: a configuration error (ConfigError) is thrown before any host is contacted.
 * Every connection is closed before it resolves.
 */
export async function checkHosts(config: PipelineConfig, hosts: string[], options: HostCheckOptions = {}): Promise<HostCheckResult[]> {
  const nodeExecutable = config.nodeExecutable;
  const environment = config.environment;
  const installRoot = config.installRoot.replace(/\/+$/, '');
  const frameworkFile = `${installRoot}/dist/support/node/runtime.js`;
  const timeoutMs = (options.commandTimeout ?? 15) * 1000;
  // The same command a job's node runs as: the job environment, then exec node.
  const setup: Probe = {
    nodeExecutable,
    frameworkFile,
    nodeCommand: execNode(nodeExecutable, environment, ['--version']),
    workingDirectory: config.hostWorkingDirectory,
    agentCommand: `${execNode(nodeExecutable, environment, [`${installRoot}/dist/support/agent/agent.js`])} </dev/null`,
    agentExpected: config.dispatchMode === 'agent',
    ...(installRoot === frameworkRoot ? {} : { deployment: { installRoot, version: makeBundle(userProjects(config.recipeDirectories)).version } }),
  };

  const launchers = createLaunchers(config, options.onNewHostKey);
  const assigned = hosts.map((host) => ({ host, launcher: launchers.for(host) }));
  // Resolve every SSH target now: a bad ssh_config entry is a configuration error, not a host failure.
  for (const { host, launcher } of assigned) if (launcher instanceof SshLauncher) launcher.resolveTarget(host);

  const checkOne = async (host: string, launcher: Launcher): Promise<HostCheckResult> => {
    const result: HostCheckResult = {
      host, ok: false, reachable: null, authenticated: null, hostKey: null, node: null, framework: null, agent: null, deployed: null, deployedCurrent: null, latencyMs: null, error: null,
    };
    const problems: string[] = [];
    if (!(launcher instanceof SshLauncher)) {
      result.reachable = true; // the control node itself: no connection, no host key, no login
      await probe(localRunner(launcher, host, timeoutMs), setup, result, problems);
    } else {
      let connection: SshConnection | undefined;
      try {
        connection = await launcher.connect(host);
        result.reachable = result.hostKey = result.authenticated = true;
      } catch (error) {
        const failure = error instanceof ConnectError ? error.failure : 'unreachable';
        result.reachable = failure === 'host-key' || failure === 'auth';
        if (failure === 'host-key') result.hostKey = false;
        if (failure === 'auth') {
          result.hostKey = true;
          result.authenticated = false;
        }
        problems.push(messageOf(error));
      }
      if (connection) {
        try {
          await probe(sshRunner(connection, timeoutMs), setup, result, problems);
        } finally {
          connection.end();
          await Promise.race([connection.closed, delay(2000, undefined, { ref: false })]);
        }
      }
    }
    result.ok = problems.length === 0;
    result.error = problems.length > 0 ? problems.join('; ') : null;
    return result;
  };

  const limit = pLimit(CONCURRENT_HOSTS);
  try {
    return await Promise.all(assigned.map(({ host, launcher }) => limit(() => checkOne(host, launcher))));
  } finally {
    await launchers.close();
  }
}

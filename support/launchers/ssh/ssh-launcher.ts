/**
 * The ssh launcher: per host a small pool of ssh2 connections, each carrying up to
 * `sessionsPerConnection` exec channels. A refused channel open is back-pressure: the pool
 * learns the server's real session limit, waits and retries; it never fails the job. So is a
 * refused or dropped handshake while another connection to the host is up (sshd's MaxStartups
 * drops handshakes beyond its limit): the pool learns how many connections the host takes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type ssh2 from 'ssh2';
import { KILL_GRACE_MS } from '../../protocol/process-group.js';
import { HostFileError, type HostFiles } from '../host-files.js';
import { SftpFiles } from './sftp-files.js';
import { LaunchError, outputOf, RunningProcesses, type ExitStatus, type LaunchedProcess, type Launcher } from '../launcher.js';
import type { SshClientConfig, SshTarget } from './client-config.js';
import { ChannelRefusedError, ConnectError, SshConnection, type ClientChannel, type ConnectionOptions, type ExecChannel } from './connection.js';

export interface SshLauncherOptions {
  clientConfig: SshClientConfig;
  /** Channels per connection; keep at or under the server's MaxSessions (OpenSSH: 10). */
  sessionsPerConnection: number;
  connectionsPerHost: number;
  /** Seconds between keepalives, and how many may go unanswered before the host counts as dead. */
  keepaliveInterval: number;
  keepaliveCountMax: number;
  /** SSH handshakes in flight at once over all hosts (each costs the master a few ms of CPU). */
  concurrentHandshakes: number;
  /** SSH handshakes in flight at once to one server: sshd's MaxStartups (10 by default) drops more. */
  handshakesPerHost: number;
  /** How long a host may refuse every new session before the job fails. */
  sessionWaitSeconds?: number;
  onNewHostKey?: ConnectionOptions['onNewHostKey'];
}

/** `user@host:port` as ProxyJump writes a hop. */
function parseHop(hop: string): { alias: string; user?: string; port?: number } {
  const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop);
  if (!match) return { alias: hop };
  return { user: match[1], alias: match[2]!.replace(/^\[|\]$/g, ''), port: match[3] ? Number(match[3]) : undefined };
}

class HostPool {
  readonly #alias: string;
  readonly #launcher: SshLauncher;
  #connections: SshConnection[] = [];
  #connecting: Promise<SshConnection> | undefined;
  #cap: number;
  /** Connections the host takes at once: the configured most, lowered when a handshake is refused while others are up. */
  #connectionCap: number;
  #waiters: Array<() => void> = [];

  constructor(alias: string, launcher: SshLauncher) {
    this.#alias = alias;
    this.#launcher = launcher;
    this.#cap = launcher.options.sessionsPerConnection;
    this.#connectionCap = launcher.options.connectionsPerHost;
  }

  /** A failed connection attempt that only says the host is busy: the jobs wait for the connections it has. */
  #isBackPressure(error: unknown): boolean {
    return error instanceof ConnectError && (error.failure === 'unreachable' || error.failure === 'timeout') && this.#connections.some((c) => !c.isClosed);
  }

  open(command: string): Promise<{ exec: ExecChannel; connection: SshConnection }> {
    return this.#openChannel(async (connection) => ({ exec: await connection.exec(command), connection }));
  }

  /** An SFTP session on one of the host's connections, holding a session slot until `release`. */
  openSftp(): Promise<{ sftp: ssh2.SFTPWrapper; connection: SshConnection }> {
    return this.#openChannel(async (connection) => ({ sftp: await connection.sftp(), connection }));
  }

  async #openChannel<T>(open: (connection: SshConnection) => Promise<T>): Promise<T> {
    const giveUpAt = Date.now() + (this.#launcher.options.sessionWaitSeconds ?? 120) * 1000;
    for (let attempt = 0; ; attempt++) {
      const connection = await this.#slot();
      try {
        return await open(connection);
      } catch (error) {
        this.release(connection);
        if (!(error instanceof ChannelRefusedError)) throw error;
        // sshd frees a session slot a little after the channel closes: learn, wait, retry.
        if (!connection.isClosed) this.#cap = Math.max(1, Math.min(this.#cap, connection.active));
        if (Date.now() > giveUpAt) {
          throw new LaunchError(this.#alias, `${this.#alias} refused every new SSH session for ${this.#launcher.options.sessionWaitSeconds ?? 120} s (${error.message})`);
        }
        await delay(Math.min(10 * 2 ** attempt, 250) * (0.5 + Math.random()));
      }
    }
  }

  release(connection: SshConnection): void {
    connection.active--;
    this.#waiters.shift()?.();
  }

  async #slot(): Promise<SshConnection> {
    for (;;) {
      this.#connections = this.#connections.filter((c) => !c.isClosed);
      let best: SshConnection | undefined;
      for (const c of this.#connections) if (c.active < this.#cap && (!best || c.active < best.active)) best = c;
      if (best) {
        best.active++;
        return best;
      }
      if (this.#connecting) {
        try {
          await this.#connecting; // its failure is every waiting job's failure when the host is unreachable
        } catch (error) {
          if (!this.#isBackPressure(error)) throw error;
        }
        continue;
      }
      if (this.#connections.length < this.#connectionCap) {
        this.#connecting = this.#launcher.connect(this.#alias);
        try {
          const connection = await this.#connecting;
          this.#connections.push(connection);
          void connection.closed.then(() => this.#wakeAll());
        } catch (error) {
          if (!this.#isBackPressure(error)) throw error;
          this.#connectionCap = Math.max(1, this.#connections.filter((c) => !c.isClosed).length);
        } finally {
          this.#connecting = undefined;
        }
        this.#wakeAll();
        continue;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  close(): void {
    for (const connection of this.#connections) connection.end();
  }
}

class SshProcess implements LaunchedProcess {
  readonly #channel: ClientChannel;
  readonly exited: Promise<ExitStatus>;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(exec: ExecChannel, connection: SshConnection, release: () => void) {
    const channel = exec.channel;
    this.#channel = channel;
    channel.on('error', () => {});
    // The main process ended: EOF on stdin lets the job's guard clear away anything it left running.
    if (exec.exit) channel.end();
    else channel.once('exit', () => channel.end());
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(this.#killTimer);
        release();
        // No exit status: the connection dropped (or the server closed the channel) first.
        resolve(exec.exit ?? { code: null, signal: null, connectionLost: true });
      };
      channel.once('close', finish);
      void connection.closed.then(() => setImmediate(finish));
    });
  }

  get stdin() { return this.#channel; }
  get stdout() { return this.#channel; }
  get stderr() { return this.#channel.stderr; }

  terminate(graceMs: number): void {
    // EOF on stdin makes a node runtime kill its process group; a signal reaches plain commands.
    this.#channel.end();
    this.#signal('TERM');
    clearTimeout(this.#killTimer);
    this.#killTimer = setTimeout(() => {
      this.#signal('KILL');
      this.#channel.close();
    }, graceMs);
    this.#killTimer.unref();
  }

  #signal(name: string): void {
    try {
      this.#channel.signal(name);
    } catch {
      // the channel is already closed
    }
  }
}

export class SshLauncher implements Launcher {
  readonly name = 'ssh';
  readonly options: SshLauncherOptions;
  readonly #pools = new Map<string, HostPool>();
  readonly #handshakes: LimitFunction;
  /** Per server (hostname:port, so hops and aliases of one server share it). */
  readonly #serverHandshakes = new Map<string, LimitFunction>();
  readonly #running = new RunningProcesses<SshProcess>();
  readonly #hops = new Set<SshConnection>();
  readonly #homes = new Map<string, Promise<string>>();

  constructor(options: SshLauncherOptions) {
    this.options = options;
    this.#handshakes = pLimit(options.concurrentHandshakes);
  }

  resolveTarget(alias: string): SshTarget {
    return this.options.clientConfig.resolve(alias);
  }

  /** Opens one connection, waiting for a handshake slot of its server (MaxStartups counts per server). */
  #open(target: SshTarget, options: ConnectionOptions): Promise<SshConnection> {
    const server = `${target.hostname}:${target.port}`;
    let limit = this.#serverHandshakes.get(server);
    if (!limit) this.#serverHandshakes.set(server, (limit = pLimit(this.options.handshakesPerHost)));
    return limit(() => SshConnection.open(target, options));
  }

  /** Opens a new connection to `alias`, through its ProxyJump hops if it has any. */
  connect(alias: string): Promise<SshConnection> {
    return this.#handshakes(async () => {
      const target = this.resolveTarget(alias);
      const options: ConnectionOptions = {
        keepaliveInterval: this.options.keepaliveInterval,
        keepaliveCountMax: this.options.keepaliveCountMax,
        onNewHostKey: this.options.onNewHostKey,
      };
      let via: SshConnection | undefined;
      for (const hop of target.proxyJump) {
        const { alias: hopAlias, user, port } = parseHop(hop);
        const hopTarget = { ...this.resolveTarget(hopAlias), ...(user ? { user } : {}), ...(port ? { port } : {}) };
        via = await this.#open(hopTarget, { ...options, via });
        this.#hops.add(via);
      }
      const connection = await this.#open(target, { ...options, via });
      if (via) {
        const hop = via;
        void connection.closed.then(() => {
          hop.end();
          this.#hops.delete(hop);
        });
      }
      return connection;
    });
  }

  async start(host: string, command: string): Promise<LaunchedProcess> {
    const pool = this.#pool(host);
    const { exec, connection } = await pool.open(command);
    const owner = pool;
    return this.#running.track(new SshProcess(exec, connection, () => owner.release(connection)));
  }

  /** The host's files over SFTP, on a session slot of its pool until `close()`. */
  async files(host: string): Promise<HostFiles> {
    // $HOME first: asking for it later, while this session holds a slot, could wait on a slot that sessions like it hold.
    await this.#home(host);
    const { sftp, connection } = await this.#pool(host).openSftp();
    const pool = this.#pool(host);
    return new SftpFiles(host, sftp, connection, () => pool.release(connection), () => this.#home(host));
  }

  /** `$HOME` of the user the host's jobs run as, asked once per host. */
  #home(host: string): Promise<string> {
    let home = this.#homes.get(host);
    if (!home) {
      home = (async () => {
        const { stdout: text } = await outputOf(await this.start(host, 'printf %s "$HOME"'));
        if (!text.startsWith('/')) throw new HostFileError(host, '~', 'failed', `cannot tell the home directory on ${host} ($HOME is ${JSON.stringify(text)})`);
        return text;
      })();
      home.catch(() => this.#homes.delete(host));
      this.#homes.set(host, home);
    }
    return home;
  }

  #pool(host: string): HostPool {
    let pool = this.#pools.get(host);
    if (!pool) this.#pools.set(host, (pool = new HostPool(host, this)));
    return pool;
  }

  /** Opens a fresh connection to the host (not through its pool, whose connections may be the dead ones) and closes it. */
  async probe(host: string): Promise<void> {
    const connection = await this.connect(host);
    connection.end();
  }

  async close(graceMs = KILL_GRACE_MS): Promise<void> {
    await this.#running.terminateAll(graceMs);
    for (const pool of this.#pools.values()) pool.close();
    for (const hop of this.#hops) hop.end();
  }
}

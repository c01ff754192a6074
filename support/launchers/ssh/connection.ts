/**
 * One authenticated ssh2 connection to a host: TCP_NODELAY, keepalives, host-key verification,
 * keys and agent, ProxyJump. Counts its open channels so the pool can stay under MaxSessions.
 */
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import { LaunchError } from '../launcher.js';
import type { SshTarget } from './client-config.js';
import { fingerprint, KnownHosts, keyTypeOf } from './known-hosts.js';

const { Client, utils } = ssh2;
export type ClientChannel = ssh2.ClientChannel;

export interface ExecChannel {
  channel: ClientChannel;
  /** Set once the server sent exit-status or exit-signal. */
  exit: { code: number | null; signal: string | null } | undefined;
}

/** Why a connection could not be made; `host-key` failures are never retried. */
export type ConnectFailure = 'unreachable' | 'timeout' | 'auth' | 'host-key';

export class ConnectError extends LaunchError {
  readonly failure: ConnectFailure;
  constructor(host: string, failure: ConnectFailure, message: string, options?: { cause?: unknown }) {
    super(host, message, { ...options, problem: failure });
    this.failure = failure;
  }
}

/** The server refused a new session on a live connection (MaxSessions): back-pressure, not failure. */
export class ChannelRefusedError extends Error {}

export interface ConnectionOptions {
  keepaliveInterval: number; // seconds
  keepaliveCountMax: number;
  /** Called for a key accepted under accept-new, to log it. */
  onNewHostKey?: (target: SshTarget, file: string, fingerprint: string) => void;
  /** An open connection to the previous hop, for ProxyJump. */
  via?: SshConnection;
}

function describeTarget(target: SshTarget): string {
  return `${target.user}@${target.alias} (${target.hostname}:${target.port})`;
}

function loadKeys(files: string[]): Array<{ file: string; key: Buffer }> {
  const keys: Array<{ file: string; key: Buffer }> = [];
  for (const file of files) {
    let text: Buffer;
    try {
      text = readFileSync(file);
    } catch {
      continue; // OpenSSH skips identity files that do not exist
    }
    const parsed = utils.parseKey(text);
    if (parsed instanceof Error) continue; // encrypted or not a key: the agent may still have it
    keys.push({ file, key: text });
  }
  return keys;
}

export class SshConnection {
  readonly target: SshTarget;
  readonly #client = new Client();
  /** Channels open or being opened. */
  active = 0;
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(target: SshTarget) {
    this.target = target;
    this.closed = new Promise((resolve) => this.#client.once('close', () => {
      this.#closed = true;
      resolve();
    }));
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  static async open(target: SshTarget, options: ConnectionOptions): Promise<SshConnection> {
    const connection = new SshConnection(target);
    await connection.#connect(options);
    return connection;
  }

  async #socket(options: ConnectionOptions, deadline: number): Promise<Socket | Duplex> {
    const { target } = this;
    if (options.via) {
      const via = options.via;
      return new Promise((resolve, reject) => {
        via.#client.forwardOut('127.0.0.1', 0, target.hostname, target.port, (error, stream) => {
          if (error) reject(new ConnectError(target.alias, 'unreachable', `cannot reach ${describeTarget(target)} through ${via.target.alias}: ${error.message}`, { cause: error }));
          else resolve(stream);
        });
      });
    }
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: target.hostname, port: target.port });
      socket.setNoDelay(true); // without it every exec waits on delayed ACKs
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectError(target.alias, 'timeout', `cannot connect to ${describeTarget(target)}: no answer within ConnectTimeout ${target.connectTimeout} s`));
      }, Math.max(0, deadline - Date.now()));
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = error.code === 'ECONNREFUSED' ? 'connection refused (is sshd running?)' : error.message;
        reject(new ConnectError(target.alias, 'unreachable', `cannot connect to ${describeTarget(target)}: ${why}`, { cause: error }));
      });
    });
  }

  async #connect(options: ConnectionOptions): Promise<void> {
    const { target } = this;
    const deadline = Date.now() + target.connectTimeout * 1000;
    const sock = await this.#socket(options, deadline);
    const knownHosts = new KnownHosts(target.knownHostsFiles);
    let hostKeyProblem: string | undefined;
    const hostVerifier = (blob: Buffer): boolean => {
      // `StrictHostKeyChecking no` accepts an unknown key (recorded and warned about, as accept-new);
      // a changed or revoked key is refused whatever ssh_config says: it is what an attacker presents.
      const verdict = knownHosts.check(target.hostname, target.port, blob, target.alias === target.hostname ? [] : [target.alias]);
      const print = `${keyTypeOf(blob)} ${fingerprint(blob)}`;
      switch (verdict.status) {
        case 'known':
          return true;
        case 'changed':
          hostKeyProblem = `host key of ${target.alias} (${target.hostname}:${target.port}) has CHANGED: it presented ${print}, which differs from ${verdict.file}:${verdict.line}; if the host was reinstalled, remove that line`;
          return false;
        case 'revoked':
          hostKeyProblem = `host key of ${target.alias} is revoked in ${verdict.file}:${verdict.line}`;
          return false;
        case 'unknown':
          if (target.hostKeyPolicy === 'accept-new' || target.hostKeyPolicy === 'no') {
            const file = knownHosts.add(target.hostname, target.port, blob);
            options.onNewHostKey?.(target, file, print);
            return true;
          }
          hostKeyProblem = `host key of ${target.alias} (${target.hostname}:${target.port}) is unknown (${print}, not in ${target.knownHostsFiles.join(', ')}); accept it with StrictHostKeyChecking accept-new in ssh_config or [remote] accept_new_host_keys = true`;
          return false;
      }
    };
    const keys = loadKeys(target.identityFiles);
    const agent = process.env.SSH_AUTH_SOCK;
    // Tried in order: the keys that exist and are not encrypted, then the agent.
    const methods: Array<Record<string, unknown>> = [
      ...keys.map(({ key }) => ({ type: 'publickey', username: target.user, key })),
      ...(agent ? [{ type: 'agent', username: target.user, agent }] : []),
    ];
    if (methods.length === 0) methods.push({ type: 'none', username: target.user });

    await new Promise<void>((resolve, reject) => {
      const client = this.#client;
      let failed = false;
      const onError = (error: Error & { level?: string }) => {
        if (failed) return; // a handshake timeout is followed by "connection lost" as the socket goes
        failed = true;
        client.removeListener('ready', onReady);
        sock.destroy();
        if (hostKeyProblem) reject(new ConnectError(target.alias, 'host-key', hostKeyProblem, { cause: error }));
        else if (error.level === 'client-authentication') {
          const tried = [...keys.map((k) => k.file), ...(agent ? ['the SSH agent'] : [])].join(', ') || 'no key found';
          reject(new ConnectError(target.alias, 'auth', `authentication failed for ${describeTarget(target)}: the server refused ${tried}`, { cause: error }));
        } else if (error.level === 'client-timeout') {
          reject(new ConnectError(target.alias, 'timeout', `cannot connect to ${describeTarget(target)}: no SSH handshake within ConnectTimeout ${target.connectTimeout} s`, { cause: error }));
        } else reject(new ConnectError(target.alias, 'unreachable', `cannot connect to ${describeTarget(target)}: ${error.message}`, { cause: error }));
      };
      const onReady = () => {
        client.removeListener('error', onError);
        client.on('error', () => {}); // later errors end in 'close', which the channels see
        resolve();
      };
      client.once('ready', onReady);
      client.on('error', onError);
      client.connect({
        sock: sock as Socket,
        username: target.user,
        authHandler: methods,
        hostVerifier,
        readyTimeout: Math.max(1000, deadline - Date.now()),
        keepaliveInterval: options.keepaliveInterval * 1000,
        keepaliveCountMax: options.keepaliveCountMax,
      } as unknown as ssh2.ConnectConfig);
    });
  }

  /**
   * Opens an exec channel; ChannelRefusedError when the server has no session slot free.
   * The exit status is caught at once: for a quick command it arrives in the same packet
   * batch as the exec reply, before any later listener could see it.
   */
  exec(command: string): Promise<ExecChannel> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new ChannelRefusedError('connection closed'));
        return;
      }
      try {
        this.#client.exec(command, (error, channel) => {
          if (!error) {
            const exec: ExecChannel = { channel, exit: undefined };
            channel.once('exit', (code: number | null, signal?: string) => {
              exec.exit = { code: code ?? null, signal: signal ?? null };
            });
            resolve(exec);
          }
          else if (/Channel open failure/.test(error.message) || this.#closed) reject(new ChannelRefusedError(error.message));
          else reject(new LaunchError(this.target.alias, `${this.target.alias} refused to run the command: ${error.message}`, { cause: error }));
        });
      } catch (error) {
        reject(new ChannelRefusedError((error as Error).message)); // "No response from server" / not connected
      }
    });
  }

  /** Opens an SFTP session (one channel, as an exec is); ChannelRefusedError when no session slot is free. */
  sftp(): Promise<ssh2.SFTPWrapper> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new ChannelRefusedError('connection closed'));
        return;
      }
      try {
        this.#client.sftp((error, sftp) => {
          if (!error) resolve(sftp);
          else if (/Channel open failure/.test(error.message) || this.#closed) reject(new ChannelRefusedError(error.message));
          else reject(new LaunchError(this.target.alias, `${this.target.alias} refused an SFTP session: ${error.message} (is the sftp subsystem enabled in sshd_config?)`, { cause: error }));
        });
      } catch (error) {
        reject(new ChannelRefusedError((error as Error).message));
      }
    });
  }

  end(): void {
    this.#client.end();
  }
}

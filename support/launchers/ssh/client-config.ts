/**
 * How to reach a host over SSH, from the OpenSSH client configuration (`[remote] ssh_config`,
 * default ~/.ssh/config) and pipeline.cfg: HostName, User, Port, IdentityFile,
 * UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout, ProxyJump.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import SSHConfig from 'ssh-config';
import { ConfigError } from '../../errors.js';

export type HostKeyPolicy = 'yes' | 'accept-new' | 'no';

export interface SshTarget {
  /** The name the recipe used. */
  alias: string;
  hostname: string;
  port: number;
  user: string;
  identityFiles: string[];
  knownHostsFiles: string[];
  hostKeyPolicy: HostKeyPolicy;
  /** Seconds allowed for TCP connect plus handshake and authentication. */
  connectTimeout: number;
  /** Hosts to go through, first to last (ProxyJump). */
  proxyJump: string[];
}

export interface SshDefaults {
  /** `[remote] identity_file`: a key used before ssh_config's. */
  identityFile?: string;
  /** `[remote] accept_new_host_keys = true`. */
  acceptNewHostKeys: boolean;
  connectTimeout: number;
  user?: string;
}

function expandTokens(path: string, values: { h: string; u: string; p: number; r: string }): string {
  const home = homedir();
  let expanded = path === '~' || path.startsWith('~/') ? home + path.slice(1) : path;
  expanded = expanded.replace(/%([%dhupr])/g, (_, token: string) => {
    switch (token) {
      case '%': return '%';
      case 'd': return home;
      case 'h': return values.h;
      case 'u': return userInfo().username;
      case 'p': return String(values.p);
      case 'r': return values.r;
      default: return _;
    }
  });
  return expanded;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function all(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(/\s+/)).filter(Boolean);
}

export class SshClientConfig {
  readonly file: string | undefined;
  readonly #config: ReturnType<typeof SSHConfig.parse>;
  readonly #defaults: SshDefaults;

  constructor(file: string | undefined, defaults: SshDefaults) {
    this.file = file && existsSync(file) ? file : undefined;
    this.#defaults = defaults;
    let text = '';
    if (this.file) {
      try {
        text = readFileSync(this.file, 'utf8');
      } catch (error) {
        throw new ConfigError(this.file, `${this.file}: cannot read: ${(error as Error).message}`, { cause: error });
      }
    }
    try {
      this.#config = SSHConfig.parse(text);
    } catch (error) {
      throw new ConfigError(this.file ?? 'ssh_config', `${this.file}: not a valid ssh_config file: ${(error as Error).message}`, { cause: error });
    }
  }

  resolve(alias: string): SshTarget {
    // compute() lower-cases directive names with ignoreCase, as OpenSSH reads them.
    const computed = this.#config.compute(alias, { ignoreCase: true } as never) as unknown as Record<string, string | string[]>;
    const where = `${this.file ?? 'ssh_config'}: Host ${alias}`;
    const hostname = first(computed.hostname)?.replace(/%h/g, alias) ?? alias;
    const portText = first(computed.port) ?? '22';
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(this.file ?? '', `${where}: Port ${portText} is not a port number`);
    const user = first(computed.user) ?? this.#defaults.user ?? userInfo().username;
    const tokens = { h: hostname, u: user, p: port, r: user };

    const configured = all(computed.identityfile).map((path) => expandTokens(path, tokens));
    const defaults = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => `${homedir()}/.ssh/${name}`);
    const identityFiles = [
      ...(this.#defaults.identityFile ? [expandTokens(this.#defaults.identityFile, tokens)] : []),
      ...(configured.length > 0 ? configured : defaults),
    ];
    const knownHosts = all(computed.userknownhostsfile).map((path) => expandTokens(path, tokens));
    const knownHostsFiles = knownHosts.length > 0 ? knownHosts : [`${homedir()}/.ssh/known_hosts`, `${homedir()}/.ssh/known_hosts2`];

    const strict = (first(computed.stricthostkeychecking) ?? '').toLowerCase();
    let hostKeyPolicy: HostKeyPolicy = this.#defaults.acceptNewHostKeys ? 'accept-new' : 'yes';
    if (strict === 'accept-new') hostKeyPolicy = 'accept-new';
    else if (strict === 'no' || strict === 'off') hostKeyPolicy = 'no';
    else if (strict === 'yes' || strict === 'ask') hostKeyPolicy = this.#defaults.acceptNewHostKeys ? 'accept-new' : 'yes';

    const timeoutText = first(computed.connecttimeout);
    const connectTimeout = timeoutText === undefined ? this.#defaults.connectTimeout : Number(timeoutText);
    if (!Number.isFinite(connectTimeout) || connectTimeout <= 0) {
      throw new ConfigError(this.file ?? '', `${where}: ConnectTimeout ${timeoutText} is not a number of seconds`);
    }
    const jump = first(computed.proxyjump);
    const proxyJump = jump && jump.toLowerCase() !== 'none' ? jump.split(',').map((hop) => hop.trim()).filter(Boolean) : [];
    return { alias, hostname, port, user, identityFiles, knownHostsFiles, hostKeyPolicy, connectTimeout, proxyJump };
  }
}

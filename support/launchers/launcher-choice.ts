/** Chooses the launcher for each host from `[remote] method`, and owns them for one run. */
import type { PipelineConfig, RemoteMethod } from '../config/pipeline-config.js';
import { SshClientConfig } from './ssh/client-config.js';
import { SshLauncher, type SshLauncherOptions } from './ssh/ssh-launcher.js';
import { LocalLauncher } from './local.js';
import { SlurmLauncher } from './slurm/slurm-launcher.js';
import { CustomCommandLauncher } from './custom-command.js';
import { LaunchError, type Launcher } from './launcher.js';

export type { Launcher, LaunchedProcess, ExitStatus } from './launcher.js';
export { LaunchError } from './launcher.js';

const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '::1', 'local']);

export function isLocalHost(host: string): boolean {
  return LOCAL_NAMES.has(host);
}

export type RemoteLauncherFactory = () => Launcher;

export class Launchers {
  readonly #method: RemoteMethod;
  readonly #local = new LocalLauncher();
  readonly #remoteFactory: RemoteLauncherFactory | undefined;
  #remote: Launcher | undefined;

  constructor(method: RemoteMethod, remoteFactory?: RemoteLauncherFactory) {
    this.#method = method;
    this.#remoteFactory = remoteFactory;
  }

  /**
   * `local` runs every host's jobs on the control node (hosts are labels); `auto` uses SSH except
   * for localhost; `ssh` always; `slurm` and `custom_cmdline` (the remote factory's launcher) for every host.
   */
  for(host: string): Launcher {
    if (this.#method === 'local' || (this.#method === 'auto' && isLocalHost(host))) return this.#local;
    if (!this.#remoteFactory) {
      throw new LaunchError(host, `host ${host} needs SSH, which this build does not have; set [remote] method = local to run its jobs on the control node`);
    }
    this.#remote ??= this.#remoteFactory();
    return this.#remote;
  }

  /** Stops every running job (TERM, then KILL after `graceMs`) and releases the connections. */
  async close(graceMs?: number): Promise<void> {
    await Promise.all([this.#local.close(graceMs), this.#remote?.close(graceMs)]);
  }
}

/**
 * The launchers a run (or `pipeline hosts check`) uses, from pipeline.cfg. Every setting is read
 * here, at once, so a bad key fails before any host is contacted.
 */
export function createLaunchers(config: PipelineConfig, onNewHostKey?: SshLauncherOptions['onNewHostKey'], methodOverride?: RemoteMethod): Launchers {
  if (methodOverride === 'local') return new Launchers('local');
  const options: SshLauncherOptions = {
    clientConfig: new SshClientConfig(config.sshConfigFile, {
      identityFile: config.identityFile,
      acceptNewHostKeys: config.acceptNewHostKeys,
      connectTimeout: config.connectTimeout,
    }),
    sessionsPerConnection: config.sessionsPerConnection,
    connectionsPerHost: config.connectionsPerHost,
    keepaliveInterval: config.keepaliveInterval,
    keepaliveCountMax: config.keepaliveCountMax,
    // MaxStartups (10 by default) counts per server: 8 per server stays under it. The overall cap
    // only bounds the master's own handshake work (one overall 8 made 1000 hosts 125 waves).
    concurrentHandshakes: 64,
    handshakesPerHost: 8,
    onNewHostKey,
  };
  const method = config.remoteMethod;
  if (method === 'slurm') return new Launchers(method, () => new SlurmLauncher());
  if (method === 'custom_cmdline') {
    const template = config.commandLineTemplate; // checked now: a bad template is exit 2 before any job
    const image = config.dockerImage;
    return new Launchers(method, () => new CustomCommandLauncher({ template, ...(image ? { image } : {}) }));
  }
  return new Launchers(method, () => new SshLauncher(options));
}

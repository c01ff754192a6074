/**
 * A pipeline workspace wired to a cluster of real sshd test hosts: the built framework is
 * deployed where the test user can read it (`[remote] install_root`), the user project is
 * readable by the test user, and pipeline.cfg points at the cluster's ssh_config.
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { startTestCluster, type TestCluster, type TestClusterOptions } from './ssh-hosts.js';
import { repoRoot, userProject, type Workspace } from './pipeline-cli.js';

export interface SshPipeline {
  cluster: TestCluster;
  ws: Workspace;
  installRoot: string;
  /** Rewrites pipeline.cfg with more `[remote]` keys (and any other sections after them). */
  configure(extraRemote?: string, extraSections?: string): void;
  /** Uses a copy of the cluster's ssh_config with `edit` applied (through `[remote] ssh_config`); returns its path. */
  sshConfigVariant(name: string, edit: (text: string) => string, extraRemote?: string): string;
  stop(): Promise<void>;
}

export async function startSshPipeline(options: TestClusterOptions = {}): Promise<SshPipeline> {
  const cluster = await startTestCluster(options);
  let ws: Workspace | undefined;
  try {
    const installRoot = join(cluster.dir, 'framework');
    mkdirSync(installRoot, { mode: 0o755 });
    cpSync(join(repoRoot, 'dist'), join(installRoot, 'dist'), { recursive: true });
    cpSync(join(repoRoot, 'package.json'), join(installRoot, 'package.json'));
    const work = join(cluster.dir, 'work');
    mkdirSync(work);
    chmodSync(work, 0o1777);
    const workspace = userProject();
    ws = workspace;
    chmodSync(workspace.dir, 0o755); // the test user reads the user's node scripts (a shared filesystem)
    const configure = (extraRemote = '', extraSections = '') => {
      // keys given in extraRemote replace the defaults below
      const given = new Set(extraRemote.split('\n').map((line) => line.split('=')[0]!.trim()).filter(Boolean));
      const defaults = [`ssh_config = ${cluster.sshConfigPath}`, `install_root = ${installRoot}`, 'connect_timeout = 5']
        .filter((line) => !given.has(line.split('=')[0]!.trim()));
      workspace.writeConfig([
        ...defaults,
        extraRemote,
        '',
        '[cluster]',
        `clusterdesc = ${join(workspace.dir, 'test.clusterdesc')}`,
        '',
        extraSections,
      ].join('\n'));
      workspace.write('pipeline.cfg', workspace.read('pipeline.cfg').replace(/^working_directory = .*$/m, `working_directory = ${work}`));
    };
    workspace.write('test.clusterdesc', `ClusterName = test\nCompute.Nodes = [ ${cluster.hosts.map((h) => h.alias).join(', ')} ]\n`);
    configure();
    return {
      cluster,
      ws: workspace,
      installRoot,
      configure,
      sshConfigVariant(name, edit, extraRemote = '') {
        const path = join(cluster.dir, `ssh_config.${name}`);
        writeFileSync(path, edit(readFileSync(cluster.sshConfigPath, 'utf8')));
        configure(`ssh_config = ${path}\n${extraRemote}`);
        return path;
      },
      async stop() {
        workspace.remove();
        await cluster.stop();
      },
    };
  } catch (error) {
    ws?.remove();
    await cluster.stop();
    throw error;
  }
}

/** A "host" on 127.0.0.9 that accepts TCP connections and never says a word. */
export async function startSilentHost(): Promise<{ port: number; stop(): void }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.9', resolve));
  return {
    port: (server.address() as { port: number }).port,
    stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

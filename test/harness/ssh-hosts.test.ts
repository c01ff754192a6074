import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startTestCluster, type TestCluster } from './ssh-hosts.js';

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ssh(cluster: TestCluster, alias: string, command: string, timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      'ssh',
      ['-F', cluster.sshConfigPath, '-o', 'BatchMode=yes', alias, command],
      { encoding: 'utf8', timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function tcpRefused(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: address, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** pid is running (exists and is not a zombie) */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function childrenTree(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(name)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) for (const c of byParent.get(queue.shift()!) ?? []) out.push(c), queue.push(c);
  return out;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('test harness: real sshd test hosts', function () {
  this.timeout(30_000);
  let cluster: TestCluster | undefined;

  before(async function () {
    this.timeout(300_000); // may have to apt-get install openssh-server on a fresh machine
    cluster = await startTestCluster();
  });

  after(async function () {
    await cluster?.stop();
  });

  it('starts three hosts on 127.0.0.2-4 with client config and known_hosts', function () {
    const c = cluster!;
    expect(c.hosts.map((h) => h.alias)).to.deep.equal(['node1', 'node2', 'node3']);
    expect(c.hosts.map((h) => h.address)).to.deep.equal(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    // As root a dedicated user, as anyone else that user: jobs log in as the sshd's own user.
    expect(c.user).to.equal(process.getuid?.() === 0 ? 'pipetest' : os.userInfo().username);
    const knownHosts = fs.readFileSync(c.knownHostsPath, 'utf8');
    const sshConfig = fs.readFileSync(c.sshConfigPath, 'utf8');
    for (const h of c.hosts) {
      expect(h.port).to.be.within(1024, 65535);
      expect(alive(h.pid), `sshd ${h.alias}`).to.equal(true);
      expect(h.hostKeyPublic).to.match(/^ssh-ed25519 AAAA[\w+/=]+$/);
      expect(knownHosts).to.contain(`[${h.address}]:${h.port} ${h.hostKeyPublic}\n`);
      expect(sshConfig).to.contain(`Host ${h.alias}\n  HostName ${h.address}\n  Port ${h.port}\n`);
      const conf = fs.readFileSync(h.sshdConfigPath, 'utf8');
      expect(conf).to.contain(`ListenAddress ${h.address}:${h.port}`);
      expect(conf).to.contain('MaxSessions 10');
    }
    expect(fs.readFileSync(c.userKeyPath, 'utf8')).to.contain('OPENSSH PRIVATE KEY');
    expect(fs.statSync(c.userKeyPath).mode & 0o077).to.equal(0);
  });

  it('logs in to node2 as the test user with the system ssh client', async function () {
    const c = cluster!;
    const r = await ssh(c, 'node2', 'echo $SSH_CONNECTION; id -un; echo $SSH_TEST_CLUSTER');
    expect(r.code, r.stderr).to.equal(0);
    const [conn, user, marker] = r.stdout.trim().split('\n');
    const fields = conn!.split(' ');
    expect(fields[2]).to.equal('127.0.0.3');
    expect(Number(fields[3])).to.equal(c.hosts[1]!.port);
    expect(user).to.equal(c.user);
    expect(marker).to.equal((c as TestCluster & { clusterId: string }).clusterId);
  });

  it('stopHost makes a host refuse connections and startHost brings it back', async function () {
    const c = cluster!;
    const node1 = c.hosts[0]!;
    const oldPid = node1.pid;
    await c.stopHost('node1');
    expect(alive(oldPid)).to.equal(false);
    expect(await tcpRefused(node1.address, node1.port)).to.equal(true);
    const refused = await ssh(c, 'node1', 'true');
    expect(refused.code).to.equal(255);
    expect(refused.stderr).to.match(/refused/i);
    // the other hosts are unaffected
    expect((await ssh(c, 'node2', 'true')).code).to.equal(0);

    await c.startHost('node1');
    expect(node1.pid).to.be.greaterThan(0).and.not.equal(oldPid);
    const r = await ssh(c, 'node1', 'echo $SSH_CONNECTION');
    expect(r.code, r.stderr).to.equal(0); // same host key: StrictHostKeyChecking still passes
    expect(r.stdout.split(' ')[2]).to.equal('127.0.0.2');
  });

  it('killHostSessions drops live sessions like a dead host; stop() reaps the orphans', async function () {
    const c = cluster!;
    const node3 = c.hosts[2]!;
    const client = spawn('ssh', ['-F', c.sshConfigPath, '-o', 'BatchMode=yes', 'node3', 'sleep 111'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const clientExit = new Promise<number | null>((r) => client.once('exit', (code) => r(code)));
    try {
      const sleeper = await waitFor('remote sleep 111', async () =>
        (await c.userProcesses()).find((p) => p.ours && p.cmd === 'sleep 111'),
      );
      expect(sleeper.ours).to.equal(true);
      const tree = childrenTree(node3.pid);
      const sessionSshds = tree.filter((pid) => comm(pid).startsWith('sshd'));
      expect(tree).to.include(sleeper.pid);
      expect(sessionSshds.length).to.be.greaterThan(0);

      await c.killHostSessions('node3');
      expect(await Promise.race([clientExit, new Promise((r) => setTimeout(() => r('hung'), 5000))])).to.equal(255);
      for (const pid of sessionSshds) expect(alive(pid), `session sshd ${pid}`).to.equal(false);
      expect(node3.pid).to.equal(0);
      expect(await tcpRefused(node3.address, node3.port)).to.equal(true);
      // the user's command survives as an orphan and is still attributed to the cluster
      const orphan = (await c.userProcesses()).find((p) => p.pid === sleeper.pid);
      expect(orphan?.ours).to.equal(true);

      await c.startHost('node3');
      expect((await ssh(c, 'node3', 'true')).code).to.equal(0);
    } finally {
      client.kill('SIGKILL');
    }
  });

  it('stop() kills every sshd and caused process and removes the directory', async function () {
    const c = cluster!;
    for (const h of c.hosts) expect(h.pid, h.alias).to.be.greaterThan(0);
    const tracked = c.hosts.flatMap((h) => [h.pid, ...childrenTree(h.pid)]);
    const userPids = (await c.userProcesses()).filter((p) => p.ours).map((p) => p.pid);
    expect(userPids.length).to.be.greaterThan(0); // the orphaned `sleep 111`
    await c.stop();
    for (const pid of [...tracked, ...userPids]) expect(alive(pid), `pid ${pid}`).to.equal(false);
    expect(fs.existsSync(c.dir)).to.equal(false);
    cluster = undefined;
  });
});

describe('test harness: sshd clean-up when the test process exits without stop()', function () {
  this.timeout(30_000);

  it('SIGKILLs the sshds and removes the directory from the exit handler', async function () {
    const harness = fileURLToPath(new URL('./ssh-hosts.ts', import.meta.url));
    const script = `
      import { startTestCluster } from ${JSON.stringify(harness)};
      const c = await startTestCluster({ hosts: 1, firstAddress: 20 });
      console.log(JSON.stringify({ pid: c.hosts[0].pid, dir: c.dir }));
      process.exit(0);
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { encoding: 'utf8', timeout: 20_000, cwd: fileURLToPath(new URL('../..', import.meta.url)) }, // tsx resolves from the project
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const { pid, dir } = JSON.parse(out.trim().split('\n').pop()!) as { pid: number; dir: string };
    expect(pid).to.be.greaterThan(0);
    await waitFor('orphaned sshd to die', () => !alive(pid) || undefined, 3000);
    expect(fs.existsSync(dir)).to.equal(false);
  });
});

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startSilentHost, startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';

interface JobOutput { host: string; state: string; failure: string | null; message: string | null; duration: number; server?: string }

describe('ssh launcher: host keys, authentication, unreachable hosts', function () {
  this.timeout(120_000);
  let p: SshPipeline;
  before(async () => { p = await startSshPipeline({ hosts: 3 }); });
  after(async () => { await p?.stop(); });
  afterEach(() => p.configure());

  const sshConfigVariant = (name: string, edit: (text: string) => string, extraRemote = ''): string => p.sshConfigVariant(name, edit, extraRemote);

  function knownHosts(name: string, text: string): string {
    const path = join(p.cluster.dir, `known_hosts.${name}`);
    writeFileSync(path, text);
    return path;
  }

  async function runWhere(hosts: string): Promise<{ code: number | null; jobs: JobOutput[]; stderr: string }> {
    const result = await p.ws.run(['run', 'where', '--fresh', '--hosts', hosts]);
    return { code: result.code, jobs: JSON.parse(result.stdout || '{"jobs":[]}').jobs, stderr: result.stderr };
  }

  it('refuses an unknown host key and says how to accept it', async () => {
    const empty = knownHosts('empty', '');
    sshConfigVariant('unknown', (t) => t.replaceAll(p.cluster.knownHostsPath, empty));
    const { code, jobs } = await runWhere('node1');
    expect(code).to.equal(1);
    expect(jobs[0]).to.include({ state: 'failed', failure: 'launch-failed' });
    expect(jobs[0]!.message).to.match(/host key of node1 \(127\.0\.0\.2:\d+\) is unknown \(ssh-ed25519 SHA256:\S+, not in .*known_hosts\.empty\); accept it with StrictHostKeyChecking accept-new/);
  });

  it('refuses a changed host key, naming the known_hosts file and line', async () => {
    const node1 = p.cluster.hosts[0]!;
    const other = p.cluster.hosts[1]!.hostKeyPublic.split(' ').slice(0, 2).join(' ');
    const wrong = knownHosts('changed', `# line 1\n[${node1.address}]:${node1.port} ${other}\n`);
    sshConfigVariant('changed', (t) => t.replaceAll(p.cluster.knownHostsPath, wrong));
    const { jobs } = await runWhere('node1');
    expect(jobs[0]).to.include({ state: 'failed', failure: 'launch-failed' });
    expect(jobs[0]!.message).to.match(new RegExp(`host key of node1 .* has CHANGED: .*differs from ${wrong.replace(/\./g, '\\.')}:2`));
  });

  it('refuses a changed host key under StrictHostKeyChecking no too; an unknown one is accepted with a warning naming its fingerprint', async () => {
    const node1 = p.cluster.hosts[0]!;
    const other = p.cluster.hosts[1]!.hostKeyPublic.split(' ').slice(0, 2).join(' ');
    const wrong = knownHosts('changed-no', `[${node1.address}]:${node1.port} ${other}\n`);
    sshConfigVariant('changed-no', (t) => t.replaceAll(p.cluster.knownHostsPath, wrong).replaceAll('StrictHostKeyChecking yes', 'StrictHostKeyChecking no'));
    const { jobs, stderr } = await runWhere('node1,node3');
    expect(jobs[0]).to.include({ state: 'failed', failure: 'launch-failed' });
    expect(jobs[0]!.message).to.match(new RegExp(`host key of node1 .* has CHANGED: .*differs from ${wrong.replace(/\./g, '\\.')}:1`));
    expect(jobs[1]).to.include({ state: 'succeeded' });
    expect(stderr).to.match(/accepted new host key of node3 \(ssh-ed25519 SHA256:\S+\) into /);
  });

  it('matches hashed known_hosts entries', async () => {
    const hashed = knownHosts('hashed', readFileSync(p.cluster.knownHostsPath, 'utf8'));
    execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
    expect(readFileSync(hashed, 'utf8')).to.match(/^\|1\|/);
    sshConfigVariant('hashed', (t) => t.replaceAll(p.cluster.knownHostsPath, hashed));
    const { code, jobs } = await runWhere('node1,node2');
    expect(code).to.equal(0);
    expect(jobs.map((j) => j.state)).to.deep.equal(['succeeded', 'succeeded']);
  });

  it('StrictHostKeyChecking accept-new records the key and connects', async () => {
    const empty = knownHosts('accept', '');
    sshConfigVariant('accept', (t) => t.replaceAll(p.cluster.knownHostsPath, empty).replaceAll('StrictHostKeyChecking yes', 'StrictHostKeyChecking accept-new'));
    const { code, stderr } = await runWhere('node2');
    expect(code, stderr).to.equal(0);
    const node2 = p.cluster.hosts[1]!;
    expect(readFileSync(empty, 'utf8')).to.equal(`[${node2.address}]:${node2.port} ${node2.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`);
    expect(stderr).to.match(/accepted new host key of node2 \(ssh-ed25519 SHA256:/);
  });

  it('[remote] accept_new_host_keys = true does the same', async () => {
    const empty = knownHosts('accept2', '');
    sshConfigVariant('accept2', (t) => t.replaceAll(p.cluster.knownHostsPath, empty), 'accept_new_host_keys = true');
    const { code } = await runWhere('node3');
    expect(code).to.equal(0);
    expect(readFileSync(empty, 'utf8')).to.include(p.cluster.hosts[2]!.address);
  });

  it('a wrong user key fails fast with the reason, the user and the host', async () => {
    const key = join(p.cluster.dir, 'wrong_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key], { stdio: 'ignore' });
    sshConfigVariant('wrongkey', (t) => t.replaceAll(p.cluster.userKeyPath, key));
    const { jobs } = await runWhere('node1');
    expect(jobs[0]).to.include({ state: 'failed', failure: 'launch-failed' });
    expect(jobs[0]!.message).to.match(new RegExp(`authentication failed for ${p.cluster.user}@node1 \\(127\\.0\\.0\\.2:\\d+\\): the server refused ${key}`));
    expect(jobs[0]!.duration).to.be.below(5);
  });

  it('a host whose sshd is down fails its jobs within ConnectTimeout + 2 s while the other hosts succeed', async () => {
    await p.cluster.stopHost('node3');
    try {
      const { code, jobs } = await runWhere('node1,node2,node3');
      expect(code).to.equal(1);
      expect(jobs.filter((j) => j.host !== 'node3').map((j) => j.state)).to.deep.equal(['succeeded', 'succeeded']);
      const down = jobs.find((j) => j.host === 'node3')!;
      expect(down).to.include({ state: 'failed', failure: 'launch-failed' });
      expect(down.message).to.match(/cannot connect to .*node3 \(127\.0\.0\.4:\d+\): connection refused/);
      expect(down.duration).to.be.below(5 + 2);
    } finally {
      await p.cluster.startHost('node3');
    }
  });

  it('a host that accepts TCP but never answers fails with a timeout after ConnectTimeout, not a hang', async () => {
    const silent = await startSilentHost();
    const port = silent.port;
    try {
      sshConfigVariant('silent', (t) => `Host silent\n  HostName 127.0.0.9\n  Port ${port}\n  ConnectTimeout 2\n\n${t}`);
      const { jobs } = await runWhere('silent,node1');
      const stuck = jobs.find((j) => j.host === 'silent')!;
      expect(stuck).to.include({ state: 'failed', failure: 'launch-failed' });
      expect(stuck.message).to.match(/silent \(127\.0\.0\.9:\d+\): no SSH handshake within ConnectTimeout 2 s/);
      expect(stuck.duration).to.be.below(2 + 2);
      expect(jobs.find((j) => j.host === 'node1')!.state).to.equal('succeeded');
    } finally {
      silent.stop();
    }
  });

  it('authenticates with a key from the SSH agent when ssh_config names no usable key', async () => {
    const socket = join(p.cluster.dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await waitForFile(socket);
      execFileSync('ssh-add', ['-q', p.cluster.userKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
      sshConfigVariant('agent', (t) => t.replaceAll(p.cluster.userKeyPath, join(p.cluster.dir, 'no_such_key')));
      const result = await p.ws.run(['run', 'where', '--fresh', '--hosts', 'node1'], { env: { SSH_AUTH_SOCK: socket } });
      expect(result.code, result.stderr).to.equal(0);
      const without = await p.ws.run(['run', 'where', '--fresh', '--hosts', 'node1'], { env: { SSH_AUTH_SOCK: '' } });
      expect(JSON.parse(without.stdout).jobs[0].message).to.match(/authentication failed .*: the server refused no key found/);
    } finally {
      agent.kill('SIGKILL');
    }
  });

  it('authenticates with [remote] identity_file', async () => {
    sshConfigVariant('identity', (t) => t.replaceAll(p.cluster.userKeyPath, join(p.cluster.dir, 'no_such_key')), `identity_file = ${p.cluster.userKeyPath}`);
    const result = await p.ws.run(['run', 'where', '--fresh', '--hosts', 'node2'], { env: { SSH_AUTH_SOCK: '' } });
    expect(result.code, result.stderr).to.equal(0);
  });
});

async function waitForFile(path: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

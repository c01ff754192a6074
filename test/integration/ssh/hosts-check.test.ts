import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startSilentHost, startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';
import type { HostCheckResult } from '../../../support/launchers/host-check.js';

type HostCheck = HostCheckResult;

/** The table's row for `host`, split into its columns (the problem column may hold spaces). */
function row(stdout: string, host: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${host} `));
  expect(line, `a row for ${host} in\n${stdout}`).to.not.equal(undefined);
  return line!.split(/\s{2,}/);
}

describe('pipeline hosts check against real sshd test hosts', function () {
  this.timeout(120_000);
  let p: SshPipeline;
  before(async () => { p = await startSshPipeline({ hosts: 3 }); });
  after(async () => { await p?.stop(); });
  afterEach(() => p.configure());

  const sshConfigVariant = (name: string, edit: (text: string) => string): string => p.sshConfigVariant(`hosts-check.${name}`, edit);

  async function checkJson(...args: string[]): Promise<{ code: number | null; hosts: HostCheck[]; stderr: string }> {
    const result = await p.ws.run(['hosts', 'check', '--json', ...args]);
    return { code: result.code, hosts: JSON.parse(result.stdout || '[]'), stderr: result.stderr };
  }

  it('reports every clusterdesc host ok with its node version and latency', async () => {
    const result = await p.ws.run(['hosts', 'check']);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    expect(result.stdout.split('\n')[0]).to.match(/^HOST +STATUS +NODE +AGENT PROTOCOL +DEPLOYED +LATENCY MS +PROBLEM$/);
    for (const alias of ['node1', 'node2', 'node3']) {
      const [host, status, node, agent, deployed, latency] = row(result.stdout, alias);
      expect(deployed, 'nothing deployed: the framework was copied by hand').to.equal('-');
      expect(host).to.equal(alias);
      expect(status).to.equal('ok');
      expect(node).to.match(/^v\d+\.\d+\.\d+$/);
      expect(agent, 'the agent\'s protocol version').to.equal('1');
      expect(Number(latency)).to.be.above(0);
    }
    expect(result.stdout).to.include('3 of 3 hosts ok');
  });

  it('--json prints one object per host with every field', async () => {
    const { code, hosts } = await checkJson('--hosts', 'node[1..3]');
    expect(code).to.equal(0);
    expect(hosts.map((h) => h.host)).to.deep.equal(['node1', 'node2', 'node3']);
    for (const h of hosts) {
      expect(h).to.have.all.keys('host', 'ok', 'reachable', 'authenticated', 'hostKey', 'node', 'framework', 'agent', 'deployed', 'deployedCurrent', 'latencyMs', 'error');
      expect(h).to.include({ ok: true, reachable: true, authenticated: true, hostKey: true, framework: true, agent: 1, error: null });
      expect(h.node).to.match(/^v\d+/);
      expect(h.latencyMs).to.be.a('number').and.above(0);
    }
  });

  it('a host whose sshd is down is FAILED with its reason, exit 1, the others ok', async () => {
    await p.cluster.stopHost('node2');
    try {
      const result = await p.ws.run(['hosts', 'check']);
      expect(result.code, result.stdout + result.stderr).to.equal(1);
      expect(row(result.stdout, 'node1')[1]).to.equal('ok');
      expect(row(result.stdout, 'node3')[1]).to.equal('ok');
      const [, status, node, agent, , latency, problem] = row(result.stdout, 'node2');
      expect([status, node, agent, latency]).to.deep.equal(['FAILED', '-', '-', '-']);
      expect(problem).to.match(/cannot connect to .*node2 \(127\.0\.0\.3:\d+\): connection refused/);
      expect(result.stdout).to.include('2 of 3 hosts ok, 1 FAILED');

      const { code, hosts } = await checkJson();
      expect(code).to.equal(1);
      const down = hosts.find((h) => h.host === 'node2')!;
      expect(down).to.include({ ok: false, reachable: false, authenticated: null, hostKey: null, node: null, latencyMs: null });
      expect(down.error).to.match(/connection refused/);
      expect(hosts.filter((h) => h.ok).map((h) => h.host)).to.deep.equal(['node1', 'node3']);
    } finally {
      await p.cluster.startHost('node2');
    }
  });

  it('an unknown host key is reported as a host-key problem', async () => {
    const empty = join(p.cluster.dir, 'known_hosts.hosts-check.empty');
    writeFileSync(empty, '');
    sshConfigVariant('unknown-key', (t) => t.replaceAll(p.cluster.knownHostsPath, empty));
    const result = await p.ws.run(['hosts', 'check', '--hosts', 'node1']);
    expect(result.code).to.equal(1);
    expect(row(result.stdout, 'node1')[1]).to.equal('FAILED');
    expect(row(result.stdout, 'node1')[6]).to.match(/host key of node1 \(127\.0\.0\.2:\d+\) is unknown/);

    const { hosts } = await checkJson('--hosts', 'node1');
    expect(hosts[0]).to.include({ ok: false, reachable: true, hostKey: false, authenticated: null, node: null });
    expect(hosts[0]!.error).to.match(/host key of node1 .* is unknown \(ssh-ed25519 SHA256:\S+, not in .*known_hosts\.hosts-check\.empty\)/);
    expect(readFileSync(empty, 'utf8'), 'a check accepts no key under StrictHostKeyChecking yes').to.equal('');
  });

  it('a missing node_executable and a missing framework are reported; the connection is still ok', async () => {
    p.configure('node_executable = /nonexistent/bin/node\ninstall_root = /nonexistent/framework');
    const { code, hosts } = await checkJson('--hosts', 'node3');
    expect(code).to.equal(1);
    expect(hosts[0]).to.include({ ok: false, reachable: true, authenticated: true, hostKey: true, node: null, framework: false });
    expect(hosts[0]!.error).to.match(/node not found: \/nonexistent\/bin\/node/);
    expect(hosts[0]!.error).to.include('framework missing at /nonexistent/framework/dist/support/node/runtime.js');
    expect(hosts[0]!.agent).to.equal(null);
    expect(hosts[0]!.error).to.match(/the agent does not start there \(.*\); its jobs would run one channel each/);
    expect(hosts[0]!.latencyMs).to.be.a('number');
  });

  it('a host that never answers fails after ConnectTimeout instead of hanging; localhost is checked locally', async () => {
    const silent = await startSilentHost();
    const port = silent.port;
    try {
      sshConfigVariant('silent', (t) => `Host silent\n  HostName 127.0.0.9\n  Port ${port}\n  ConnectTimeout 2\n\n${t}`);
      const started = Date.now();
      const { code, hosts } = await checkJson('--hosts', 'silent,localhost,node1');
      expect(Date.now() - started).to.be.below(2000 + 8000);
      expect(code).to.equal(1);
      expect(hosts.map((h) => [h.host, h.ok])).to.deep.equal([['silent', false], ['localhost', true], ['node1', true]]);
      expect(hosts[0]!.error).to.match(/silent \(127\.0\.0\.9:\d+\): no SSH handshake within ConnectTimeout 2 s/);
      expect(hosts[1]).to.include({ reachable: true, hostKey: null, authenticated: null, framework: true });
      expect(hosts[1]!.node).to.equal(process.version);
    } finally {
      silent.stop();
    }
  });

  it('bad usage exits 2', async () => {
    expect((await p.ws.run(['hosts', 'check', '--hosts', 'node[3..1]'])).code).to.equal(2);
    expect((await p.ws.run(['hosts', 'frobnicate'])).code).to.equal(2);
    p.configure('method = sideways');
    const bad = await p.ws.run(['hosts', 'check']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/\[remote\] method: expected one of auto, local, ssh/);
  });
});

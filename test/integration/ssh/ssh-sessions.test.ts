import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PipelineConfig } from '../../../support/config/pipeline-config.js';
import { createLaunchers } from '../../../support/launchers/launcher-choice.js';
import { expect } from 'chai';
import { startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';

describe('ssh launcher: session limits', function () {
  this.timeout(180_000);
  let p: SshPipeline;
  before(async () => { p = await startSshPipeline({ hosts: 1, maxSessions: 4 }); });
  after(async () => { await p?.stop(); });

  it('60 concurrent jobs on one host whose sshd has MaxSessions 4 all succeed, a channel each and through the agent', async () => {
    // max_sessions stays at its default 10: the launcher must learn the real limit from refusals
    p.configure('dispatch = channel');
    const nodeJobs = await p.ws.run(['run', 'where', '--fresh', '--hosts', 'node1', '--per-host', '60', '--max-per-node', '60']);
    expect(nodeJobs.code, nodeJobs.stderr.slice(-3000)).to.equal(0);
    const { jobs } = JSON.parse(nodeJobs.stdout);
    expect(jobs).to.have.lengthOf(60);
    expect(jobs.every((j: { state: string }) => j.state === 'succeeded')).to.equal(true);

    const shellJobs = await p.ws.run(['run', 'where', '--fresh', '--shell', '--hosts', 'node1', '--per-host', '60', '--max-per-node', '60']);
    expect(shellJobs.code, shellJobs.stderr.slice(-3000)).to.equal(0);
    expect(JSON.parse(shellJobs.stdout).jobs.filter((j: { state: string }) => j.state === 'succeeded')).to.have.lengthOf(60);
    // and sshd really did refuse sessions beyond its limit
    expect(readFileSync(`${p.cluster.dir}/node1/sshd.log`, 'utf8')).to.match(/no more sessions|open failed|MaxSessions/i);

    // The agent runs them all over one session.
    p.configure();
    const agentJobs = await p.ws.run(['run', 'where', '--fresh', '--shell', '--hosts', 'node1', '--per-host', '60', '--max-per-node', '60']);
    expect(agentJobs.code, agentJobs.stderr.slice(-3000)).to.equal(0);
    expect(JSON.parse(agentJobs.stdout).jobs.filter((j: { state: string }) => j.state === 'succeeded')).to.have.lengthOf(60);
    expect(agentJobs.stderr, 'the jobs went through the agent').to.not.include('the agent cannot start');
  });
});

/**
 * A TCP proxy in front of a real sshd that passes the first connection through and drops every
 * other one before its handshake while the first is open, as sshd does past MaxStartups (the
 * test hosts' sshd 9.2 was not seen to drop with MaxStartups 1, so the proxy does it reliably).
 */
async function startDroppingProxy(target: { address: string; port: number }, address: string): Promise<{ port: number; dropped: () => number; stop(): void }> {
  let open: Socket | undefined;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (open) {
      dropped++;
      client.destroy();
      return;
    }
    open = client;
    const upstream = connect(target.port, target.address);
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
    client.on('close', () => {
      upstream.destroy();
      if (open === client) open = undefined;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return {
    port: (server.address() as { port: number }).port,
    dropped: () => dropped,
    stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** Makes `busy` an alias of `node` reached through `proxy` at `address` (its key known there), in a variant of the cluster's ssh_config. */
function aliasThroughProxy(p: SshPipeline, node: SshPipeline['cluster']['hosts'][number], proxy: { port: number }, address: string, variant: string): void {
  const knownHosts = `${p.cluster.dir}/known_hosts.${variant}`;
  writeFileSync(knownHosts, `${readFileSync(p.cluster.knownHostsPath, 'utf8')}[${address}]:${proxy.port} ${node.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`);
  p.sshConfigVariant(variant, (text) => {
    const block = text.slice(text.indexOf(`Host ${node.alias}\n`)).split(/\n(?=Host )/)[0]!;
    return `${block.replace(`Host ${node.alias}`, 'Host busy').replace(/HostName .*/, `HostName ${address}`).replace(/Port .*/, `Port ${proxy.port}`).replace(p.cluster.knownHostsPath, knownHosts)}\n${text}`;
  });
}

describe('ssh launcher: a host that takes one session and one handshake at a time', function () {
  this.timeout(60_000);
  let p: SshPipeline;
  before(async () => { p = await startSshPipeline({ hosts: 1, maxSessions: 1 }); });
  after(async () => { await p?.stop(); });

  it('while a connection is up, a handshake dropped before it begins is back-pressure: the jobs wait for that connection and all succeed', async () => {
    const node1 = p.cluster.hosts[0]!;
    const proxy = await startDroppingProxy(node1, '127.0.0.40');
    const launchers = createLaunchers(await PipelineConfig.load(p.ws.configPath));
    try {
      aliasThroughProxy(p, node1, proxy, '127.0.0.40', 'busy');
      const busy = createLaunchers(await PipelineConfig.load(p.ws.configPath));
      const launcher = busy.for('busy');
      try {
        const first = await launcher.start('busy', 'read -r line; echo "first $line"');
        first.stdout.resume(); // a channel closes once its output has been read
        first.stderr.resume();
        const others = Array.from({ length: 5 }, (_, i) => launcher.start('busy', `echo other ${i}`).then(async (launched) => {
          launched.stdin.end();
          launched.stderr.resume();
          let text = '';
          launched.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
          return { ...(await launched.exited), text };
        }));
        const settled = await Promise.race([Promise.allSettled(others), sleep(1500, 'waiting' as const)]);
        expect(settled, 'the other jobs wait for the connection that is up instead of failing').to.equal('waiting');
        expect(proxy.dropped(), 'handshakes were dropped meanwhile').to.be.above(0);
        first.stdin.end('go\n');
        expect(await first.exited).to.include({ code: 0 });
        const results = await Promise.all(others);
        expect(results.map((r) => [r.code, r.text.trim()])).to.deep.equal([0, 1, 2, 3, 4].map((i) => [0, `other ${i}`]));
      } finally {
        await busy.close();
      }
    } finally {
      proxy.stop();
      await launchers.close();
    }
  });

  it('pipeline run of 16 jobs there: every one succeeds, and never calls the host unhealthy', async () => {
    const node1 = p.cluster.hosts[0]!;
    const proxy = await startDroppingProxy(node1, '127.0.0.41');
    try {
      aliasThroughProxy(p, node1, proxy, '127.0.0.41', 'busy2');
      const specs = Array.from({ length: 16 }, (_, i) => ({ name: `j${i}`, host: 'busy', shell: `sleep 0.1; echo job ${i}` }));
      const result = await p.ws.run(['run', 'faults', '--job-name', 'busy', '--hosts', 'busy', '--jobs', JSON.stringify(specs)]);
      expect(result.code, result.stderr.slice(-3000)).to.equal(0);
      const jobs = (JSON.parse(result.stdout) as { jobs: Array<{ name: string; state: string; outputs: { stdout: string[] } }> }).jobs;
      expect(jobs.map((job) => `${job.name} ${job.state} ${job.outputs.stdout.join()}`)).to.deep.equal(specs.map((_, i) => `j${i} succeeded job ${i}`));
      expect(proxy.dropped(), 'handshakes were dropped').to.be.above(0);
      expect(result.stderr).to.not.match(/unhealthy|launch-failed/);
    } finally {
      proxy.stop();
    }
  });
});

describe('ssh launcher: ProxyJump', function () {
  this.timeout(120_000);
  let p: SshPipeline;
  before(async () => { p = await startSshPipeline({ hosts: 2, extraSshdConfig: 'LogLevel DEBUG1' }); });
  after(async () => { await p?.stop(); });

  it('reaches a host through a gateway host', async () => {
    const [gateway, inner] = p.cluster.hosts as [typeof p.cluster.hosts[0], typeof p.cluster.hosts[0]];
    const config = readFileSync(p.cluster.sshConfigPath, 'utf8');
    const block = config.slice(config.indexOf(`Host ${inner.alias}\n`)).split(/\n(?=Host )/)[0]!;
    const jumped = block.replace(`Host ${inner.alias}`, 'Host inner-via-gateway').replace(/\n/, `\n  ProxyJump ${gateway.alias}\n`);
    const path = `${p.cluster.dir}/ssh_config.jump`;
    writeFileSync(path, `${jumped}\n${config}`);
    p.configure(`ssh_config = ${path}`);
    const result = await p.ws.run(['run', 'where', '--fresh', '--hosts', 'inner-via-gateway']);
    expect(result.code, result.stderr).to.equal(0);
    const { jobs } = JSON.parse(result.stdout);
    expect(jobs[0].server).to.equal(inner.address);
    // the gateway's sshd opened the forwarded connection to the inner host
    const gatewayLog = readFileSync(`${p.cluster.dir}/${gateway.alias}/sshd.log`, 'utf8');
    expect(gatewayLog).to.include(`server_request_direct_tcpip: originator 127.0.0.1 port 0, target ${inner.address} port ${inner.port}`);
  });
});

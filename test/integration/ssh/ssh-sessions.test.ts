import { readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';

describe('ssh launcher: session limits', function () {
  this.timeout(180_000);
  let p: SshPipeline;
  before(async () => { p = await startSshPipeline({ hosts: 1, maxSessions: 4 }); });
  after(async () => { await p?.stop(); });

  it('60 concurrent jobs on one host whose sshd has MaxSessions 4 all succeed', async () => {
    // max_sessions stays at its default 10: the launcher must learn the real limit from refusals
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

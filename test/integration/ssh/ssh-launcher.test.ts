import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { latestLog } from '../../harness/pipeline-cli.js';
import { startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';

describe('ssh launcher against real sshd test hosts', function () {
  this.timeout(120_000);
  let p: SshPipeline;
  before(async () => { p = await startSshPipeline({ hosts: 3 }); });
  after(async () => { await p?.stop(); });
  afterEach(() => p.configure());

  it('jobs pinned to three hosts run there, as the test user, with outputs and logs as locally', async () => {
    const result = await p.ws.run(['run', 'where', '--fresh', '--per-host', '2']);
    expect(result.code, result.stderr).to.equal(0);
    const { jobs } = JSON.parse(result.stdout);
    expect(jobs).to.have.lengthOf(6);
    const expected = Object.fromEntries(p.cluster.hosts.map((h) => [h.alias, h.address]));
    for (const job of jobs) {
      expect(job.state).to.equal('succeeded');
      expect(job.server, `${job.host} ran on`).to.equal(expected[job.host]);
      expect(job.user).to.equal(p.cluster.user);
      expect(job.cwd).to.equal(join(p.cluster.dir, 'work'));
    }
    const log = latestLog(p.ws.jobDirectory('where'));
    for (const host of p.cluster.hosts) {
      expect(log).to.match(new RegExp(` INFO +${host.alias}#\\d+ job 0 running as ${p.cluster.user} on ${host.address.replace(/\./g, '\\.')}$`, 'm'));
    }
  });

  it('shell-command jobs run through the same connections', async () => {
    const result = await p.ws.run(['run', 'where', '--fresh', '--shell', '--hosts', 'node[1..3]']);
    expect(result.code, result.stderr).to.equal(0);
    const { jobs } = JSON.parse(result.stdout);
    expect(jobs.map((j: { stdout: string[] }) => j.stdout[0]!.split('|')[0]!.split(' ')[2])).to.deep.equal(p.cluster.hosts.map((h) => h.address));
  });

  it('the shipped parallel_example runs from install_root on the hosts', async () => {
    const result = await p.ws.run(['run', 'parallel_example', '--fresh', '--hosts', 'node1,node2', '--jobs', '4']);
    expect(result.code, result.stderr).to.equal(0);
    const log = latestLog(p.ws.jobDirectory('parallel_example'));
    expect(log).to.match(/node1#\d+ job 0 on .* says: hello/);
    expect(log).to.match(/node2#\d+ job 1 on .* says: hello/);
    expect(log).to.include(`${p.installRoot}/dist/nodes/parallel_example.js`);
  });

  it('a node\'s log line reaches the master\'s log while the job is still running', async () => {
    const marker = join(p.cluster.dir, 'work', `seen-${Date.now()}`);
    const running = p.ws.run(['run', 'where', '--fresh', '--hosts', 'node2', '--wait-for', marker]);
    // The node waits for the marker, which appears only once the master has logged its first line.
    const deadline = Date.now() + 30_000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      try {
        seen = /node2#\d+ job 0 running as/.test(latestLog(p.ws.jobDirectory('where')));
      } catch {
        // the log does not exist yet
      }
      if (!seen) await sleep(50);
    }
    expect(seen, 'the line arrived while the job ran').to.equal(true);
    writeFileSync(marker, '');
    const result = await running;
    expect(result.code, result.stderr).to.equal(0);
    expect(existsSync(marker)).to.equal(true);
    expect(latestLog(p.ws.jobDirectory('where'))).to.match(/node2#\d+ job 0 saw /);
  });
});

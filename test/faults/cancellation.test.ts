import { expect } from 'chai';
import { expectNothingLeft, startFaultRun, type JobSpec, sshTestHosts } from './fault-run.js';

/** Jobs on all three hosts, of every kind a user runs: node scripts, their children, shell commands, one that ignores TERM. */
const BUSY: JobSpec[] = [
  { name: 'node-sleeps', host: 'node1', node: ['sleep'] },
  { name: 'node-children', host: 'node2', node: ['children'] },
  { name: 'shell-sleeps', host: 'node3', shell: 'echo shell-ready; sleep 1000' },
  { name: 'shell-children', host: 'node1', shell: 'sleep 1001 & sleep 1002 & echo shell-ready; wait' },
  { name: 'shell-ignores-term', host: 'node2', shell: "trap '' TERM; echo shell-ready; sleep 1003" },
  { name: 'node-sleeps-too', host: 'node3', node: ['sleep'] },
];

/** Waits until every BUSY job has said it runs. */
async function allRunning(run: ReturnType<typeof startFaultRun>): Promise<void> {
  await run.waitForLog(/ready node-|ready \S+$/m, 3);
  await run.waitForLog(/shell-ready/, 3);
  await run.waitForLog(/children \d+ \d+ \d+/);
}

describe('faults: cancelling a run and killing the master leave nothing on the hosts (real sshd hosts)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();
  afterEach(async () => {
    await expectNothingLeft(hosts.p.cluster, 10_000);
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal}: every job cancelled, summary printed, exit ${code} within 5 s, nothing left on any host`, async () => {
      const run = startFaultRun(hosts.p, BUSY);
      await allRunning(run);
      const sentAt = Date.now();
      run.master.kill(signal);
      const result = await run.ended;
      const took = Date.now() - sentAt;
      expect(result.code, result.stderr).to.equal(code);
      expect(took).to.be.below(5000);
      expect(result.stderr).to.include(`${signal} received: cancelling every job`);
      expect(result.stderr).to.match(/summary: 6 jobs: 6 failed \(6 cancelled\)/);
      for (const spec of BUSY) expect(result.stderr).to.match(new RegExp(`${spec.host}#${spec.name} cancelled: cancelled`));
      await expectNothingLeft(hosts.p.cluster, 5000);
    });
  }

  it('a second Ctrl-C kills every job at once and still leaves nothing behind', async () => {
    const run = startFaultRun(hosts.p, BUSY);
    await allRunning(run);
    run.master.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 100));
    run.master.kill('SIGINT');
    const result = await run.ended;
    expect(result.code, result.stderr).to.equal(130);
    expect(result.stderr).to.include('SIGINT again: killing every job now');
    expect(result.stderr).to.match(/summary: 6 jobs/);
    await expectNothingLeft(hosts.p.cluster, 5000);
  });

  it('SIGKILL of the master: every node process group, children and grandchildren included, is gone within 5 s', async () => {
    const run = startFaultRun(hosts.p, BUSY);
    await allRunning(run);
    const before = await hosts.p.cluster.userProcesses();
    expect(before.filter((proc) => /sleep 100[0-3]|sleep 30[01]/.test(proc.cmd)).length, 'the jobs\' children run').to.be.at.least(6);
    run.master.kill('SIGKILL');
    await run.ended;
    await expectNothingLeft(hosts.p.cluster, 5000);
  });
});

import { expect } from 'chai';
import { expectNothingLeft, job, startFaultRun, sshTestHosts } from './fault-run.js';

describe('faults: every job ends with one state and one reason (real sshd hosts)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();

  it('timeouts, exit codes, signals and exceptions over SSH, with nothing left on any host', async () => {
    const run = startFaultRun(hosts.p, [
      { name: 'sleeps', host: 'node1', node: ['sleep'], timeout: 2 },
      { name: 'shell-sleeps', host: 'node2', shell: 'sleep 1000', timeout: 2 },
      { name: 'sleeps-with-children', host: 'node3', node: ['children'], timeout: 2 },
      { name: 'exits7', host: 'node1', node: ['exit', 7] },
      { name: 'throws', host: 'node2', node: ['throw', 'no such measurement set'] },
      { name: 'killed', host: 'node3', node: ['kill'] },
      { name: 'shell-exits5', host: 'node1', shell: 'echo going; exit 5' },
      { name: 'shell-killed', host: 'node2', shell: 'kill -KILL $$' },
      { name: 'fine', host: 'node3', node: ['chatter', 0.2] },
      { name: 'prints-then-exits', host: 'node1', node: ['bigline', 8 * 1024 * 1024] },
      { name: 'percent', host: 'node2', node: ['percent'] },
    ]);
    const result = await run.ended;
    expect(result.code, result.stderr).to.equal(1);
    expect(job(result, 'sleeps')).to.include({ state: 'failed', failure: 'timeout', message: 'timed out after 2 s' });
    expect(job(result, 'shell-sleeps')).to.include({ state: 'failed', failure: 'timeout' });
    expect(job(result, 'sleeps-with-children')).to.include({ state: 'failed', failure: 'timeout' });
    expect(job(result, 'exits7')).to.include({ state: 'failed', failure: 'exit', returncode: 7, message: 'exited with return code 7' });
    expect(job(result, 'throws')).to.include({ state: 'failed', failure: 'node-exception', message: 'node script threw Error: no such measurement set' });
    expect(job(result, 'throws').stack).to.match(/at FaultNode\.run/);
    expect(job(result, 'killed')).to.include({ state: 'failed', failure: 'signal', signal: 'SIGKILL', returncode: null, message: 'killed by SIGKILL' });
    expect(job(result, 'shell-exits5')).to.include({ state: 'failed', failure: 'exit', returncode: 5 });
    expect(job(result, 'shell-killed')).to.include({ state: 'failed', failure: 'signal', signal: 'SIGKILL' });
    expect(job(result, 'fine')).to.include({ state: 'succeeded', returncode: 0 });
    for (const report of result.jobs) expect(report.retries, report.name).to.equal(0);
    // a node's last output line is not lost when it exits with its pipe full
    expect(run.log()).to.include('node1#prints-then-exits after the big line');
    // %s and %d in a message are text, and its metadata is kept
    expect(run.log()).to.match(/WARN +node2#percent disk 95%s full, %d left \{"disk":"sda"\}/);

    const summary = /summary: (.*)/.exec(result.stderr)?.[1] ?? '';
    expect(summary).to.match(/^11 jobs: (3 succeeded, 8 failed|8 failed, 3 succeeded) \(/);
    for (const count of ['3 timeout', '2 exit', '1 node-exception', '2 signal']) expect(summary).to.include(count);
    expect(result.stderr).to.include('node1#sleeps timeout: timed out after 2 s');
    expect(result.stderr).to.include('node3#killed signal: killed by SIGKILL');
    expect(run.log()).to.include('node1#exits7 failed (exit): exited with return code 7');
    await expectNothingLeft(hosts.p.cluster);
  });
});

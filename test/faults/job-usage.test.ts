/**
 * Each job's CPU and peak memory (issue 20), as its host measured them: a node script that holds
 * 200 MiB, a shell command whose child burns CPU, and `true`, over real sshd hosts and on the
 * control node; in job.results, result.json, the journal and the end-of-run summary.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { job, startFaultRun, sshTestHosts, type FaultRunResult, type JobSpec } from './fault-run.js';
import type { JobUsage } from '../../support/protocol/job-outcome.js';

const MiB = 1024 * 1024;

/** The jobs, once on `host`: each kind of job, measured. */
function measuredJobs(prefix: string, host: string): JobSpec[] {
  return [
    { name: `${prefix}-node-200mb`, host, node: ['allocate', 200, 1000] },
    // A CPU time limit ends the child after 2 s of CPU however busy the machine is; the command goes on a little.
    { name: `${prefix}-shell-burn`, host, shell: "sh -c 'ulimit -t 2; while :; do :; done'; sleep 0.5" },
    // ...and here the command ends with its child, so the last interval before the end is not sampled.
    { name: `${prefix}-shell-burn-to-the-end`, host, shell: "sh -c 'ulimit -t 3; while :; do :; done'; true" },
    { name: `${prefix}-shell-true`, host, shell: 'true' },
    { name: `${prefix}-node-burn-child`, host, node: ['burn-child', 2] },
    { name: `${prefix}-shell-200mb`, host, shell: `python3 -c "import time; held = b'x' * (200 << 20); time.sleep(1)"` },
    { name: `${prefix}-python-200mb`, host, python: ['allocate', 200, 1] },
  ];
}

function usageOf(result: FaultRunResult, name: string): JobUsage {
  const report = job(result, name);
  expect(report.state, `${name}: ${report.message}`).to.equal('succeeded');
  expect(report.usage, `${name} has no usage`).to.be.an('object');
  return report.usage!;
}

const cpu = (usage: JobUsage) => usage.userSeconds + usage.systemSeconds;

describe('faults: each job\'s CPU and peak memory, measured on its host (real sshd hosts and the control node)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();

  it('200 MiB held, 2 s of CPU in a child, and `true` near zero, over SSH and locally; in result.json, the journal and the summary', async () => {
    const run = startFaultRun(hosts.p, [...measuredJobs('ssh', 'node1'), ...measuredJobs('local', 'localhost')], ['--job-name', 'usage']);
    const result = await run.ended;
    expect(result.code, result.stderr.slice(-3000)).to.equal(0);

    for (const where of ['ssh', 'local']) {
      for (const kind of ['node-200mb', 'shell-200mb', 'python-200mb']) {
        const usage = usageOf(result, `${where}-${kind}`);
        expect(usage.peakRssBytes, `${where}-${kind}`).to.be.at.least(200 * MiB).and.below(400 * MiB);
      }
      // Once the command has reaped its child, the child's CPU is in the command's own account (cutime), whole.
      const burn = usageOf(result, `${where}-shell-burn`);
      expect(cpu(burn), `${where}-shell-burn`).to.be.at.least(1.8).and.at.most(2.4);
      expect(burn.userSeconds, `${where}-shell-burn`).to.be.greaterThan(burn.systemSeconds);
      // Sampled: what the child used after the last sample (an interval, longer when the machine is busy) is missing.
      expect(cpu(usageOf(result, `${where}-shell-burn-to-the-end`)), `${where}-shell-burn-to-the-end`).to.be.at.least(1.8).and.at.most(3.4);
      // Exact: the runtime reaped the child, so its time is in the runtime's own accounts.
      const child = usageOf(result, `${where}-node-burn-child`);
      expect(cpu(child), `${where}-node-burn-child`).to.be.at.least(1.8).and.at.most(2.6);
      const idle = usageOf(result, `${where}-shell-true`);
      expect(cpu(idle), `${where}-shell-true`).to.be.below(0.1);
      expect(idle.peakRssBytes, `${where}-shell-true`).to.be.below(32 * MiB);
    }

    const jobDirectory = hosts.p.ws.jobDirectory('usage');
    const recorded = JSON.parse(readFileSync(join(jobDirectory, 'jobs', 'ssh-node-200mb', 'result.json'), 'utf8')) as { usage?: JobUsage };
    expect(recorded.usage).to.deep.equal(job(result, 'ssh-node-200mb').usage);
    const journal = readFileSync(join(jobDirectory, 'journal.ndjson'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string; job?: string; usage?: JobUsage });
    const ended = journal.find((event) => event.type === 'job-ended' && event.job === 'local-shell-burn');
    expect(ended?.usage).to.deep.equal(job(result, 'local-shell-burn').usage);

    // The summary names the heaviest jobs; the guard's report line is no line of the job's log.
    expect(result.stderr).to.match(/most memory: \S+#\S+-200mb \d+ MiB, \S+#\S+-200mb \d+ MiB, \S+#\S+-200mb \d+ MiB; most CPU: \S+#\S+-shell-burn\S* \d\.\d s, /);
    expect(run.log()).not.to.match(/ usage \d+ \d+ \d+ \d+$/m);
    const status = await hosts.p.ws.run(['status', 'usage']);
    expect(status.stdout).to.match(/most memory: .*; most CPU: /);
  });
});

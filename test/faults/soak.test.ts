/**
 * The soak: 10,000 jobs over 4 real sshd hosts, 5 % failing, 1 % timing out, one host's sshd
 * killed half-way. Every job is accounted for exactly once, the summary agrees with the records,
 * nothing is left on any host, and the master's memory stays bounded.
 */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { cliPath } from '../harness/pipeline-cli.js';
import { startSshPipeline, type SshPipeline } from '../harness/ssh-pipeline.js';
import { expectNothingLeft, watchMemory } from './fault-run.js';

const JOBS = 10_000;
const MiB = 1024 * 1024;

interface StatusJob {
  job: string;
  host: string;
  state: string;
  failure?: string;
}

describe('faults: the soak, 10,000 jobs over 4 hosts, one host killed half-way (real sshd hosts)', function () {
  this.timeout(20 * 60_000);
  let p: SshPipeline;
  before(async () => { p = await startSshPipeline({ hosts: 4 }); });
  after(async () => { await p?.stop(); });

  it('accounts for every job exactly once, agrees with its summary, leaves nothing running, and keeps its memory bounded', async () => {
    const master = spawn(process.execPath, [cliPath, 'run', 'soak', '--count', String(JOBS), '--json', '--config', p.ws.configPath], { cwd: p.ws.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const memory = watchMemory(master.pid!, 250);
    let stderr = '';
    master.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-200_000)));
    let ended = 0;
    let killed: Promise<void> | undefined;
    let carry = '';
    master.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (carry + d).split('\n');
      carry = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('"type":"job-ended"')) continue;
        ended++;
        // half-way: node4's sshd and its sessions go, as when a host crashes
        if (ended === JOBS / 2) killed = p.cluster.killHostSessions('node4', { includeUserProcesses: false });
      }
    });
    const code = await new Promise<number | null>((resolve) => master.on('close', resolve));
    const peak = memory.stop();
    await killed;
    expect(killed, 'node4 was killed half-way').to.not.equal(undefined);
    expect(code, stderr.slice(-3000)).to.equal(1);
    expect(ended, 'job-ended events').to.equal(JOBS);

    const status = await p.ws.run(['status', 'soak', '--json']);
    expect(status.code, status.stderr).to.equal(1); // the run failed: some jobs did
    const jobs = (JSON.parse(status.stdout) as { jobs: StatusJob[] }).jobs;
    expect(jobs).to.have.length(JOBS);
    expect(new Set(jobs.map((job) => job.job)).size, 'each job once').to.equal(JOBS);
    const counts = new Map<string, number>();
    for (const job of jobs) {
      expect(job.state, job.job).to.be.oneOf(['succeeded', 'failed']);
      const what = job.failure ?? job.state;
      counts.set(what, (counts.get(what) ?? 0) + 1);
    }
    // the summary line says the same as the records
    const summary = /summary: (\d+) jobs: (.*)/.exec(stderr);
    expect(summary, stderr.slice(-3000)).to.not.equal(null);
    expect(Number(summary![1])).to.equal(JOBS);
    // Every count of the summary, read whole, is the records' count: succeeded, failed, and each reason.
    const said = Object.fromEntries([...summary![2]!.matchAll(/(\d+) ([a-z][\w-]*)/g)].map((match) => [match[2]!, Number(match[1])]));
    const recorded = Object.fromEntries([...counts, ['failed', JOBS - (counts.get('succeeded') ?? 0)]]);
    expect(said).to.deep.equal(recorded);
    // the failures the jobs were made to have are all there; node4's later jobs failed with it
    expect(counts.get('exit') ?? 0).to.be.at.least(JOBS * 0.05 * 0.75);
    expect(counts.get('timeout') ?? 0).to.be.at.least(JOBS * 0.01 * 0.75);
    expect((counts.get('connection-lost') ?? 0) + (counts.get('launch-failed') ?? 0)).to.be.at.least(JOBS / 4 / 2 * 0.8);
    // The jobs made to fail were drawn at random: every host had its share of exits and timeouts, node4 (killed) too.
    for (const host of ['node1', 'node2', 'node3', 'node4']) {
      expect(jobs.filter((job) => job.host === host && job.failure === 'exit').length, `exits on ${host}`).to.be.above(0);
      expect(jobs.filter((job) => job.host === host && job.failure === 'timeout').length, `timeouts on ${host}`).to.be.above(0);
    }
    expect(counts.get('succeeded') ?? 0).to.be.at.least(JOBS * 0.6);

    await expectNothingLeft(p.cluster, 10_000);
    process.stderr.write(`      soak: ${JOBS} jobs, master peak RSS ${Math.round(peak / MiB)} MiB; ${[...counts].map(([what, n]) => `${n} ${what}`).join(', ')}\n`);
    expect(peak, `master peak RSS ${Math.round(peak / MiB)} MiB`).to.be.below(400 * MiB);
  });
});

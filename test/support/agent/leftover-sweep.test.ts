import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { LeftoverSweep } from '../../../support/agent/leftover-sweep.js';
import { JOB_MARK_VARIABLE, processesByMark } from '../../../support/protocol/process-group.js';
import { isAlive, waitFor } from '../../harness/local-processes.js';

/** A process group led by a shell that starts `script` with the job's mark, and prints the pids it started. */
async function startJob(mark: string, script: string): Promise<{ group: number; pids: number[] }> {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, [JOB_MARK_VARIABLE]: mark } });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
  await waitFor(() => text.includes('\n'), 5000);
  return { group: child.pid!, pids: text.trim().split(/\s+/).map(Number) };
}

describe('support/agent/leftover-sweep', function () {
  this.timeout(20_000);
  const started: number[] = [];
  afterEach(() => {
    for (const pid of started.splice(0)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  });

  it('finds the processes of several marks in one pass, each under its own mark', async () => {
    const a = await startJob('sweep-a', 'sleep 30 & echo $!; wait');
    const b = await startJob('sweep-b', 'setsid sleep 31 & echo $!; wait');
    started.push(a.group, b.group, ...a.pids, ...b.pids);
    const found = processesByMark(new Set(['sweep-a', 'sweep-b', 'sweep-none']));
    expect(found.get('sweep-a')).to.include.members([a.group, ...a.pids]);
    expect(found.get('sweep-b')).to.include.members([b.group, ...b.pids]);
    expect(found.has('sweep-none')).to.equal(false);
  });

  it('stops what left the group, what stayed in it, and a TERM-proof leftover after the grace', async () => {
    const job = await startJob('sweep-c', "setsid sleep 32 & a=$!; sleep 33 & b=$!; sh -c 'trap \"\" TERM; sleep 34' & c=$!; echo $a $b $c; exec sleep 35");
    started.push(job.group, ...job.pids);
    process.kill(job.group, 'SIGKILL'); // the job's main process ends; its leftovers stay
    const sweep = new LeftoverSweep();
    const began = Date.now();
    await sweep.add('sweep-c', job.group);
    const took = Date.now() - began;
    expect(await waitFor(() => job.pids.every((pid) => !isAlive(pid)), 2000), 'every leftover is gone').to.equal(true);
    expect(took, 'the TERM-proof one took the grace').to.be.at.least(1900);
  });

  it('is done at the next pass when the job left nothing', async () => {
    const job = await startJob('sweep-d', 'echo 0');
    await sleep(100);
    const sweep = new LeftoverSweep();
    const began = Date.now();
    await sweep.add('sweep-d', job.group);
    expect(Date.now() - began).to.be.below(1000);
  });
});

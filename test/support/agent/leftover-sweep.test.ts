import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { LeftoverSweep } from '../../../support/agent/leftover-sweep.js';
import { JOB_MARK_VARIABLE, processesByMark } from '../../../support/protocol/process-group.js';
import { isAlive, waitFor } from '../../harness/local-processes.js';

/** A process group led by a shell that starts `script` with the job's mark; `script` prints `pids ...` (and every word of `until`). */
async function startJob(mark: string, script: string, until: string[] = []): Promise<{ group: number; pids: number[] }> {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, [JOB_MARK_VARIABLE]: mark } });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
  await waitFor(() => /pids[ \d]*\n/.test(text) && until.every((word) => text.includes(word)), 5000);
  return { group: child.pid!, pids: (/pids([ \d]*)\n/.exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number) };
}

describe('support/agent/leftover-sweep', function () {
  this.timeout(20_000);
  const started: number[] = [];
  afterEach(() => {
    // Groups and marks too, so that a failed test leaves nothing (the TERM-proof shell's sleep is in the group).
    for (const pid of started.splice(0)) for (const target of [-pid, pid]) try { process.kill(target, 'SIGKILL'); } catch { /* gone */ }
    for (const pids of processesByMark(new Set(['sweep-a', 'sweep-b', 'sweep-c', 'sweep-d'])).values()) for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  });

  it('finds the processes of several marks in one pass, each under its own mark', async () => {
    const a = await startJob('sweep-a', 'sleep 30 & echo "pids $!"; wait');
    const b = await startJob('sweep-b', 'setsid sleep 31 & echo "pids $!"; wait');
    started.push(a.group, b.group, ...a.pids, ...b.pids);
    let found = processesByMark(new Set(['sweep-a', 'sweep-b', 'sweep-none']));
    // A process in the middle of its exec reads an empty environment for a moment: look again until both are seen.
    await waitFor(() => (found = processesByMark(new Set(['sweep-a', 'sweep-b', 'sweep-none']))).get('sweep-b')?.length === 2 && found.get('sweep-a')?.length === 2, 2000);
    expect(found.get('sweep-a')).to.include.members([a.group, ...a.pids]);
    expect(found.get('sweep-b')).to.include.members([b.group, ...b.pids]);
    expect(found.has('sweep-none')).to.equal(false);
  });

  it('stops what left the group, what stayed in it, and a TERM-proof leftover after the grace', async () => {
    // The TERM-proof shell says when its trap is set, so that the sweep's TERM cannot come first.
    const job = await startJob('sweep-c', "setsid sleep 32 & a=$!; sleep 33 & b=$!; sh -c 'trap \"\" TERM; echo trapped; exec sleep 34' & c=$!; echo \"pids $a $b $c\"; exec sleep 35", ['trapped']);
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
    const job = await startJob('sweep-d', 'echo "pids"');
    await sleep(100);
    const sweep = new LeftoverSweep();
    const began = Date.now();
    await sweep.add('sweep-d', job.group);
    expect(Date.now() - began).to.be.below(1000);
  });
});

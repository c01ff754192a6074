/**
 * The node runtime's usage sampler, run in this process as the runtime runs it: what children it
 * reaped used (exact), what a child holds while it runs (sampled), and what a marked process that
 * no process of the job is parent of used before it ended.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageSampler } from '../../../support/node/usage-sampler.js';
import { newJobMark } from '../../../support/dispatch/launch-command.js';
import type { JobUsage } from '../../../support/protocol/job-usage.js';
import { JOB_MARK_VARIABLE, markedProcesses } from '../../../support/protocol/process-group.js';

const MiB = 1024 * 1024;
const cpu = (usage: JobUsage) => usage.userSeconds + usage.systemSeconds;

/** Runs `command` in a child of this process and waits for it (Node reaps it). */
async function runChild(command: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore', env });
  await once(child, 'exit');
}

describe('support/node/usage-sampler', function () {
  this.timeout(20_000);

  it('counts the CPU of a child it reaped, whole: this process\'s own accounts hold it', async () => {
    // This process used CPU before the job began: what counts is the difference.
    const before = new UsageSampler(undefined).start().finish();
    const sampler = new UsageSampler(undefined).start();
    await runChild("ulimit -t 1; while :; do :; done");
    const usage = sampler.finish();
    expect(cpu(usage) - cpu(before)).to.be.at.least(0.95).and.below(1.5);
  });

  it('sees the memory a running child holds, bigger than this process ever was', async () => {
    const size = Math.ceil((process.resourceUsage().maxRSS * 1024 + 100 * MiB) / MiB);
    const sampler = new UsageSampler(undefined).start();
    await runChild(`${process.execPath} -e "const held = Buffer.alloc(${size} * 1024 * 1024, 1); setTimeout(() => held.length, 700)"`);
    const usage = sampler.finish();
    expect(usage.peakRssBytes).to.be.at.least(size * MiB);
  });

  it('counts a marked process outside its tree (an orphan) by sampling it, also once it has ended', async () => {
    const mark = newJobMark();
    const before = new UsageSampler(undefined).start().finish();
    const sampler = new UsageSampler(mark).start();
    // The shell exits at once: the burner is nobody's child in this job, only its mark ties it to the job.
    await runChild("setsid sh -c 'ulimit -t 2; while :; do :; done' </dev/null >/dev/null 2>&1 &", { ...process.env, [JOB_MARK_VARIABLE]: mark });
    const deadline = Date.now() + 10_000;
    await sleep(500);
    while (markedProcesses(mark).length > 0 && Date.now() < deadline) await sleep(100);
    await sleep(300);
    const usage = sampler.finish();
    // Sampled: the interval before it ended is missing; the mark scan first ran a second in.
    expect(cpu(usage) - cpu(before)).to.be.at.least(1.5).and.below(2.5);
  });

  it('never lowers its totals', async () => {
    const sampler = new UsageSampler(undefined).start();
    const first = sampler.finish();
    await sleep(250);
    const second = sampler.finish();
    expect(second.userSeconds).to.be.at.least(first.userSeconds);
    expect(second.peakRssBytes).to.be.at.least(first.peakRssBytes);
  });
});

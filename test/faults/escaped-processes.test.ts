/**
 * Processes that leave the job's process group (`timeout` makes a group of its own, `setsid` and
 * detached children a session of their own) must not outlive the job: not after a normal end,
 * not after Ctrl-C, not after the master is killed; and one that holds the job's output must
 * not make the run wait for it. Over real sshd hosts and on the control node.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { expectNothingLeft, job, startFaultRun, sshTestHosts, type FaultRun, type FaultRunResult, type JobSpec } from './fault-run.js';

/** Local processes (the control node's) whose command line is `sleep <n>...`; the SSH hosts' are checked by their test user. */
function localSleeps(prefix: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
      if (argv.some((arg, i) => i > 0 && arg.startsWith(prefix) && /(^|\/)(sleep|timeout)$/.test(argv[0]!))) found.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return found;
}

async function expectNoLocalSleeps(prefix: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  let left = localSleeps(prefix);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = localSleeps(prefix);
  }
  for (const pid of left) process.kill(pid, 'SIGKILL'); // the test's own clean-up; the failure below says what was left
  expect(left, `local processes of the jobs left running (sleep ${prefix}...)`).to.deep.equal([]);
}

/** The run's end, or a failed test when it has not ended within `ms`: the run must not wait for an escaped child. */
async function endedWithin(run: FaultRun, ms: number): Promise<FaultRunResult> {
  const timer = sleep(ms, 'late' as const);
  const outcome = await Promise.race([run.ended, timer]);
  if (outcome === 'late') {
    run.master.kill('SIGKILL');
    expect.fail(`the run did not end within ${ms / 1000} s:\n${run.log()}`);
  }
  return outcome;
}

let series = 0;
/** A number unique to one test, for telling its sleeps apart: `sleep <n>1` and so on. */
function uniqueNumber(): string {
  return `${4000 + (process.pid % 500)}${++series}`;
}

/**
 * Jobs on every kind of host that start children which leave their process group; `end`: the jobs
 * then end, else they wait. Through the agent (`agent`): each host's first job (over a channel of
 * its own) goes ahead, so that these run in the host's agent, and the shell jobs say their parent.
 */
function escapingJobs(n: string, end: boolean, agent: boolean): JobSpec[] {
  const tail = end ? 'echo started' : 'echo started; wait';
  const parent = agent ? `echo "parent $(tr '\\0' ' ' </proc/$PPID/cmdline)"; ` : '';
  const first: JobSpec[] = agent ? ['node1', 'node2', 'node3', 'localhost'].map((host) => ({ name: `first-${host}`, host, shell: 'true' })) : [];
  return [
    ...first,
    { name: 'shell-timeout-setsid', host: 'node1', shell: `${parent}timeout 500 sleep ${n}1 & setsid sleep ${n}2 </dev/null >/dev/null 2>&1 & ${tail}` },
    // `timeout` keeps the job's output: over SSH the channel stayed open and the run hung until it ended.
    { name: 'shell-holds-output', host: 'node2', shell: `${parent}setsid sleep ${n}3 </dev/null >/dev/null 2>&1 & timeout 300 sleep ${n}4 & sleep 1; ${end ? 'exit 0' : tail}` },
    { name: 'node-children', host: 'node3', node: ['escape', end ? 'end' : 'wait', `${n}5`] },
    { name: 'local-shell', host: 'localhost', shell: `${parent}setsid sleep ${n}6 </dev/null >/dev/null 2>&1 & timeout 300 sleep ${n}7 & sleep 1; ${end ? 'exit 0' : tail}` },
    { name: 'local-node', host: 'localhost', node: ['escape', end ? 'end' : 'wait', `${n}8`] },
  ];
}

/** Through the agent: every shell job under test said its parent was its host's agent. */
function expectRanInAgents(run: FaultRun): void {
  for (const name of ['shell-timeout-setsid', 'shell-holds-output', 'local-shell']) {
    expect(run.log(), `${name} ran in its host's agent`).to.match(new RegExp(`#${name} parent \\S*node\\S* \\S*agent[.]js`));
  }
}

describe('faults: nothing a job started outlives it, in its process group or not (real sshd hosts)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();

  for (const [path, agent] of [['over channels of their own', false], ['through the hosts\' agents', true]] as const) {
    it(`after a normal end, over SSH and locally, ${path}; a child holding the output does not hold up the run`, async () => {
      const n = uniqueNumber();
      const run = startFaultRun(hosts.p, escapingJobs(n, true, agent));
      const result = await endedWithin(run, 30_000);
      expect(result.code, result.stderr).to.equal(0);
      for (const name of ['shell-timeout-setsid', 'shell-holds-output', 'node-children', 'local-shell', 'local-node']) {
        expect(job(result, name), name).to.include({ state: 'succeeded', returncode: 0 });
      }
      if (agent) expectRanInAgents(run);
      await expectNothingLeft(hosts.p.cluster);
      await expectNoLocalSleeps(n);
    });

    for (const [how, stop] of [['Ctrl-C', 'SIGINT'], ['SIGKILL of the master', 'SIGKILL']] as const) {
      it(`after ${how}, over SSH and locally, ${path}`, async () => {
        const n = uniqueNumber();
        const run = startFaultRun(hosts.p, escapingJobs(n, false, agent));
        await run.waitForLog(/#(shell-timeout-setsid|shell-holds-output|local-shell) started/, 3);
        await run.waitForLog(/#(node-children|local-node) escaped \d+ \d+ \d+/, 2);
        if (agent) expectRanInAgents(run);
        run.master.kill(stop);
        const result = await endedWithin(run, 30_000);
        if (stop === 'SIGINT') expect(result.code, result.stderr).to.equal(130);
        else expect(result.signal).to.equal('SIGKILL');
        await expectNothingLeft(hosts.p.cluster, 8000);
        await expectNoLocalSleeps(n, 8000);
      });
    }
  }
});

/**
 * The warm agent per host (issue 16), over real sshd hosts: many jobs through one agent per host,
 * warm node scripts, and the guarantees of the channel path kept: nothing left after a master
 * SIGKILL, an agent killed mid-run, warm jobs that time out, throw, exit or hang, a flood beside a
 * chatty job, an agent of another protocol version, and a host where the agent cannot start.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { isAlive, waitFor } from '../harness/local-processes.js';
import { expectNothingLeft, job, sshTestHosts, startFaultRun, type FaultRun, type JobSpec } from './fault-run.js';
import { expectChatterDuringFlood, MAX_RSS, MiB, watchRun } from './output-watch.js';

const HOSTS = ['node1', 'node2', 'node3'];

/** A host's first job runs over a channel of its own (its agent starts with the second): these go first, so that the jobs under test run in the agent. */
function firstJobs(hosts: readonly string[]): JobSpec[] {
  return hosts.map((host) => ({ name: `first-${host}`, host, shell: 'true' }));
}

/** The agents this run started, by host, from its log (its debug line `agent started on <host> (pid N, ...)`). */
function agentsOf(run: FaultRun): Map<string, number> {
  return new Map([...run.log().matchAll(/agent started on (\S+) \(pid (\d+),/g)].map((match) => [match[1]!, Number(match[2])]));
}

describe('faults: the warm agent per host (real sshd hosts)', function () {
  this.timeout(240_000);
  const hosts = sshTestHosts();
  afterEach(() => hosts.p.configure());

  it('runs 1,000 mixed shell and warm jobs through one agent per host, each job\'s outputs and log lines its own', async () => {
    const specs: JobSpec[] = [];
    for (let i = 0; i < 1000; i++) {
      const host = HOSTS[i % 3]!;
      const name = `j${i}`;
      // A shell job's parent is its host's agent (but for the host's first job, which runs over a channel): $PPID tells how many agents ran the host's jobs.
      specs.push(i % 2 === 0
        ? { name, host, shell: `i=1; while [ $i -le 50 ]; do echo "id ${name} $i"; i=$((i+1)); done; echo "parent $PPID $(tr '\\0' ' ' </proc/$PPID/cmdline)"` }
        : { name, host, node: ['say-id', 50], warm: true });
    }
    specs.push(...firstJobs(['localhost']), { name: 'local-warm', host: 'localhost', node: ['say-id', 50], warm: true });
    const run = startFaultRun(hosts.p, specs, ['--max-per-node', '8']);
    const result = await run.ended;
    expect(result.code, result.stderr.slice(-2000)).to.equal(0);
    const agents = new Map<string, Set<string>>();
    const overChannels = new Map<string, number>();
    const workers = new Map<string, Set<number>>();
    const checked = specs.filter((spec) => !spec.name.startsWith('first-'));
    for (const spec of checked) {
      const report = job(result, spec.name);
      expect(report, spec.name).to.include({ state: 'succeeded', returncode: 0, host: spec.host });
      if (spec.shell) {
        const stdout = report.outputs.stdout as string[];
        expect(stdout.slice(0, 50), spec.name).to.deep.equal(Array.from({ length: 50 }, (_, i) => `id ${spec.name} ${i + 1}`));
        const [, parent, command] = /^parent (\d+) (.*)$/.exec(stdout[50]!)!;
        if (/agent[.]js/.test(command!)) agents.set(spec.host!, (agents.get(spec.host!) ?? new Set()).add(parent!));
        else overChannels.set(spec.host!, (overChannels.get(spec.host!) ?? 0) + 1);
      } else {
        expect(report.outputs.id, spec.name).to.equal(spec.name);
        workers.set(spec.host!, (workers.get(spec.host!) ?? new Set()).add(report.outputs.pid as number));
      }
    }
    for (const host of HOSTS) {
      expect([...agents.get(host)!], `agents that ran ${host}'s shell jobs`).to.have.length(1);
      expect(overChannels.get(host) ?? 0, `${host}'s shell jobs over a channel of their own (its first job)`).to.be.at.most(1);
      // Warm: far fewer workers than jobs (at most one per job running at once; and the host's first job, cold over a channel).
      expect(workers.get(host)!.size, `warm workers on ${host}`).to.be.at.most(9);
    }
    // Every "id X n" line in the run's log is under job X of X's host, 50 for each job.
    const seen = new Map<string, number>();
    for (const line of run.log().split('\n')) {
      const match = /(\S+)#(\S+) id (\S+) (\d+)$/.exec(line);
      if (!match) continue;
      const [, host, jobName, id] = match;
      expect(jobName, line).to.equal(id);
      expect(host, line).to.equal(specs.find((spec) => spec.name === id)!.host);
      seen.set(id!, (seen.get(id!) ?? 0) + 1);
    }
    expect(seen.size).to.equal(checked.length);
    expect([...seen.values()].every((n) => n === 50), 'every job logged its id 50 times').to.equal(true);
    await expectNothingLeft(hosts.p.cluster);
  });

  it('leaves nothing of the test user on any host within 5 s of a master SIGKILL with 20 jobs running', async () => {
    const specs: JobSpec[] = [];
    for (let i = 0; i < 20; i++) {
      const host = HOSTS[i % 3]!;
      const kind = i % 4;
      if (kind === 0) specs.push({ name: `shell${i}`, host, shell: `echo "ready shell${i}"; sleep 300 & sh -c 'sleep 301' & wait` });
      else if (kind === 1) specs.push({ name: `cold${i}`, host, node: ['children'] });
      else specs.push({ name: `warm${i}`, host, node: ['children'], warm: true });
    }
    const run = startFaultRun(hosts.p, specs, ['--max-per-node', '16']);
    // `#job ready`: the job said it (its debug "starting" line holds a shell job's command, `echo "ready ..."`).
    await run.waitForLog(/#\w+ ready (shell|cold|warm)\d+/, 20, 60_000);
    await run.waitForLog(/children \d+ \d+ \d+/, 15, 30_000);
    expect([...agentsOf(run).keys()].sort(), 'one agent per host').to.deep.equal(HOSTS);
    run.master.kill('SIGKILL');
    await run.ended;
    await expectNothingLeft(hosts.p.cluster, 5000);
  });

  it('gives every cold node script a process of its own, started ahead of it, that is the script as `node <script>` would be', async () => {
    const specs: JobSpec[] = [0, 1, 2, 3, 4, 5].map((i) => ({ name: `cold${i}`, host: 'node1', node: ['say-id', 1], environment: { COLD_CHECK: `v${i}` } }));
    const result = await startFaultRun(hosts.p, [...firstJobs(['node1']), ...specs], ['--max-per-node', '2']).ended;
    expect(result.code, result.stderr).to.equal(0);
    const pids = specs.map((spec) => job(result, spec.name).outputs.pid);
    expect(new Set(pids).size, 'one process per cold job').to.equal(specs.length);
    for (const spec of specs) {
      const outputs = job(result, spec.name).outputs;
      expect(outputs.script, spec.name).to.match(/\/nodes\/fault[.]js$/);
      expect(outputs.started, `${spec.name}: a process started ahead, by the agent`).to.match(/cold-start[.]js/);
      expect(outputs.parent, spec.name).to.match(/agent[.]js/);
      expect(outputs.coldCheck, spec.name).to.equal(spec.environment!.COLD_CHECK);
      expect(outputs.cwd, spec.name).to.equal(readFileSync(hosts.p.ws.configPath, 'utf8').match(/^working_directory = (.*)$/m)![1]);
    }
    await expectNothingLeft(hosts.p.cluster);
  });

  it('fails the running jobs of an agent killed mid-run as connection-lost, retries them, and starts a new agent', async () => {
    // The jobs wait for a file that appears only once their agent is killed: the kill comes while they run, however slow the machine.
    const go = join(hosts.p.cluster.dir, 'work', `go-${process.pid}-${Date.now()}`);
    const specs: JobSpec[] = [0, 1, 2, 3].map((i) => ({
      name: `long${i}`, host: 'node1', shell: `echo "ready long${i}"; while [ ! -e ${go} ]; do sleep 0.1; done; echo done`, retries: 2,
    }));
    const run = startFaultRun(hosts.p, [...firstJobs(['node1']), ...specs]);
    await run.waitForLog(/#long\d ready long\d/, 4);
    const agent = agentsOf(run).get('node1');
    expect(agent, 'the agent on node1').to.be.a('number');
    process.kill(agent!, 'SIGKILL');
    await waitFor(() => !isAlive(agent!), 5000);
    writeFileSync(go, '');
    const result = await run.ended;
    expect(result.code, result.stderr).to.equal(0);
    for (const spec of specs) {
      const report = job(result, spec.name);
      expect(report, spec.name).to.include({ state: 'succeeded', returncode: 0 });
      expect(report.attempts[0], spec.name).to.include({ failure: 'connection-lost' });
      expect(report.attempts[0]!.message).to.match(/^the agent on node1 ended while the job ran \(killed by SIGKILL\)/);
      expect(report.outputs.stdout).to.deep.equal([`ready ${spec.name}`, 'done']);
    }
    expect(isAlive(agent!)).to.equal(false);
    await expectNothingLeft(hosts.p.cluster);
  });

  it('ends warm jobs that time out, throw, exit or never resolve with their own reason; the others on the agent go on', async () => {
    const specs: JobSpec[] = [
      ...firstJobs(['node1']),
      { name: 'times-out', host: 'node1', node: ['children'], warm: true, timeout: 6, retries: 0 },
      { name: 'throws', host: 'node1', node: ['throw', 'on purpose'], warm: true, retries: 0 },
      { name: 'exits', host: 'node1', node: ['exit', 5], warm: true, retries: 0 },
      { name: 'hangs', host: 'node1', node: ['sleep'], warm: true, timeout: 1, retries: 0 },
      ...[0, 1, 2, 3, 4].map((i) => ({ name: `fine${i}`, host: 'node1', node: ['say-id', 1], warm: true })),
    ];
    const run = startFaultRun(hosts.p, specs, ['--max-per-node', '2']);
    const result = await run.ended;
    expect(result.code).to.equal(1);
    expect(job(result, 'times-out')).to.include({ state: 'failed', failure: 'timeout' });
    expect(job(result, 'throws')).to.include({ state: 'failed', failure: 'node-exception', message: 'node script threw Error: on purpose' });
    expect(job(result, 'exits')).to.include({ state: 'failed', failure: 'exit', returncode: 5 });
    expect(job(result, 'hangs')).to.include({ state: 'failed', failure: 'timeout' });
    for (let i = 0; i < 5; i++) expect(job(result, `fine${i}`)).to.include({ state: 'succeeded', returncode: 0 });
    // The timed-out job's worker and its children are gone, and no later job ran in that worker.
    const children = /children (\d+) (\d+) (\d+) of (\d+)/.exec(run.log());
    expect(children, 'the timed-out job logged its children before its timeout').to.not.equal(null);
    const [child, grand, grandchild, worker] = children!.slice(1).map(Number);
    expect(await waitFor(() => ![child, grand, grandchild, worker].some((pid) => isAlive(pid!)), 5000), 'the worker and its children are gone').to.equal(true);
    for (let i = 0; i < 5; i++) expect(job(result, `fine${i}`).outputs.pid).to.not.equal(worker);
    await expectNothingLeft(hosts.p.cluster);
  });

  it('reuses a warm worker after a job that started a program and after one whose outputs filled its window', async () => {
    const specs: JobSpec[] = [
      ...firstJobs(['node2']),
      { name: 'execs', host: 'node2', node: ['exec-true'], warm: true },
      { name: 'big-outputs', host: 'node2', node: ['outputs', 600_000], warm: true },
      ...[0, 1, 2].map((i) => ({ name: `after${i}`, host: 'node2', node: ['say-id', 1], warm: true })),
    ];
    const result = await startFaultRun(hosts.p, specs, ['--max-per-node', '1']).ended;
    expect(result.code, result.stderr).to.equal(0);
    expect(job(result, 'execs').outputs.code).to.equal(0);
    expect((job(result, 'big-outputs').outputs.big as string).length).to.equal(600_000);
    const workers = new Set([job(result, 'execs').outputs.pid, ...[0, 1, 2].map((i) => job(result, `after${i}`).outputs.pid)]);
    expect([...workers], 'one worker ran them all, one after another').to.have.length(1);
    await expectNothingLeft(hosts.p.cluster);
  });

  it('keeps a chatty job\'s lines coming while another job on the same host prints 100 MB, with the master\'s memory bounded', async () => {
    const flood = 100 * MiB;
    const run = await watchRun(hosts.p, [
      ...firstJobs(['node1']),
      { name: 'flood', host: 'node1', shell: `head -c ${flood} /dev/urandom | tr '\\0' 'x' >&2; printf '\\nflood done\\n' >&2` },
      { name: 'chatter', host: 'node1', node: ['chatter', 20] },
    ], ['node1#flood flood done', 'node1#flood succeeded in', 'node1#chatter succeeded in'],
    (log) => log.bytes > 8 * MiB && log.count('node1#flood succeeded in') === 0 && log.count('node1#chatter succeeded in') === 0);
    expect(run.result.code, run.result.stderr).to.equal(0);
    const chatter = expectChatterDuringFlood(run.samples);
    console.log(`      master max RSS ${(run.maxRss / MiB).toFixed(0)} MiB, ${chatter.lines} chatter lines in ${chatter.seconds.toFixed(1)} s of flood (longest gap ${chatter.longestStall} ms)`);
    expect(run.maxRss).to.be.below(MAX_RSS);
    expect(run.log.count('node1#flood flood done')).to.equal(1);
    await expectNothingLeft(hosts.p.cluster);
  });

  it('refuses an agent of another protocol version: exit 2 with one line naming both versions and install_root', async () => {
    const older = join(hosts.p.cluster.dir, 'older-framework');
    cpSync(hosts.p.installRoot, older, { recursive: true });
    const protocolFile = join(older, 'dist', 'support', 'agent', 'agent-protocol.js');
    writeFileSync(protocolFile, readFileSync(protocolFile, 'utf8').replace(/AGENT_PROTOCOL_VERSION = \d+/, 'AGENT_PROTOCOL_VERSION = 0'));
    try {
      hosts.p.configure(`install_root = ${older}`);
      const result = await startFaultRun(hosts.p, [...firstJobs(['node1']), { name: 'one', host: 'node1', shell: 'echo hi' }]).ended;
      expect(result.code, result.stderr).to.equal(2);
      const lines = result.stderr.split('\n').filter((line) => line.startsWith('pipeline: '));
      expect(lines).to.deep.equal([`pipeline: the agent on node1 speaks agent protocol 0, this master 1 (install_root ${older}); deploy the same framework version on the master and the hosts`]);
      await expectNothingLeft(hosts.p.cluster);
    } finally {
      rmSync(older, { recursive: true, force: true });
    }
  });

  it('falls back to a channel per job on a host where the agent cannot start, saying so once per host', async () => {
    const partial = join(hosts.p.cluster.dir, 'without-agent');
    cpSync(hosts.p.installRoot, partial, { recursive: true });
    rmSync(join(partial, 'dist', 'support', 'agent'), { recursive: true });
    try {
      hosts.p.configure(`install_root = ${partial}`);
      // Several jobs per host wait on the same agent that cannot start: still said once.
      const specs: JobSpec[] = Array.from({ length: 12 }, (_, i) => ({ name: `s${i}`, host: HOSTS[i % 3], shell: `echo s${i}` }));
      const run = startFaultRun(hosts.p, specs, ['--max-per-node', '4']);
      const result = await run.ended;
      expect(result.code, result.stderr).to.equal(0);
      for (const spec of specs) expect(job(result, spec.name).outputs.stdout).to.deep.equal([spec.name]);
      for (const host of HOSTS) {
        const said = run.log().split('\n').filter((line) => line.includes(`the agent cannot start on ${host} (`));
        expect(said, host).to.have.length(1);
        expect(said[0]).to.match(/\); its jobs run one SSH channel each$/);
      }
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  });

  it('runs each job over a channel of its own with [remote] dispatch = channel', async () => {
    // What a shell job's parent is: the agent by default (but for a host's first job), sshd's shell with `dispatch = channel`.
    const specs: JobSpec[] = [...firstJobs(HOSTS), ...HOSTS.map((host, i) => ({ name: `c${i}`, host, shell: 'tr "\\0" " " < /proc/$PPID/cmdline; echo' }))];
    const parents = async () => {
      const result = await startFaultRun(hosts.p, specs).ended;
      expect(result.code, result.stderr).to.equal(0);
      return specs.filter((spec) => spec.name.startsWith('c')).map((spec) => (job(result, spec.name).outputs.stdout as string[])[0]!);
    };
    for (const parent of await parents()) expect(parent).to.match(/agent[.]js/);
    hosts.p.configure('dispatch = channel');
    for (const parent of await parents()) expect(parent).to.not.match(/agent[.]js/);
    await expectNothingLeft(hosts.p.cluster);
  });
});

/**
 * `[remote] method = slurm` against a real Slurm 22.05 of 3 nodes (../shared/slurm-lab.sh): jobs
 * (and each node's agent) as srun steps pinned to their nodes, inside salloc or an allocation
 * the master is given; exit codes and signals as over SSH; nothing left after a timeout, Ctrl-C
 * or SIGKILL of the master; `pipeline submit` as a batch job.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { journalPath } from '../../../support/records/job-journal.js';
import { expect } from 'chai';
import { cliPath, userProject, type Workspace } from '../../harness/pipeline-cli.js';
import { startSlurmLab, whyNoSlurm, type SlurmLab } from '../../harness/slurm-lab.js';

interface MasterRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('method = slurm: jobs as srun steps in a real Slurm (3 nodes)', function () {
  this.timeout(180_000);
  let lab: SlurmLab;
  let ws: Workspace;
  /** An allocation of the 3 nodes the master runs in without salloc, as a batch script would. */
  let allocation: { id: string; env: NodeJS.ProcessEnv };

  before(function () {
    const why = whyNoSlurm();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    lab = startSlurmLab(3);
    ws = userProject('method = slurm');
  });
  after(() => {
    ws?.remove();
    lab?.stop();
  });

  /** `pipeline <args>` as a process, with `env`; resolves when it ends. */
  function master(args: string[], env: NodeJS.ProcessEnv, onStart?: (child: ReturnType<typeof spawn>) => void): Promise<MasterRun> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [cliPath, ...args, '--config', ws.configPath], { cwd: ws.dir, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      onStart?.(child);
    });
  }

  /** Under `salloc -N 3`: the master gets the allocation salloc made for it. */
  function underSalloc(args: string[]): Promise<MasterRun> {
    return new Promise((resolve) => {
      const child = spawn('salloc', ['-N', '3', '--exclusive', '-J', 'pipeline-salloc', process.execPath, cliPath, ...args, '--config', ws.configPath], { cwd: ws.dir, env: { ...lab.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }

  /** Processes of this machine whose command line matches. */
  function processes(pattern: string): string[] {
    const found = spawnSync('pgrep', ['-af', pattern], { encoding: 'utf8' }).stdout.trim();
    return found ? found.split('\n').filter((line) => !line.includes('pgrep')) : [];
  }

  /** Waits until no step of the allocation is left and no process matches `pattern`; fails saying what is left. */
  async function expectNothingLeft(jobId: string, pattern: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const steps = lab.steps().filter((step) => step.startsWith(`${jobId}.`));
      const left = processes(pattern);
      if (steps.length === 0 && left.length === 0) return;
      if (Date.now() > deadline) expect.fail(`left after ${ms} ms: steps ${steps.join(', ') || 'none'}; processes:\n${left.join('\n')}`);
      await delay(200);
    }
  }

  it('inside salloc -N 3: every job runs as a step on its node (SLURMD_NODENAME), with its outputs, log lines and exact exit codes', async () => {
    const where = await underSalloc(['run', 'where', '--per-host', '2']);
    expect(where.code, where.stderr.slice(-3000)).to.equal(0);
    const jobs = (JSON.parse(where.stdout) as { jobs: Array<{ host: string; node: string; state: string }> }).jobs;
    expect(jobs.map((job) => job.host)).to.deep.equal(['n1', 'n1', 'n2', 'n2', 'n3', 'n3']);
    for (const job of jobs) expect(job, JSON.stringify(job)).to.include({ state: 'succeeded', node: job.host });

    const example = await underSalloc(['run', 'parallel_example', '--jobs', '6']);
    expect(example.code, example.stderr.slice(-3000)).to.equal(0);
    expect(example.stderr.match(/INFO\s+n[123]#\d+ job \d on \S+ \(pid \d+\) says: /g)).to.have.length(6);

    const faults = await underSalloc(['run', 'faults', '--jobs', JSON.stringify([
      { name: 'three', host: 'n1', shell: 'echo "on $SLURMD_NODENAME"; exit 3' },
      { name: 'usr1', host: 'n2', shell: 'kill -USR1 $$' },
      { name: 'four', host: 'n3', node: ['exit', 4] },
      { name: 'fine', host: 'n2', shell: 'echo "$SLURMD_NODENAME $SLURM_CPUS_PER_TASK $OMP_NUM_THREADS"', cores: 2 },
      { name: 'too-big', host: 'n3', shell: 'true', cores: 64 },
    ])]);
    expect(faults.code).to.equal(1);
    const byName = new Map((JSON.parse(faults.stdout) as { jobs: Array<{ name: string; returncode: number | null; signal: string | null; failure?: string; outputs: { stdout?: string[] } }> }).jobs.map((job) => [job.name, job]));
    expect(byName.get('three')).to.include({ returncode: 3, failure: 'exit' });
    expect(byName.get('three')!.outputs.stdout).to.deep.equal(['on n1']);
    expect(byName.get('usr1')).to.include({ returncode: null, signal: 'SIGUSR1', failure: 'signal' });
    expect(byName.get('four')).to.include({ returncode: 4, failure: 'exit' });
    expect(byName.get('fine')!.outputs.stdout).to.deep.equal(['n2 2 2']);
    // More CPUs than the node has in the allocation: srun refuses the step; the job never started, and is not retried.
    expect(byName.get('too-big')).to.deep.include({ failure: 'launch-failed', launchProblem: 'not-startable', retries: 0 });
    expect((byName.get('too-big') as unknown as { message: string }).message).to.match(/^srun could not create the step: Unable to create step for job \d+: More processors requested than permitted/);
    // srun's own lines about a task's end are not the job's output.
    expect(faults.stderr).to.not.match(/srun: error: .*task 0/);
  });

  it('pipeline hosts check inside salloc: each allocated node is checked through a step', async () => {
    const check = await underSalloc(['hosts', 'check', '--json']);
    expect(check.code, check.stdout + check.stderr).to.equal(0);
    const rows = JSON.parse(check.stdout) as Array<{ host: string; ok: boolean; node: string; agent: number; latencyMs: number }>;
    expect(rows.map((row) => row.host)).to.deep.equal(['n1', 'n2', 'n3']);
    for (const row of rows) {
      expect(row.ok).to.equal(true);
      expect(row.node).to.match(/^v\d+/);
      expect(row.agent).to.equal(1);
      expect(row.latencyMs).to.be.above(0);
    }
  });

  describe('in an allocation the master is given (as a batch script is)', () => {
    before(() => {
      const granted = spawnSync('salloc', ['--no-shell', '-N', '3', '--exclusive', '-J', 'pipeline-tests'], { env: lab.env, encoding: 'utf8', timeout: 60_000 });
      const id = /Granted job allocation (\d+)/.exec(granted.stderr)?.[1];
      if (!id) throw new Error(`salloc gave no allocation: ${granted.stderr}`);
      allocation = { id, env: { ...lab.env, SLURM_JOB_ID: id, SLURM_JOB_NODELIST: 'n[1-3]', SLURM_JOB_CPUS_PER_NODE: `${execFileSync('nproc', { encoding: 'utf8' }).trim()}(x3)` } };
    });
    // The nodes are the allocation's alone (--exclusive): give them back for the tests after.
    after(() => {
      if (allocation) lab.slurm('scancel', [allocation.id]);
    });

    it('a job over its timeout is stopped, its step gone and nothing of it left', async () => {
      const run = await master(['run', 'faults', '--job-name', 'slurm-timeout', '--jobs', JSON.stringify([
        { name: 'slow', host: 'n2', shell: 'sleep 3017', timeout: 1.5 },
        { name: 'quick', host: 'n3', shell: 'true' },
      ])], allocation.env);
      expect(run.code).to.equal(1);
      const jobs = new Map((JSON.parse(run.stdout) as { jobs: Array<{ name: string; failure?: string; state: string }> }).jobs.map((job) => [job.name, job]));
      expect(jobs.get('slow')).to.include({ state: 'failed', failure: 'timeout' });
      expect(jobs.get('quick')).to.include({ state: 'succeeded' });
      await expectNothingLeft(allocation.id, 'sleep 3017');
    });

    for (const [signal, code] of [['SIGINT', 130], ['SIGKILL', null]] as const) {
      it(`${signal} of the master with steps running: no step and no process of the jobs is left; the allocation stays`, async () => {
        const marker = signal === 'SIGINT' ? 3018 : 3019;
        let child: ReturnType<typeof spawn> | undefined;
        const ended = master(['run', 'faults', '--job-name', `slurm-${signal}`, '--jobs', JSON.stringify(
          ['n1', 'n2', 'n3'].map((host, i) => ({ name: `s${i}`, host, shell: `echo "ready s${i}"; sleep ${marker} & sleep ${marker} & wait` })),
        )], allocation.env, (started) => (child = started));
        // Every job has started and said so.
        for (let waited = 0; processes(`sleep ${marker}`).length < 6; waited += 100) {
          if (waited > 60_000) expect.fail(`the jobs never started: ${processes('sleep').join('\n')}`);
          await delay(100);
        }
        expect(lab.steps().filter((step) => step.startsWith(`${allocation.id}.`)).length).to.be.at.least(1);
        child!.kill(signal);
        const result = await ended;
        if (code !== null) expect(result.code, result.stderr.slice(-2000)).to.equal(code);
        await expectNothingLeft(allocation.id, `sleep ${marker}`);
        expect(lab.slurm('squeue', ['-h', '-j', allocation.id, '-o', '%T']).trim()).to.equal('RUNNING');
      });
    }

  });

  it('pipeline submit: prints the Slurm job id, the batch job runs the recipe in its allocation, and pipeline status agrees', async () => {
    const submitted = spawnSync(process.execPath, [cliPath, 'submit', 'where', '--job-name', 'submitted', '--slurm=-N 3 --exclusive', '--config', ws.configPath], { cwd: ws.dir, env: lab.env, encoding: 'utf8' });
    expect(submitted.status, submitted.stderr).to.equal(0);
    const id = submitted.stdout.trim();
    expect(id).to.match(/^\d+$/);
    expect(submitted.stderr).to.include(`submitted job submitted as Slurm job ${id}`);
    // logs --follow waits for the run to start and follows it to its end.
    const follow = spawnSync(process.execPath, [cliPath, 'logs', 'submitted', '--follow', '--config', ws.configPath], { cwd: ws.dir, env: lab.env, encoding: 'utf8', timeout: 120_000 });
    expect(follow.status, follow.stderr).to.equal(0);
    expect(follow.stdout).to.match(/recipe where completed/);
    const status = () => JSON.parse(spawnSync(process.execPath, [cliPath, 'status', 'submitted', '--json', '--config', ws.configPath], { cwd: ws.dir, env: lab.env, encoding: 'utf8' }).stdout) as { status?: string; slurm?: { jobId: string; state: string }; outputs?: unknown };
    expect(status().slurm?.jobId).to.equal(id);
    for (let waited = 0; lab.slurm('squeue', ['-h', '-j', id, '-o', '%T']).trim() !== ''; waited += 200) {
      if (waited > 90_000) expect.fail(`Slurm job ${id} never ended`);
      await delay(200);
    }
    const done = status();
    expect(done.status).to.equal('succeeded');
    expect(done.slurm?.jobId).to.equal(id);
    expect(done.slurm?.state).to.match(/^ENDED/);
    // The recipe's outputs are in the record: one job per node, each run on its node.
    const events = readFileSync(journalPath(ws.jobDirectory('submitted')), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; outputs?: { jobs: Array<{ host: string; node: string }> } });
    const outputs = events.filter((event) => event.type === 'run-ended').at(-1)!.outputs!;
    expect(outputs.jobs.map((job) => [job.host, job.node])).to.deep.equal([['n1', 'n1'], ['n2', 'n2'], ['n3', 'n3']]);
  });
});

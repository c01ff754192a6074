import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { readJournal } from '../../support/records/job-journal.js';
import { cliPath, projectPerTest } from '../harness/pipeline-cli.js';

interface StatusJson {
  status: string;
  counts: Record<string, number>;
  reused: number;
  jobs: Array<{ job: string; state: string; failure?: string }>;
}

describe('job records and resume', function () {
  this.timeout(180_000);
  const project = projectPerTest();

  /** How often each job appended its marker. */
  function markerCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    if (!existsSync(project.markers)) return counts;
    for (const line of readFileSync(project.markers, 'utf8').split('\n').filter(Boolean)) counts.set(Number(line), (counts.get(Number(line)) ?? 0) + 1);
    return counts;
  }

  async function status(jobName = 'markers'): Promise<StatusJson> {
    const result = await project.ws.run(['status', jobName, '--json']);
    const parsed = JSON.parse(result.stdout) as StatusJson;
    // 0 for a run that succeeded or still runs, 1 for one that failed, was interrupted or crashed.
    expect(result.code, result.stderr).to.equal(['succeeded', 'running'].includes(parsed.status) ? 0 : 1);
    return parsed;
  }

  /** Starts `pipeline run markers` and SIGKILLs it once `killWhen` says so (or after `ms`). */
  async function runAndKill(args: string[], killWhen: () => boolean): Promise<void> {
    const master = spawn(process.execPath, [cliPath, 'run', 'markers', '--markers', project.markers, ...args, '--config', project.ws.configPath], { cwd: project.ws.dir, stdio: 'ignore' });
    const closed = new Promise((resolve) => master.on('close', resolve));
    while (!killWhen() && master.exitCode === null) await sleep(10);
    master.kill('SIGKILL');
    await closed;
  }

  it('after the master is killed mid-run, the rerun runs only what had not succeeded, and status agrees with the markers', async () => {
    await runAndKill(['--count', '40', '--delay', '0.1'], () => (markerCounts().size >= 15));
    const journal = readJournal(join(project.ws.jobDirectory('markers'), 'journal.ndjson'));
    expect(journal.problems).to.deep.equal([]);
    const succeededBefore = [...journal.runs[0]!.jobs.values()].filter((job) => job.state === 'succeeded').map((job) => Number(job.job.slice(1)));
    expect(succeededBefore.length, 'some jobs succeeded before the kill').to.be.at.least(10);
    expect(succeededBefore.length, 'the kill came before the end').to.be.below(40);
    expect((await status()).status).to.equal('crashed');

    const rerun = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '40', '--delay', '0.1']);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(rerun.stderr).to.include(`resuming job markers: ${succeededBefore.length} jobs succeeded in earlier runs`);
    const counts = markerCounts();
    for (const n of succeededBefore) expect(counts.get(n), `job m${n} ran again`).to.equal(1);
    expect([...counts.keys()].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
    const after = await status();
    expect(after.status).to.equal('succeeded');
    expect(after.counts).to.deep.equal({ succeeded: 40 });
    expect(after.reused).to.equal(succeededBefore.length);
    expect(after.jobs.filter((job) => job.state === 'succeeded').map((job) => Number(job.job.slice(1))).sort((a, b) => a - b))
      .to.deep.equal([...counts.keys()].sort((a, b) => a - b));
  });

  it('hands the recorded outputs to go(), goes on over changed inputs reusing the same jobs, and starts over with --fresh', async () => {
    const first = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '5']);
    expect(first.code, first.stderr).to.equal(0);
    const outputs = JSON.parse(first.stdout) as { results: string[][]; reused: number };
    expect(outputs.results[2]).to.deep.equal(['job 3 output']);
    expect(outputs.reused).to.equal(0);

    const again = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '5']);
    expect(again.code, again.stderr).to.equal(0);
    expect(JSON.parse(again.stdout)).to.deep.equal({ results: outputs.results, reused: 5 });
    expect(readFileSync(project.markers, 'utf8').split('\n').filter(Boolean)).to.have.length(5);

    // Changed inputs: the run goes on, says what changed, reuses the jobs that are the same and runs the new one.
    const changed = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '6']);
    expect(changed.code, changed.stderr).to.equal(0);
    expect(changed.stderr).to.include('job markers was last run with other inputs (--count 5, now 6): the jobs whose command and arguments are unchanged are reused, the others run (--fresh runs them all)');
    expect((JSON.parse(changed.stdout) as { reused: number }).reused).to.equal(5);
    expect(markerCounts().get(6)).to.equal(1);

    // Another recipe under the same job name is still a mistake to say.
    const other = await project.ws.run(['run', 'greet', '-j', 'markers']);
    expect(other.code).to.equal(2);
    expect(other.stderr.trim()).to.equal('pipeline: job markers was last run with recipe markers, not greet; give this run another --job-name, rerun with --fresh to start over, or --resume-anyway to keep the jobs it finished');

    const fresh = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '6', '--fresh']);
    expect(fresh.code, fresh.stderr).to.equal(0);
    expect((JSON.parse(fresh.stdout) as { reused: number }).reused).to.equal(0);
    expect([...markerCounts().values()]).to.deep.equal([2, 2, 2, 2, 2, 2]);
  });

  it('a run whose per-job files cannot be written says so once and still runs and records every job', async () => {
    const dir = project.ws.jobDirectory('markers');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'jobs'), 'a file where the job directories would go\n');
    const result = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '6']);
    expect(result.code, result.stderr).to.equal(0);
    const complaints = result.stderr.split('\n').filter((line) => line.includes("could not write a job's files"));
    expect(complaints, result.stderr).to.have.length(1);
    expect(complaints[0]).to.include(join(dir, 'jobs')).and.to.match(/later such errors are not shown$/);
    expect([...markerCounts().values()]).to.deep.equal([1, 1, 1, 1, 1, 1]);
    expect((await status()).counts).to.deep.equal({ succeeded: 6 });
  });

  it('pipeline retry reruns only the jobs that failed, with the recorded inputs', async () => {
    writeFileSync(join(project.ws.dir, 'fail-3'), '');
    writeFileSync(join(project.ws.dir, 'fail-7'), '');
    const first = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '8']);
    expect(first.code).to.equal(1);
    const failed = await status();
    expect(failed.counts).to.deep.equal({ succeeded: 6, failed: 2 });
    expect(failed.jobs.filter((job) => job.state === 'failed').map((job) => [job.job, job.failure])).to.deep.equal([['m3', 'exit'], ['m7', 'exit']]);

    rmSync(join(project.ws.dir, 'fail-3'));
    rmSync(join(project.ws.dir, 'fail-7'));
    const retry = await project.ws.run(['retry', 'markers']);
    expect(retry.code, retry.stderr).to.equal(0);
    const counts = markerCounts();
    expect([...counts.entries()].filter(([, n]) => n === 2).map(([job]) => job).sort()).to.deep.equal([3, 7]);
    expect((await status()).counts).to.deep.equal({ succeeded: 8 });
  });

  it('the records stay readable after the master is killed at 20 random instants, and the run still completes', async () => {
    for (let i = 0; i < 20; i++) {
      const killAt = Date.now() + 100 + Math.random() * 900;
      await runAndKill(['--count', '30', '--delay', '0.02'], () => Date.now() >= killAt);
      const path = join(project.ws.jobDirectory('markers'), 'journal.ndjson');
      const result = await project.ws.run(['status', 'markers', '--json']);
      if (!existsSync(path)) {
        // killed before the run began: nothing recorded, and status says so
        expect(result.code, `status after kill ${i + 1}`).to.equal(2);
        expect(result.stderr).to.match(/^pipeline: no run named markers: /);
        continue;
      }
      expect(readJournal(path).problems, `after kill ${i + 1}`).to.deep.equal([]);
      // A killed master's run reads as crashed (exit 1); one whose journal ended before the kill as it ended.
      const { status: state } = JSON.parse(result.stdout) as StatusJson;
      expect(result.code, `status after kill ${i + 1}: ${result.stderr}`).to.equal(['succeeded', 'running'].includes(state) ? 0 : 1);
    }
    const last = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '30', '--delay', '0.02']);
    expect(last.code, last.stderr).to.equal(0);
    expect((await status()).counts).to.deep.equal({ succeeded: 30 });
    expect([...markerCounts().keys()]).to.have.length(30);
  });

  it('forged job-ended lines appended to the journal are neither counted by status nor reused by a rerun, and status names them', async () => {
    const { ws } = project;
    const specs = [{ name: 'fine', host: 'localhost', shell: 'echo fine' }, { name: 'broken', host: 'localhost', shell: 'echo broken >> ' + project.markers + '; exit 3' }];
    const first = await ws.run(['run', 'faults', '--job-name', 'forged', '--jobs', JSON.stringify(specs)]);
    expect(first.code).to.equal(1);
    const journal = join(ws.jobDirectory('forged'), 'journal.ndjson');
    const events = readFileSync(journal, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const run = events[0]!.run as string;
    const broken = events.find((event) => event.type === 'job-ended' && event.job === 'broken')!;
    const lines = readFileSync(journal, 'utf8').trim().split('\n').length;
    // A success for the failed job under another identity, and one for a job the run never queued.
    const forged = [{ ...broken, key: 'forged-key', state: 'succeeded', failure: undefined, returncode: 0 }, { ...broken, job: 'ghost', key: 'ghost-key', state: 'succeeded', returncode: 0 }];
    writeFileSync(journal, readFileSync(journal, 'utf8') + forged.map((event) => JSON.stringify(event) + '\n').join(''));

    const said = await project.ws.run(['status', 'forged', '--json']);
    expect(said.code).to.equal(1);
    const parsed = JSON.parse(said.stdout) as StatusJson;
    expect(parsed.counts).to.deep.equal({ succeeded: 1, failed: 1 });
    expect(parsed.jobs.map((job) => `${job.job} ${job.state}`).sort()).to.deep.equal(['broken failed', 'fine succeeded']);
    expect(said.stderr).to.include(`${journal}:${lines + 1}: job-ended for job "broken" does not belong to run ${run}`);
    expect(said.stderr).to.include(`${journal}:${lines + 2}: job-ended for job "ghost" does not belong to run ${run}`);
    // The rerun runs the failed job again: the forged success is not reused.
    const again = await ws.run(['run', 'faults', '--job-name', 'forged', '--jobs', JSON.stringify(specs)]);
    expect(again.code).to.equal(1);
    expect(readFileSync(project.markers, 'utf8')).to.equal('broken\nbroken\n');
  });
});

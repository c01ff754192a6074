import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobJournal, readJournal } from '../../../support/records/job-journal.js';
import type { JobEnded, RunEvent, RunStarted } from '../../../support/records/run-events.js';

const TIME = '2026-11-22T01:00:00.000Z';

function started(run: string, extra: Partial<RunStarted> = {}): RunStarted {
  return {
    type: 'run-started', v: 1, time: TIME, run, jobName: 'j', recipe: 'r', recipePath: '/r.js', inputs: { n: 1 }, inputsHash: 'h', hosts: ['n1'],
    pid: process.pid, controlHost: hostname(), fresh: false, logFile: null, ...extra,
  };
}

function ended(run: string, job: string, key: string, state: 'succeeded' | 'failed', extra: Partial<JobEnded> = {}): JobEnded {
  return {
    type: 'job-ended', time: TIME, run, job, key, host: 'n1', state, returncode: state === 'succeeded' ? 0 : 3, signal: null,
    duration: 1, retries: 0, outputs: { job }, ...(state === 'failed' ? { failure: 'exit' as const, message: 'exited with return code 3' } : {}), ...extra,
  };
}

/** A job queued and ended in a run: readers count only the ends of jobs the run queued. */
function finished(run: string, job: string, key: string, state: 'succeeded' | 'failed', extra: Partial<JobEnded> = {}): RunEvent[] {
  return [{ type: 'job-queued', time: TIME, run, job, key, host: 'n1' }, ended(run, job, key, state, extra)];
}

describe('support/records/job-journal', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'journal-test-'));
    path = join(dir, 'job', 'journal.ndjson');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(events: RunEvent[]): void {
    const journal = new JobJournal(path);
    for (const event of events) journal.append(event);
    journal.close();
  }

  it('writes one JSON line per event and reads the runs back with each job\'s last state', () => {
    write([
      started('r1'),
      { type: 'job-queued', time: TIME, run: 'r1', job: '1', key: 'k1', host: 'n1' },
      { type: 'job-queued', time: TIME, run: 'r1', job: '2', key: 'k2', host: 'n2' },
      { type: 'job-started', time: TIME, run: 'r1', job: '1', key: 'k1', host: 'n1', attempt: 1, command: 'c', args: [] },
      ended('r1', '1', 'k1', 'succeeded'),
      { type: 'run-ended', time: TIME, run: 'r1', returncode: 0, interrupted: null, outputs: {} },
    ]);
    expect(readFileSync(path, 'utf8').trim().split('\n')).to.have.length(6);
    const { runs, succeeded, problems } = readJournal(path);
    expect(problems).to.deep.equal([]);
    expect(runs).to.have.length(1);
    expect(runs[0]!.status).to.equal('succeeded');
    expect([...runs[0]!.jobs.values()].map((job) => [job.job, job.state])).to.deep.equal([['1', 'succeeded'], ['2', 'queued']]);
    expect([...succeeded.keys()]).to.deep.equal(['k1']);
  });

  it('collects succeeded jobs over runs and forgets them at a fresh start', () => {
    write([started('r1'), ...finished('r1', '1', 'k1', 'succeeded'), ...finished('r1', '2', 'k2', 'failed')]);
    write([started('r2'), ...finished('r2', '2', 'k2', 'succeeded')]);
    expect([...readJournal(path).succeeded.keys()].sort()).to.deep.equal(['k1', 'k2']);
    write([started('r3', { fresh: true }), ...finished('r3', '3', 'k3', 'succeeded')]);
    expect([...readJournal(path).succeeded.keys()]).to.deep.equal(['k3']);
  });

  it('drops the torn last line of a killed master but reports a damaged line elsewhere', () => {
    write([started('r1'), ...finished('r1', '1', 'k1', 'succeeded'), { type: 'job-queued', time: TIME, run: 'r1', job: '3', key: 'k3', host: 'n1' }]);
    appendFileSync(path, '{"type":"job-ended","run":"r1","job":"2","ke');
    let contents = readJournal(path);
    expect(contents.problems).to.deep.equal([]);
    expect([...contents.succeeded.keys()]).to.deep.equal(['k1']);
    appendFileSync(path, '\n' + JSON.stringify(ended('r1', '3', 'k3', 'succeeded')) + '\n');
    contents = readJournal(path);
    expect(contents.problems).to.deep.equal([`${path}:5: not a JSON record`]);
    expect([...contents.succeeded.keys()]).to.deep.equal(['k1', 'k3']);
  });

  it('tells a run whose master died from one that still runs or was interrupted', () => {
    write([started('r1', { pid: 999_999_999 })]);
    write([started('r2')]);
    write([started('r3'), { type: 'run-ended', time: TIME, run: 'r3', returncode: 130, interrupted: 'SIGINT', outputs: {} }]);
    expect(readJournal(path).runs.map((run) => run.status)).to.deep.equal(['crashed', 'running', 'interrupted']);
  });

  it('reads a journal of many megabytes, multi-byte text across its read pieces included, line for line', () => {
    const events: RunEvent[] = [started('r1')];
    for (let i = 0; i < 6000; i++) events.push(...finished('r1', `${i}`, `k${i}`, 'succeeded', { outputs: { text: `ö€😀 ${'x'.repeat(i % 500)}` } }));
    write(events);
    expect(readFileSync(path).length).to.be.greaterThan(2 * 1024 * 1024);
    const { runs, succeeded, problems } = readJournal(path);
    expect(problems).to.deep.equal([]);
    expect(runs[0]!.jobs.size).to.equal(6000);
    expect(succeeded.get('k5999')!.outputs).to.deep.equal({ text: `ö€😀 ${'x'.repeat(5999 % 500)}` });
  });

  it('syncs job ends in groups: every caller of synced() is answered, and closing during a sync loses nothing', async () => {
    const journal = new JobJournal(path);
    journal.append(started('r1'));
    await journal.synced(); // nothing unsynced: at once
    for (let i = 0; i < 50; i++) for (const event of finished('r1', `${i}`, `k${i}`, 'succeeded')) journal.append(event);
    const first = [journal.synced(), journal.synced()];
    for (let i = 50; i < 100; i++) for (const event of finished('r1', `${i}`, `k${i}`, 'succeeded')) journal.append(event);
    const second = journal.synced();
    await Promise.all([...first, second]);
    for (let i = 100; i < 120; i++) for (const event of finished('r1', `${i}`, `k${i}`, 'succeeded')) journal.append(event);
    const pending = journal.synced();
    journal.append({ type: 'run-ended', time: TIME, run: 'r1', returncode: 0, interrupted: null, outputs: {} });
    journal.close(); // a sync may still use the descriptor: it is closed after
    await pending;
    const { runs, succeeded, problems } = readJournal(path);
    expect(problems).to.deep.equal([]);
    expect(runs[0]!.status).to.equal('succeeded');
    expect(succeeded.size).to.equal(120);
  });

  it('does not count a job-ended of a job the run never queued, of another run, or under another identity', () => {
    write([started('r1'), ...finished('r1', '1', 'k1', 'failed')]);
    appendFileSync(path, [
      JSON.stringify(ended('r1', 'forged', 'kf', 'succeeded')),
      JSON.stringify(ended('r0', '1', 'k1', 'succeeded')),
      JSON.stringify(ended('r1', '1', 'k-other', 'succeeded')),
      '',
    ].join('\n'));
    const { runs, succeeded, problems } = readJournal(path);
    expect([...runs[0]!.jobs.values()].map((job) => [job.job, job.state])).to.deep.equal([['1', 'failed']]);
    expect([...succeeded.keys()]).to.deep.equal([]);
    expect(problems).to.deep.equal([
      `${path}:4: job-ended for job "forged" does not belong to run r1 (another run, or a job it never queued); not counted`,
      `${path}:5: job-ended for job "1" does not belong to run r1 (another run, or a job it never queued); not counted`,
      `${path}:6: job-ended for job "1" does not belong to run r1 (another run, or a job it never queued); not counted`,
    ]);
  });

  it('reads a missing journal as no runs', () => {
    expect(readJournal(join(dir, 'none.ndjson'))).to.deep.equal({ runs: [], succeeded: new Map(), problems: [] });
  });
});

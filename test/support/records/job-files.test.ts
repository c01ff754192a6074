import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobFiles, jobFilesDirectory } from '../../../support/records/job-files.js';
import type { JobEnded, JobQueued, JobStarted } from '../../../support/records/run-events.js';

const TIME = '2026-11-22T01:00:00.000Z';
const queued = (job: string): JobQueued => ({ type: 'job-queued', time: TIME, run: 'r', job, key: `k${job}`, host: 'n1' });
const started = (job: string, attempt = 1, args: JobStarted['args'] = [job, attempt]): JobStarted => ({
  type: 'job-started', time: TIME, run: 'r', job, key: `k${job}`, host: 'n1', attempt, command: `echo ${job}`, args,
});
const ended = (job: string, returncode: number | null, signal: string | null = null): JobEnded => ({
  type: 'job-ended', time: TIME, run: 'r', job, key: `k${job}`, host: 'n1', state: returncode === 0 ? 'succeeded' : 'failed', returncode, signal,
  duration: 1, retries: 0, outputs: {},
});

describe('support/records/job-files', () => {
  it('gives every job name a directory of its own under jobs/, names that had to be changed included', () => {
    const root = join('/runs', 'j');
    const names = ['plain', 'a/b', 'a?b', 'a_b', '..', '.', '', '../../escape', 'x'.repeat(300)];
    const directories = names.map((name) => jobFilesDirectory(root, name));
    expect(new Set(directories).size).to.equal(names.length);
    for (const directory of directories) expect(directory.startsWith(join(root, 'jobs') + '/') && !directory.slice(root.length + 6).includes('/'), directory).to.equal(true);
    expect(jobFilesDirectory(root, 'plain')).to.equal(join(root, 'jobs', 'plain'));
    expect(jobFilesDirectory(root, 'a/b')).to.match(/\/jobs\/a_b~[0-9a-f]{8}$/);
  });

  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'job-files-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const files = (job: string) => readdirSync(jobFilesDirectory(dir, job)).sort();
  const read = (job: string, name: string) => readFileSync(join(jobFilesDirectory(dir, job), name), 'utf8');

  it('makes a job\'s directory when it starts, not when it is queued, and writes each file', async () => {
    const jobFiles = new JobFiles(dir, (info) => `${info.level} ${String(info.message)}`);
    const log = jobFiles.transport('debug');
    jobFiles.onEvent(queued('a'));
    jobFiles.onEvent(queued('b'));
    jobFiles.onEvent(queued('c'));
    jobFiles.onEvent(started('a'));
    jobFiles.onEvent(started('c', 1, []));
    await jobFiles.close();
    expect(files('a')).to.deep.equal(['args.json', 'command.sh']);
    expect(files('c')).to.deep.equal(['command.sh']); // no arguments, no args.json
    expect(existsSync(jobFilesDirectory(dir, 'b'))).to.equal(false);
    log.log!({ level: 'info', message: 'first', job: 'a' }, () => {});
    log.log!({ level: 'warn', message: 'second', job: 'a' }, () => {});
    jobFiles.onEvent(started('a', 2)); // a retry keeps the first attempt's files
    jobFiles.onEvent(ended('a', 3));
    // cancelled while queued: it never started, nothing was logged about it, and it gets no directory (the journal has its end)
    jobFiles.onEvent(ended('b', null, 'SIGTERM'));
    // never started, but something was logged about it (its host was given up on): its log and its end are kept
    log.log!({ level: 'error', message: 'not started: n1 is unhealthy', job: 'd' }, () => {});
    jobFiles.onEvent(ended('d', null));
    await jobFiles.close();
    expect(files('a')).to.deep.equal(['args.json', 'command.sh', 'exit_status', 'job.log', 'result.json']);
    expect(read('a', 'command.sh')).to.equal('echo a\n');
    expect(JSON.parse(read('a', 'args.json'))).to.deep.equal(['a', 1]);
    expect(read('a', 'job.log')).to.equal('info first\nwarn second\n');
    expect(JSON.parse(read('a', 'result.json'))).to.include({ state: 'failed', returncode: 3 });
    expect(read('a', 'exit_status')).to.equal('3\n');
    expect(existsSync(jobFilesDirectory(dir, 'b'))).to.equal(false);
    expect(files('d')).to.deep.equal(['exit_status', 'job.log', 'result.json']);
    expect(read('d', 'job.log')).to.equal('error not started: n1 is unhealthy\n');
    expect(read('d', 'exit_status')).to.equal('none\n');
  });

  it('appends to job.log when a job runs again (a resumed or retried run)', async () => {
    for (const line of ['run one', 'run two']) {
      const jobFiles = new JobFiles(dir, (info) => String(info.message));
      jobFiles.onEvent(queued('a'));
      jobFiles.onEvent(started('a'));
      jobFiles.transport('debug').log!({ level: 'info', message: line, job: 'a' }, () => {});
      jobFiles.onEvent(ended('a', 0));
      await jobFiles.close();
    }
    expect(read('a', 'job.log')).to.equal('run one\nrun two\n');
    expect(read('a', 'exit_status')).to.equal('0\n');
  });

  it('writes command.sh for a job that had lines logged about it before it started', async () => {
    const jobFiles = new JobFiles(dir, (info) => String(info.message));
    jobFiles.transport('debug').log!({ level: 'info', message: 'moved to n1', job: 'a' }, () => {});
    jobFiles.onEvent(started('a'));
    jobFiles.onEvent(ended('a', 0));
    await jobFiles.close();
    expect(files('a')).to.deep.equal(['args.json', 'command.sh', 'exit_status', 'job.log', 'result.json']);
  });

  it('keeps log lines that come before the job\'s directory exists, in order', async () => {
    const jobFiles = new JobFiles(dir, (info) => String(info.message));
    const log = jobFiles.transport('debug');
    jobFiles.onEvent(started('a'));
    for (let i = 0; i < 1000; i++) log.log!({ level: 'info', message: `line ${i}`, job: 'a' }, () => {});
    jobFiles.onEvent(ended('a', 0));
    await jobFiles.close();
    expect(read('a', 'job.log')).to.equal(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(''));
  });

  it('holds job starts back once the files of many jobs wait to be written, and lets them go when written', async () => {
    const jobFiles = new JobFiles(dir, (info) => String(info.message));
    expect(jobFiles.caughtUp()).to.equal(undefined);
    for (let i = 0; i < 1000; i++) jobFiles.onEvent(started(`j${i}`));
    const behind = jobFiles.caughtUp();
    expect(behind).to.be.instanceOf(Promise);
    await behind;
    await jobFiles.close();
    expect(jobFiles.caughtUp()).to.equal(undefined);
    expect(readdirSync(join(dir, 'jobs'))).to.have.length(1000);
  });

  it('reports files it cannot write and goes on', async () => {
    writeFileSync(join(dir, 'jobs'), 'not a directory\n');
    const errors: string[] = [];
    const jobFiles = new JobFiles(dir, (info) => String(info.message), (error) => errors.push(error?.message ?? 'not written after stop()'));
    jobFiles.onEvent(started('a'));
    jobFiles.transport('debug').log!({ level: 'info', message: 'lost', job: 'a' }, () => {});
    jobFiles.onEvent(ended('a', 0));
    await jobFiles.close();
    expect(errors).to.have.length(1); // its directory: the files that would go into it are not tried
    expect(errors[0]).to.match(/ENOTDIR|EEXIST/);
  });
});

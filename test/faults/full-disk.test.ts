/**
 * The run's records on a disk that is full or read-only (a real tmpfs): one line naming the
 * directory and the cause and exit 2 when nothing ran; mid-run, the jobs are cancelled, every
 * record already written stays readable, the run's end is recorded and the summary says what
 * was not, and a rerun on a disk with room resumes from what was recorded.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { stderrLines, userProject, type CliResult, type Workspace } from '../harness/pipeline-cli.js';
import { mountSmallDisk, whyNoSmallDisk, type SmallDisk } from '../harness/small-disk.js';

const MIB = 1024 * 1024;

function commandLinesHolding(token: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const line = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (line.includes(token)) found.push(`${entry}: ${line}`);
    } catch {
      // gone
    }
  }
  return found;
}

/** What a user must see when the records cannot be written before anything ran. */
function expectRefusedAtStart(result: CliResult, ws: Workspace, cause: RegExp): void {
  expect(result.code, result.stderr).to.equal(2);
  const lines = stderrLines(result);
  expect(lines, result.stderr).to.have.length(1);
  expect(lines[0]).to.match(new RegExp(`^pipeline: cannot write the run's records in ${ws.jobDirectory('disk')}: ${cause.source}; `));
  expect(result.stderr).not.to.match(/internal error|\n\s+at /);
  expect(existsSync(join(ws.dir, 'ran')), 'no job ran').to.equal(false);
}

describe('faults: a full or read-only disk under the records (real tmpfs mounts)', function () {
  this.timeout(180_000);
  let ws: Workspace;
  let disk: SmallDisk | undefined;
  before(function () {
    const why = whyNoSmallDisk();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
  });
  beforeEach(() => { ws = userProject(); });
  afterEach(() => {
    disk?.unmount();
    disk = undefined;
    ws.remove();
  });

  const oneJob = JSON.stringify([{ name: 'touch', host: 'localhost', shell: 'touch ran' }]);

  it('a full disk before the run: one line naming the job directory and ENOSPC, exit 2, nothing run, no lock or journal left', async () => {
    disk = mountSmallDisk(ws.runtimeDirectory, MIB);
    execFileSync('sh', ['-c', `head -c ${2 * MIB} /dev/zero > ${join(disk.dir, 'fill')} 2>/dev/null || true`]);
    const result = await ws.run(['run', 'faults', '--jobs', oneJob, '--job-name', 'disk']);
    expectRefusedAtStart(result, ws, /no space left on the device \(ENOSPC\)/);
    const jobDirectory = ws.jobDirectory('disk');
    for (const name of ['run.lock', 'journal.ndjson', 'journal.ndjson.reserve']) expect(existsSync(join(jobDirectory, name)), name).to.equal(false);
  });

  it('a read-only disk: one line naming the job directory and EROFS, exit 2, also when the job directory does not exist yet', async () => {
    disk = mountSmallDisk(ws.runtimeDirectory, 4 * MIB, { readOnly: true });
    const result = await ws.run(['run', 'faults', '--jobs', oneJob, '--job-name', 'disk']);
    expectRefusedAtStart(result, ws, /the file system is read-only \(EROFS\)/);
  });

  it('a disk gone read-only after a run: the next is refused with EROFS and the records of the first still read as they were', async () => {
    disk = mountSmallDisk(ws.runtimeDirectory, 4 * MIB);
    const first = await ws.run(['run', 'faults', '--jobs', JSON.stringify([{ name: 'ok', host: 'localhost', shell: 'echo ok' }]), '--job-name', 'disk']);
    expect(first.code, first.stderr).to.equal(0);
    disk.remount({ readOnly: true });
    const second = await ws.run(['run', 'faults', '--jobs', oneJob, '--job-name', 'disk', '--fresh']);
    expectRefusedAtStart(second, ws, /the file system is read-only \(EROFS\)/);
    const status = await ws.run(['status', 'disk', '--json']);
    expect(status.code, status.stderr).to.equal(0);
    const report = JSON.parse(status.stdout) as { status: string; counts: Record<string, number> };
    expect(report.status).to.equal('succeeded');
    expect(report.counts).to.deep.equal({ succeeded: 1 });
  });

  it('the disk fills mid-run: jobs cancelled, nothing left running, every line of the journal whole, the end recorded with what was not, and a rerun with room resumes', async () => {
    disk = mountSmallDisk(ws.runtimeDirectory, 2 * MIB);
    const token = `waiter-${randomBytes(6).toString('hex')}`;
    const go = join(ws.dir, 'go');
    // Each writer prints some 15 KB: into its outputs, its job.log and pipeline.log; 80 of them do not fit in 2 MB.
    const writer = 'i=0; while [ $i -lt 150 ]; do echo "line $i ' + 'x'.repeat(90) + '"; i=$((i+1)); done';
    const specs = [
      { name: 'waiter', host: 'localhost', shell: `while [ ! -e ${go} ]; do sleep 0.1; done; : ${token}` },
      ...Array.from({ length: 80 }, (_, i) => ({ name: `writer${i}`, host: 'localhost', shell: writer })),
    ];
    const args = ['run', 'faults', '--jobs', JSON.stringify(specs), '--job-name', 'disk'];
    const result = await ws.run(args);

    expect(result.code, result.stderr.slice(-3000)).to.equal(1);
    expect(result.stderr).not.to.match(/internal error|\n\s+at /);
    const lines = stderrLines(result);
    const failed = lines.filter((line) => line.includes("cannot write the run's records") && !line.includes('records incomplete'));
    expect(failed, 'one line says the records failed and what happens').to.have.length(1);
    expect(failed[0]).to.match(new RegExp(`ERROR +cannot write the run's records in ${ws.jobDirectory('disk')}: no space left on the device \\(ENOSPC\\); .*; cancelling every job`));
    expect(lines.some((line) => /records incomplete since \d\d:\d\d:\d\d: .*\(ENOSPC\); not recorded: /.test(line)), 'the summary says what was not recorded').to.equal(true);
    expect(commandLinesHolding(token), 'the cancelled job is gone').to.deep.equal([]);

    // Every line of the journal is whole JSON; the run's end is there, saying what is missing.
    const journal = readFileSync(join(ws.jobDirectory('disk'), 'journal.ndjson'), 'utf8');
    expect(journal.endsWith('\n')).to.equal(true);
    const events = journal.trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; state?: string; unrecorded?: string });
    const end = events.at(-1)!;
    expect(end.type).to.equal('run-ended');
    expect(end.unrecorded).to.match(/no space left on the device \(ENOSPC\); not recorded: /);
    const recordedSuccesses = events.filter((event) => event.type === 'job-ended' && event.state === 'succeeded').length;
    expect(recordedSuccesses).to.be.greaterThan(0);
    expect(existsSync(join(ws.jobDirectory('disk'), 'journal.ndjson.reserve'))).to.equal(false);

    const status = await ws.run(['status', 'disk']);
    expect(status.stdout).to.match(/^job disk: failed /);
    expect(status.stdout).to.match(/records incomplete since/);

    // With room again, the same run resumes: what was recorded as done is not run again.
    disk.remount({ sizeBytes: 64 * MIB });
    writeFileSync(go, '');
    const rerun = await ws.run(args);
    expect(rerun.code, rerun.stderr.slice(-3000)).to.equal(0);
    expect(rerun.stderr).to.include(`resuming job disk: ${recordedSuccesses} jobs succeeded in earlier runs`);
  });
});

import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ComputeJob } from '../../../support/dispatch/compute-job.js';
import { buildCommand, newJobMark, type CommandPlacement } from '../../../support/dispatch/launch-command.js';
import { readUsageReport, SAMPLE_REQUEST } from '../../../support/dispatch/shell-usage.js';
import { signalGroup } from '../../../support/protocol/process-group.js';

const placement: CommandPlacement = { environment: {}, nodeExecutable: process.execPath, scriptPath: (p) => p };

interface Ended {
  status: [number | null, string | null];
  stdout: string;
  stderr: string;
}

describe('support/dispatch/shell-usage: a plain command measured by its guard', () => {
  const started: ChildProcess[] = [];
  afterEach(() => {
    for (const child of started.splice(0)) if (child.pid) signalGroup(child.pid, 'SIGKILL');
  });

  /**
   * Runs `text` as the scheduler launches a plain command (its own group, stdin kept open), asking
   * for a sample at once and every 200 ms unless `requests` is false, closing stdin when it exits
   * (as the launchers do); resolves once its output has ended.
   */
  async function run(text: string, mark: string, options: { measure?: boolean; requests?: boolean } = {}): Promise<Ended> {
    const command = buildCommand(new ComputeJob('h', text, []), placement, { mark, measure: options.measure ?? true });
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(child);
    // Both listened for now: with nothing holding its output, 'close' can follow 'exit' in the same tick.
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    const closed = once(child, 'close');
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const requests = options.requests ?? true;
    if (requests) child.stdin!.write(SAMPLE_REQUEST);
    const ticks = requests ? setInterval(() => child.stdin!.write(SAMPLE_REQUEST), 200) : undefined;
    const [code, signal] = await exited;
    clearInterval(ticks);
    child.stdin!.end();
    await closed;
    return { status: [code, signal], stdout, stderr };
  }

  describe('readUsageReport', () => {
    const mark = 'f00dfeedf00dfeedf00dfeed';

    it('reads the ticks and kB the guard reports as seconds and bytes, the larger of summed VmRSS and one VmHWM as the peak', () => {
      expect(readUsageReport(`${mark} usage 204 3 215040 1024`, mark)).to.deep.equal({
        before: '',
        usage: { userSeconds: 2.04, systemSeconds: 0.03, peakRssBytes: 215040 * 1024 },
      });
      expect(readUsageReport(`${mark} usage 0 0 100 300`, mark)!.usage.peakRssBytes).to.equal(300 * 1024);
    });

    it('gives back what the command wrote before it on the line, when its last line lacked a newline', () => {
      expect(readUsageReport(`no newline at the end${mark} usage 1 2 3 4`, mark)).to.deep.include({ before: 'no newline at the end' });
    });

    it('is no report for another mark, or without its four numbers', () => {
      expect(readUsageReport(`0123456789abcdef01234567 usage 1 2 3 4`, mark)).to.equal(undefined);
      expect(readUsageReport(`${mark} usage 1 2 3`, mark)).to.equal(undefined);
      expect(readUsageReport(`${mark} usage 1 2 3 4 and more`, mark)).to.equal(undefined);
      expect(readUsageReport(`${mark} usage -1 2 3 4`, mark)).to.equal(undefined);
      expect(readUsageReport('an ordinary line of stderr', mark)).to.equal(undefined);
    });
  });

  it('reports, as one last line of stderr, the CPU of a child the command waited for and the memory it held', async function () {
    this.timeout(20_000);
    const mark = newJobMark();
    const held = `python3 -c "import time; held = b'x' * (96 << 20); time.sleep(0.6)"`;
    const ended = await run(`echo out; echo err >&2; sh -c 'ulimit -t 1; while :; do :; done' 2>/dev/null; ${held}; echo done`, mark);
    expect(ended.status).to.deep.equal([0, null]);
    expect(ended.stdout).to.equal('out\ndone\n');
    const lines = ended.stderr.split('\n');
    expect(lines.slice(0, 1)).to.deep.equal(['err']);
    expect(lines.at(-1)).to.equal('');
    const report = readUsageReport(lines.at(-2)!, mark);
    expect(report, ended.stderr).not.to.equal(undefined);
    expect(report!.usage.userSeconds + report!.usage.systemSeconds).to.be.at.least(0.9).and.at.most(1.5);
    expect(report!.usage.peakRssBytes).to.be.at.least(96 * 1024 * 1024).and.below(200 * 1024 * 1024);
  });

  for (const [label, text] of [
    ['an exit code over 128', 'exit 138'],
    ['a signal', 'kill -USR1 $$'],
    ['a last command killed by a signal', 'true; sh -c "kill -KILL \\$\\$"'],
  ] as const) {
    it(`keeps ${label} exactly as sh -c reports it while measuring, and still reports`, async () => {
      const bare = spawnSync('/bin/sh', ['-c', text]);
      const mark = newJobMark();
      const ended = await run(text, mark);
      expect(ended.status).to.deep.equal([bare.status, bare.signal]);
      expect(readUsageReport(ended.stderr.trimEnd(), mark), ended.stderr).not.to.equal(undefined);
    });
  }

  it('reports a command that ended before any request came: the guard reports on the end of stdin', async () => {
    const mark = newJobMark();
    const ended = await run('true', mark, { requests: false });
    expect(ended.status).to.deep.equal([0, null]);
    expect(readUsageReport(ended.stderr.trimEnd(), mark)!.usage).to.deep.equal({ userSeconds: 0, systemSeconds: 0, peakRssBytes: 0 });
  });

  it('writes nothing to stderr when not asked to measure', async () => {
    const ended = await run('echo quiet', newJobMark(), { measure: false });
    expect(ended).to.deep.equal({ status: [0, null], stdout: 'quiet\n', stderr: '' });
  });
});

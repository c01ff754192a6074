import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { LOG_BACKLOG_BYTES } from '../../../support/logging/log-pressure.js';
import { openRunLog, type RunLog } from '../../../support/logging/run-log.js';

/** Resolves with 'drained', or 'pending' when `promise` is still waiting after the pending I/O and timers of this turn. */
async function state(promise: Promise<void>): Promise<'drained' | 'pending'> {
  return Promise.race([promise.then(() => 'drained' as const), new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

describe('support/logging/log-pressure', () => {
  const line = 'x'.repeat(64 * 1024);
  const linesOverLimit = Math.ceil(LOG_BACKLOG_BYTES / line.length) + 8;
  let dir: string;
  let runLog: RunLog | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logging-test-'));
  });
  afterEach(async () => {
    await runLog?.close();
    runLog = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('is not backlogged while the sinks keep up, and drained() resolves at once', async () => {
    runLog = openRunLog({ consoleLevel: 'error', console: new PassThrough(), logFile: join(dir, 'pipeline.log') });
    runLog.logger.info('one line');
    expect(runLog.pressure.backlogged).to.equal(false);
    expect(await state(runLog.pressure.drained())).to.equal('drained');
  });

  it('is backlogged while the log file is behind, and drained() resolves once it has caught up', async () => {
    const logFile = join(dir, 'pipeline.log');
    runLog = openRunLog({ consoleLevel: 'error', console: new PassThrough(), logFile });
    // all in one turn: the file stream cannot write any of it yet
    for (let i = 0; i < linesOverLimit; i++) runLog.logger.info(line);
    const { pressure } = runLog;
    expect(pressure.backlogged).to.equal(true);
    const drained = pressure.drained();
    expect(pressure.drained(), 'one wait shared by every caller').to.equal(drained);
    await drained;
    expect(pressure.backlogged).to.equal(false);
    await runLog.close();
    expect(readFileSync(logFile, 'utf8').split('\n').filter((text) => text.endsWith(line))).to.have.length(linesOverLimit);
  });

  it('counts a console nobody reads, and resumes when it is read', async () => {
    const console = new PassThrough();
    runLog = openRunLog({ consoleLevel: 'info', console, color: false });
    for (let i = 0; i < linesOverLimit; i++) runLog.logger.info(line);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runLog.pressure.backlogged).to.equal(true);
    const drained = runLog.pressure.drained();
    expect(await state(drained)).to.equal('pending');
    let read = 0;
    console.on('data', (chunk: Buffer) => (read += chunk.length));
    await drained;
    expect(runLog.pressure.backlogged).to.equal(false);
    expect(read).to.be.above(LOG_BACKLOG_BYTES);
  });

  it('never waits on a sink that was closed while behind', async () => {
    const console = new PassThrough();
    runLog = openRunLog({ consoleLevel: 'info', console, color: false });
    for (let i = 0; i < linesOverLimit; i++) runLog.logger.info(line);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const drained = runLog.pressure.drained();
    expect(await state(drained)).to.equal('pending');
    console.destroy();
    await drained;
    expect(runLog.pressure.backlogged).to.equal(false);
  });
});

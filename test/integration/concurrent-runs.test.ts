/** Two masters on one job name at once would interleave the journal and overwrite each other's files: the second is refused. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { cliPath, latestLog, stderrLines, userProject, type Workspace } from '../harness/pipeline-cli.js';

describe('one master at a time per job name', function () {
  this.timeout(120_000);
  let ws: Workspace;
  beforeEach(() => { ws = userProject(); });
  afterEach(() => ws.remove());

  it('refuses a second run of a running job name, naming the master; after that master is killed, the next run takes over and resumes', async () => {
    const done = join(ws.dir, 'go-on');
    const specs = JSON.stringify([
      { name: 'quick', host: 'localhost', shell: 'true' },
      { name: 'waits', host: 'localhost', node: ['wait-file', done] },
    ]);
    const args = ['run', 'faults', '--jobs', specs, '--job-name', 'shared', '--config', ws.configPath];
    const first = spawn(process.execPath, [cliPath, ...args], { cwd: ws.dir, stdio: 'ignore' });
    try {
      for (let waited = 0; !/localhost#waits ready waits/.test(safeLog(ws)); waited += 50) {
        if (waited > 20_000) expect.fail('the first run never started its job');
        await sleep(50);
      }
      const second = await ws.run(args.slice(0, -2));
      expect(second.code, second.stderr).to.equal(2);
      const errors = stderrLines(second).filter((line) => line.startsWith('pipeline:'));
      expect(errors).to.have.length(1);
      expect(errors[0]).to.match(new RegExp(`^pipeline: job shared is being run by another master \\(pid ${first.pid} on ${hostname()}, run \\S+ since \\S+; .*run\\.lock\\); wait for it to end, or give this run another --job-name$`));
      expect(first.exitCode, 'the first run goes on').to.equal(null);
    } finally {
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('close', resolve));
    }
    writeFileSync(done, '');
    const third = await ws.run(args.slice(0, -2));
    expect(third.code, third.stderr).to.equal(0);
    expect(third.stderr).to.include(`taking over job shared from pid ${first.pid} on ${hostname()}: its master (pid ${first.pid}) is no longer running`);
    expect(third.stderr).to.match(/resuming job shared: 1 jobs succeeded in earlier runs/);
  });
});

function safeLog(ws: Workspace): string {
  try {
    return latestLog(ws.jobDirectory('shared'));
  } catch {
    return '';
  }
}

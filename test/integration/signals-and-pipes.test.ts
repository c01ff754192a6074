/**
 * What happens around a command: a reader that closes stdout early (`pipeline jobs | head -1`)
 * and a terminal that hangs up (SIGHUP) end the way a user expects, without a stack trace and
 * without losing the run's records.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { cliPath, projectPerTest } from '../harness/pipeline-cli.js';

/** Runs `pipeline <args>` with a stdout whose reader has gone before the command writes a byte. */
function withClosedStdout(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('closed stdout and SIGHUP', function () {
  this.timeout(120_000);
  const project = projectPerTest();

  it('every printing command ends quietly with exit 0 when its reader has gone', async () => {
    const first = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '2']);
    expect(first.code, first.stderr).to.equal(0);
    const config = ['--config', project.ws.configPath];
    for (const args of [['jobs'], ['jobs', '--json'], ['status'], ['status', 'markers', '--json'], ['list'], ['describe', 'markers'], ['logs', 'markers']]) {
      const { code, stderr } = await withClosedStdout(project.ws.dir, [...args, ...config]);
      expect(code, `pipeline ${args.join(' ')}: ${stderr}`).to.equal(0);
      expect(stderr, `pipeline ${args.join(' ')}`).to.not.match(/EPIPE|Error|^\s+at /m);
    }
  });

  it('a run whose stdout closes goes on to the end, records every job and says once that it no longer prints', async () => {
    const { code, stderr } = await withClosedStdout(project.ws.dir, ['run', 'markers', '--markers', project.markers, '--count', '3', '--json', '--job-name', 'closed', '--config', project.ws.configPath]);
    expect(code, stderr).to.equal(0);
    expect(stderr.match(/stdout was closed by its reader; the run goes on/g)).to.have.length(1);
    expect(stderr).to.not.match(/^\s+at /m);
    const status = await project.ws.run(['status', 'closed', '--json']);
    expect(JSON.parse(status.stdout)).to.include({ status: 'succeeded' });
  });

  it('SIGHUP cancels every job, prints the summary, records the run as interrupted and exits 129', async () => {
    const pidFile = join(project.ws.dir, 'pids.json');
    const master = spawn(process.execPath, [cliPath, 'run', 'orphan_maker', '--pid-file', pidFile, '--config', project.ws.configPath], { cwd: project.ws.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    master.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => master.on('close', (code) => resolve(code)));
    for (let waited = 0; !(existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0); waited += 50) {
      if (waited > 20_000) expect.fail(`the job never started:\n${stderr}`);
      await sleep(50);
    }
    master.kill('SIGHUP');
    expect(await exited, stderr).to.equal(129);
    expect(stderr).to.match(/SIGHUP received: cancelling every job/);
    expect(stderr).to.match(/summary: 1 job: 1 failed \(1 cancelled\)/);
    const status = await project.ws.run(['status', 'orphan_maker', '--json']);
    expect(JSON.parse(status.stdout)).to.include({ status: 'interrupted' });
  });
});

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { cliPath, userProject, type Workspace } from '../harness/pipeline-cli.js';
import { isAlive, waitFor } from '../harness/local-processes.js';

describe('stdin closing takes down the node\'s whole process group', function () {
  let ws: Workspace;
  const started: number[] = [];
  beforeEach(() => { ws = userProject(); });
  afterEach(() => {
    for (const pid of started.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    ws.remove();
  });

  it('when the master is killed with SIGKILL, the node and the child it started exit within 5 s', async () => {
    const pidFile = join(ws.dir, 'pids.json');
    const master = spawn(process.execPath, [cliPath, 'run', 'orphan_maker', '--pid-file', pidFile, '--config', ws.configPath], { cwd: ws.dir, stdio: 'ignore' });
    started.push(master.pid!);
    expect(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0, 20_000), 'node started').to.equal(true);
    const pids = JSON.parse(readFileSync(pidFile, 'utf8')) as { node: number; child: number };
    started.push(pids.node, pids.child);
    expect(isAlive(pids.node) && isAlive(pids.child)).to.equal(true);

    master.kill('SIGKILL');
    expect(await waitFor(() => !isAlive(pids.node) && !isAlive(pids.child), 5_000), 'node and child gone within 5 s').to.equal(true);
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} to pipeline run cancels the job, leaves nothing running and exits ${code}`, async () => {
      const pidFile = join(ws.dir, 'pids.json');
      const master = spawn(process.execPath, [cliPath, 'run', 'orphan_maker', '--pid-file', pidFile, '--config', ws.configPath], { cwd: ws.dir, stdio: ['ignore', 'ignore', 'pipe'] });
      started.push(master.pid!);
      let stderr = '';
      master.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => master.on('close', (c) => resolve(c)));
      expect(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0, 20_000), 'node started').to.equal(true);
      const pids = JSON.parse(readFileSync(pidFile, 'utf8')) as { node: number; child: number };
      started.push(pids.node, pids.child);

      master.kill(signal);
      expect(await exited, stderr).to.equal(code);
      expect(stderr).to.match(new RegExp(`${signal} received: cancelling every job`));
      expect(stderr).to.match(/failed \(cancelled\)/);
      expect(isAlive(pids.node) || isAlive(pids.child), 'node or its child still running').to.equal(false);
    });
  }
});

/**
 * What a new user meets in the first hour (issue 18): the command's version, status and logs
 * as scripts use them, a dry run that leaves nothing behind, a rerun with changed inputs, and
 * the test command's output in a file.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { repoRoot, userProject, type Workspace } from '../harness/pipeline-cli.js';

describe('the first hour of a new user', function () {
  this.timeout(60_000);
  let ws: Workspace;
  beforeEach(() => { ws = userProject(); });
  afterEach(() => ws.remove());

  it('pipeline --version prints the framework\'s version and exits 0', async () => {
    const result = await ws.run(['--version'], { config: false });
    expect(result.code, result.stderr).to.equal(0);
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(result.stdout.trim()).to.equal(version);
  });

  it('pipeline status exits 0 for a run that succeeded and 1 for one that failed', async () => {
    expect((await ws.run(['run', 'greet', '--names', 'world'])).code).to.equal(0);
    expect((await ws.run(['status', 'greet'])).code).to.equal(0);
    const failing = JSON.stringify([{ name: 'bad', host: 'localhost', shell: 'exit 3' }]);
    expect((await ws.run(['run', 'faults', '--jobs', failing])).code).to.equal(1);
    const status = await ws.run(['status', 'faults']);
    expect(status.stdout).to.match(/^job faults: failed /);
    expect(status.code).to.equal(1);
  });

  it('pipeline logs --job takes the host#id form the log lines show', async () => {
    const jobs = JSON.stringify([{ name: 'talker', host: 'localhost', shell: 'echo said-something' }]);
    expect((await ws.run(['run', 'faults', '--jobs', jobs])).code).to.equal(0);
    const byName = await ws.run(['logs', 'faults', '--job', 'talker']);
    const byLogForm = await ws.run(['logs', 'faults', '--job', 'localhost#talker']);
    expect(byLogForm.code, byLogForm.stderr).to.equal(0);
    expect(byLogForm.stdout).to.equal(byName.stdout);
    expect(byLogForm.stdout).to.include('said-something');
  });

  it('--dry-run writes nothing under the runtime directory and prints no outputs of jobs that never ran', async () => {
    const result = await ws.run(['run', 'parallel_example', '--jobs', '3', '--dry-run']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/localhost/);
    expect(result.stdout, 'the recipe\'s outputs printed').not.to.match(/^\{/m);
    expect(existsSync(ws.runtimeDirectory), `${ws.runtimeDirectory} made by a dry run`).to.equal(false);
  });

  it('a rerun with another input goes on: it says what changed, reuses the jobs that are the same, runs the new ones', async () => {
    expect((await ws.run(['run', 'greet', '--names', 'world,sun'])).code).to.equal(0);
    const again = await ws.run(['run', 'greet', '--names', 'world,moon']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr).to.include('job greet was last run with other inputs (--names ["world","sun"], now ["world","moon"])');
    expect(again.stderr).to.include('resuming job greet: 2 jobs succeeded in earlier runs');
    expect(JSON.parse(again.stdout).greetings).to.have.length(2);
  });

  it('the test command writes no colour codes into a file, CI=true or not', async () => {
    const run = spawn(process.execPath, [join(repoRoot, 'scripts', 'run-tests.mjs'), '--no-config', '--reporter', join(repoRoot, 'test', 'reporter.cjs'), join(repoRoot, 'test', 'fixtures', 'mocha-sample', 'sample.check.cjs')], {
      cwd: repoRoot, env: { ...process.env, CI: 'true', FORCE_COLOR: undefined, NO_COLOR: undefined }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    run.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    run.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const code = await new Promise((resolve) => run.on('close', resolve));
    expect(code).to.equal(1);
    expect(output).to.match(/1 passed, 1 failed\n$/);
    expect(output).not.to.include('\x1b');
  });
});

/**
 * working_directory on hosts where the jobs run as another user (issue 18 item 2): a `~` in it
 * is that user's home there, not the master's; `pipeline hosts check` says when it cannot be
 * made; and a job that cannot start for a cause that is the same on every try is not retried.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { job, sshTestHosts, startFaultRun } from '../../faults/fault-run.js';

/** The home directory of `user` on this machine (the test hosts share it). */
function homeOf(user: string): string {
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':')).find((fields) => fields[0] === user);
  expect(entry, `${user} in /etc/passwd`).to.not.equal(undefined);
  return entry![5]!;
}

function withWorkingDirectory(text: string, dir: string): string {
  return text.replace(/^working_directory = .*$/m, `working_directory = ${dir}`);
}

describe('working_directory on hosts where jobs run as another user (real sshd hosts)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();
  afterEach(() => hosts.p.configure());

  it('a ~ in working_directory is the job user\'s home on the host, where shell and node jobs start', async () => {
    const name = `pw-${randomBytes(4).toString('hex')}`;
    const ws = hosts.p.ws;
    ws.write('pipeline.cfg', withWorkingDirectory(ws.read('pipeline.cfg'), `~/${name}`));
    const run = startFaultRun(hosts.p, [
      { name: 'where-shell', host: 'node1', shell: 'pwd' },
      { name: 'where-node', host: 'node2', node: ['exit', 0] },
    ], ['--job-name', 'home']);
    const result = await run.ended;
    expect(result.code, result.stderr.slice(-2000)).to.equal(0);
    expect(job(result, 'where-shell').outputs.stdout).to.deep.equal([`${homeOf(hosts.p.cluster.user)}/${name}`]);
    expect(job(result, 'where-node')).to.include({ state: 'succeeded' });
  });

  it('a working_directory the job user cannot make: hosts check names it, and node and shell jobs fail launch-failed at once, not retried', async () => {
    const forbidden = `/root/not-for-the-test-user-${randomBytes(4).toString('hex')}`;
    const ws = hosts.p.ws;
    ws.write('pipeline.cfg', withWorkingDirectory(ws.read('pipeline.cfg'), forbidden));
    const check = await ws.run(['hosts', 'check', '--hosts', 'node1', '--json']);
    expect(check.code, check.stderr).to.equal(1);
    const [row] = JSON.parse(check.stdout) as Array<{ ok: boolean; error: string }>;
    expect(row!.ok).to.equal(false);
    expect(row!.error).to.match(new RegExp(`working_directory ${forbidden} cannot be made there: mkdir: cannot create directory .*Permission denied`));

    const run = startFaultRun(hosts.p, [{ name: 'nowhere', host: 'node1', node: ['exit', 0] }, { name: 'nowhere-shell', host: 'node2', shell: 'echo never' }], ['--job-name', 'forbidden']);
    const result = await run.ended;
    expect(result.code).to.equal(1);
    for (const name of ['nowhere', 'nowhere-shell']) {
      const failed = job(result, name);
      expect(failed, name).to.include({ state: 'failed', failure: 'launch-failed', launchProblem: 'not-startable', retries: 0 });
      expect(failed.message, name).to.match(/Permission denied/);
    }
    expect(result.stderr).to.not.include('never');
  });
});

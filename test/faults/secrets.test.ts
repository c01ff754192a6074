/**
 * Environment values are secrets to other users of a host: they travel on the job's stdin, not
 * on its command line where `ps` shows them, and they are not written into the records, which
 * only their owner can read.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { job, sshTestHosts, startFaultRun } from './fault-run.js';

/** Every process's command line on this machine (the test hosts share it). */
function commandLines(): string[] {
  const lines: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      lines.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // gone
    }
  }
  return lines;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? [path, ...filesUnder(path)] : [path];
  });
}

describe('faults: environment values stay off command lines and out of the records (real sshd hosts)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();
  after(() => hosts.p.configure());

  for (const [path, agent] of [['over channels of their own', false], ['through the hosts\' agents', true]] as const) it(`a job environment and [remote] environment reach shell and node jobs ${path}, never on a command line, never in the records, which are 0600 in 0700 directories`, async () => {
    const token = `token-${randomBytes(8).toString('hex')}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    hosts.p.configure(`environment = [DB_PASSWORD=${password}]`);
    const work = join(hosts.p.cluster.dir, 'work', `secrets-${randomBytes(4).toString('hex')}`);
    mkdirSync(work, { recursive: true });
    const go = join(work, 'go');
    // The secrets reach the recipe in a file and the jobs compare against files: no test process holds them on its command line either.
    const secrets = join(work, 'secrets.json');
    writeFileSync(secrets, JSON.stringify({ API_TOKEN: token }));
    const expected = join(work, 'expected.json');
    writeFileSync(expected, JSON.stringify({ API_TOKEN: token, DB_PASSWORD: password }));
    writeFileSync(join(work, 'expected.txt'), `${token}\n${password}\n`);
    const check = `[ "$API_TOKEN" = "$(sed -n 1p ${work}/expected.txt)" ] && [ "$DB_PASSWORD" = "$(sed -n 2p ${work}/expected.txt)" ] && echo both-as-expected`;
    const wait = `while [ ! -e ${go} ]; do sleep 0.1; done`;
    // Through the agent: each host's first job (over a channel of its own) goes ahead, and the jobs under test run in the agent.
    const first = agent ? ['node1', 'node2', 'localhost'].map((host) => ({ name: `first-${host}`, host, shell: 'true' })) : [];
    const jobName = agent ? 'secrets-agent' : 'secrets';
    const parent = agent ? 'echo "parent $(tr \'\\0\' \' \' </proc/$PPID/cmdline)"; ' : '';
    const run = startFaultRun(hosts.p, [
      ...first,
      { name: 'shell', host: 'node1', shell: `${parent}echo shell-ready; ${wait}; ${check}`, environmentFile: secrets },
      { name: 'node', host: 'node2', node: ['env-check', go, expected], environmentFile: secrets },
      { name: 'local', host: 'localhost', shell: `${parent}echo shell-ready; ${wait}; ${check}`, environmentFile: secrets },
    ], ['--job-name', jobName]);
    await run.waitForLog(/ready node$/m);
    await run.waitForLog(/shell-ready/, 2);
    const leaked = commandLines().filter((line) => line.includes(token) || line.includes(password));
    expect(leaked, 'command lines holding a secret').to.deep.equal([]);
    writeFileSync(go, '');
    const result = await run.ended;
    expect(result.code, result.stderr).to.equal(0);
    for (const name of ['shell', 'local']) {
      const stdout = job(result, name).outputs.stdout as string[];
      if (agent) expect(stdout.shift(), `${name} ran in its host's agent`).to.match(/^parent \S*node\S* \S*agent[.]js/);
      expect(stdout).to.deep.equal(['shell-ready', 'both-as-expected']);
    }
    expect(job(result, 'node').outputs).to.deep.equal({ API_TOKEN: 'as expected', DB_PASSWORD: 'as expected' });

    const jobDirectory = hosts.p.ws.jobDirectory(jobName);
    expect(statSync(jobDirectory).mode & 0o777, jobDirectory).to.equal(0o700);
    for (const path of filesUnder(jobDirectory)) {
      const stat = statSync(path);
      if (stat.isDirectory()) expect(stat.mode & 0o777, path).to.equal(0o700);
      else {
        expect(stat.mode & 0o777, path).to.equal(0o600);
        const text = readFileSync(path, 'utf8');
        expect(text.includes(token) || text.includes(password), `${path} holds a secret`).to.equal(false);
      }
    }
    expect(filesUnder(jobDirectory).some((path) => path.endsWith('command.sh'))).to.equal(true);
  });
});

/**
 * `pipeline deploy` (issue 19) to real sshd hosts that share nothing: each host has its own
 * empty home, install_root is `~/pipeline` there, and the user's project is unreadable to the
 * user the jobs log in as. So every job below runs the framework and node scripts that the
 * deployment put on its host.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import { runCli } from '../../harness/pipeline-cli.js';
import { startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';

interface DeployRow {
  host: string;
  ok: boolean;
  error: string | null;
  result: { version: string; previous: string | null; filesSent: number; bytesSent: number; root: string } | null;
}

const LAZY_RECIPE = `import { BaseRecipe, RemoteCommand, ComputeJob, field } from 'pipeline-framework';
export default class Lazy extends RemoteCommand(BaseRecipe) {
  static inputs = { waitFor: field.string({ default: '' }) };
  async go() {
    const jobs = this.hosts.map((host) => new ComputeJob(host, this.nodeScript('lazy'), [this.inputs.waitFor]));
    await this.scheduleJobs(jobs);
    this.outputs.flavours = jobs.map((job) => job.results.outputs.flavour ?? job.results.message);
    return this.error.isSet() ? 1 : 0;
  }
}
`;

/** Imports its helper only after the wait: a job started before a deploy must still find its own version's helper. */
const LAZY_NODE = `import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Node } from 'pipeline-framework';
export class LazyNode extends Node {
  async run(waitFor) {
    this.logger.info('lazy job waiting');
    while (waitFor && !existsSync(waitFor)) await sleep(50);
    const { flavour } = await import('./flavour.js');
    this.outputs.flavour = flavour;
    return 0;
  }
}
Node.main(LazyNode, import.meta);
`;

describe('pipeline deploy: hosts without a shared filesystem (3 real sshd hosts, each its own home)', function () {
  this.timeout(180_000);
  let p: SshPipeline;

  before(async () => {
    p = await startSshPipeline({ separateHomes: true });
    p.configure('install_root = ~/pipeline');
    p.ws.write('pipeline.cfg', p.ws.read('pipeline.cfg').replace(/^working_directory = .*$/m, 'working_directory = ~/work'));
    p.ws.write('recipes/lazy.js', LAZY_RECIPE);
    p.ws.write('nodes/lazy.js', LAZY_NODE);
    p.ws.write('nodes/flavour.js', "export const flavour = 'A';\n");
    p.ws.write('package.json', '{ "type": "module" }\n');
    chmodSync(p.ws.dir, 0o700); // the hosts' user cannot read the project here: only the deployed copy
  });
  after(async () => {
    await p?.stop();
  });

  async function deploy(): Promise<DeployRow[]> {
    const result = await p.ws.run(['deploy', '--json'], { timeoutMs: 120_000 });
    expect(result.code, result.stderr + result.stdout).to.equal(0);
    const rows = JSON.parse(result.stdout) as DeployRow[];
    expect(rows.map((row) => row.host)).to.deep.equal(['node1', 'node2', 'node3']);
    for (const row of rows) expect(row.ok, row.error ?? '').to.equal(true);
    return rows;
  }

  it('refuses with one line when install_root is the framework itself, and names a host it cannot reach', async () => {
    const saved = p.ws.read('pipeline.cfg');
    try {
      p.ws.write('pipeline.cfg', saved.replace(/^install_root = .*$/m, ''));
      const shared = await p.ws.run(['deploy']);
      expect(shared.code).to.equal(2);
      expect(shared.stderr.trim().split('\n')).to.have.length(1);
      expect(shared.stderr, shared.stderr).to.match(/\[remote\] install_root: deploying needs a directory for the framework on the hosts other than where it is here/);
    } finally {
      p.ws.write('pipeline.cfg', saved);
    }
  });

  it('deploys to 3 hosts; parallel_example and a user\'s node script then run from the deployed copies only', async () => {
    const rows = await deploy();
    const version = rows[0]!.result!.version;
    for (const [i, row] of rows.entries()) {
      const home = p.cluster.hosts[i]!.home!;
      expect(row.result!.root).to.equal(join(home, 'pipeline'));
      expect(row.result!.previous).to.equal(null);
      expect(row.result!.filesSent).to.be.greaterThan(20);
      expect(row.result!.version).to.equal(version);
      expect(readlinkSync(join(home, 'pipeline', 'current'))).to.equal(`versions/${version}`);
      expect(existsSync(join(home, 'pipeline', 'dist', 'support', 'node', 'runtime.js'))).to.equal(true);
    }

    const check = await p.ws.run(['hosts', 'check', '--json']);
    expect(check.code, check.stdout + check.stderr).to.equal(0);
    for (const row of JSON.parse(check.stdout) as Array<{ deployed: string; deployedCurrent: boolean }>) {
      expect(row).to.include({ deployed: version, deployedCurrent: true });
    }

    const example = await p.ws.run(['run', 'parallel_example', '--jobs', '6', '--json', '--deploy']);
    expect(example.code, example.stderr.slice(-3000)).to.equal(0);
    const ended = example.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line)).filter((event) => event.type === 'job-ended');
    expect(ended).to.have.length(6);
    expect(new Set(ended.map((event) => event.host))).to.deep.equal(new Set(['node1', 'node2', 'node3']));

    // Without --deploy or [remote] deploy, a user's node scripts are expected at their own path there:
    // not readable when the hosts' user is another (as root, the tests' hosts log in as pipetest).
    if (p.cluster.user !== userInfo().username) {
      const shared = await p.ws.run(['run', 'where', '--job-name', 'where-shared']);
      expect(shared.code).to.equal(1);
      expect(shared.stderr, shared.stderr).to.match(/Cannot find module '.*\/nodes\/where\.js'/);
    }
    // [remote] deploy = true: every run deploys first (nothing to send now) and runs the deployed copies.
    p.configure('install_root = ~/pipeline\ndeploy = true');
    p.ws.write('pipeline.cfg', p.ws.read('pipeline.cfg').replace(/^working_directory = .*$/m, 'working_directory = ~/work'));
    const where = await p.ws.run(['run', 'where']);
    expect(where.code, where.stderr.slice(-3000)).to.equal(0);
    expect(where.stderr).to.match(/deploy: node3: version [0-9a-f]{16} in .* \(no file sent; already current\)/);
    const jobs = (JSON.parse(where.stdout) as { jobs: Array<{ state: string; cwd: string; host: string }> }).jobs;
    expect(jobs.map((job) => job.state)).to.deep.equal(['succeeded', 'succeeded', 'succeeded']);
    // Each job started in ~/work of its own host: the homes are not shared.
    expect(jobs.map((job) => job.cwd)).to.deep.equal(p.cluster.hosts.map((host) => join(host.home!, 'work')));
  });

  it('a second deploy after one file changed sends that one file to each host; a third sends none', async () => {
    await deploy();
    writeFileSync(join(p.ws.dir, 'nodes', 'where.js'), readFileSync(join(p.ws.dir, 'nodes', 'where.js'), 'utf8') + '\n// changed\n');
    const second = await deploy();
    for (const row of second) {
      expect(row.result!.filesSent, row.host).to.equal(1);
      expect(row.result!.previous).to.not.equal(row.result!.version);
    }
    const third = await deploy();
    for (const row of third) expect(row.result).to.include({ filesSent: 0, previous: second[0]!.result!.version });
  });

  it('pipeline run --deploy deploys first; a job running during a deploy finishes on its old version', async () => {
    const gate = join(p.cluster.dir, `gate-${process.pid}`);
    // Version A, deployed by the run itself.
    const run = runCli(['run', 'lazy', '--deploy', '--wait-for', gate, '--config', p.ws.configPath], { cwd: p.ws.dir, timeoutMs: 120_000 });
    const log = join(p.ws.jobDirectory('lazy'), 'logs');
    // Wait until every job has logged that it waits (they run on version A).
    for (let waited = 0; ; waited += 100) {
      const text = existsSync(log) ? readRunLog(log) : '';
      if ((text.match(/lazy job waiting/g) ?? []).length === 3) break;
      if (waited > 60_000) throw new Error(`the lazy jobs never started:\n${text}`);
      await delay(100);
    }
    p.ws.write('nodes/flavour.js', "export const flavour = 'B';\n");
    const during = await deploy(); // version B becomes current while the jobs still run
    for (const row of during) expect(row.result!.filesSent).to.equal(1);
    writeFileSync(gate, '');
    const result = await run;
    expect(result.code, result.stderr.slice(-3000)).to.equal(0);
    expect(result.stderr).to.match(/deploy: node1: version [0-9a-f]{16} in /);
    expect(JSON.parse(result.stdout).flavours).to.deep.equal(['A', 'A', 'A']);
    // A job started now runs version B.
    const after = await p.ws.run(['run', 'lazy', '--job-name', 'lazy-after', '--deploy']);
    expect(after.code, after.stderr.slice(-3000)).to.equal(0);
    expect(JSON.parse(after.stdout).flavours).to.deep.equal(['B', 'B', 'B']);
  });
});

function readRunLog(logs: string): string {
  const runs = readdirSync(logs).sort();
  const file = join(logs, runs.at(-1)!, 'pipeline.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

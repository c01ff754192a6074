import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { expectNothingLeft, job, startFaultRun, sshTestHosts } from './fault-run.js';

describe('faults: hosts that die or hang mid-run, connections that drop (real sshd hosts)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();
  let fileNumber = 0;
  /** A path in the hosts' shared working directory that jobs can wait for. */
  const sharedPath = (name: string) => join(hosts.p.cluster.dir, 'work', `${name}-${++fileNumber}`);

  afterEach(async () => {
    hosts.p.cluster.thawHost('node3');
    await hosts.p.cluster.startHost('node3');
    hosts.p.configure();
  });

  it("a host's sshd and sessions killed: its jobs fail with connection-lost, it is given up on, an unpinned job moves, nothing is left", async () => {
    const release = sharedPath('release');
    const run = startFaultRun(hosts.p, [
      { name: 'n1', host: 'node1', node: ['wait-file', release] },
      { name: 'n2', host: 'node2', node: ['wait-file', release] },
      { name: 'n3-a', host: 'node3', node: ['wait-file', release] },
      { name: 'n3-b', host: 'node3', node: ['wait-file', release] },
      { name: 'n3-shell', host: 'node3', shell: `echo shell-ready; while [ ! -e '${release}' ]; do sleep 0.1; done` },
      { name: 'n3-movable', host: 'node3', node: ['wait-file', release], pinned: false, retries: 2 },
    ]);
    await run.waitForLog(/ready n/, 5);
    await run.waitForLog(/shell-ready/);
    const killedAt = Date.now();
    // the hosts' own processes are orphaned, as when sshd crashes: they must notice and exit by themselves
    await hosts.p.cluster.killHostSessions('node3', { includeUserProcesses: false });
    await run.waitForLog(/node3#\S+ failed \(connection-lost\)/, 4, 15_000);
    const noticedIn = Date.now() - killedAt;
    writeFileSync(release, '');
    const result = await run.ended;

    expect(result.code, result.stderr).to.equal(1);
    expect(noticedIn, 'connection loss noticed within the keepalive window').to.be.below(15_000);
    for (const name of ['n3-a', 'n3-b', 'n3-shell']) {
      expect(job(result, name), name).to.include({ state: 'failed', failure: 'connection-lost', host: 'node3', retries: 0 });
      expect(job(result, name).message).to.equal('connection to node3 lost while the job ran; not retried: node3 is unhealthy');
    }
    const moved = job(result, 'n3-movable');
    expect(moved).to.include({ state: 'succeeded', retries: 1 });
    expect(moved.host).to.be.oneOf(['node1', 'node2']);
    expect(moved.attempts[0]).to.include({ host: 'node3', failure: 'connection-lost' });
    expect(job(result, 'n1').state).to.equal('succeeded');
    expect(job(result, 'n2').state).to.equal('succeeded');
    expect(run.log()).to.match(/host node3 is unhealthy for the rest of this run: connection-lost, then cannot connect to \S+ \(127\.0\.0\.4:\d+\): connection refused/);
    expect(result.stderr).to.match(/summary: 6 jobs: .*3 failed \(3 connection-lost\); 1 job retried 1 time/);
    await expectNothingLeft(hosts.p.cluster, 5000);
  });

  it('a host that hangs (sshd stopped, TCP open): its jobs fail with connection-lost within the keepalive window', async () => {
    hosts.p.configure('keepalive_interval = 1\nkeepalive_count_max = 2');
    const release = sharedPath('release');
    const run = startFaultRun(hosts.p, [
      { name: 'frozen', host: 'node3', node: ['wait-file', release] },
      { name: 'fine', host: 'node1', node: ['wait-file', release] },
    ]);
    await run.waitForLog(/ready (frozen|fine)/, 2);
    const frozenAt = Date.now();
    hosts.p.cluster.freezeHost('node3');
    await run.waitForLog(/node3#frozen failed \(connection-lost\)/, 1, 20_000);
    const noticedIn = Date.now() - frozenAt;
    writeFileSync(release, '');
    const result = await run.ended;
    expect(noticedIn, 'noticed within keepalive_interval x keepalive_count_max, plus one interval').to.be.below((1 * 2 + 1) * 1000 + 1500);
    expect(job(result, 'frozen')).to.include({ state: 'failed', failure: 'connection-lost' });
    expect(job(result, 'frozen').message).to.include('not retried: node3 is unhealthy');
    expect(job(result, 'fine').state).to.equal('succeeded');
    expect(run.log()).to.match(/host node3 is unhealthy .*no SSH handshake within ConnectTimeout \d+ s/);
    hosts.p.cluster.thawHost('node3'); // its sshd now sees the closed connection; the node sees stdin close
    await expectNothingLeft(hosts.p.cluster, 5000);
  });

  it('a job whose connection drops once is retried on its host and succeeds, with the retry recorded', async () => {
    const marker = sharedPath('attempted');
    const run = startFaultRun(hosts.p, [{ name: 'lost-once', host: 'node1', node: ['lost-once', marker] }]);
    await run.waitForLog(/ready lost-once/);
    const node = (await hosts.p.cluster.userProcesses()).find((proc) => proc.ours && proc.cmd.includes('fault.js'));
    expect(node, 'the node process').to.not.equal(undefined);
    process.kill(node!.ppid, 'SIGKILL'); // its sshd session process: the connection drops
    const result = await run.ended;
    expect(result.code, result.stderr).to.equal(0);
    const report = job(result, 'lost-once');
    expect(report).to.include({ state: 'succeeded', host: 'node1', retries: 1 });
    expect(report.attempts).to.have.length(1);
    expect(report.attempts[0]).to.include({ host: 'node1', failure: 'connection-lost' });
    expect(run.log()).to.match(/retrying job lost-once \(1 of 2\) in [\d.]+ s after connection-lost on node1/);
    expect(run.log()).not.to.include('unhealthy');
    await expectNothingLeft(hosts.p.cluster, 5000);
  });
});

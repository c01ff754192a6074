import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ComputeJob, NodeScript } from '../../../support/dispatch/compute-job.js';
import { LaunchError, Launchers } from '../../../support/launchers/launcher-choice.js';
import type { LaunchedProcess, Launcher } from '../../../support/launchers/launcher.js';
import { LocalLauncher } from '../../../support/launchers/local.js';
import { openRunLog, type RunLog } from '../../../support/logging/run-log.js';
import { Scheduler, type SchedulerSettings } from '../../../support/dispatch/scheduler.js';
import type { HostFiles } from '../../../support/launchers/host-files.js';
import { livingMembers as groupMembers } from '../../../support/protocol/process-group.js';

const PARALLEL_EXAMPLE = '/work/main/dist/nodes/parallel_example.js';

/** Polls `check` until it holds; fails after `limitMs` (a bound against hangs, not a speed test). */
async function eventually(check: () => boolean, what: string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) expect.fail(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

/**
 * A launcher that needs a while to start a command, as the SSH launcher does while it connects;
 * it runs the command locally. `starting` resolves when the first start() begins.
 */
class SlowStartLauncher implements Launcher {
  readonly name = 'slow-start';
  readonly #inner = new LocalLauncher();
  readonly #delayMs: number;
  #began!: () => void;
  readonly starting = new Promise<void>((resolve) => { this.#began = resolve; });

  constructor(delayMs: number) {
    this.#delayMs = delayMs;
  }

  async start(host: string, command: string): Promise<LaunchedProcess> {
    this.#began();
    await sleep(this.#delayMs);
    return this.#inner.start(host, command);
  }

  probe(): Promise<void> {
    return Promise.resolve();
  }

  files(host: string): Promise<HostFiles> {
    return this.#inner.files(host);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * Runs commands locally but treats hosts as reachable or not: a host in `down` cannot be
 * connected to (launch and probe fail as unreachable); `failNext` fails that many more starts
 * of a host even though its probe succeeds (a transient refusal); `wrongKey` hosts fail with a
 * host-key problem.
 */
class ReachabilityLauncher implements Launcher {
  readonly name = 'reachability';
  readonly #inner = new LocalLauncher();
  readonly down = new Set<string>();
  readonly wrongKey = new Set<string>();
  readonly failNext = new Map<string, number>();
  readonly starts: string[] = [];
  probes = 0;

  async start(host: string, command: string): Promise<LaunchedProcess> {
    this.starts.push(host);
    if (this.wrongKey.has(host)) throw new LaunchError(host, `host key of ${host} changed`, { problem: 'host-key' });
    const failures = this.failNext.get(host) ?? 0;
    if (failures > 0) this.failNext.set(host, failures - 1);
    if (this.down.has(host) || failures > 0) throw new LaunchError(host, `${host}: connection refused`, { problem: 'unreachable' });
    return this.#inner.start(host, command);
  }

  files(host: string): Promise<HostFiles> {
    return this.#inner.files(host);
  }

  async probe(host: string): Promise<void> {
    this.probes++;
    if (this.down.has(host)) throw new LaunchError(host, `${host}: connection refused`, { problem: 'unreachable' });
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

function readLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((line) => line !== '') : [];
}

/** Largest number of jobs running at once, from "start X" / "end X" markers in order. */
function maxOverlap(markers: string[], filter: (id: string) => boolean = () => true): number {
  let running = 0;
  let max = 0;
  for (const marker of markers) {
    const [what, id] = marker.split(' ');
    if (!filter(id!)) continue;
    if (what === 'start') max = Math.max(max, ++running);
    else if (what === 'end') running--;
  }
  return max;
}

describe('support/dispatch/scheduler (with job-execution and the local launcher)', function () {
  this.timeout(60_000);

  let dir: string;
  let runLog: RunLog;
  let logFile: string;
  let consoleText: string;
  let dryRunText: string;
  let launchers: Launchers;
  let interrupt: AbortController;
  let testNumber = 0;

  before(() => {
    if (!existsSync(PARALLEL_EXAMPLE)) throw new Error(`${PARALLEL_EXAMPLE} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'scheduler-test-'));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    testNumber++;
    logFile = join(dir, `run${testNumber}`, 'pipeline.log');
    const console = new PassThrough();
    consoleText = '';
    console.setEncoding('utf8');
    console.on('data', (chunk: string) => { consoleText += chunk; });
    runLog = openRunLog({ consoleLevel: 'debug', console, color: false, logFile });
    launchers = new Launchers('local');
    interrupt = new AbortController();
    dryRunText = '';
  });

  afterEach(async () => {
    interrupt.abort();
    await launchers.close();
    await runLog.close();
  });

  function scheduler(overrides: Partial<SchedulerSettings> = {}): Scheduler {
    const dryRunOutput = new PassThrough();
    dryRunOutput.setEncoding('utf8');
    dryRunOutput.on('data', (chunk: string) => { dryRunText += chunk; });
    return new Scheduler({
      launchers,
      logger: runLog.logger,
      placement: { environment: {}, nodeExecutable: process.execPath, scriptPath: (p) => p },
      signal: interrupt.signal,
      logLevel: 'debug',
      graceMs: 2000,
      maxPerNode: 4,
      timeout: 0,
      retries: 0,
      retryDelay: 0.05,
      dryRun: false,
      hosts: ['localhost'],
      dryRunOutput,
      ...overrides,
    });
  }

  /** The run's log file, after every line was written. */
  async function logText(): Promise<string> {
    await runLog.close();
    return readFileSync(logFile, 'utf8');
  }

  describe('plain shell-command jobs', () => {
    it('a job that exits 3 failed with reason exit and return code 3', async () => {
      const job = new ComputeJob('localhost', 'exit 3');
      await scheduler().run([job]);
      expect(job.results).to.include({ state: 'failed', failure: 'exit', returncode: 3, signal: null, host: 'localhost' });
      expect(job.results.message).to.equal('exited with return code 3');
    });

    it('a job killed by SIGKILL failed with reason signal', async () => {
      const job = new ComputeJob('localhost', 'kill -9 $$');
      await scheduler().run([job]);
      expect(job.results).to.include({ state: 'failed', failure: 'signal', signal: 'SIGKILL', returncode: null });
      expect(job.results.message).to.equal('killed by SIGKILL');
    });

    it('a job that exits 0 succeeded, with its stdout lines in outputs.stdout', async () => {
      const job = new ComputeJob('localhost', 'echo one; echo "two  words"; echo problem >&2; printf last', [], { name: 'out-job' });
      await scheduler().run([job]);
      expect(job.results).to.include({ state: 'succeeded', returncode: 0, signal: null });
      expect(job.results.failure).to.equal(undefined);
      expect(job.results.outputs).to.deep.equal({ stdout: ['one', 'two  words', 'last'] });
      expect(job.results.duration).to.be.a('number').and.greaterThan(0);
      const log = await logText();
      expect(log).to.match(/INFO +localhost#out-job one\b/);
      expect(log).to.match(/INFO +localhost#out-job problem\b/);
      expect(consoleText).to.include('localhost#out-job two  words');
    });

    it('appends the arguments, quoted', async () => {
      const job = new ComputeJob('localhost', "printf '%s\\n'", ["it's", '$(echo no)', 'a b', 7]);
      await scheduler().run([job]);
      expect(job.results.outputs.stdout).to.deep.equal(["it's", '$(echo no)', 'a b', '7']);
    });

    it('logs the last stderr lines of a failed job and its failure', async () => {
      const job = new ComputeJob('localhost', 'echo "disk full" >&2; exit 2', [], { name: 'failing' });
      await scheduler().run([job]);
      const log = await logText();
      expect(log).to.match(/ERROR +localhost#failing failed \(exit\): exited with return code 2/);
      expect(log).to.include('localhost#failing disk full');
    });

    it('calls the listener as each job ends', async () => {
      const jobs = [new ComputeJob('localhost', 'exit 0'), new ComputeJob('localhost', 'exit 1')];
      const ended: ComputeJob[] = [];
      await scheduler().run(jobs, {}, (job) => {
        expect(job.results.state).to.be.oneOf(['succeeded', 'failed']);
        ended.push(job);
      });
      expect(ended).to.have.members(jobs);
    });

    it('does not stop the other jobs when one fails without failFast', async () => {
      const jobs = [new ComputeJob('localhost', 'exit 1'), new ComputeJob('localhost', 'sleep 0.3; echo done')];
      await scheduler().run(jobs);
      expect(jobs[0]!.results.failure).to.equal('exit');
      expect(jobs[1]!.results).to.include({ state: 'succeeded' });
      expect(jobs[1]!.results.outputs.stdout).to.deep.equal(['done']);
    });

    it('fails a job whose host no launcher can reach with launch-failed', async () => {
      launchers = new Launchers('auto');
      const remote = new ComputeJob('lce042.example', 'echo hi');
      const local = new ComputeJob('localhost', 'echo hi');
      await scheduler().run([remote, local]);
      expect(remote.results).to.include({ state: 'failed', failure: 'launch-failed', returncode: null });
      expect(remote.results.message).to.include('lce042.example');
      expect(local.results).to.include({ state: 'succeeded' });
    });
  });

  describe('limits', () => {
    function markerJob(host: string, id: string, file: string): ComputeJob {
      return new ComputeJob(host, `echo "start ${id}" >> '${file}'; sleep 0.5; echo "end ${id}" >> '${file}'`, [], { name: `${host}-${id}` });
    }

    it('runs at most maxPerNode jobs at a time on one host', async () => {
      const file = join(dir, `markers${testNumber}`);
      const jobs = Array.from({ length: 6 }, (_, i) => markerJob('localhost', String(i), file));
      await scheduler().run(jobs, { maxPerNode: 2 });
      const markers = readLines(file);
      expect(markers).to.have.length(12);
      expect(jobs.every((job) => job.results.state === 'succeeded')).to.equal(true);
      expect(maxOverlap(markers)).to.equal(2);
    });

    it('takes maxPerNode 0 as no limit, as lofarpipe does (it threw a TypeError)', async () => {
      const file = join(dir, `markers${testNumber}`);
      const jobs = Array.from({ length: 5 }, (_, i) => markerJob('localhost', String(i), file));
      await scheduler({ maxPerNode: 1 }).run(jobs, { maxPerNode: 0 });
      const markers = readLines(file);
      expect(markers).to.have.length(10);
      expect(maxOverlap(markers)).to.equal(5);
    });

    it('takes maxPerNode from the settings when the call gives none', async () => {
      const file = join(dir, `markers${testNumber}`);
      const jobs = Array.from({ length: 4 }, (_, i) => markerJob('localhost', String(i), file));
      await scheduler({ maxPerNode: 1 }).run(jobs);
      const markers = readLines(file);
      expect(markers).to.have.length(8);
      expect(maxOverlap(markers)).to.equal(1);
    });

    it('counts maxPerNode per host', async () => {
      const file = join(dir, `markers${testNumber}`);
      const jobs = ['a', 'b'].flatMap((host) => Array.from({ length: 3 }, (_, i) => markerJob(host, `${host}${i}`, file)));
      await scheduler().run(jobs, { maxPerNode: 1 });
      const markers = readLines(file);
      expect(markers).to.have.length(12);
      expect(maxOverlap(markers, (id) => id.startsWith('a'))).to.equal(1);
      expect(maxOverlap(markers, (id) => id.startsWith('b'))).to.equal(1);
      expect(maxOverlap(markers)).to.be.at.most(2);
    });

    it('runs at most concurrency jobs at a time over all hosts', async () => {
      const file = join(dir, `markers${testNumber}`);
      const jobs = ['a', 'b', 'c'].flatMap((host) => Array.from({ length: 2 }, (_, i) => markerJob(host, `${host}${i}`, file)));
      await scheduler().run(jobs, { maxPerNode: 2, concurrency: 2 });
      const markers = readLines(file);
      expect(markers).to.have.length(12);
      expect(maxOverlap(markers)).to.be.at.most(2);
    });
  });

  describe('timeouts', () => {
    it('stops a job that runs too long and fails it with reason timeout', async () => {
      const job = new ComputeJob('localhost', 'echo $$; sleep 30');
      await scheduler().run([job], { timeout: 0.5 });
      expect(job.results).to.include({ state: 'failed', failure: 'timeout' });
      expect(job.results.message).to.equal('timed out after 0.5 s');
      const pgid = Number((job.results.outputs.stdout as string[])[0]);
      await eventually(() => groupMembers(pgid).length === 0, 'the job\'s processes gone');
    });

    it('takes the timeout from the settings', async () => {
      const job = new ComputeJob('localhost', 'sleep 30');
      await scheduler({ timeout: 0.3 }).run([job]);
      expect(job.results.failure).to.equal('timeout');
    });

    it('prefers the job\'s own timeout', async () => {
      const short = new ComputeJob('localhost', 'sleep 30', [], { timeout: 0.3 });
      const long = new ComputeJob('localhost', 'sleep 0.5; echo ok', [], { timeout: 50 });
      await scheduler().run([short, long], { timeout: 0.2 });
      expect(short.results.failure).to.equal('timeout');
      expect(short.results.message).to.equal('timed out after 0.3 s');
      expect(long.results).to.include({ state: 'succeeded' });
    });

    it('stops a job that ignores TERM with KILL after the grace period', async () => {
      const job = new ComputeJob('localhost', "trap '' TERM; sleep 30");
      await scheduler({ graceMs: 200 }).run([job], { timeout: 0.3 });
      expect(job.results).to.include({ state: 'failed', failure: 'timeout', signal: 'SIGKILL' });
    });
  });

  describe('cancelling', () => {
    it('failFast cancels the running jobs and starts no more once one fails', async () => {
      const file = join(dir, `started${testNumber}`);
      const failing = new ComputeJob('localhost', `sleep 0.2; exit 1`, [], { name: 'bad' });
      const running = new ComputeJob('localhost', `echo running >> '${file}'; sleep 30`, [], { name: 'running' });
      const queued = [1, 2].map((i) => new ComputeJob('localhost', `echo queued${i} >> '${file}'; sleep 30`, [], { name: `queued${i}` }));
      await scheduler().run([failing, running, ...queued], { maxPerNode: 2, failFast: true });
      expect(failing.results).to.include({ state: 'failed', failure: 'exit', returncode: 1 });
      for (const job of [running, ...queued]) expect(job.results, job.id).to.include({ state: 'failed', failure: 'cancelled' });
      for (const job of queued) expect(job.results.message, job.id).to.equal('cancelled before it started');
      expect(readLines(file).filter((line) => line.startsWith('queued'))).to.deep.equal([]);
      const log = await logText();
      expect(log).to.include('fail-fast: job bad on localhost failed, cancelling the rest');
    });

    it('aborting the run\'s signal cancels the running jobs and kills their processes', async () => {
      const file = join(dir, `pgids${testNumber}`);
      const jobs = [1, 2].map((i) => new ComputeJob('localhost', `echo $$ >> '${file}'; sleep 30`, [], { name: `long${i}` }));
      const run = scheduler().run(jobs);
      await eventually(() => readLines(file).length === 2, 'both jobs started');
      const pgids = readLines(file).map(Number);
      interrupt.abort();
      await run;
      for (const job of jobs) {
        expect(job.results, job.id).to.include({ state: 'failed', failure: 'cancelled' });
        expect(job.results.message).to.equal('cancelled');
      }
      for (const pgid of pgids) await eventually(() => groupMembers(pgid).length === 0, `group ${pgid} gone`);
    });

    it('aborting the run while a job is being launched cancels that job too', async () => {
      const slow = new SlowStartLauncher(300);
      launchers = new Launchers('auto', () => slow);
      const job = new ComputeJob('remote1', 'sleep 3; echo finished', [], { name: 'launching' });
      const run = scheduler().run([job]);
      await slow.starting;
      interrupt.abort();
      await run;
      expect(job.results, JSON.stringify(job.results)).to.include({ state: 'failed', failure: 'cancelled' });
      expect(job.results.outputs.stdout ?? []).not.to.include('finished');
    });

    it('failFast cancels a job that is being launched when another fails', async () => {
      const slow = new SlowStartLauncher(500);
      launchers = new Launchers('auto', () => slow);
      const failing = new ComputeJob('localhost', 'exit 1', [], { name: 'quick-fail' });
      const launching = new ComputeJob('remote1', 'sleep 3; echo finished', [], { name: 'slow-launch' });
      await scheduler().run([failing, launching], { failFast: true });
      expect(failing.results.failure).to.equal('exit');
      expect(launching.results, JSON.stringify(launching.results)).to.include({ state: 'failed', failure: 'cancelled' });
    });

    it('an aborted run starts no job', async () => {
      const marker = join(dir, `never${testNumber}`);
      interrupt.abort();
      const job = new ComputeJob('localhost', `touch '${marker}'`);
      await scheduler().run([job]);
      expect(job.results).to.include({ state: 'failed', failure: 'cancelled', message: 'cancelled before it started' });
      expect(existsSync(marker)).to.equal(false);
    });
  });

  describe('retries and unhealthy hosts', () => {
    let hosts: ReachabilityLauncher;
    beforeEach(() => {
      hosts = new ReachabilityLauncher();
      launchers = new Launchers('ssh', () => hosts);
    });

    it('retries a launch failure on a host that answers the probe, and records the attempt', async () => {
      hosts.failNext.set('h1', 1);
      const job = new ComputeJob('h1', 'echo ok', [], { name: 'flaky-start' });
      await scheduler({ retries: 2, hosts: ['h1'] }).run([job]);
      expect(job.results).to.include({ state: 'succeeded', retries: 1, host: 'h1' });
      expect(job.results.attempts).to.have.length(1);
      expect(job.results.attempts[0]).to.include({ host: 'h1', failure: 'launch-failed', message: 'h1: connection refused' });
      expect(hosts.starts).to.deep.equal(['h1', 'h1']);
      expect(await logText()).to.match(/WARN +h1#flaky-start retrying job flaky-start \(1 of 2\) in [\d.]+ s after launch-failed on h1/);
    });

    it('gives up on a host whose probe fails: pinned jobs fail, unpinned jobs move to a healthy host', async () => {
      hosts.down.add('dead');
      const pinned = [1, 2, 3].map((n) => new ComputeJob('dead', 'echo pinned', [], { name: `pinned${n}` }));
      const movable = [1, 2, 3].map((n) => new ComputeJob('dead', 'echo moved', [], { name: `movable${n}`, pinned: false }));
      await scheduler({ retries: 2, hosts: ['dead', 'alive'], maxPerNode: 1 }).run([...pinned, ...movable]);
      for (const job of pinned) {
        expect(job.results, job.id).to.include({ state: 'failed', failure: 'launch-failed', host: 'dead' });
        expect(job.results.retries, job.id).to.equal(0);
      }
      expect(pinned[0]!.results.message).to.equal('dead: connection refused; not retried: dead is unhealthy');
      expect(pinned[1]!.results).to.include({ launchProblem: 'unhealthy' });
      expect(pinned[1]!.results.message).to.match(/^not started: dead is unhealthy \(launch-failed, then dead: connection refused\)$/);
      for (const job of movable) {
        expect(job.results, job.id).to.include({ state: 'succeeded', host: 'alive' });
        expect(job.results.outputs.stdout).to.deep.equal(['moved']);
      }
      expect(hosts.probes).to.equal(1);
      expect(hosts.starts.filter((host) => host === 'dead')).to.have.length(1);
      expect(await logText()).to.include('host dead is unhealthy for the rest of this run: launch-failed, then dead: connection refused');
    });

    it('never retries a wrong host key', async () => {
      hosts.wrongKey.add('h1');
      const job = new ComputeJob('h1', 'echo ok', [], { name: 'bad-key' });
      await scheduler({ retries: 3, hosts: ['h1'] }).run([job]);
      expect(job.results).to.include({ state: 'failed', failure: 'launch-failed', launchProblem: 'host-key', retries: 0 });
      expect(hosts.starts).to.deep.equal(['h1']);
    });

    it('does not retry a job failure unless asked', async () => {
      const job = new ComputeJob('h1', 'exit 4', [], { name: 'exit4' });
      await scheduler({ retries: 3, hosts: ['h1'] }).run([job]);
      expect(job.results).to.include({ state: 'failed', failure: 'exit', returncode: 4, retries: 0 });
    });

    it('retries the job failures named in retryOn, per call or per job', async () => {
      const marker = join(dir, `once${testNumber}`);
      // fails the first time, succeeds the second
      const failOnce = `if [ -e '${marker}' ]; then echo second; else touch '${marker}'; exit 3; fi`;
      const job = new ComputeJob('h1', failOnce, [], { name: 'fail-once' });
      await scheduler({ retries: 0, hosts: ['h1'] }).run([job], { retries: 1, retryOn: ['exit'] });
      expect(job.results).to.include({ state: 'succeeded', retries: 1 });
      expect(job.results.attempts[0]).to.include({ failure: 'exit', message: 'exited with return code 3' });
      expect(job.results.outputs.stdout).to.deep.equal(['second']);

      const picky = new ComputeJob('h1', 'exit 5', [], { name: 'picky', retries: 3, retryOn: (results) => results.returncode === 75 });
      await scheduler({ hosts: ['h1'] }).run([picky]);
      expect(picky.results).to.include({ state: 'failed', returncode: 5, retries: 0 });
    });

    it('stops retrying when the run is cancelled during the wait', async () => {
      hosts.failNext.set('h1', 5);
      const job = new ComputeJob('h1', 'echo ok', [], { name: 'waiting' });
      const run = scheduler({ retries: 5, retryDelay: 30, hosts: ['h1'] }).run([job]);
      await eventually(() => hosts.starts.length === 1, 'first attempt');
      await sleep(100);
      interrupt.abort();
      await run;
      expect(job.results).to.include({ state: 'failed', failure: 'launch-failed', retries: 0 });
      expect(hosts.starts).to.have.length(1);
    });
  });

  describe('dry run', () => {
    it('dispatches nothing and prints each job with its command', async () => {
      const marker = join(dir, `dry${testNumber}`);
      const plain = new ComputeJob('lce001', `touch '${marker}'`, ['arg one'], { name: 'dry-plain' });
      const node = new ComputeJob('lce002', new NodeScript(PARALLEL_EXAMPLE, 'parallel_example'), [1, 'hello', 0], { name: 'dry-node' });
      await scheduler({ dryRun: true }).run([plain, node]);
      await sleep(200);
      expect(existsSync(marker)).to.equal(false);
      expect(plain.results.state).to.equal('skipped');
      expect(node.results.state).to.equal('skipped');
      expect(dryRunText).to.include(`dry-run: job dry-plain on lce001: lce001 touch '${marker}' "arg one"\n  command: touch '${marker}' 'arg one'\n`);
      expect(dryRunText).to.include('dry-run: job dry-node on lce002: lce002 node script parallel_example 1 "hello" 0\n  command: ');
      expect(dryRunText).to.include(`${process.execPath} ${PARALLEL_EXAMPLE}`);
    });
  });

  describe('node-script jobs', () => {
    const script = () => new NodeScript(PARALLEL_EXAMPLE, 'parallel_example');

    it('runs the node script and collects its outputs', async () => {
      const job = new ComputeJob('localhost', script(), [7, 'hello', 0], { name: 'pe-7' });
      await scheduler().run([job]);
      expect(job.results).to.include({ state: 'succeeded', returncode: 0, signal: null });
      expect(job.results.outputs.index).to.equal(7);
      expect(job.results.outputs.hostname).to.equal(hostname());
      expect(job.results.outputs.pid).to.be.a('number');
    });

    it('brings the node\'s log line to the log file, tagged host#job', async () => {
      const job = new ComputeJob('localhost', script(), [3, 'from the node', 0], { name: 'pe-log' });
      await scheduler().run([job]);
      expect(job.results.state).to.equal('succeeded');
      const log = await logText();
      const line = log.split('\n').find((l) => l.includes('says: from the node'));
      expect(line, log).to.be.a('string');
      expect(line).to.match(new RegExp(`INFO +localhost#pe-log job 3 on ${hostname()} \\(pid ${job.results.outputs.pid as number}\\) says: from the node`));
      expect(consoleText).to.include('localhost#pe-log job 3 on');
    });

    it('runs several node-script jobs on several hosts', async () => {
      const jobs = [0, 1, 2, 3].map((i) => new ComputeJob(i % 2 ? 'nodeB' : 'nodeA', script(), [i, `message ${i}`, 0.1], { name: `multi-${i}` }));
      await scheduler().run(jobs, { maxPerNode: 2 });
      expect(jobs.map((job) => job.results.state)).to.deep.equal(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
      expect(jobs.map((job) => job.results.outputs.index)).to.deep.equal([0, 1, 2, 3]);
      expect(jobs.map((job) => job.results.host)).to.deep.equal(['nodeA', 'nodeB', 'nodeA', 'nodeB']);
      const log = await logText();
      for (const job of jobs) expect(log).to.include(`${job.host}#${job.id} job ${job.results.outputs.index as number} on`);
    });

    it('fails with launch-failed when node cannot be started', async () => {
      const job = new ComputeJob('localhost', script(), [1, 'x', 0]);
      await scheduler({ placement: { environment: {}, nodeExecutable: join(dir, 'no-such-node'), scriptPath: (p) => p } }).run([job]);
      expect(job.results).to.include({ state: 'failed', failure: 'launch-failed', returncode: 127 });
      expect(job.results.message).to.match(/^node script could not be started \(exit 127\)/);
    });

    it('a node-script job that times out is stopped', async () => {
      const job = new ComputeJob('localhost', script(), [1, 'slow', 30], { name: 'pe-slow' });
      await scheduler().run([job], { timeout: 1 });
      expect(job.results).to.include({ state: 'failed', failure: 'timeout' });
    });
  });
});

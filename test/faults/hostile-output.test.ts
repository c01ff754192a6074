/**
 * Hostile output: a node that writes a 50 MB line, or a gigabyte of binary bytes, or a flood of
 * random lines, must not make the master run out of memory or stall the other jobs. Lines are
 * capped (LineSplitter), and job output is read no faster than the log is written (LogPressure).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { cliPath } from '../harness/pipeline-cli.js';
import type { SshPipeline } from '../harness/ssh-pipeline.js';
import { expectNothingLeft, job, sshTestHosts, watchMemory, type FaultRunResult, type JobSpec } from './fault-run.js';

const MiB = 1024 * 1024;
const LINE_CAP = 64 * 1024;
/** Measured: the master idles at ~70 MiB and peaks at 330-360 MiB here; ~950 MiB without back-pressure, growing with the flood. */
const MAX_RSS = 600 * MiB;

/**
 * Counts occurrences of fixed strings in a growing log file, reading only what was appended since
 * the last look: a flood's log is hundreds of megabytes, too much to read again and again.
 */
class LogCounter {
  readonly #file: () => string | undefined;
  readonly #needles: Buffer[];
  readonly #counts: Map<string, number>;
  readonly #buffer = Buffer.alloc(4 * MiB);
  #offset = 0;
  #carry = Buffer.alloc(0);

  constructor(file: () => string | undefined, needles: string[]) {
    this.#file = file;
    this.#needles = needles.map((needle) => Buffer.from(needle));
    this.#counts = new Map(needles.map((needle) => [needle, 0]));
  }

  /** Reads what was appended since the last call. */
  update(): this {
    const file = this.#file();
    if (!file || !existsSync(file)) return this;
    const fd = openSync(file, 'r');
    try {
      for (let read; (read = readSync(fd, this.#buffer, 0, this.#buffer.length, this.#offset)) > 0;) {
        this.#offset += read;
        this.#scan(Buffer.concat([this.#carry, this.#buffer.subarray(0, read)]));
      }
    } finally {
      closeSync(fd);
    }
    return this;
  }

  count(needle: string): number {
    return this.#counts.get(needle)!;
  }

  get bytes(): number {
    return this.#offset;
  }

  #scan(data: Buffer): void {
    // The carried tail is shorter than any needle, so no match is counted twice.
    let carry = 0;
    for (const needle of this.#needles) {
      const key = needle.toString();
      for (let at = data.indexOf(needle); at !== -1; at = data.indexOf(needle, at + needle.length)) this.#counts.set(key, this.#counts.get(key)! + 1);
      carry = Math.max(carry, needle.length - 1);
    }
    this.#carry = Buffer.from(data.subarray(Math.max(0, data.length - carry)));
  }
}

interface HostileRun {
  master: ReturnType<typeof spawn>;
  ended: Promise<FaultRunResult>;
  /** The run's pipeline.log, once it exists. */
  logFile(): string | undefined;
}

let runNumber = 0;

/**
 * `pipeline run faults` as startFaultRun does it, but keeping only the end of the master's console:
 * a flood puts hundreds of megabytes there too, more than this process should hold.
 */
function startHostileRun(p: SshPipeline, specs: JobSpec[]): HostileRun {
  const jobName = `hostile${++runNumber}`;
  const master = spawn(process.execPath, [cliPath, 'run', 'faults', '--job-name', jobName, '--jobs', JSON.stringify(specs), '--config', p.ws.configPath], {
    cwd: p.ws.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderrTail = '';
  master.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  master.stderr.setEncoding('utf8').on('data', (d: string) => (stderrTail = (stderrTail + d).slice(-16 * 1024)));
  const ended = new Promise<FaultRunResult>((resolve) => {
    master.on('close', (code, signal) => {
      let jobs: FaultRunResult['jobs'] = [];
      try {
        jobs = (JSON.parse(stdout) as { jobs: FaultRunResult['jobs'] }).jobs;
      } catch {
        // a run that failed early prints no outputs
      }
      resolve({ code, signal, stdout, stderr: stderrTail, jobs });
    });
  });
  const logFile = () => {
    const logs = join(p.ws.jobDirectory(jobName), 'logs');
    if (!existsSync(logs)) return undefined;
    const runs = readdirSync(logs).sort();
    return runs.length > 0 ? join(logs, runs[runs.length - 1]!, 'pipeline.log') : undefined;
  };
  return { master, ended, logFile };
}

interface Sample {
  at: number;
  chatter: number;
  flooding: boolean;
}

/** Runs `specs` while sampling the log every 250 ms and the master's memory every 100 ms. */
async function watchRun(p: SshPipeline, specs: JobSpec[], needles: string[], flooding: (log: LogCounter) => boolean) {
  const began = Date.now();
  const run = startHostileRun(p, specs);
  const memory = watchMemory(run.master.pid!);
  const log = new LogCounter(run.logFile, ['#chatter chatter ', ...needles]);
  const samples: Sample[] = [];
  let ended = false;
  void run.ended.then(() => (ended = true));
  while (!ended) {
    log.update();
    samples.push({ at: Date.now() - began, chatter: log.count('#chatter chatter '), flooding: flooding(log) });
    await sleep(250);
  }
  const result = await run.ended;
  const maxRss = memory.stop();
  log.update();
  return { result, maxRss, log, samples, seconds: (Date.now() - began) / 1000 };
}

/** Samples taken while the flood and the chatter ran: the chatter job must have logged new lines all along. */
function expectChatterDuringFlood(samples: Sample[]): { seconds: number; lines: number; longestStall: number } {
  const during = samples.filter((sample) => sample.flooding);
  expect(during.length, 'log samples taken while the flood ran').to.be.at.least(8);
  let longestStall = 0;
  let last = during[0]!;
  for (const sample of during) {
    if (sample.chatter > last.chatter) last = sample;
    longestStall = Math.max(longestStall, sample.at - last.at);
  }
  const first = during[0]!;
  const final = during[during.length - 1]!;
  expect(final.chatter, 'chatter lines logged while the flood ran').to.be.above(first.chatter);
  expect(longestStall, 'longest time (ms) without a chatter line while the flood ran').to.be.below(5000);
  return { seconds: (final.at - first.at) / 1000, lines: final.chatter - first.chatter, longestStall };
}

describe('faults: hostile output neither exhausts nor stalls the master (real sshd hosts)', function () {
  this.timeout(180_000);
  const hosts = sshTestHosts();

  it('a 50 MB line, 1 GB of binary and a flood of random lines over SSH, while another host chatters', async () => {
    const bigLine = 50 * MiB;
    const binary = 1024 * MiB;
    const flood = 96 * MiB;
    // The gigabyte and the flood come from plain commands: `head | tr` streams them at disk speed.
    const run = await watchRun(hosts.p, [
      { name: 'bigline', host: 'node1', node: ['bigline', bigLine] },
      { name: 'binary', host: 'node1', shell: `head -c ${binary} /dev/urandom | tr '\\n' '\\0' >&2; printf '\\nafter the big line\\n' >&2` },
      { name: 'flood', host: 'node2', shell: `head -c ${flood} /dev/urandom >&2; printf '\\nflood done\\n' >&2` },
      { name: 'chatter', host: 'node3', node: ['chatter', 30] },
    ], [
      `node1#bigline ${'a'.repeat(64)}`,
      `[line cut: ${bigLine - LINE_CAP} more bytes dropped]`,
      'node1#binary after the big line',
      'node2#flood flood done',
      'node2#flood succeeded in',
      'node3#chatter succeeded in',
    ], (log) => log.bytes > 16 * MiB && log.count('node2#flood succeeded in') === 0 && log.count('node3#chatter succeeded in') === 0);
    const { result, log } = run;
    const chatter = expectChatterDuringFlood(run.samples);
    console.log(`      ${run.seconds.toFixed(1)} s, master max RSS ${(run.maxRss / MiB).toFixed(0)} MiB, log ${(log.bytes / MiB).toFixed(0)} MiB, `
      + `flood ${job(result, 'flood').duration.toFixed(1)} s, 1 GiB binary ${job(result, 'binary').duration.toFixed(1)} s, `
      + `${chatter.lines} chatter lines in ${chatter.seconds.toFixed(1)} s of flood (longest gap ${chatter.longestStall} ms)`);

    expect(result.code, result.stderr).to.equal(0);
    for (const name of ['bigline', 'binary', 'flood', 'chatter']) expect(job(result, name), name).to.include({ state: 'succeeded', returncode: 0 });
    expect(run.maxRss, `master max RSS ${run.maxRss} bytes`).to.be.below(MAX_RSS);
    expect(log.count(`node1#bigline ${'a'.repeat(64)}`), 'the 50 MB line, cut').to.equal(1);
    expect(log.count(`[line cut: ${bigLine - LINE_CAP} more bytes dropped]`), 'its cut marker').to.equal(1);
    expect(log.count('node1#binary after the big line')).to.equal(1);
    expect(log.count('node2#flood flood done')).to.equal(1);
    expect(log.bytes, 'every line of the flood is in the log').to.be.above(flood);
    await expectNothingLeft(hosts.p.cluster);
  });
});

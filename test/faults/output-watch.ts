/**
 * Watching a run whose jobs flood their output: the master's memory, and a log too large to read
 * twice counted as it grows (hostile-output and agent tests).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { cliPath } from '../harness/pipeline-cli.js';
import type { SshPipeline } from '../harness/ssh-pipeline.js';
import { watchMemory, type FaultRunResult, type JobSpec } from './fault-run.js';

export const MiB = 1024 * 1024;
export const LINE_CAP = 64 * 1024;
/** Measured: the master idles at ~70 MiB and peaks at 330-360 MiB here; ~950 MiB without back-pressure, growing with the flood. */
export const MAX_RSS = 600 * MiB;

/**
 * Counts occurrences of fixed strings in a growing log file, reading only what was appended since
 * the last look: a flood's log is hundreds of megabytes, too much to read again and again.
 */
export class LogCounter {
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
export async function watchRun(p: SshPipeline, specs: JobSpec[], needles: string[], flooding: (log: LogCounter) => boolean) {
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
export function expectChatterDuringFlood(samples: Sample[]): { seconds: number; lines: number; longestStall: number } {
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


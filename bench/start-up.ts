/**
 * Row 6: how long `pipeline --help` and `pipeline status` (of a recorded run of 20 jobs) take as
 * whole processes, against `node -e 0` started the same way in the same run (interleaved, medians).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions, BenchRow } from './bench-row.js';
import { interleaved, median, now } from './measure.js';
import { cliPath } from '../test/harness/pipeline-cli.js';

/** The start-up target: within this many ms of `node -e 0`. */
const TARGET_MS = 150;

function processMs(args: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const began = now();
    const child = spawn(process.execPath, args, { cwd, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(now() - began));
  });
}

export async function benchStartUp({ quick, progress }: BenchOptions): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-start-up-'));
  try {
    const config = join(dir, 'pipeline.cfg');
    writeFileSync(config, `[DEFAULT]\nruntime_directory = ${join(dir, 'runtime')}\n\n[remote]\nmethod = local\n`);
    // A run to report on: status reads its journal, as a user's status does.
    const recorded = spawnSync(process.execPath, [cliPath, 'run', 'executable_args', '--executable', '/bin/true', '--inputs', `[${Array.from({ length: 20 }, (_, i) => `in${i}`).join(',')}]`, '--job-name', 'startup', '--config', config], { cwd: dir, encoding: 'utf8' });
    if (recorded.status !== 0) throw new Error(`the run for pipeline status failed: ${recorded.stderr}`);
    const repeats = quick ? 5 : 20;
    const runs = await interleaved(repeats, {
      node: () => processMs(['-e', '0'], dir),
      help: () => processMs([cliPath, '--help'], dir),
      status: () => processMs([cliPath, 'status', 'startup', '--config', config], dir),
    });
    const floor = median(runs.node);
    progress(`node -e 0 ${floor.toFixed(0)} ms, pipeline --help ${median(runs.help).toFixed(0)} ms, pipeline status ${median(runs.status).toFixed(0)} ms`);
    return (['help', 'status'] as const).map((name) => {
      const ms = median(runs[name]);
      return {
        row: `6${name === 'help' ? 'a' : 'b'}`,
        what: `start-up: pipeline ${name === 'help' ? '--help' : 'status'} (ms, process) vs node -e 0`,
        framework: Math.round(ms),
        floor: Math.round(floor),
        unit: 'ms',
        ratio: Math.round((ms / floor) * 100) / 100,
        target: `<= +${TARGET_MS} ms`,
        met: ms - floor <= TARGET_MS,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

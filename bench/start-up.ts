/**
 * Row 6: how long `pipeline --help` and `pipeline status` take as whole processes, against
 * `node -e 0` started the same way in the same run (interleaved, medians).
 */
import { spawn } from 'node:child_process';
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
    writeFileSync(config, `[DEFAULT]\nruntime_directory = ${join(dir, 'runtime')}\n`);
    const repeats = quick ? 5 : 20;
    const runs = await interleaved(repeats, {
      node: () => processMs(['-e', '0'], dir),
      help: () => processMs([cliPath, '--help'], dir),
      status: () => processMs([cliPath, 'status', '--config', config], dir),
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

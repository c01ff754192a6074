/**
 * A real Slurm 22.05 for tests: `../shared/slurm-lab.sh` starts slurmctld, N slurmd (n1..nN, all
 * on 127.0.0.1) and munge as root, on ports of its own; `stop()` stops only what it started.
 * Tests that need it skip, saying why, where it cannot run (not root, Slurm not installed).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './pipeline-cli.js';

export const SLURM_LAB_SCRIPT = join(repoRoot, '..', 'shared', 'slurm-lab.sh');

export interface SlurmLab {
  /** The slurm.conf every client needs (SLURM_CONF). */
  conf: string;
  dir: string;
  nodes: string[];
  /** The environment for slurm commands and for a master run under them. */
  env: NodeJS.ProcessEnv;
  /** Runs a Slurm command (squeue, scancel, salloc ...) and returns its stdout. */
  slurm(command: string, args: string[]): string;
  /** Steps listed by `squeue -s` (their ids), over every job. */
  steps(): string[];
  stop(): void;
}

/** Why the lab cannot start here, or undefined when it can. */
export function whyNoSlurm(): string | undefined {
  if (process.getuid?.() !== 0) return 'the Slurm lab runs its daemons as root';
  if (!existsSync(SLURM_LAB_SCRIPT)) return `${SLURM_LAB_SCRIPT} is missing`;
  for (const program of ['slurmctld', 'slurmd', 'srun', 'munged']) {
    if (spawnSync('sh', ['-c', `command -v ${program} || test -x /usr/sbin/${program}`]).status !== 0) return `${program} is not installed (apt-get install slurm-wlm munge)`;
  }
  return undefined;
}

export function startSlurmLab(nodes = 3): SlurmLab {
  // Ports of their own, away from a lab someone started by hand (16817).
  const base = 17000 + Math.floor(Math.random() * 2000) * 4;
  const out = execFileSync('bash', [SLURM_LAB_SCRIPT], {
    encoding: 'utf8',
    env: { ...process.env, NNODES: String(nodes), CTLD_PORT: String(base), SLURMD_PORT0: String(base) },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  const match = /export SLURM_CONF=(\S+)\s+# lab dir: (\S+)/.exec(out);
  if (!match) throw new Error(`slurm-lab.sh said no SLURM_CONF:\n${out}`);
  const [, conf, dir] = match as unknown as [string, string, string];
  const env = { ...process.env, SLURM_CONF: conf };
  let stopped = false;
  const slurm = (command: string, args: string[]) => execFileSync(command, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  const lab: SlurmLab = {
    conf,
    dir,
    nodes: Array.from({ length: nodes }, (_, i) => `n${i + 1}`),
    env,
    slurm,
    steps: () => slurm('squeue', ['-h', '-s', '-o', '%i']).split('\n').map((line) => line.trim()).filter(Boolean),
    stop() {
      if (stopped) return;
      stopped = true;
      execFileSync('bash', [SLURM_LAB_SCRIPT, 'stop', dir], { env, stdio: 'ignore', timeout: 60_000 });
    },
  };
  process.once('exit', () => {
    try {
      lab.stop();
    } catch {
      // the process is ending
    }
  });
  return lab;
}

/**
 * Benchmark row 9 (issue 17): the per-job cost of `true` jobs to one node, as whole `pipeline run`
 * processes of the same jobs, interleaved in one run: each job an srun step (dispatch = channel
 * under method = slurm), through the node's agent inside the allocation, and over SSH to a
 * loopback sshd host of the same machine (a channel per job, and through the agent). The same
 * jobs in flight on every side: as many as the node has CPUs (Slurm counts a step's CPUs).
 *
 * `npx tsx bench/slurm-dispatch.ts [--quick]` runs the row on its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { startSshPipeline } from '../test/harness/ssh-pipeline.js';
import { cliPath, userProject } from '../test/harness/pipeline-cli.js';
import { startSlurmLab, whyNoSlurm } from '../test/harness/slurm-lab.js';
import type { BenchOptions, BenchRow } from './bench-row.js';
import { interleaved, median, now, spread } from './measure.js';

export async function benchSlurmDispatch({ quick, progress }: BenchOptions): Promise<BenchRow[]> {
  const why = whyNoSlurm();
  if (why) throw new Error(`row 9 needs the Slurm lab: ${why}`);
  const jobs = quick ? 100 : 400;
  const repeats = quick ? 2 : 3;
  const lab = startSlurmLab(1);
  const ssh = await startSshPipeline({ hosts: 1 });
  const slurmProject = userProject('method = slurm');
  try {
    const granted = spawnSync('salloc', ['--no-shell', '-N', '1', '--exclusive', '-J', 'bench'], { env: lab.env, encoding: 'utf8', timeout: 60_000 });
    const allocation = /Granted job allocation (\d+)/.exec(granted.stderr)?.[1];
    if (!allocation) throw new Error(`salloc gave no allocation: ${granted.stderr}`);
    const cpus = execFileSync('nproc', { encoding: 'utf8' }).trim();
    const inAllocation = { ...lab.env, SLURM_JOB_ID: allocation, SLURM_JOB_NODELIST: 'n1', SLURM_JOB_CPUS_PER_NODE: cpus };
    const perHost = Number(cpus) || availableParallelism();
    let round = 0;
    const run = (workspace: { dir: string; configPath: string }, host: string, dispatch: string, env: NodeJS.ProcessEnv) => async () => {
      const specs = Array.from({ length: jobs }, (_, i) => ({ name: `t${i}`, host, shell: 'true' }));
      const began = now();
      const result = spawnSync(process.execPath, [cliPath, 'run', 'faults', '--job-name', `bench-${dispatch}-${++round}`, '--max-per-node', String(perHost),
        '--jobs', JSON.stringify(specs), '--config', workspace.configPath], { cwd: workspace.dir, env, encoding: 'utf8', maxBuffer: 1 << 28 });
      if (result.status !== 0) throw new Error(`pipeline run (${dispatch} on ${host}) exited ${result.status}: ${result.stderr.slice(-2000)}`);
      return (now() - began) / jobs;
    };
    const configure = (workspace: { writeConfig(extra: string): void }, lines: string[]) => workspace.writeConfig(lines.join('\n'));
    // One config per side; dispatch chosen per run through its own config file.
    const sides = {
      step: () => (configure(slurmProject, ['method = slurm', 'dispatch = channel']), run(slurmProject, 'n1', 'step', inAllocation)()),
      slurmAgent: () => (configure(slurmProject, ['method = slurm', 'dispatch = agent']), run(slurmProject, 'n1', 'slurm-agent', inAllocation)()),
      sshChannel: () => (ssh.configure('dispatch = channel'), run(ssh.ws, 'node1', 'ssh-channel', process.env)()),
      sshAgent: () => (ssh.configure('dispatch = agent'), run(ssh.ws, 'node1', 'ssh-agent', process.env)()),
    };
    const results = await interleaved(repeats, sides, (name, r, ms) => progress(`9 ${jobs} true jobs, ${name} round ${r + 1}: ${ms.toFixed(2)} ms per job (whole run)`));
    const ms = Object.fromEntries(Object.entries(results).map(([name, values]) => [name, median(values as number[])])) as Record<keyof typeof sides, number>;
    const note = (name: keyof typeof sides) => `${spread(results[name], 2)} ms`;
    return [
      { row: '9a', what: `ms per true job (${jobs}, ${perHost} at a time, whole run): an srun step each vs SSH, a channel each`, framework: ms.step, floor: ms.sshChannel, unit: 'ms/job', ratio: ms.step / ms.sshChannel, target: '-', note: `step ${note('step')}, ssh ${note('sshChannel')}` },
      { row: '9b', what: `ms per true job: through the node's agent inside the allocation vs an srun step each`, framework: ms.slurmAgent, floor: ms.step, unit: 'ms/job', ratio: ms.slurmAgent / ms.step, target: '-', note: `agent ${note('slurmAgent')}` },
      { row: '9c', what: `ms per true job: the agent inside the allocation vs the agent over SSH`, framework: ms.slurmAgent, floor: ms.sshAgent, unit: 'ms/job', ratio: ms.slurmAgent / ms.sshAgent, target: '-', note: `ssh agent ${note('sshAgent')}` },
    ];
  } finally {
    slurmProject.remove();
    await ssh.stop();
    lab.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchSlurmDispatch({ quick: process.argv.includes('--quick'), progress: (line) => process.stderr.write(`${line}\n`) });
  for (const row of rows) process.stdout.write(`${row.row} ${row.what}: ${row.framework.toFixed(2)} vs ${row.floor.toFixed(2)} ${row.unit}, ratio ${row.ratio.toFixed(2)} (${row.note})\n`);
}

/**
 * `npm run bench [-- --quick] [-- --rows 1,3]`: the framework against floors measured in the
 * same run, on test hosts the benchmark starts itself (the tests' sshd harness). Prints the
 * machine, a progress line per measurement on stderr, and the table on stdout.
 */
import { parseArgs } from 'node:util';
import type { BenchRow } from './bench-row.js';
import { benchLogStreaming, benchMasterScale } from './log-and-scale.js';
import { machineLine, table } from './report.js';
import { fileCreationMs, RECORDS } from './records.js';
import { benchAgentJobs, benchFanOut, benchNodeJobs, benchShellJobs } from './ssh-dispatch.js';
import { benchStartUp } from './start-up.js';
import { benchStageIn } from './staging-transfer.js';
import { benchSlurmDispatch } from './slurm-dispatch.js';

type RowRunner = (quick: boolean, progress: (line: string) => void) => Promise<BenchRow[]>;

/** The issue's rows, in order. */
const ROWS: Array<[string, string, RowRunner]> = [
  ['1', 'shell-command jobs, a channel per job, vs raw ssh2, ControlMaster, GNU parallel', (quick, progress) => benchShellJobs({ quick, progress })],
  ['2', 'node-script jobs vs raw ssh2 running node -e 0', (quick, progress) => benchNodeJobs({ quick, progress })],
  ['3', 'log streaming into the central log', (quick, progress) => benchLogStreaming({ quick, progress })],
  ['4', 'master scale on the local launcher', (quick, progress) => benchMasterScale({ quick, progress })],
  ['5', 'fan-out to 16 hosts vs raw ssh2', (quick, progress) => benchFanOut({ quick, progress })],
  ['6', 'start-up of pipeline --help and pipeline status vs node -e 0', (quick, progress) => benchStartUp({ quick, progress })],
  ['7', 'the warm agent: true jobs vs raw ssh2, warm and cold node scripts', (quick, progress) => benchAgentJobs({ quick, progress })],
  ['8', 'a 200 MB stage-in over SFTP vs OpenSSH scp and sftp', (quick, progress) => benchStageIn({ quick, progress })],
  ['9', 'true jobs as srun steps, through the agent in the allocation, and over SSH', (quick, progress) => benchSlurmDispatch({ quick, progress })],
];

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, rows: { type: 'string' } } });
  const quick = Boolean(values.quick);
  const wanted = values.rows ? new Set(values.rows.split(',').map((row) => row.trim())) : undefined;
  const progress = (line: string) => process.stderr.write(`  ${line}\n`);
  process.stdout.write(`pipeline-framework benchmarks${quick ? ' (--quick)' : ''}: ${machineLine()}\n`);
  process.stdout.write(`records under ${RECORDS}: creating a file there costs ${fileCreationMs().toFixed(3)} ms of CPU (about five per job)\n\n`);
  const results: BenchRow[] = [];
  let broken = 0;
  for (const [row, title, run] of ROWS) {
    if (wanted && !wanted.has(row)) continue;
    process.stderr.write(`row ${row}: ${title}\n`);
    const began = Date.now();
    try {
      results.push(...await run(quick, progress));
    } catch (error) {
      broken++;
      process.stderr.write(`row ${row} could not be measured: ${error instanceof Error ? error.stack : String(error)}\n`);
    }
    process.stderr.write(`row ${row}: ${((Date.now() - began) / 1000).toFixed(0)} s\n`);
  }
  process.stdout.write(table(results) + '\n');
  const targeted = results.filter((row) => row.met !== undefined);
  const met = targeted.filter((row) => row.met).length;
  process.stdout.write(`\ncreating a file under the records directory after the rows: ${fileCreationMs().toFixed(3)} ms of CPU\n`);
  process.stdout.write(`${met} of ${targeted.length} targets met${broken ? `; ${broken} rows could not be measured` : ''}\n`);
  return broken > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

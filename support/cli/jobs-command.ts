/** `pipeline jobs [--json]`: the runs recorded in the runtime directory, newest first, with their state. */
import { loadConfig } from './load-config.js';
import { listJobDirectories } from '../records/job-directories.js';
import { journalPath, readJournal } from '../records/job-journal.js';

export async function jobsCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const rows = listJobDirectories(config).map(({ name, directory }) => {
    const { runs } = readJournal(journalPath(directory));
    const latest = runs[runs.length - 1];
    const jobs = latest ? [...latest.jobs.values()] : [];
    return {
      name,
      status: latest?.status ?? 'empty',
      recipe: latest?.started.recipe ?? '',
      started: latest?.started.time ?? '',
      runs: runs.length,
      jobs: jobs.length,
      failed: jobs.filter((job) => job.state === 'failed').length,
      directory,
    };
  });
  if (args.json) {
    for (const row of rows) process.stdout.write(JSON.stringify(row) + '\n');
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('no runs recorded yet\n');
    return 0;
  }
  const width = Math.max(4, ...rows.map((row) => row.name.length));
  const recipeWidth = Math.max(6, ...rows.map((row) => row.recipe.length));
  process.stdout.write(`${'job'.padEnd(width)}  ${'status'.padEnd(11)}  ${'recipe'.padEnd(recipeWidth)}  ${'started'.padEnd(19)}  jobs  failed\n`);
  for (const row of rows) {
    process.stdout.write(`${row.name.padEnd(width)}  ${row.status.padEnd(11)}  ${row.recipe.padEnd(recipeWidth)}  ${row.started.slice(0, 19).padEnd(19)}  ${String(row.jobs).padStart(4)}  ${String(row.failed).padStart(6)}\n`);
  }
  return 0;
}

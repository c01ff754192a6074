/** Where the runs of a runtime directory are: one job directory per job name, as in lofarpipe. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { PipelineConfig } from '../config/pipeline-config.js';
import { NotFoundError, UsageError } from '../errors.js';
import { journalPath } from './job-journal.js';

/** A job name is one path segment, so that no run writes outside `<runtime_directory>/jobs/`. */
export function checkJobName(jobName: string): void {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(jobName) || jobName.length > 200) {
    throw new UsageError(`job name ${JSON.stringify(jobName)}: expected one path segment of letters, digits, '.', '_' and '-', not starting with '.' (at most 200 characters)`);
  }
}

export function jobDirectoryFor(config: PipelineConfig, jobName: string): string {
  return config.withVars({ job_name: jobName }).jobDirectory;
}

export interface JobDirectory {
  name: string;
  directory: string;
  /** When its journal last changed (ms since the epoch). */
  changed: number;
}

/** Every job directory with a journal, newest first. */
export function listJobDirectories(config: PipelineConfig): JobDirectory[] {
  const probe = jobDirectoryFor(config, '\u0001probe');
  // `[layout] job_directory` need not end in the job name; then there is no one place to list.
  if (basename(probe) !== '\u0001probe') return [];
  const parent = dirname(probe);
  if (!existsSync(parent)) return [];
  const found: JobDirectory[] = [];
  for (const name of readdirSync(parent)) {
    const directory = join(parent, name);
    const journal = journalPath(directory);
    if (existsSync(journal)) found.push({ name, directory, changed: statSync(journal).mtimeMs });
  }
  return found.sort((a, b) => b.changed - a.changed);
}

/** The job directory of `jobName`, or of the newest run when none is named. */
export function findJobDirectory(config: PipelineConfig, jobName: string | undefined): JobDirectory {
  if (jobName === undefined) {
    const newest = listJobDirectories(config)[0];
    if (!newest) throw new NotFoundError(`no runs recorded under ${dirname(jobDirectoryFor(config, 'x'))}; start one with pipeline run <recipe>`);
    return newest;
  }
  checkJobName(jobName);
  const directory = jobDirectoryFor(config, jobName);
  if (!existsSync(journalPath(directory))) {
    throw new NotFoundError(`no run named ${jobName}: ${journalPath(directory)} does not exist (pipeline jobs lists the runs)`);
  }
  return { name: jobName, directory, changed: statSync(journalPath(directory)).mtimeMs };
}

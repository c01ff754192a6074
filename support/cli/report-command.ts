/** `pipeline report <job-name> [--output FILE] [--open]`: the run's HTML page, for a past or a running run. */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { loadConfig } from './load-config.js';
import { NotFoundError } from '../errors.js';
import { findJobDirectory } from '../records/job-directories.js';
import { journalPath, readJournal } from '../records/job-journal.js';
import { RUN_PAGE_FILE, writeRunPage } from '../records/run-page.js';

export async function reportCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const { name, directory } = findJobDirectory(config, args.jobName as string | undefined);
  const latest = readJournal(journalPath(directory)).runs.at(-1);
  if (!latest) throw new NotFoundError(`job ${name}: no run recorded yet`);
  const file = args.output ? resolve(String(args.output)) : join(directory, RUN_PAGE_FILE);
  const bytes = writeRunPage(directory, latest, file);
  process.stdout.write(`${file}\n`);
  process.stderr.write(`pipeline: report of job ${name} (${latest.status}): ${(bytes / 1024).toFixed(0)} KiB\n`);
  if (args.open) openInBrowser(file);
  return 0;
}

/** Hands the page to the desktop's browser (xdg-open); where there is none, the path printed above is what to open. */
function openInBrowser(file: string): void {
  const child = spawn('xdg-open', [file], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`pipeline: no xdg-open here: open ${file} in a browser\n`));
  child.unref();
}

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The framework's records (journal, per-job directories) are part of its figure, so where they
 * go matters: on this kind of VM, creating a file under a /tmp that other runs churn (the test
 * harness, other benchmarks creating and deleting tens of thousands of files) was measured at
 * 0.3-0.5 ms of CPU, against 0.02-0.05 ms in an untouched directory of the same ext4 disk.
 * The records therefore go where a user's would (a directory of their own, like the default
 * ~/pipeline_runtime), and they are deleted only when a row is done: deleting the previous
 * round's thousands of files makes the next round's file creation slower too.
 */
export const RECORDS = join(dirname(fileURLToPath(import.meta.url)), '..', '.bench');

/**
 * CPU milliseconds to create one small file in a fresh directory under RECORDS, measured now:
 * the framework creates about five per job, so on a disk where this is high the master's figures
 * are too (printed with the machine, to read the rows by).
 */
export function fileCreationMs(files = 300): number {
  mkdirSync(RECORDS, { recursive: true });
  const dir = mkdtempSync(join(RECORDS, 'files-'));
  try {
    const began = process.cpuUsage();
    for (let i = 0; i < files; i++) writeFileSync(join(dir, String(i)), 'x\n');
    const used = process.cpuUsage(began);
    return (used.user + used.system) / 1000 / files;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What `pipeline hosts check` and `pipeline deploy` share about the hosts they act on. */
import type { PipelineConfig } from '../config/pipeline-config.js';
import { expandHostRange } from '../config/cluster-description.js';
import { UsageError } from '../errors.js';
import { clusterHosts } from '../run/pipeline-run.js';
import { textTable } from './text-table.js';

/** `--hosts LIST` (ranges expanded), else the cluster's hosts; none at all is a usage error. */
export function askedHosts(config: PipelineConfig, args: Record<string, unknown>): string[] {
  const hosts = args.hosts === undefined ? clusterHosts(config) : expandHostRange([args.hosts].flat().map(String).join(','), '--hosts');
  if (hosts.length === 0) throw new UsageError('--hosts: no host given');
  return hosts;
}

/** Said on stderr when a host's key was recorded (accept-new, or an unknown key under StrictHostKeyChecking no). */
export function sayAcceptedHostKey(target: { alias: string }, file: string, print: string): void {
  process.stderr.write(`pipeline: accepted new host key of ${target.alias} (${print}) into ${file}\n`);
}

/** A table of hosts, a row each, and the line under it: `2 of 3 hosts <done>, 1 FAILED`. */
export function hostTable(rows: string[][], ok: readonly boolean[], done: string): string {
  const lines = textTable(rows);
  const failed = ok.filter((each) => !each).length;
  lines.push('', `${ok.length - failed} of ${ok.length} hosts ${done}${failed > 0 ? `, ${failed} FAILED` : ''}`);
  return lines.join('\n') + '\n';
}

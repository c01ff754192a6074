/** `pipeline hosts check [--hosts LIST] [--json]`: can every host of the cluster run jobs? */
import { expandHostRange } from '../config/cluster-description.js';
import { loadConfig } from './load-config.js';
import { UsageError } from '../errors.js';
import { checkHosts, type HostCheckResult } from '../launchers/host-check.js';
import { clusterHosts } from '../run/pipeline-run.js';
import { textTable } from './text-table.js';

function table(results: HostCheckResult[]): string {
  const rows = [
    ['HOST', 'STATUS', 'NODE', 'AGENT PROTOCOL', 'DEPLOYED', 'LATENCY MS', 'PROBLEM'],
    ...results.map((r) => [
      r.host,
      r.ok ? 'ok' : 'FAILED',
      r.node ?? '-',
      r.agent === null ? '-' : String(r.agent),
      r.deployed === null ? '-' : `${r.deployed}${r.deployedCurrent ? '' : ' (old)'}`,
      r.latencyMs === null ? '-' : r.latencyMs.toFixed(1),
      r.error ?? '',
    ]),
  ];
  const lines = textTable(rows);
  const failed = results.filter((r) => !r.ok).length;
  lines.push('', `${results.length - failed} of ${results.length} hosts ok${failed > 0 ? `, ${failed} FAILED` : ''}`);
  return lines.join('\n') + '\n';
}

export async function hostsCommand(args: Record<string, unknown>): Promise<number> {
  const action = String(args.action);
  if (action !== 'check') throw new UsageError(`pipeline hosts ${action}: unknown action; the only one is check`);
  const config = await loadConfig(args);
  const hosts = args.hosts === undefined
    ? clusterHosts(config)
    : expandHostRange([args.hosts].flat().map(String).join(','), '--hosts');
  if (hosts.length === 0) throw new UsageError('--hosts: no host given');
  const results = await checkHosts(config, hosts, {
    onNewHostKey: (target, file, print) => process.stderr.write(`pipeline: accepted new host key of ${target.alias} (${print}) into ${file}\n`),
  });
  process.stdout.write(args.json ? JSON.stringify(results, null, 2) + '\n' : table(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

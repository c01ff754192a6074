/** `pipeline hosts check [--hosts LIST] [--json]`: can every host of the cluster run jobs? */
import { loadConfig } from './load-config.js';
import { askedHosts, hostTable, sayAcceptedHostKey } from './asked-hosts.js';
import { UsageError } from '../errors.js';
import { checkHosts, type HostCheckResult } from '../launchers/host-check.js';

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
  return hostTable(rows, results.map((r) => r.ok), 'ok');
}

export async function hostsCommand(args: Record<string, unknown>): Promise<number> {
  const action = String(args.action);
  if (action !== 'check') throw new UsageError(`pipeline hosts ${action}: unknown action; the only one is check`);
  const config = await loadConfig(args);
  const hosts = askedHosts(config, args);
  const results = await checkHosts(config, hosts, { onNewHostKey: sayAcceptedHostKey });
  process.stdout.write(args.json ? JSON.stringify(results, null, 2) + '\n' : table(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

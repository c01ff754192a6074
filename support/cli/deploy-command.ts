/** `pipeline deploy [--hosts LIST] [--json]`: the framework and the user's node scripts onto every host, over SFTP. */
import { expandHostRange } from '../config/cluster-description.js';
import { makeBundle } from '../deploy/deploy-bundle.js';
import { deployHosts, deploymentPlan, type HostDeployOutcome } from '../deploy/deployment.js';
import { UsageError } from '../errors.js';
import { createLaunchers } from '../launchers/launcher-choice.js';
import { clusterHosts } from '../run/pipeline-run.js';
import { loadConfig } from './load-config.js';
import { textTable } from './text-table.js';

function table(outcomes: HostDeployOutcome[]): string {
  const rows = [
    ['HOST', 'STATUS', 'VERSION', 'FILES SENT', 'BYTES SENT', 'PROBLEM'],
    ...outcomes.map((o) => [
      o.host,
      o.ok ? (o.result!.previous === o.result!.version ? 'current' : 'deployed') : 'FAILED',
      o.result?.version ?? '-',
      o.result ? String(o.result.filesSent) : '-',
      o.result ? String(o.result.bytesSent) : '-',
      o.error ?? '',
    ]),
  ];
  const lines = textTable(rows);
  const failed = outcomes.filter((o) => !o.ok).length;
  lines.push('', `${outcomes.length - failed} of ${outcomes.length} hosts deployed${failed > 0 ? `, ${failed} FAILED` : ''}`);
  return lines.join('\n') + '\n';
}

export async function deployCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const { installRoot, projects } = deploymentPlan(config);
  const hosts = args.hosts === undefined ? clusterHosts(config) : expandHostRange([args.hosts].flat().map(String).join(','), '--hosts');
  if (hosts.length === 0) throw new UsageError('--hosts: no host given');
  const launchers = createLaunchers(config, (target, file, print) => process.stderr.write(`pipeline: accepted new host key of ${target.alias} (${print}) into ${file}\n`));
  try {
    const outcomes = await deployHosts(hosts, (host) => launchers.for(host), makeBundle(projects), installRoot);
    process.stdout.write(args.json ? JSON.stringify(outcomes, null, 2) + '\n' : table(outcomes));
    return outcomes.every((o) => o.ok) ? 0 : 1;
  } finally {
    await launchers.close();
  }
}

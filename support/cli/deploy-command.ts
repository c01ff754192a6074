/** `pipeline deploy [--hosts LIST] [--json]`: the framework and the user's node scripts onto every host, over SFTP. */
import { makeBundle } from '../deploy/deploy-bundle.js';
import { deployHosts, deploymentPlan, type HostDeployOutcome } from '../deploy/deployment.js';
import { createLaunchers } from '../launchers/launcher-choice.js';
import { loadConfig } from './load-config.js';
import { askedHosts, hostTable, sayAcceptedHostKey } from './asked-hosts.js';

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
  return hostTable(rows, outcomes.map((o) => o.ok), 'deployed');
}

export async function deployCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const { installRoot, projects } = deploymentPlan(config);
  const hosts = askedHosts(config, args);
  const launchers = createLaunchers(config, sayAcceptedHostKey);
  try {
    const outcomes = await deployHosts(hosts, (host) => launchers.for(host), makeBundle(projects), installRoot);
    process.stdout.write(args.json ? JSON.stringify(outcomes, null, 2) + '\n' : table(outcomes));
    return outcomes.every((o) => o.ok) ? 0 : 1;
  } finally {
    await launchers.close();
  }
}

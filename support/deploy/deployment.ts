/** Deploys one bundle to many hosts at once, each over its launcher's files (SFTP, or this machine's). */
import pLimit from 'p-limit';
import type { PipelineConfig } from '../config/pipeline-config.js';
import { frameworkRoot } from '../config/framework-paths.js';
import { ConfigError } from '../errors.js';
import { HostFileError } from '../launchers/host-files.js';
import { LaunchError, type Launcher } from '../launchers/launcher.js';
import { userProjects, type DeployBundle, type UserProject } from './deploy-bundle.js';
import { deployToHost, type HostDeployResult } from './host-deploy.js';

/** Hosts deployed to at once; each is a handful of SFTP requests in flight. */
const HOSTS_AT_ONCE = 16;

export interface HostDeployOutcome {
  host: string;
  ok: boolean;
  result: HostDeployResult | null;
  /** One line: what went wrong; null when ok. */
  error: string | null;
}

/** The user projects and install_root a deployment uses; a ConfigError when install_root is the framework's own directory. */
export function deploymentPlan(config: PipelineConfig, extraRecipeDirectories: readonly string[] = []): { installRoot: string; projects: UserProject[] } {
  const installRoot = config.installRoot;
  if (installRoot === frameworkRoot) {
    throw new ConfigError(config.file, `${config.file}: [remote] install_root: deploying needs a directory for the framework on the hosts other than where it is here (${frameworkRoot}); for example install_root = ~/pipeline`);
  }
  return { installRoot, projects: userProjects([...config.recipeDirectories, ...extraRecipeDirectories]) };
}

export async function deployHosts(hosts: readonly string[], launcherFor: (host: string) => Launcher, bundle: DeployBundle, installRoot: string): Promise<HostDeployOutcome[]> {
  const limit = pLimit(HOSTS_AT_ONCE);
  return Promise.all(hosts.map((host) => limit(async (): Promise<HostDeployOutcome> => {
    // A dropped connection is worth one more try, as a job's is.
    for (let attempt = 1; ; attempt++) {
      try {
        const files = await launcherFor(host).files(host);
        try {
          return { host, ok: true, result: await deployToHost(files, bundle, installRoot), error: null };
        } finally {
          files.close();
        }
      } catch (error) {
        const retry = attempt < 2 && error instanceof HostFileError && error.problem === 'lost';
        if (retry) continue;
        if (error instanceof HostFileError || error instanceof LaunchError) return { host, ok: false, result: null, error: error.message };
        throw error;
      }
    }
  })));
}

/** `version 1a2b... (12 files, 340 kB sent)`, or that nothing had to be. */
export function describeDeploy(result: HostDeployResult): string {
  const sent = result.filesSent === 0 ? 'no file sent' : `${result.filesSent} files, ${formatBytes(result.bytesSent)} sent`;
  const change = result.previous === result.version ? 'already current' : result.previous ? `was ${result.previous}` : 'first deployment';
  return `version ${result.version} in ${result.root} (${sent}; ${change})`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

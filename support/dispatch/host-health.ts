/**
 * Which hosts a run has given up on. After an infrastructure failure on a host (a lost
 * connection, a host that could not be reached) the host is probed once afresh; if that fails
 * too, the host is unhealthy for the rest of the run: its pinned jobs fail at once instead of
 * waiting on it, and jobs that may move go elsewhere. Authentication and host-key failures are
 * not transient, so they mark the host without a probe.
 */
import type { JobResults } from '../protocol/job-outcome.js';
import { LaunchError } from '../launchers/launcher.js';
import type { Logger } from '../logging/run-log.js';

export type HostProbe = (host: string) => Promise<void>;

/** Whether a failed attempt says something about its host rather than about the job. */
export function isInfrastructureFailure(results: JobResults): boolean {
  return results.failure === 'connection-lost' || (results.failure === 'launch-failed' && results.launchProblem !== 'not-started' && results.launchProblem !== 'not-startable');
}

export class HostHealth {
  readonly #probe: HostProbe;
  readonly #logger: Logger;
  readonly #unhealthy = new Map<string, string>();
  readonly #probing = new Map<string, Promise<boolean>>();

  constructor(probe: HostProbe, logger: Logger) {
    this.#probe = probe;
    this.#logger = logger;
  }

  isHealthy(host: string): boolean {
    return !this.#unhealthy.has(host);
  }

  /** Why the host was given up on, for the messages of the jobs it could not run. */
  why(host: string): string | undefined {
    return this.#unhealthy.get(host);
  }

  /** After a failed attempt: false when the host is (now) unhealthy. Concurrent callers share one probe. */
  async recheck(host: string, results: JobResults): Promise<boolean> {
    if (!this.isHealthy(host)) return false;
    if (!isInfrastructureFailure(results) || results.launchProblem === 'unhealthy') return true;
    if (results.launchProblem === 'auth' || results.launchProblem === 'host-key') {
      this.#markUnhealthy(host, results.message ?? results.launchProblem);
      return false;
    }
    let probing = this.#probing.get(host);
    if (!probing) {
      probing = this.#probe(host).then(
        () => true,
        (error: unknown) => {
          const why = error instanceof LaunchError ? error.message : String(error);
          this.#markUnhealthy(host, `${results.failure}, then ${why}`);
          return false;
        },
      ).finally(() => this.#probing.delete(host));
      this.#probing.set(host, probing);
    }
    return probing;
  }

  #markUnhealthy(host: string, why: string): void {
    if (this.#unhealthy.has(host)) return;
    this.#unhealthy.set(host, why);
    this.#logger.error(`host ${host} is unhealthy for the rest of this run: ${why}`, { host });
  }
}

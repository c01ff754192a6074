/**
 * `[remote] method = custom_cmdline`: each job runs through LOFAR's `[remote] cmdline` template
 * (`srun ... docker run {docker_env} {image} /bin/sh -c {command}`, `ssh {host} {command}`),
 * run here by `/bin/sh -c`, the job's wire protocol flowing through its stdin, stdout and stderr.
 * Placeholders as lofarpipe fills them, each one shell word (quoted) where it is one value.
 */
import { fillTemplate } from '../config/command-template.js';
import { assignments, shellQuote } from '../protocol/shell-words.js';
import type { HostFiles } from './host-files.js';
import { LaunchError, outputOf, type LaunchDetails, type LaunchedProcess, type Launcher } from './launcher.js';
import { LocalLauncher } from './local.js';

export interface CustomCommandOptions {
  template: string;
  /** `[docker] image`, for {image}. */
  image?: string;
}

export class CustomCommandLauncher implements Launcher {
  readonly name = 'custom_cmdline';
  readonly #local = new LocalLauncher();
  readonly #options: CustomCommandOptions;

  constructor(options: CustomCommandOptions) {
    this.#options = options;
  }

  /** Every job runs through the template, filled for it: none through a host's agent. */
  ownLaunch(): boolean {
    return true;
  }

  /** The template filled for one job: what runs here under /bin/sh -c. */
  commandLine(host: string, command: string, details: LaunchDetails = {}): string {
    const environment = details.environment ?? {};
    return fillTemplate(this.#options.template, {
      host: shellQuote(host),
      command: shellQuote(command),
      // As lofarpipe: the job's variables on this command line (visible in this machine's process list).
      env: assignments(environment).join(' '),
      docker_env: Object.entries(environment).map(([name, value]) => `-e ${shellQuote(`${name}=${value}`)}`).join(' '),
      uid: String(process.geteuid?.() ?? ''),
      slurm_job_id: shellQuote(process.env.SLURM_JOB_ID ?? ''),
      job_name: shellQuote(details.name ?? 'job'),
      nr_cores: String(details.cores ?? 1),
      image: shellQuote(this.#options.image ?? ''),
    });
  }

  start(host: string, command: string, details?: LaunchDetails): Promise<LaunchedProcess> {
    return this.#local.start(host, this.commandLine(host, command, details));
  }

  async probe(host: string): Promise<void> {
    const { status } = await outputOf(await this.start(host, 'true'));
    if (status.code !== 0) throw new LaunchError(host, `the custom command line for ${host} failed (exit ${status.code ?? status.signal})`, { problem: 'unreachable' });
  }

  files(host: string): Promise<HostFiles> {
    return Promise.reject(new LaunchError(host, `copying files to ${host} (stageIn, stageOut, deploy) needs SSH; [remote] method = custom_cmdline has no file transfer`, { problem: 'not-startable' }));
  }

  close(graceMs?: number): Promise<void> {
    return this.#local.close(graceMs);
  }
}

/**
 * A job's files in and out (ComputeJob `stageIn`, `stageOut`, `cleanup`), over its launcher's
 * files (SFTP on the host's own connections, or this machine's). A staged job runs in a
 * directory of its own on the host, `<working_directory>/<job name>/<job id>`, emptied before
 * each attempt. Every copy goes to a draft name and is renamed into place, so a file under its
 * final name, on the host or here, is always whole.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LimitFunction } from 'p-limit';
import { PipelineError } from '../errors.js';
import { draftName, HostFileError, makeDirectories, onHost, problemOf, putWhole, removeTree, type HostFiles } from '../launchers/host-files.js';
import { jobPathSegment } from '../records/job-files.js';
import type { Launcher } from '../launchers/launcher.js';
import type { TransferProblem } from '../protocol/job-outcome.js';
import type { ComputeJob, StagedFile } from './compute-job.js';

/** A copy that failed: the job fails with `reason`, and `problem` says whether trying again may help. */
export class StagingError extends PipelineError {
  readonly problem: TransferProblem;
  constructor(reason: 'stage-in-failed' | 'stage-out-failed', problem: TransferProblem, message: string, options?: { cause?: unknown }) {
    super(reason, message, options);
    this.problem = problem;
  }
}

export interface StagingPlace {
  launcher: Launcher;
  /** The job's own directory on the host, as the hosts write paths (a leading `~` is their home). */
  remoteDirectory: string;
  /** Where stageOut files go on the control node unless the job says: `<job directory>/outputs/<job id>`. */
  localDirectory: string;
  /** The host's transfer slots, shared by every job on it. */
  transfers: LimitFunction;
}

/** `<working_directory>/<job name>/<job id>`: a staged job's directory on its host. */
export function stagedDirectory(workingDirectory: string, jobName: string, job: ComputeJob): string {
  return `${workingDirectory.replace(/\/+$/, '')}/${jobName}/${jobPathSegment(job.id)}`;
}

/** A file error as the job's staging failure; anything else (a host that cannot be reached: launch-failed; a bug) goes on as it is. */
function failure(reason: 'stage-in-failed' | 'stage-out-failed', what: string, error: unknown): unknown {
  if (error instanceof StagingError) return error;
  if (error instanceof HostFileError) return new StagingError(reason, error.problem, `${what}: ${error.message}`, { cause: error });
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return new StagingError(reason, problemOf(code), `${what}: ${(error as Error).message}`, { cause: error });
  return error;
}

export class JobStaging {
  readonly #job: ComputeJob;
  readonly #place: StagingPlace;
  #files: HostFiles | undefined;
  #root: string | undefined;
  /** Stopped (the run was cancelled): no session is opened any more. */
  #stopped = false;

  constructor(job: ComputeJob, place: StagingPlace) {
    this.#job = job;
    this.#place = place;
  }

  /** A session for one phase (in, out, clean-up): none is held while the job runs, when its host's sessions are the jobs'. */
  async #open(): Promise<{ files: HostFiles; root: string }> {
    if (!this.#files) {
      const files = await this.#place.launcher.files(this.#job.host);
      if (this.#stopped) {
        files.close();
        throw new HostFileError(this.#job.host, this.#place.remoteDirectory, 'lost', 'cancelled');
      }
      this.#files = files;
    }
    this.#root ??= await onHost(this.#files, this.#place.remoteDirectory);
    return { files: this.#files, root: this.#root };
  }

  /** Ends this phase's session. */
  #release(): void {
    this.#files?.close();
    this.#files = undefined;
  }

  /** Empties the job's directory on the host and copies its stageIn files there; a StagingError names the file that failed. */
  async stageIn(): Promise<void> {
    const sources = this.#job.options.stageIn ?? [];
    for (const file of sources) {
      if (!existsSync(file.from)) throw new StagingError('stage-in-failed', 'missing', `stage-in: ${file.from} does not exist on the control node`);
    }
    let current = 'the job directory';
    try {
      const { files, root } = await this.#open();
      current = `the job directory ${this.#job.host}:${root}`;
      await removeTree(files, root); // what an interrupted attempt left: each attempt starts empty
      await makeDirectories(files, root);
      for (const file of sources) {
        current = `stage-in of ${file.from}`;
        await this.#sendTree(files, file.from, `${root}/${file.to}`);
      }
    } catch (error) {
      throw failure('stage-in-failed', current, error);
    } finally {
      this.#release();
    }
  }

  async #sendTree(files: HostFiles, local: string, remote: string): Promise<void> {
    const stats = statSync(local);
    await makeDirectories(files, dirname(remote));
    if (!stats.isDirectory()) {
      await this.#place.transfers(() => putWhole(files, local, remote, { mode: stats.mode & 0o777 }));
      return;
    }
    await files.mkdir(remote);
    // statSync follows a symbolic link: its target is copied, as cp -rL would; what is neither file nor directory is said.
    for (const name of await readdir(local)) {
      const path = join(local, name);
      const kind = statSync(path, { throwIfNoEntry: false });
      if (!kind?.isFile() && !kind?.isDirectory()) throw new StagingError('stage-in-failed', 'missing', `stage-in: ${path} is not a file or a directory (a dangling link, a socket, a device)`);
      await this.#sendTree(files, path, `${remote}/${name}`);
    }
  }

  /** Copies the job's stageOut files back; resolves with where each went. A file the job did not make fails it, naming the file. */
  async stageOut(): Promise<Record<string, string>> {
    const copied: Record<string, string> = {};
    let current = 'the job directory';
    try {
      const { files, root } = await this.#open();
      for (const file of this.#job.options.stageOut ?? []) {
        current = `stage-out of ${file.from}`;
        const remote = `${root}/${file.from}`;
        const entry = await files.stat(remote);
        if (!entry) throw new StagingError('stage-out-failed', 'missing', `stage-out: the job made no ${file.from} (${this.#job.host}:${remote})`);
        const local = file.to ?? join(this.#place.localDirectory, file.from);
        if (entry.kind === 'directory') {
          // A whole tree, or nothing: fetched into a draft that replaces what an earlier run left.
          const draft = draftName(local);
          try {
            await this.#fetchTree(files, remote, draft, true);
            rmSync(local, { recursive: true, force: true });
            renameSync(draft, local);
          } finally {
            rmSync(draft, { recursive: true, force: true });
          }
        } else {
          await this.#fetchTree(files, remote, local, false);
        }
        copied[file.from] = local;
      }
    } catch (error) {
      throw failure('stage-out-failed', current, error);
    } finally {
      this.#release();
    }
    return copied;
  }

  async #fetchTree(files: HostFiles, remote: string, local: string, directory: boolean): Promise<void> {
    mkdirSync(dirname(local), { recursive: true });
    if (!directory) {
      await this.#place.transfers(async () => {
        const draft = draftName(local);
        try {
          await files.get(remote, draft);
          renameSync(draft, local);
        } finally {
          rmSync(draft, { force: true });
        }
      });
      return;
    }
    mkdirSync(local, { recursive: true });
    for (const entry of await files.list(remote)) {
      if (entry.name.includes('/') || entry.name === '.' || entry.name === '..') {
        throw new StagingError('stage-out-failed', 'failed', `stage-out: ${this.#job.host} listed ${JSON.stringify(entry.name)} in ${remote}, which is not a file name`);
      }
      // A symbolic link is fetched as the file it points at (SFTP opens through it).
      if (entry.kind !== 'other') await this.#fetchTree(files, `${remote}/${entry.name}`, join(local, entry.name), entry.kind === 'directory');
    }
  }

  /** Removes the job's directory on the host (`cleanup`); a failure to is said, not fatal: the job's outcome stands. */
  async cleanup(): Promise<string | undefined> {
    try {
      const { files, root } = await this.#open();
      await removeTree(files, root);
      return undefined;
    } catch (error) {
      return `cleanup of the job directory on ${this.#job.host} failed: ${(error as Error).message}`;
    } finally {
      this.#release();
    }
  }

  /** Stops for good: a copy under way fails at once, and no new session is opened (cancellation). */
  stop(): void {
    this.#stopped = true;
    this.#release();
  }

  get stopped(): boolean {
    return this.#stopped;
  }
}

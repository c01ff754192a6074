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
import { draftName, HostFileError, makeDirectories, onHost, putWhole, removeTree, type HostFiles } from '../launchers/host-files.js';
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
  return `${workingDirectory.replace(/\/+$/, '')}/${jobName}/${job.id.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

function failure(reason: 'stage-in-failed' | 'stage-out-failed', what: string, error: unknown): StagingError {
  if (error instanceof StagingError) return error;
  if (error instanceof HostFileError) return new StagingError(reason, error.problem, `${what}: ${error.message}`, { cause: error });
  const err = error as NodeJS.ErrnoException;
  const problem: TransferProblem = err.code === 'ENOSPC' ? 'full' : err.code === 'EACCES' ? 'denied' : 'failed';
  return new StagingError(reason, problem, `${what}: ${err.message}`, { cause: err });
}

export class JobStaging {
  readonly #job: ComputeJob;
  readonly #place: StagingPlace;
  #files: HostFiles | undefined;
  #root: string | undefined;

  constructor(job: ComputeJob, place: StagingPlace) {
    this.#job = job;
    this.#place = place;
  }

  async #open(): Promise<{ files: HostFiles; root: string }> {
    this.#files ??= await this.#place.launcher.files(this.#job.host);
    this.#root ??= await onHost(this.#files, this.#place.remoteDirectory);
    return { files: this.#files, root: this.#root };
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
    for (const entry of await readdir(local, { withFileTypes: true })) {
      if (entry.isDirectory() || entry.isFile()) await this.#sendTree(files, join(local, entry.name), `${remote}/${entry.name}`);
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
        await this.#fetchTree(files, remote, local, entry.kind === 'directory');
        copied[file.from] = local;
      }
    } catch (error) {
      throw failure('stage-out-failed', current, error);
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
      if (entry.kind === 'file' || entry.kind === 'directory') await this.#fetchTree(files, `${remote}/${entry.name}`, join(local, entry.name), entry.kind === 'directory');
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
    }
  }

  close(): void {
    this.#files?.close();
    this.#files = undefined;
  }
}

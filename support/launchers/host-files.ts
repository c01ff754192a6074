/**
 * Files on a host, the way deploy and job staging reach them: over SFTP on the launcher's own
 * SSH connections (ssh/sftp-files.ts), or this machine's file system for hosts run here.
 * Paths are absolute on the host. Writers put a file under a draft name and rename it into
 * place, so a reader never sees half a file under its final name.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { homedir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import type { TransferProblem } from '../protocol/job-outcome.js';

export interface HostEntry {
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mtimeMs: number;
  mode: number;
}

/**
 * Why a file operation failed: `missing` (no such file), `denied`, `full` (no space left),
 * `lost` (the connection went: worth a retry), `failed` (anything else the host said).
 */
export type HostFileProblem = TransferProblem;

export class HostFileError extends Error {
  readonly problem: HostFileProblem;
  readonly host: string;
  readonly path: string;
  constructor(host: string, path: string, problem: HostFileProblem, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.problem = problem;
    this.host = host;
    this.path = path;
  }
}

export interface TransferOptions {
  /** File mode of the written file. */
  mode?: number;
}

export interface HostFiles {
  readonly host: string;
  /** `$HOME` of the user jobs run as there: what a leading `~` in a host path stands for. */
  home(): Promise<string>;
  /** Makes one directory; nothing when it exists. */
  mkdir(path: string): Promise<void>;
  /** Makes one directory: true, or false when something is there already (a lock taken). */
  tryMkdir(path: string): Promise<boolean>;
  /** Sets the modification time to now. */
  touch(path: string): Promise<void>;
  /** The entries of a directory (not following symlinks); [] when it does not exist. */
  list(path: string): Promise<HostEntry[]>;
  /** What is at `path` (a symlink itself, not its target); undefined when nothing is. */
  stat(path: string): Promise<HostEntry | undefined>;
  readlink(path: string): Promise<string | undefined>;
  symlink(target: string, path: string): Promise<void>;
  /** Renames, replacing what is at `to` in one step (POSIX rename). */
  rename(from: string, to: string): Promise<void>;
  /** A hard link: the same file under a second name. */
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  readText(path: string): Promise<string | undefined>;
  writeText(path: string, text: string): Promise<void>;
  /** Copies a file of the control node to the host (to exactly `path`: callers write to a draft name and rename). */
  put(localPath: string, path: string, options?: TransferOptions): Promise<void>;
  /** Copies a file of the host to the control node. */
  get(path: string, localPath: string): Promise<void>;
  /** Bytes free for an unprivileged user in the file system that holds `path`, when the host says. */
  freeBytes(path: string): Promise<number | undefined>;
  close(): void;
}

/** A name beside `path` for a draft of it: unique, and recognisable as a draft (`.part-`). */
export function draftName(path: string): string {
  return `${path}.part-${randomBytes(6).toString('hex')}`;
}

export const DRAFT_MARK = '.part-';

/** Copies a file to the host under a draft name and renames it into place; a failed copy leaves no draft behind taking room. */
export async function putWhole(files: HostFiles, localPath: string, path: string, options?: TransferOptions): Promise<void> {
  const draft = draftName(path);
  try {
    await files.put(localPath, draft, options);
    await files.rename(draft, path);
  } catch (error) {
    await files.unlink(draft).catch(() => {});
    throw error;
  }
}

/** Expands a leading `~` of a host path with that host's home. */
export async function onHost(files: HostFiles, path: string): Promise<string> {
  if (path === '~') return files.home();
  if (path.startsWith('~/')) return `${(await files.home()).replace(/\/+$/, '')}/${path.slice(2)}`;
  return path;
}

/** `mkdir -p` through one-level mkdirs. */
export async function makeDirectories(files: HostFiles, path: string): Promise<void> {
  const parts = path.split('/').filter(Boolean);
  let dir = '';
  for (const part of parts) {
    dir += `/${part}`;
    await files.mkdir(dir);
  }
}

/** Removes a file, a symlink or a whole directory tree; nothing when it is not there. */
export async function removeTree(files: HostFiles, path: string): Promise<void> {
  const entry = await files.stat(path);
  if (!entry) return;
  if (entry.kind !== 'directory') {
    await files.unlink(path);
    return;
  }
  for (const child of await files.list(path)) await removeTree(files, `${path}/${child.name}`);
  await files.rmdir(path);
}

export function problemOf(code: string | undefined): HostFileProblem {
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'missing';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'denied';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'full';
    default:
      return 'failed';
  }
}

function entryOf(name: string, stats: import('node:fs').Stats): HostEntry {
  const kind = stats.isSymbolicLink() ? 'symlink' : stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : 'other';
  return { name, kind, size: stats.size, mtimeMs: stats.mtimeMs, mode: stats.mode & 0o7777 };
}

/** This machine's file system, for hosts that `[remote] method` runs here. */
export class LocalFiles implements HostFiles {
  readonly host: string;
  constructor(host: string) {
    this.host = host;
  }

  async #do<T>(path: string, what: () => Promise<T>): Promise<T> {
    try {
      return await what();
    } catch (error) {
      if (error instanceof HostFileError) throw error;
      const err = error as NodeJS.ErrnoException;
      throw new HostFileError(this.host, path, problemOf(err.code), `${this.host}:${path}: ${err.message}`, { cause: err });
    }
  }

  async home(): Promise<string> {
    return homedir();
  }

  async mkdir(path: string): Promise<void> {
    await this.tryMkdir(path);
  }

  tryMkdir(path: string): Promise<boolean> {
    return this.#do(path, () => fs.mkdir(path).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
      return false;
    }));
  }

  touch(path: string): Promise<void> {
    const now = new Date();
    return this.#do(path, () => fs.utimes(path, now, now));
  }

  list(path: string): Promise<HostEntry[]> {
    return this.#do(path, async () => {
      let names: string[];
      try {
        names = await fs.readdir(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
      const entries = await Promise.all(names.map(async (name) => {
        try {
          return entryOf(name, await fs.lstat(`${path}/${name}`));
        } catch {
          return undefined; // removed meanwhile
        }
      }));
      return entries.filter((entry): entry is HostEntry => entry !== undefined);
    });
  }

  stat(path: string): Promise<HostEntry | undefined> {
    return this.#do(path, async () => {
      try {
        return entryOf(path.slice(path.lastIndexOf('/') + 1), await fs.lstat(path));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    });
  }

  readlink(path: string): Promise<string | undefined> {
    return this.#do(path, () => fs.readlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'EINVAL') return undefined;
      throw error;
    }));
  }

  symlink(target: string, path: string): Promise<void> {
    return this.#do(path, () => fs.symlink(target, path));
  }

  rename(from: string, to: string): Promise<void> {
    return this.#do(to, () => fs.rename(from, to));
  }

  link(existing: string, path: string): Promise<void> {
    return this.#do(path, () => fs.link(existing, path));
  }

  unlink(path: string): Promise<void> {
    return this.#do(path, () => fs.unlink(path));
  }

  rmdir(path: string): Promise<void> {
    return this.#do(path, () => fs.rmdir(path));
  }

  readText(path: string): Promise<string | undefined> {
    return this.#do(path, () => fs.readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    }));
  }

  writeText(path: string, text: string): Promise<void> {
    return this.#do(path, () => fs.writeFile(path, text));
  }

  put(localPath: string, path: string, options: TransferOptions = {}): Promise<void> {
    return this.#do(path, async () => {
      await pipeline(createReadStream(localPath), createWriteStream(path, { mode: options.mode ?? 0o644 }));
      if (options.mode !== undefined) await fs.chmod(path, options.mode);
    });
  }

  get(path: string, localPath: string): Promise<void> {
    return this.#do(path, () => pipeline(createReadStream(path), createWriteStream(localPath)));
  }

  async freeBytes(path: string): Promise<number | undefined> {
    try {
      const stats = await fs.statfs(path);
      return stats.bavail * stats.bsize;
    } catch {
      return undefined;
    }
  }

  close(): void {}
}

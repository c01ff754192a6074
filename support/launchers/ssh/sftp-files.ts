/**
 * A host's files over SFTP, on a session slot of the launcher's own connection to it: no other
 * port or tool. Renames are OpenSSH's posix-rename (replaces the target in one step) and links
 * its hardlink extension; large files go with several requests in flight (ssh2's fastPut/fastGet).
 */
import type ssh2 from 'ssh2';
import { HostFileError, problemOf, type HostEntry, type HostFileProblem, type HostFiles, type TransferOptions } from '../host-files.js';
import type { SshConnection } from './connection.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02): 2 no such file, 3 permission denied. */
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;
/** Requests of `chunkSize` in flight for one file: enough to fill a fast link (64 x 32 KiB is 2 MiB of window). */
const TRANSFER_CONCURRENCY = 64;
const TRANSFER_CHUNK = 32 * 1024;

type SftpError = Error & { code?: number | string };

function entryOf(name: string, attrs: ssh2.Attributes): HostEntry {
  const type = attrs.mode & 0o170000;
  const kind = type === 0o120000 ? 'symlink' : type === 0o040000 ? 'directory' : type === 0o100000 ? 'file' : 'other';
  return { name, kind, size: attrs.size, mtimeMs: attrs.mtime * 1000, mode: attrs.mode & 0o7777 };
}

export class SftpFiles implements HostFiles {
  readonly host: string;
  readonly #sftp: ssh2.SFTPWrapper;
  readonly #connection: SshConnection;
  readonly #release: () => void;
  readonly #home: () => Promise<string>;
  #closed = false;

  /** `home` is the launcher's: the shell's $HOME there, which is what `~` means in the jobs' commands (sftp-server starts in the passwd home). */
  constructor(host: string, sftp: ssh2.SFTPWrapper, connection: SshConnection, release: () => void, home: () => Promise<string>) {
    this.host = host;
    this.#home = home;
    this.#sftp = sftp;
    this.#connection = connection;
    this.#release = release;
    sftp.on('error', () => {}); // a dropped connection fails the pending requests, said there
    sftp.once('close', () => this.#markClosed());
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
  }

  #error(path: string, error: SftpError, what: string): HostFileError {
    let problem: HostFileProblem = 'failed';
    if (error.code === NO_SUCH_FILE) problem = 'missing';
    else if (error.code === PERMISSION_DENIED) problem = 'denied';
    else if (typeof error.code === 'string') problem = problemOf(error.code); // this machine's side of a copy: a local ENOSPC is a full disk here
    else if (this.#closed || this.#connection.isClosed || /No response|not connected|closed/i.test(error.message)) problem = 'lost';
    const text = problem === 'lost' ? `connection to ${this.host} lost` : error.message;
    return new HostFileError(this.host, path, problem, `${what} ${this.host}:${path}: ${text}`, { cause: error });
  }

  #call<T>(path: string, what: string, start: (done: (error: SftpError | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new HostFileError(this.host, path, 'lost', `${what} ${this.host}:${path}: connection to ${this.host} lost`));
        return;
      }
      try {
        start((error, value) => (error ? reject(this.#error(path, error, what)) : resolve(value as T)));
      } catch (error) {
        reject(this.#error(path, error as SftpError, what));
      }
    });
  }

  home(): Promise<string> {
    return this.#home();
  }

  async mkdir(path: string): Promise<void> {
    if (!(await this.tryMkdir(path)) && (await this.stat(path))?.kind !== 'directory') {
      throw new HostFileError(this.host, path, 'failed', `cannot make directory ${this.host}:${path}: something else is there`);
    }
  }

  async tryMkdir(path: string): Promise<boolean> {
    try {
      await this.#call<void>(path, 'cannot make directory', (done) => this.#sftp.mkdir(path, done));
      return true;
    } catch (error) {
      // SFTP says only "Failure" for an existing entry: look.
      if ((error as HostFileError).problem !== 'lost' && (await this.stat(path).catch(() => undefined))) return false;
      throw error;
    }
  }

  touch(path: string): Promise<void> {
    const now = Date.now() / 1000;
    return this.#call(path, 'cannot touch', (done) => this.#sftp.utimes(path, now, now, done));
  }

  async list(path: string): Promise<HostEntry[]> {
    try {
      const entries = await this.#call<ssh2.FileEntry[]>(path, 'cannot list', (done) => this.#sftp.readdir(path, done));
      return entries.map((entry) => entryOf(entry.filename, entry.attrs));
    } catch (error) {
      if ((error as HostFileError).problem === 'missing') return [];
      throw error;
    }
  }

  async stat(path: string): Promise<HostEntry | undefined> {
    try {
      const attrs = await this.#call<ssh2.Stats>(path, 'cannot look at', (done) => this.#sftp.lstat(path, done));
      return entryOf(path.slice(path.lastIndexOf('/') + 1), attrs);
    } catch (error) {
      if ((error as HostFileError).problem === 'missing') return undefined;
      throw error;
    }
  }

  async readlink(path: string): Promise<string | undefined> {
    try {
      return await this.#call<string>(path, 'cannot read link', (done) => this.#sftp.readlink(path, done));
    } catch (error) {
      if ((error as HostFileError).problem === 'missing' || (await this.stat(path))?.kind !== 'symlink') return undefined;
      throw error;
    }
  }

  symlink(target: string, path: string): Promise<void> {
    return this.#call(path, 'cannot make link', (done) => this.#sftp.symlink(target, path, done));
  }

  rename(from: string, to: string): Promise<void> {
    return this.#call(to, 'cannot rename to', (done) => this.#sftp.ext_openssh_rename(from, to, done));
  }

  link(existing: string, path: string): Promise<void> {
    return this.#call(path, 'cannot link', (done) => this.#sftp.ext_openssh_hardlink(existing, path, done));
  }

  unlink(path: string): Promise<void> {
    return this.#call(path, 'cannot remove', (done) => this.#sftp.unlink(path, done));
  }

  rmdir(path: string): Promise<void> {
    return this.#call(path, 'cannot remove directory', (done) => this.#sftp.rmdir(path, done));
  }

  async readText(path: string): Promise<string | undefined> {
    try {
      const data = await this.#call<Buffer>(path, 'cannot read', (done) => this.#sftp.readFile(path, done));
      return data.toString('utf8');
    } catch (error) {
      if ((error as HostFileError).problem === 'missing') return undefined;
      throw error;
    }
  }

  writeText(path: string, text: string): Promise<void> {
    return this.#call(path, 'cannot write', (done) => this.#sftp.writeFile(path, text, done));
  }

  async put(localPath: string, path: string, options: TransferOptions = {}): Promise<void> {
    const mode = options.mode ?? 0o644;
    try {
      await this.#call<void>(path, 'cannot write', (done) => this.#sftp.fastPut(localPath, path, { concurrency: TRANSFER_CONCURRENCY, chunkSize: TRANSFER_CHUNK, mode }, done));
    } catch (error) {
      throw await this.#diagnose(error as HostFileError, path);
    }
    // fastPut's mode applies when the file is created; an existing draft keeps its own.
    await this.#call<void>(path, 'cannot set the mode of', (done) => this.#sftp.chmod(path, mode, done));
  }

  get(path: string, localPath: string): Promise<void> {
    return this.#call(path, 'cannot read', (done) => this.#sftp.fastGet(path, localPath, { concurrency: TRANSFER_CONCURRENCY, chunkSize: TRANSFER_CHUNK }, done));
  }

  /** SFTP version 3 says "Failure" for a full disk: ask the file system how much room is left. */
  async #diagnose(error: HostFileError, path: string): Promise<HostFileError> {
    if (error.problem !== 'failed') return error;
    const dir = path.slice(0, path.lastIndexOf('/')) || '/';
    const free = await this.freeBytes(dir);
    if (free !== undefined && free < 1024 * 1024) {
      return new HostFileError(this.host, path, 'full', `cannot write ${this.host}:${path}: no space left on the file system of ${dir} (${free} bytes free)`, { cause: error });
    }
    return error;
  }

  async freeBytes(path: string): Promise<number | undefined> {
    try {
      // ssh2 gives the fields as statvfs(3) names them, 64-bit (a number, or a bigint when large).
      const stats = await this.#call<{ f_bavail: number | bigint; f_frsize: number | bigint }>(path, 'cannot measure', (done) => this.#sftp.ext_openssh_statvfs(path, done as never));
      const free = Number(stats.f_bavail) * Number(stats.f_frsize);
      return Number.isFinite(free) ? free : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.#closed) return;
    try {
      this.#sftp.end();
    } catch {
      // already closed
    }
    this.#markClosed();
  }
}

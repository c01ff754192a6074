/**
 * When the run's records stop being writable (a full disk, a mount gone read-only): the first
 * failure is kept with where and why, the run is told once (it cancels its jobs), and what
 * could not be recorded after it is counted for the summary and the run's end record.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { PipelineError, RecordsError, type RecordsFailureReason } from '../errors.js';

const REASON_BY_CODE: Record<string, RecordsFailureReason> = {
  ENOSPC: 'no-space',
  EDQUOT: 'no-space',
  EFBIG: 'no-space',
  EROFS: 'read-only',
  EACCES: 'no-permission',
  EPERM: 'no-permission',
};

/** The error as a RecordsError naming `directory`, keeping the original as its cause. */
export function recordsError(error: unknown, directory: string): RecordsError {
  if (error instanceof RecordsError) return error;
  let code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'EIO';
  if (code === 'ENOENT') code = whyNotCreated(directory) ?? code;
  return new RecordsError(REASON_BY_CODE[code] ?? 'io-error', directory, code, error);
}

/**
 * Node's recursive mkdir says ENOENT when a directory cannot be made on a read-only mount: ask
 * the nearest directory that exists whether it can be written, which names the real cause.
 */
function whyNotCreated(directory: string): string | undefined {
  for (let dir = directory; ; dir = dirname(dir)) {
    if (existsSync(dir)) {
      try {
        accessSync(dir, constants.W_OK);
        return undefined;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Runs `write`; a file system error comes out as a RecordsError naming `directory` (others, such as a held lock, as they are). */
export function recording<T>(directory: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    if (typeof (error as NodeJS.ErrnoException | undefined)?.code !== 'string' || error instanceof PipelineError) throw error;
    throw recordsError(error, directory);
  }
}

export type RecordKind = 'journal events' | 'job file writes' | 'log file';

/** Causes that mean the disk itself is gone for writing: the journal's next write fails too. */
const DISK_GONE: readonly RecordsFailureReason[] = ['no-space', 'read-only'];

export class RecordsOutage {
  readonly #directory: string;
  readonly #onFirst: (error: RecordsError) => void;
  readonly #onSecondary: (kind: RecordKind, error: Error) => void;
  #secondaryHeard = false;
  #failure: RecordsError | undefined;
  #when: Date | undefined;
  readonly #lost = new Map<RecordKind, number>();

  /**
   * `onFirst` hears of the first failure only: the run stops once, not once per file. A job file
   * or the log file failing for another cause (a path that is not a directory, a permission) is
   * not worth stopping the jobs for, as long as the journal is written: `onSecondary` hears of
   * the first such error.
   */
  constructor(directory: string, onFirst: (error: RecordsError) => void, onSecondary: (kind: RecordKind, error: Error) => void = () => {}) {
    this.#directory = directory;
    this.#onFirst = onFirst;
    this.#onSecondary = onSecondary;
  }

  get failure(): RecordsError | undefined {
    return this.#failure;
  }

  /** A write of `kind` failed (`error`), or was not tried because records had already failed (no error). */
  lost(kind: RecordKind, error?: unknown): void {
    if (this.#failure === undefined && error !== undefined && kind !== 'journal events') {
      const failure = recordsError(error, this.#directory);
      if (!DISK_GONE.includes(failure.reason as RecordsFailureReason)) {
        if (!this.#secondaryHeard) this.#onSecondary(kind, error as Error);
        this.#secondaryHeard = true;
        return;
      }
    }
    this.#lost.set(kind, (this.#lost.get(kind) ?? 0) + 1);
    if (this.#failure || error === undefined) return;
    this.#failure = recordsError(error, this.#directory);
    this.#when = new Date();
    this.#onFirst(this.#failure);
  }

  /** What could not be recorded, in one line; undefined while nothing was lost. */
  describe(): string | undefined {
    if (!this.#failure) return undefined;
    const counts = [...this.#lost].map(([kind, n]) => (kind === 'log file' ? 'the rest of the log file' : `${n} ${kind}`));
    const time = this.#when!.toISOString().slice(11, 19);
    return `records incomplete since ${time}: ${this.#failure.message.split(';')[0]}; not recorded: ${counts.join(', ')}`;
  }
}

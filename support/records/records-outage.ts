/**
 * When the run's records stop being writable (a full disk, a mount gone read-only): the first
 * failure is kept with where and why, the run is told once (it cancels its jobs), and what
 * could not be recorded after it is counted for the summary and the run's end record.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { RecordsError, type RecordsFailureReason } from '../errors.js';

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

/** Runs `write`; a failure comes out as a RecordsError naming `directory`. */
export function recording<T>(directory: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw recordsError(error, directory);
  }
}

export type RecordKind = 'journal events' | 'job file writes' | 'log file';

export class RecordsOutage {
  readonly #directory: string;
  readonly #onFirst: (error: RecordsError) => void;
  #failure: RecordsError | undefined;
  #when: Date | undefined;
  readonly #lost = new Map<RecordKind, number>();

  /** `onFirst` hears of the first failure only: the run stops once, not once per file. */
  constructor(directory: string, onFirst: (error: RecordsError) => void) {
    this.#directory = directory;
    this.#onFirst = onFirst;
  }

  get failure(): RecordsError | undefined {
    return this.#failure;
  }

  /** A write of `kind` failed (`error`), or was not tried because records had already failed (no error). */
  lost(kind: RecordKind, error?: unknown): void {
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

/**
 * A tmpfs of a given size mounted by the test itself, to fill or to make read-only: the records
 * of a run meet a real full disk, not a mocked error. Needs root (mount); tests skip without it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

export interface SmallDisk {
  readonly dir: string;
  /** Remounts it read-only, or writable again with another size. */
  remount(options: { readOnly?: boolean; sizeBytes?: number }): void;
  unmount(): void;
}

/** Why a small disk cannot be mounted here, or undefined when it can. */
export function whyNoSmallDisk(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  return undefined;
}

function sizeOption(bytes: number): string {
  return `size=${Math.ceil(bytes / 1024)}k`;
}

export function mountSmallDisk(dir: string, sizeBytes: number, { readOnly = false } = {}): SmallDisk {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `${sizeOption(sizeBytes)},mode=0755${readOnly ? ',ro' : ''}`, 'tmpfs', dir], { stdio: 'pipe' });
  let mounted = true;
  return {
    dir,
    remount({ readOnly: ro = false, sizeBytes: size }) {
      execFileSync('mount', ['-o', ['remount', ro ? 'ro' : 'rw', ...(size ? [sizeOption(size)] : [])].join(','), dir], { stdio: 'pipe' });
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    },
  };
}

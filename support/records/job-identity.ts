/**
 * A job's identity for resume: the recipe, the host it asked for (not the one it was given),
 * its command and its arguments. Two runs that create the same job get the same key; the
 * n-th identical job of a run gets `#n` so that duplicates are told apart.
 */
import { createHash } from 'node:crypto';

/** What a job's identity is made of; a ComputeJob has these (records know no dispatch types). */
export interface IdentifiedJob {
  readonly requestedHost: string | null;
  readonly isNodeScript: boolean;
  readonly command: { toString(): string } | string;
  readonly args: readonly unknown[];
  readonly options: { readonly environment?: Record<string, string>; readonly stageIn?: readonly unknown[]; readonly stageOut?: readonly unknown[] };
}

/** JSON with object keys sorted, so that equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 32);
}

/** Counts identical jobs within one run. */
export class JobIdentities {
  readonly #seen = new Map<string, number>();

  /** `rounds`: the pipeline loop rounds the job was queued in, when one is past the first (the same job in another round is another job). */
  keyOf(job: IdentifiedJob, recipe: string, rounds?: readonly number[]): string {
    const base = hashOf({
      recipe,
      ...(rounds && rounds.some((round) => round > 1) ? { rounds } : {}),
      host: job.requestedHost,
      command: job.isNodeScript ? { node: String(job.command) } : { shell: String(job.command) },
      args: job.args,
      environment: job.options.environment ?? {},
      // Only a staged job has it: the identities of every other job stay as they were recorded.
      ...(job.options.stageIn || job.options.stageOut ? { staging: { in: job.options.stageIn ?? [], out: job.options.stageOut ?? [] } } : {}),
    });
    const n = (this.#seen.get(base) ?? 0) + 1;
    this.#seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  }
}

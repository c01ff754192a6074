/**
 * The Slurm allocation a run is inside: its job id, its nodes (Slurm's hostlist syntax,
 * `n[1-3,07-08],gpu01`) and each node's CPUs (`SLURM_JOB_CPUS_PER_NODE`, `4(x2),2`), from the
 * variables Slurm sets for the batch script or salloc's shell.
 */
import { ConfigError } from '../errors.js';

export interface SlurmAllocation {
  jobId: string;
  nodes: string[];
  /** CPUs Slurm gave the job on each node. */
  cpus: Map<string, number>;
}

/** Splits on commas outside brackets. */
function topLevelParts(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '[') depth++;
    if (char === ']') depth--;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter(Boolean);
}

/** `1-3,07-08,12` inside brackets: the numbers, zero-padded as the lower bound is written. */
function expandRanges(ranges: string, where: string): string[] {
  return ranges.split(',').flatMap((range) => {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range.trim());
    if (!match) throw new ConfigError(where, `${where}: [${ranges}] is not a Slurm host range (expected numbers and ranges like 1-3,07)`);
    const [low, high = low] = [match[1]!, match[2]];
    const from = Number(low);
    const to = Number(high);
    if (to < from || to - from > 100_000) throw new ConfigError(where, `${where}: range ${range} runs backwards or is too long`);
    return Array.from({ length: to - from + 1 }, (_, i) => String(from + i).padStart(low.length, '0'));
  });
}

/** One host pattern with any number of bracket groups: `rack[1-2]-n[01-02]`. */
function expandPattern(pattern: string, where: string): string[] {
  const open = pattern.indexOf('[');
  if (open === -1) return [pattern];
  const close = pattern.indexOf(']', open);
  if (close === -1) throw new ConfigError(where, `${where}: ${pattern} has a [ without its ]`);
  const prefix = pattern.slice(0, open);
  const rest = expandPattern(pattern.slice(close + 1), where);
  return expandRanges(pattern.slice(open + 1, close), where).flatMap((number) => rest.map((tail) => `${prefix}${number}${tail}`));
}

/** Slurm's hostlist syntax, as `scontrol show hostnames` expands it (duplicates dropped, order kept). */
export function expandHostlist(text: string, where = 'SLURM_JOB_NODELIST'): string[] {
  return [...new Set(topLevelParts(text).flatMap((pattern) => expandPattern(pattern, where)))];
}

/** `4(x2),2`: CPUs per node, in node order. */
export function cpusPerNode(text: string, where = 'SLURM_JOB_CPUS_PER_NODE'): number[] {
  return text.split(',').flatMap((part) => {
    const match = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (!match) throw new ConfigError(where, `${where}: ${JSON.stringify(text)} is not Slurm's CPUs-per-node list (like 4(x2),2)`);
    return Array<number>(Number(match[2] ?? 1)).fill(Number(match[1]));
  });
}

/** The allocation this process runs in, or undefined outside one (no SLURM_JOB_ID). */
export function slurmAllocation(env: NodeJS.ProcessEnv = process.env, nodelistVariable = 'SLURM_JOB_NODELIST'): SlurmAllocation | undefined {
  const jobId = env.SLURM_JOB_ID;
  if (!jobId) return undefined;
  const list = env[nodelistVariable] ?? env.SLURM_NODELIST;
  if (!list) throw new ConfigError(nodelistVariable, `${nodelistVariable} is not set inside Slurm job ${jobId}; expected the allocation's nodes there`);
  const nodes = expandHostlist(list, nodelistVariable);
  const cpus = new Map<string, number>();
  const counts = env.SLURM_JOB_CPUS_PER_NODE ? cpusPerNode(env.SLURM_JOB_CPUS_PER_NODE) : [];
  // The counts follow slurm.conf's node order, the node list is sorted by name: only counts that are all alike can be matched up.
  if (counts.length === nodes.length && counts.every((count) => count === counts[0])) nodes.forEach((node, i) => cpus.set(node, counts[i]!));
  return { jobId, nodes, cpus };
}

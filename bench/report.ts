/** The benchmark table and the machine it ran on, for the terminal and for the README. */
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import type { BenchRow } from './bench-row.js';

/** The first line a tool prints about its version (ssh -V writes it to stderr). */
function version(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) return `${command}: not installed`;
  return `${result.stdout}\n${result.stderr}`.split('\n').map((line) => line.trim()).find(Boolean) ?? `${command}: unknown version`;
}

/** Date, CPU, memory, Node, OpenSSH and GNU parallel versions: absolute numbers mean little without them. */
export function machineLine(date = new Date()): string {
  const cpu = cpus();
  const ssh = version('ssh', ['-V']);
  const parallel = version('parallel', ['--version']);
  return `${date.toISOString().slice(0, 10)}, ${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, `
    + `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}, ${ssh}, ${parallel}`;
}

function figure(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function verdict(row: BenchRow): string {
  return row.met === undefined ? '-' : row.met ? 'yes' : 'NO';
}

/** Rows as plain text, a figure line and a note line under each: for the single-row scripts. */
export function plainRows(rows: readonly BenchRow[]): string {
  return rows.map((row) => `${row.row}  ${row.what}\n    framework ${figure(row.framework)} ${row.unit}, floor ${figure(row.floor)} ${row.unit},`
    + ` ratio ${row.ratio.toFixed(2)}, target ${row.target}, met ${verdict(row)}\n${row.note ? `    ${row.note}\n` : ''}`).join('');
}

/** A Markdown table (it reads fine in a terminal too). */
export function table(rows: readonly BenchRow[]): string {
  const lines = [
    '| row | what | framework | floor | unit | ratio | target | met |',
    '|---|---|---:|---:|---|---:|---|---|',
    ...rows.map((row) => `| ${row.row} | ${row.what}${row.note ? ` (${row.note})` : ''} | ${figure(row.framework)} | ${figure(row.floor)} | ${row.unit} | ${row.ratio.toFixed(2)} | ${row.target} | ${verdict(row)} |`),
  ];
  return lines.join('\n');
}

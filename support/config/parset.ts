/**
 * LOFAR parameter sets (parsets): `key = value` lines, `#` comments, a trailing `\` continuing a
 * value on the next line. Read as lofarpipe's Parset.adoptFile does for a step's arguments: keys
 * in file order, a key given again keeps its first place and takes the later value.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** A parset's lines without comments, continuations joined, empty ones left out, each with the number of its first line. */
export function* parsetLines(text: string): Generator<{ line: string; lineno: number }> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineno = i + 1;
    let line = withoutComment(lines[i]!).trim();
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1).trimEnd()} ${withoutComment(lines[++i]!).trim()}`;
    if (line !== '') yield { line, lineno };
  }
}

export function parseParset(text: string, file: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const { line, lineno } of parsetLines(text)) {
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq).trim();
    if (key === '' || /\s/.test(key)) throw new UsageError(`${file}:${lineno}: expected "key = value" or a # comment, got ${JSON.stringify(line.slice(0, 80))}`);
    keys.set(key, line.slice(eq + 1).trim());
  }
  return keys;
}

export function readParset(file: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: cannot read the parset: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  return parseParset(text, file);
}

/** Drops a `#` comment that is not inside single or double quotes. */
export function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return line.slice(0, i);
  }
  return line;
}

/**
 * lofarpipe's cluster description ("clusterdesc") files: a LOFAR parset of `key = value` lines,
 * for example
 *
 *     ClusterName = cep4
 *     Head.Nodes = [ head01 ]
 *     Compute.Nodes = [ node001..016, locus[001..003], special ]
 *     SubClusters = [ A, B ]
 *     A.Compute.Nodes = [ a1..3 ]
 *
 * Host lists accept ranges (see `expandHostRange`). Every key ending in `Nodes` and the
 * `SubClusters` lists are checked when the file is parsed, so a bad range fails at load time.
 */
import { ConfigError, UsageError } from '../errors.js';
import { parseList, readConfigText } from './ini.js';

/** The most hosts one host list may expand to. */
export const MAX_HOSTS = 100_000;

const RANGE_HINT = 'expected NAME<from>..<to> with from <= to, e.g. node001..016 or locus[001..003]';

/** Splits at commas that are not inside `[...]`. */
function splitTopLevel(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      items.push(text.slice(start, i));
      start = i + 1;
    }
  }
  items.push(text.slice(start));
  return items;
}

function pad(n: bigint, width: number): string {
  return n.toString().padStart(width, '0');
}

/** Zero-padding width of a range: the longest bound if either is written with a leading zero. */
function padWidth(from: string, to: string): number {
  const zero = (s: string): boolean => s.length > 1 && s.startsWith('0');
  return zero(from) || zero(to) ? Math.max(from.length, to.length) : 0;
}

/** Host list expansion with a caller-chosen error type (UsageError for flags, ConfigError in files). */
function expandHosts(spec: string, where: string, fail: (message: string) => Error): string[] {
  let text = spec.trim();
  // Outer brackets are the parset list syntax, not a range: "[ a, b ]" but not "locus[1..3]".
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1);
    // Only strip when the brackets pair with each other ("[1..3]x[4..5]" keeps its own brackets).
    let depth = 0;
    let paired = true;
    for (const c of inner) {
      if (c === '[') depth++;
      else if (c === ']' && --depth < 0) paired = false;
    }
    if (paired && depth === 0) text = inner;
  }

  const seen = new Set<string>();
  const hosts: string[] = [];
  let produced = 0n;
  const add = (host: string): void => {
    if (!seen.has(host)) {
      seen.add(host);
      hosts.push(host);
    }
  };
  const reserve = (count: bigint, item: string): void => {
    produced += count;
    if (produced > BigInt(MAX_HOSTS)) {
      throw fail(`${where}: host list expands to more than ${MAX_HOSTS} hosts (at ${JSON.stringify(item)}); split it up or check the range`);
    }
  };
  const badRange = (item: string, why = ''): Error =>
    fail(`${where}: bad host range ${JSON.stringify(item)}${why}: ${RANGE_HINT}`);

  /** Expands "<from>..<to>" (or a single number) into [from, to, width]. */
  const bounds = (piece: string, item: string): [bigint, bigint, number] => {
    const m = /^(\d+)(?:\.\.(\d+))?$/.exec(piece.trim());
    if (m === null) throw badRange(item);
    const fromText = m[1]!;
    const toText = m[2] ?? fromText;
    const from = BigInt(fromText);
    const to = BigInt(toText);
    if (from > to) throw badRange(item, ` (${fromText} > ${toText})`);
    return [from, to, padWidth(fromText, toText)];
  };

  for (const rawItem of splitTopLevel(text)) {
    const item = rawItem.trim();
    if (item === '') continue;

    const bracket = /^([^[\]]*)\[([^[\]]*)\]([^[\]]*)$/.exec(item);
    if (bracket !== null) {
      // prefix[1..3,7]suffix
      const [, prefix, inner, suffix] = bracket as unknown as [string, string, string, string];
      if (/\s/.test(prefix) || /\s/.test(suffix)) throw badRange(item, ' (contains whitespace)');
      const pieces = inner.split(',').map((p) => bounds(p, item));
      for (const [from, to] of pieces) reserve(to - from + 1n, item);
      for (const [from, to, width] of pieces) {
        for (let n = from; n <= to; n++) add(`${prefix}${pad(n, width)}${suffix}`);
      }
      continue;
    }
    if (item.includes('..') || item.includes('[') || item.includes(']')) {
      // node001..016, a1..3
      const m = /^(\S*?)(\d+)\.\.(\d+)$/.exec(item);
      if (m === null) throw badRange(item);
      const [, prefix, fromText, toText] = m as unknown as [string, string, string, string];
      if (prefix.includes('[') || prefix.includes(']') || prefix.includes('..')) throw badRange(item);
      const [from, to, width] = bounds(`${fromText}..${toText}`, item);
      reserve(to - from + 1n, item);
      for (let n = from; n <= to; n++) add(`${prefix}${pad(n, width)}`);
      continue;
    }
    if (/\s/.test(item)) {
      throw fail(`${where}: bad host name ${JSON.stringify(item)}: expected host names separated by commas`);
    }
    reserve(1n, item);
    add(item);
  }
  return hosts;
}

/**
 * Expands a comma-separated host list with ranges, keeping order and dropping duplicates:
 * `node001..016` (zero padding kept), `locus[001..003]` and `locus[1..3,7]`, `a1..3`; the list may
 * be wrapped in `[ ]`. A bad or reversed range, or more than 100,000 hosts, is a UsageError whose
 * message starts with `where`.
 */
export function expandHostRange(spec: string, where: string): string[] {
  return expandHosts(spec, where, (message) => new UsageError(message));
}

interface Entry {
  value: string;
  line: number;
}

export class ClusterDescription {
  readonly file: string;
  /** The `ClusterName` value, if any. */
  readonly name: string | undefined;
  private readonly entries: Map<string, Entry>;
  private readonly expanded = new Map<string, string[]>();

  private constructor(file: string, entries: Map<string, Entry>) {
    this.file = file;
    this.entries = entries;
    this.name = entries.get('ClusterName')?.value;
  }

  /** Parses clusterdesc text; `file` is used in error messages. Throws ConfigError on bad lines or ranges. */
  static parse(text: string, file: string): ClusterDescription {
    if (text.startsWith('\uFEFF')) text = text.slice(1);
    const lines = text.split(/\r\n|\r|\n/);
    const entries = new Map<string, Entry>();
    for (let i = 0; i < lines.length; i++) {
      const lineno = i + 1;
      let line = stripComment(lines[i]!).trim();
      // A trailing backslash continues the value on the next line (parset syntax).
      while (line.endsWith('\\') && i + 1 < lines.length) {
        i++;
        line = `${line.slice(0, -1).trimEnd()} ${stripComment(lines[i]!).trim()}`;
      }
      if (line === '') continue;
      const eq = line.indexOf('=');
      if (eq < 0) {
        throw new ConfigError(file, `${file}:${lineno}: expected "key = value" or a # comment, got ${JSON.stringify(line)}`);
      }
      const key = line.slice(0, eq).trim();
      if (key === '' || /\s/.test(key)) {
        throw new ConfigError(
          file,
          `${file}:${lineno}: bad key ${JSON.stringify(key)}: expected "key = value" with a key such as Compute.Nodes`,
        );
      }
      const first = entries.get(key);
      if (first !== undefined) {
        throw new ConfigError(file, `${file}:${lineno}: duplicate key ${key} (first defined on line ${first.line}); keep only one`);
      }
      entries.set(key, { value: line.slice(eq + 1).trim(), line: lineno });
    }
    const desc = new ClusterDescription(file, entries);
    desc.validate();
    return desc;
  }

  /** Reads and parses a file; an unreadable file is a ConfigError "<file>: cannot read: <reason>". */
  static async load(file: string): Promise<ClusterDescription> {
    return ClusterDescription.parse(await readConfigText(file), file);
  }

  /** The raw value of a key (keys are case-sensitive, as in LOFAR parsets). */
  get(key: string): string | undefined {
    return this.entries.get(key)?.value;
  }

  /** All keys in file order. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** The line a key is defined on. */
  lineOf(key: string): number | undefined {
    return this.entries.get(key)?.line;
  }

  /** The names listed in `SubClusters`, or [] when there are none. */
  subClusters(): string[] {
    return this.subClustersOf('');
  }

  /**
   * The compute nodes: `Compute.Nodes`, or when that key is absent the union of the subclusters'
   * nodes (lofarpipe's `get_compute_nodes`); [] when neither is there. With `subcluster`, that
   * subcluster's `<sub>.Compute.Nodes` (or the union of its own subclusters). An unknown
   * subcluster is a ConfigError listing the known ones.
   */
  computeNodes(subcluster?: string): string[] {
    if (subcluster === undefined) return this.nodesOf('', 'Compute.Nodes');
    const known = this.subClusters();
    if (!known.includes(subcluster)) {
      const list = known.length > 0 ? `known subclusters: ${known.join(', ')}` : 'this file defines no SubClusters';
      throw new ConfigError(this.file, `${this.file}: unknown subcluster ${JSON.stringify(subcluster)}; ${list}`);
    }
    return this.nodesOf(`${subcluster}.`, 'Compute.Nodes');
  }

  /** The head nodes: `Head.Nodes`, or when absent the union of the subclusters' head nodes; [] if none. */
  headNodes(): string[] {
    return this.nodesOf('', 'Head.Nodes');
  }

  private subClustersOf(prefix: string): string[] {
    const value = this.get(`${prefix}SubClusters`);
    return value === undefined ? [] : parseList(value);
  }

  /** `<prefix><key>` expanded, or the union over the subclusters under `prefix`. */
  private nodesOf(prefix: string, key: string): string[] {
    const full = `${prefix}${key}`;
    if (this.entries.has(full)) return [...this.hostList(full)];
    const union = new Set<string>();
    for (const sub of this.subClustersOf(prefix)) {
      for (const host of this.nodesOf(`${prefix}${sub}.`, key)) union.add(host);
    }
    return [...union];
  }

  private hostList(key: string): string[] {
    let hosts = this.expanded.get(key);
    if (hosts === undefined) {
      const entry = this.entries.get(key)!;
      const where = `${this.file}:${entry.line}: ${key}`;
      hosts = expandHosts(entry.value, where, (message) => new ConfigError(this.file, message));
      this.expanded.set(key, hosts);
    }
    return hosts;
  }

  /** Expands every host list and checks the SubClusters names, so errors surface at load time. */
  private validate(): void {
    for (const [key, entry] of this.entries) {
      if (key === 'Nodes' || key.endsWith('.Nodes')) this.hostList(key);
      if (key === 'SubClusters' || key.endsWith('.SubClusters')) {
        for (const name of parseList(entry.value)) {
          if (!/^[^\s.[\]]+$/.test(name)) {
            throw new ConfigError(
              this.file,
              `${this.file}:${entry.line}: ${key}: bad subcluster name ${JSON.stringify(name)}: ` +
                `expected names without spaces, dots or brackets, e.g. [ A, B ]`,
            );
          }
        }
      }
    }
  }
}

/** Drops a `#` comment that is not inside single or double quotes. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#') {
      return line.slice(0, i);
    }
  }
  return line;
}

/**
 * lofarpipe's cluster description ("clusterdesc") files, read the way LOFAR writes them
 * (CEP/LMWCommon ClusterDesc.cc and lofarpipe's clusterdesc.py). A clusterdesc is a LOFAR parset
 * of `key = value` lines (CRLF, a BOM, tabs, `#` comments and `\` continuations are fine) in
 * one of these forms, which may be mixed:
 *
 *     ClusterName = cep2                         # homogeneous: lists per role
 *     Head.Nodes = [ lhn001..2 ]
 *     Compute.Nodes = [ locus001..100 ]
 *     Storage.Nodes = [ lse001..3 ]
 *     Nodes = [ n1..4 ]                          # LOFAR's type Any
 *
 *     NNodes = 2                                 # heterogeneous (ClusterDesc::write's form)
 *     Node0.NodeName = lce001
 *     Node0.NodeType = Compute                   # Compute (the default), Storage, Head or Any
 *     Node0.NodeFileSys = [ /data ]
 *     Node1.NodeName = lse001 ...
 *
 *     SubClusters = [ sub1.clusterdesc, sub2.clusterdesc ]   # other files (full.clusterdesc)
 *     SubClusters = [ A, B ]                                 # or prefixes in this file
 *     A.Compute.Nodes = [ a1..3 ]
 *
 * Why the choices:
 * - A SubClusters entry is a FILE when it contains `.`, `/` or `$`, or starts with `~`; a bare
 *   name (`A`) is a NAMED prefix when this file has `A.` keys, else a file when one of that name
 *   exists next to this file, else an empty named subcluster. Named subclusters can never hold a
 *   dot (their keys would be ambiguous), so the rule never changes the meaning of a valid file;
 *   and a file written only in the named form is parsed without touching the disk.
 * - Subcluster files are read synchronously when the parent is parsed (so a bad one fails at
 *   load time): `~` and `$VAR`/`${VAR}` are expanded and relative names resolved against the
 *   parent's directory, as ClusterDesc.cc does. A missing file, an unset variable or a file that
 *   includes itself (directly or not) is a ConfigError naming the parent file and line.
 * - Nodes of a role: the role's own list if this file gives one (`<Role>.Nodes`, else the
 *   NodeN entries of that role, and for Compute finally `Nodes`), else the union of the
 *   subclusters' nodes in first-seen order (a node in two subclusters counts once). `Nodes`
 *   (type Any) is only a fallback for compute nodes, so a file listing every machine in `Nodes`
 *   and the workers in `Compute.Nodes` does not send jobs to its head node.
 * - The NodeN form is read as ClusterDesc.cc reads it (Node0, Node1, ... until a NodeName is
 *   missing), but a NodeN key past that gap, an `NNodes` that disagrees with the count, an
 *   unknown NodeType or a node named twice is an error instead of being silently dropped.
 * - A duplicate key is an error: LOFAR's parameterset lets the later value win, but there is
 *   no logger here to warn that the first one was ignored.
 *
 * Host lists accept ranges (see `expandHostRange`). Every key ending in `Nodes` and the
 * `SubClusters` lists are checked when the file is parsed, so a bad range fails at load time.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { parseList, readConfigText } from './ini.js';
import { withoutComment } from './parset.js';

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

/** The node roles a clusterdesc distinguishes (LOFAR's NodeDesc types, Any aside). */
type Role = 'Compute' | 'Head' | 'Storage';

/** LOFAR's NodeDesc types, lower-cased as NodeDesc.cc compares them. */
type NodeType = 'compute' | 'storage' | 'head' | 'any';

const NODE_TYPES: readonly string[] = ['compute', 'storage', 'head', 'any'];

/** Which NodeN types count for a role: Any nodes may run jobs, but are not head or storage nodes. */
const ROLE_TYPES: Record<Role, readonly NodeType[]> = {
  Compute: ['compute', 'any'],
  Head: ['head'],
  Storage: ['storage'],
};

/** One node of the heterogeneous `NodeN.*` form. */
interface HetNode {
  name: string;
  type: NodeType;
}

/** One `SubClusters` entry: a key prefix in this file, or another clusterdesc file. */
type SubCluster =
  | { kind: 'named'; name: string; prefix: string }
  | { kind: 'file'; name: string; desc: ClusterDescription };

export class ClusterDescription {
  readonly file: string;
  /** The `ClusterName` value, if any. */
  readonly name: string | undefined;
  private readonly entries: Map<string, Entry>;
  private readonly expanded = new Map<string, string[]>();
  /** The SubClusters entries by key prefix ('' for `SubClusters`, 'A.' for `A.SubClusters`). */
  private readonly subs = new Map<string, SubCluster[]>();
  private het: HetNode[] = [];

  private constructor(file: string, entries: Map<string, Entry>) {
    this.file = file;
    this.entries = entries;
    this.name = entries.get('ClusterName')?.value;
  }

  /**
   * Parses clusterdesc text; `file` is used in error messages and to find subcluster files
   * (read synchronously, relative to `dirname(file)`). Throws ConfigError on bad lines, ranges,
   * nodes or subclusters. Text without file subclusters is parsed without reading anything.
   */
  static parse(text: string, file: string): ClusterDescription {
    return ClusterDescription.parseIncluded(text, file, [fileIdentity(file)]);
  }

  /** Reads and parses a file; an unreadable file is a ConfigError "<file>: cannot read: <reason>". */
  static async load(file: string): Promise<ClusterDescription> {
    return ClusterDescription.parse(await readConfigText(file), file);
  }

  /** `load` without the wait, for callers that are synchronous (see `clusterComputeHosts`). */
  static loadSync(file: string): ClusterDescription {
    return ClusterDescription.parse(readTextSync(file), file);
  }

  /** `chain` holds the real paths of the files including this one, to catch cycles. */
  private static parseIncluded(text: string, file: string, chain: readonly string[]): ClusterDescription {
    const desc = new ClusterDescription(file, readEntries(text, file));
    desc.validate(chain);
    return desc;
  }

  /** The raw value of a key (keys are case-sensitive, as in LOFAR parsets); this file's keys only. */
  get(key: string): string | undefined {
    return this.entries.get(key)?.value;
  }

  /** All keys of this file in file order (subcluster files' keys are not included). */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** The line a key is defined on. */
  lineOf(key: string): number | undefined {
    return this.entries.get(key)?.line;
  }

  /** The entries of `SubClusters` as written (names or file names, unquoted), or [] when there are none. */
  subClusters(): string[] {
    return (this.subs.get('') ?? []).map((sub) => sub.name);
  }

  /**
   * The compute nodes: `Compute.Nodes`, else the NodeN nodes of type Compute or Any, else
   * `Nodes`, else the union of the subclusters' compute nodes (lofarpipe's `get_compute_nodes`);
   * [] when there are none. With `subcluster` (an entry of `subClusters()`), that subcluster's
   * compute nodes. An unknown subcluster is a ConfigError listing the known ones.
   */
  computeNodes(subcluster?: string): string[] {
    if (subcluster === undefined) return this.nodesOf('', 'Compute');
    return this.nodesOfSub(this.knownSubCluster(subcluster), 'Compute');
  }

  /** The head nodes: `Head.Nodes`, else the NodeN nodes of type Head, else the subclusters' union; [] if none. */
  headNodes(): string[] {
    return this.nodesOf('', 'Head');
  }

  /** The storage nodes: `Storage.Nodes`, else the NodeN nodes of type Storage, else the subclusters' union. */
  storageNodes(): string[] {
    return this.nodesOf('', 'Storage');
  }

  private knownSubCluster(name: string): SubCluster {
    const known = this.subs.get('') ?? [];
    const sub = known.find((s) => s.name === name);
    if (sub !== undefined) return sub;
    const list = known.length > 0 ? `known subclusters: ${this.subClusters().join(', ')}` : 'this file defines no SubClusters';
    throw new ConfigError(this.file, `${this.file}: unknown subcluster ${JSON.stringify(name)}; ${list}`);
  }

  /** The role's nodes under `prefix`: this level's own list, or the union over its subclusters. */
  private nodesOf(prefix: string, role: Role): string[] {
    const own = this.ownNodes(prefix, role);
    if (own !== undefined) return own;
    const union = new Set<string>();
    for (const sub of this.subs.get(prefix) ?? []) {
      for (const host of this.nodesOfSub(sub, role)) union.add(host);
    }
    return [...union];
  }

  private nodesOfSub(sub: SubCluster, role: Role): string[] {
    return sub.kind === 'file' ? sub.desc.nodesOf('', role) : this.nodesOf(sub.prefix, role);
  }

  /** The nodes this level lists itself for the role, or undefined when it leaves them to subclusters. */
  private ownNodes(prefix: string, role: Role): string[] | undefined {
    const key = `${prefix}${role}.Nodes`;
    if (this.entries.has(key)) return [...this.hostList(key)];
    // The NodeN form is a whole-file form (ClusterDesc.cc reads it at the top level only).
    if (prefix === '') {
      const het = this.het.filter((node) => ROLE_TYPES[role].includes(node.type)).map((node) => node.name);
      if (het.length > 0) return het;
    }
    const any = `${prefix}Nodes`;
    if (role === 'Compute' && this.entries.has(any)) return [...this.hostList(any)];
    return undefined;
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

  /** Expands every host list, reads the NodeN nodes and the subclusters, so errors surface at load time. */
  private validate(chain: readonly string[]): void {
    for (const key of this.entries.keys()) {
      if (key === 'Nodes' || key.endsWith('.Nodes')) this.hostList(key);
    }
    this.het = readHetNodes(this.entries, this.file);
    for (const [key, entry] of this.entries) {
      if (key !== 'SubClusters' && !key.endsWith('.SubClusters')) continue;
      const prefix = key.slice(0, -'SubClusters'.length);
      const where = `${this.file}:${entry.line}: ${key}`;
      this.subs.set(prefix, parseList(entry.value).map((item) => this.subCluster(prefix, item, where, chain)));
    }
  }

  /** Decides whether a SubClusters entry is a file or a named prefix (see the header), and loads files. */
  private subCluster(prefix: string, item: string, where: string, chain: readonly string[]): SubCluster {
    const name = unquote(item);
    // Quoting allows spaces in a file name; brackets are list syntax either way.
    if (name === '' || /[[\]]/.test(name) || (name === item && /\s/.test(name))) {
      throw new ConfigError(
        this.file,
        `${where}: bad subcluster name ${JSON.stringify(item)}: expected names without spaces or brackets, ` +
          `e.g. [ A, B ] or [ sub1.clusterdesc, sub2.clusterdesc ]`,
      );
    }
    if (looksLikeFile(name)) return this.fileSubCluster(name, where, chain);
    const subPrefix = `${prefix}${name}.`;
    if (!this.keys().some((key) => key.startsWith(subPrefix)) && isFile(resolve(dirname(this.file), name))) {
      return this.fileSubCluster(name, where, chain);
    }
    return { kind: 'named', name, prefix: subPrefix };
  }

  private fileSubCluster(name: string, where: string, chain: readonly string[]): SubCluster {
    const path = resolve(dirname(this.file), expandPath(name, where, this.file));
    const fail = (message: string, cause?: unknown): ConfigError =>
      new ConfigError(this.file, `${where}: subcluster ${JSON.stringify(name)}: ${message}`, { cause });
    let stats;
    try {
      stats = statSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const missing = code === 'ENOENT' || code === 'ENOTDIR';
      throw fail(missing ? `file ${path} does not exist` : `cannot read ${path}: ${(err as Error).message}`, err);
    }
    if (!stats.isFile()) throw fail(`${path} is not a file`);
    const id = realpathSync(path);
    const at = chain.indexOf(id);
    if (at >= 0) throw fail(`subclusters include each other: ${[...chain.slice(at), id].join(' -> ')}`);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw fail(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    return { kind: 'file', name, desc: ClusterDescription.parseIncluded(text, path, [...chain, id]) };
  }
}

/**
 * The compute hosts of a clusterdesc file, read synchronously (for `[cluster] clusterdesc`).
 * A file that yields none is a ConfigError: falling back to localhost would run a cluster's
 * jobs on the machine the pipeline was started on.
 */
export function clusterComputeHosts(file: string): string[] {
  const nodes = ClusterDescription.loadSync(file).computeNodes();
  if (nodes.length === 0) {
    throw new ConfigError(
      file,
      `${file}: lists no compute nodes (expected Compute.Nodes = [...], Nodes = [...], NodeN.NodeName or SubClusters)`,
    );
  }
  return nodes;
}

/** Splits parset text into keys; bad lines and duplicate keys are ConfigErrors naming the line. */
function readEntries(text: string, file: string): Map<string, Entry> {
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const lines = text.split(/\r\n|\r|\n/);
  const entries = new Map<string, Entry>();
  for (let i = 0; i < lines.length; i++) {
    const lineno = i + 1;
    let line = withoutComment(lines[i]!).trim();
    // A trailing backslash continues the value on the next line (parset syntax).
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      line = `${line.slice(0, -1).trimEnd()} ${withoutComment(lines[i]!).trim()}`;
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
  return entries;
}

/** Reads Node0, Node1, ... until a NodeName is missing (ClusterDesc::getHetCluster), then checks the rest. */
function readHetNodes(entries: Map<string, Entry>, file: string): HetNode[] {
  const nodes: HetNode[] = [];
  const firstKey = new Map<string, string>();
  for (let i = 0; entries.has(`Node${i}.NodeName`); i++) {
    const nameKey = `Node${i}.NodeName`;
    const entry = entries.get(nameKey)!;
    const name = unquote(entry.value);
    if (!/^[^\s,[\]]+$/.test(name)) {
      throw new ConfigError(
        file,
        `${file}:${entry.line}: ${nameKey}: bad node name ${JSON.stringify(entry.value)}: expected one host name`,
      );
    }
    const other = firstKey.get(name);
    if (other !== undefined) {
      const otherLine = entries.get(other)!.line;
      throw new ConfigError(file, `${file}:${entry.line}: ${nameKey}: node ${name} is also ${other} (line ${otherLine}); list each node once`);
    }
    firstKey.set(name, nameKey);
    nodes.push({ name, type: hetNodeType(entries, file, i) });
  }
  checkNoNodesPastGap(entries, file, nodes.length);
  checkNNodes(entries, file, nodes.length);
  return nodes;
}

/** `NodeN.NodeType`, Compute when absent (NodeDesc.cc); an unknown type is an error, not LOFAR's silent Any. */
function hetNodeType(entries: Map<string, Entry>, file: string, index: number): NodeType {
  const key = `Node${index}.NodeType`;
  const entry = entries.get(key);
  if (entry === undefined) return 'compute';
  const type = unquote(entry.value).toLowerCase();
  if (!NODE_TYPES.includes(type)) {
    throw new ConfigError(
      file,
      `${file}:${entry.line}: ${key}: unknown node type ${JSON.stringify(entry.value)}: expected Compute, Storage, Head or Any`,
    );
  }
  return type as NodeType;
}

/** LOFAR stops at the first missing NodeName and drops later nodes unseen; say so instead. */
function checkNoNodesPastGap(entries: Map<string, Entry>, file: string, count: number): void {
  for (const [key, entry] of entries) {
    const m = /^Node(\d+)\./.exec(key);
    if (m !== null && Number(m[1]) >= count) {
      throw new ConfigError(
        file,
        `${file}:${entry.line}: ${key}: there is no Node${count}.NodeName, so this node would be skipped; ` +
          `number the nodes Node0, Node1, ... without gaps, each with a NodeName`,
      );
    }
  }
}

/** `NNodes` is informational in LOFAR (ClusterDesc::write puts it there); a wrong count means nodes are missing. */
function checkNNodes(entries: Map<string, Entry>, file: string, count: number): void {
  const entry = entries.get('NNodes');
  if (entry === undefined) return;
  const defined = count === 0 ? 'no NodeN.NodeName' : `${count} nodes (Node0..Node${count - 1})`;
  if (!/^\d+$/.test(entry.value) || Number(entry.value) !== count) {
    throw new ConfigError(file, `${file}:${entry.line}: NNodes = ${entry.value} but the file defines ${defined}`);
  }
}

/** A SubClusters entry that can only be a file name: named subclusters have no dots, slashes or variables. */
function looksLikeFile(name: string): boolean {
  return name.includes('.') || name.includes('/') || name.includes('$') || name.startsWith('~');
}

/** Expands a leading `~` and `$VAR`/`${VAR}` (ClusterDesc.cc uses casacore's Path::expandedName). */
function expandPath(name: string, where: string, file: string): string {
  let path = name === '~' || name.startsWith('~/') ? homedir() + name.slice(1) : name;
  path = path.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_match, braced: string | undefined, bare: string | undefined) => {
    const variable = (braced ?? bare)!;
    const value = process.env[variable];
    if (value === undefined) {
      throw new ConfigError(file, `${where}: subcluster ${JSON.stringify(name)}: environment variable ${variable} is not set`);
    }
    return value;
  });
  return path;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The real path of a file for cycle checks; the resolved name when it does not exist (parse of given text). */
function fileIdentity(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
}

function readTextSync(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(file, `${file}: cannot read: ${reason}`, { cause: err });
  }
}

/** Strips one pair of matching outer quotes (parset strings may be quoted). */
function unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.endsWith(v[0]) ? v.slice(1, -1) : v;
}

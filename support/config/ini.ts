/**
 * INI reader with the semantics of Python 3's `configparser.ConfigParser` (default options,
 * `BasicInterpolation`, strict mode), so lofarpipe's `pipeline.cfg` and `tasks.cfg` load unchanged.
 *
 * What matches Python:
 * - `[section]` headers (section names are case-sensitive, taken verbatim between the first `[`
 *   and the last `]`; anything after that `]` is ignored, as Python's `SECTCRE` does);
 * - `key = value` / `key: value`, split at the first `=` or `:`; keys lower-cased, values trimmed;
 * - full-line comments starting with `#` or `;` (also when indented); inline comments are kept;
 * - continuation lines: a line indented deeper than the line its key is on continues the value
 *   (joined with `\n`); empty lines inside a value are kept when a continuation follows, and
 *   trailing empty lines are dropped; comment lines inside a value are skipped;
 * - `[DEFAULT]` values are visible in every section; `[DEFAULT]` may appear more than once;
 * - strict mode: a duplicate section or a duplicate key within a section is an error (or, with
 *   `duplicates: 'merge'`, merged as Python 2 did, with a warning);
 * - `%(name)s` interpolation looked up in `vars`, then the section, then DEFAULT; `%%` is `%`;
 *   references are expanded recursively (up to 10 levels) in the context of the section asked for.
 *
 * Unlike Python, errors are thrown at the first problem, each as a one-line `ConfigError`
 * `<file>:<line>: <what is wrong and what was expected>`.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

/** Python's `configparser.MAX_INTERPOLATION_DEPTH`. */
export const MAX_INTERPOLATION_DEPTH = 10;

const DEFAULT_SECTION = 'DEFAULT';

interface Entry {
  value: string;
  /** 1-based line of the key, or undefined for values added with `set()`. */
  line: number | undefined;
  /** The file the key is written in, when it is not this IniFile's own (a merged layer). */
  file?: string;
}

export interface IniOptions {
  /**
   * `strict` (Python 3): a duplicate section or key is an error. `merge` (Python 2's ConfigParser,
   * which LOFAR's tasks.cfg files were written for): a repeated section adds to the first and a
   * repeated key's later value wins, each noted in `warnings`.
   */
  duplicates?: 'strict' | 'merge';
}

type Section = Map<string, Entry>;

/** A configuration file's text; an unreadable file is a ConfigError "<file>: cannot read: <reason>". */
export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(file, `${file}: cannot read: ${reason}`, { cause: err });
  }
}

/** Shows a piece of user text inside a one-line message: quoted, escaped, and cut when long. */
function show(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return JSON.stringify(cut);
}

export class IniFile {
  readonly file: string;
  private readonly defaults: Section = new Map();
  private readonly sectionMap = new Map<string, Section>();
  /** Line of each section header (the first one for DEFAULT). */
  private readonly sectionLines = new Map<string, number>();
  readonly #options: IniOptions;
  readonly #sectionFiles = new Map<string, string>();
  /** What `duplicates: 'merge'` let through, one line each naming the file and both lines. */
  readonly warnings: string[] = [];

  private constructor(file: string, options: IniOptions = {}) {
    this.file = file;
    this.#options = options;
  }

  /** Parses INI text; `file` is used in error messages only. Throws ConfigError on bad syntax. */
  static parse(text: string, file: string, options: IniOptions = {}): IniFile {
    const ini = new IniFile(file, options);
    ini.read(text);
    return ini;
  }

  /** Reads and parses a file; an unreadable file is a ConfigError "<file>: cannot read: <reason>". */
  static async load(file: string, options: IniOptions = {}): Promise<IniFile> {
    return IniFile.parse(await readConfigText(file), file, options);
  }

  /**
   * Several files read as one, in order, as Python's `read([...])` does: a later file's keys win,
   * its sections add to those of the same name. `defaults` come first (lofarpipe reads the task
   * files with pipeline.cfg's [DEFAULT] values). Each key keeps the file and line it came from.
   */
  static layered(name: string, layers: readonly IniFile[], defaults?: IniFile): IniFile {
    const merged = new IniFile(name, { duplicates: 'merge' });
    const copy = (from: Section, into: Section, file: string): void => {
      for (const [key, entry] of from) into.set(key, { ...entry, file: entry.file ?? file });
    };
    if (defaults) copy(defaults.defaults, merged.defaults, defaults.file);
    for (const layer of layers) {
      copy(layer.defaults, merged.defaults, layer.file);
      for (const [section, keys] of layer.sectionMap) {
        let into = merged.sectionMap.get(section);
        if (into === undefined) {
          into = new Map();
          merged.sectionMap.set(section, into);
          merged.sectionLines.set(section, layer.sectionLines.get(section)!);
          merged.#sectionFiles.set(section, layer.file);
        }
        copy(keys, into, layer.file);
      }
      merged.warnings.push(...layer.warnings);
    }
    return merged;
  }

  /** The file a section was first defined in (for a layered IniFile; else this file). */
  sectionFile(section: string): string {
    return this.#sectionFiles.get(section) ?? this.file;
  }

  /** The file a key seen in `section` is written in. */
  fileOf(section: string, key: string): string {
    return this.lookup(section, key)?.file ?? this.file;
  }

  /** Section names in file order, without DEFAULT. */
  sections(): string[] {
    return [...this.sectionMap.keys()];
  }

  /** True for a section defined in the file or by `set()`; DEFAULT is not a section (as in Python). */
  hasSection(section: string): boolean {
    return this.sectionMap.has(section);
  }

  /** True when `key` is in the section or in DEFAULT. An unknown section has no keys. */
  has(section: string, key: string): boolean {
    return this.lookup(section, key) !== undefined;
  }

  /** The section's own keys followed by the DEFAULT keys it does not override (Python's `options()`). */
  keys(section: string): string[] {
    if (section === DEFAULT_SECTION) return [...this.defaults.keys()];
    const own = this.sectionMap.get(section);
    if (own === undefined) return [];
    const out = [...own.keys()];
    for (const key of this.defaults.keys()) if (!own.has(key)) out.push(key);
    return out;
  }

  /** The keys written in the section itself, without those it takes from DEFAULT. */
  ownKeys(section: string): string[] {
    return [...(this.sectionMap.get(section)?.keys() ?? [])];
  }

  /** The value as written (no interpolation), from the section or DEFAULT. */
  raw(section: string, key: string): string | undefined {
    return this.lookup(section, key)?.value;
  }

  /**
   * The value with `%(name)s` references expanded, or undefined when the key is not there.
   * As in Python, `vars` come first: both for the key itself and for every reference.
   */
  get(section: string, key: string, vars?: Record<string, string>): string | undefined {
    const name = key.toLowerCase();
    const varMap = new Map<string, string>();
    if (vars !== undefined) for (const [k, v] of Object.entries(vars)) varMap.set(k.toLowerCase(), v);
    const own = section === DEFAULT_SECTION ? undefined : this.sectionMap.get(section);
    if (own === undefined && section !== DEFAULT_SECTION) return undefined;
    const find = (n: string): string | undefined => varMap.get(n) ?? own?.get(n)?.value ?? this.defaults.get(n)?.value;
    const value = find(name);
    if (value === undefined) return undefined;
    const out: string[] = [];
    this.interpolate(section, name, value, find, out, 1, []);
    return out.join('');
  }

  /** Sets a value in memory (no interpolation check); creates the section if needed. 'DEFAULT' is allowed. */
  set(section: string, key: string, value: string): void {
    let target: Section;
    if (section === DEFAULT_SECTION) {
      target = this.defaults;
    } else {
      let s = this.sectionMap.get(section);
      if (s === undefined) {
        s = new Map();
        this.sectionMap.set(section, s);
      }
      target = s;
    }
    target.set(key.toLowerCase(), { value, line: undefined });
  }

  /**
   * The 1-based line where the value seen in `section` is defined: the section's own key, else the
   * DEFAULT key. Undefined when the key is missing or was set with `set()`.
   */
  lineOf(section: string, key: string): number | undefined {
    return this.lookup(section, key)?.line;
  }

  /** The line of a section's header (the first `[DEFAULT]` header for DEFAULT). */
  sectionLine(section: string): number | undefined {
    return this.sectionLines.get(section);
  }

  private lookup(section: string, key: string): Entry | undefined {
    const name = key.toLowerCase();
    if (section === DEFAULT_SECTION) return this.defaults.get(name);
    const own = this.sectionMap.get(section);
    if (own === undefined) return undefined;
    return own.get(name) ?? this.defaults.get(name);
  }

  /** "<file>:<line>" of a key, or just "<file>" for a key without a line. */
  private where(section: string, key: string): string {
    const line = this.lineOf(section, key);
    const file = this.fileOf(section, key);
    return line === undefined ? file : `${file}:${line}`;
  }

  private fail(line: number | undefined, message: string): never {
    const where = line === undefined ? this.file : `${this.file}:${line}`;
    throw new ConfigError(this.file, `${where}: ${message}`);
  }

  /** Python's `RawConfigParser._read`, in strict mode, with empty lines allowed in values. */
  private read(text: string): void {
    if (text.startsWith('\uFEFF')) text = text.slice(1);
    const lines = text.split(/\r\n|\r|\n/);
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

    let cursect: Section | undefined;
    let sectname = '';
    /** Key whose value continuation lines extend, with its pieces. */
    let current: { key: string; pieces: string[] } | undefined;
    let indentLevel = 0;
    const seenKeys = new Map<string, number>(); // "section\0key" -> line

    const finish = (): void => {
      if (current === undefined || cursect === undefined) return;
      const entry = cursect.get(current.key);
      if (entry !== undefined) entry.value = current.pieces.join('\n').trimEnd();
      current = undefined;
    };

    for (let i = 0; i < lines.length; i++) {
      const lineno = i + 1;
      const line = lines[i]!;
      const stripped = line.trim();
      const isComment = stripped.startsWith('#') || stripped.startsWith(';');

      if (stripped === '' || isComment) {
        // An empty line belongs to the value if a continuation follows (trailing ones are trimmed
        // when the value is joined); comment lines are dropped without ending the value.
        if (!isComment && current !== undefined) current.pieces.push('');
        continue;
      }

      const indent = line.search(/\S/);
      if (current !== undefined && indent > indentLevel) {
        current.pieces.push(stripped);
        continue;
      }

      indentLevel = indent;
      const header = /^\[(.+)\]/.exec(stripped);
      if (header !== null) {
        finish();
        const name = header[1]!;
        if (name === DEFAULT_SECTION) {
          cursect = this.defaults;
          if (!this.sectionLines.has(name)) this.sectionLines.set(name, lineno);
        } else {
          const first = this.sectionLines.get(name);
          if (first !== undefined && this.#options.duplicates !== 'merge') {
            this.fail(lineno, `duplicate section [${name}] (first defined on line ${first}); merge the two sections`);
          }
          if (first !== undefined) {
            this.warnings.push(`${this.file}:${lineno}: [${name}] is defined again (first on line ${first}); its keys are added to the first, later values win, as Python 2's ConfigParser read it`);
            cursect = this.sectionMap.get(name)!;
          } else {
            cursect = new Map();
            this.sectionMap.set(name, cursect);
            this.sectionLines.set(name, lineno);
          }
        }
        sectname = name;
        continue;
      }

      const assign = /^(.*?)\s*([=:])\s*(.*)$/.exec(stripped);
      if (cursect === undefined) {
        if (assign !== null && assign[1] !== '') {
          this.fail(lineno, `key '${assign[1]!.toLowerCase()}' appears before any section header; expected a [section] line first`);
        }
        this.fail(lineno, `expected a [section] header as the first line that is not empty or a comment, got ${show(stripped)}`);
      }
      if (assign === null) {
        this.fail(
          lineno,
          `cannot parse ${show(stripped)}: expected "[section]", "key = value", "key: value", ` +
            `a comment starting with '#' or ';', or an indented continuation line`,
        );
      }
      if (assign[1] === '') {
        this.fail(lineno, `missing key name before '${assign[2]}' in ${show(stripped)}; expected "key ${assign[2]} value"`);
      }
      finish();
      const key = assign[1]!.toLowerCase();
      const seenAt = `${sectname}\0${key}`;
      const first = seenKeys.get(seenAt);
      if (first !== undefined && this.#options.duplicates !== 'merge') {
        this.fail(lineno, `duplicate key '${key}' in section [${sectname}] (first defined on line ${first}); keep only one`);
      }
      if (first !== undefined) this.warnings.push(`${this.file}:${lineno}: [${sectname}] ${key} is set again (first on line ${first}); the later value wins`);
      seenKeys.set(seenAt, lineno);
      const value = assign[3]!;
      cursect.set(key, { value, line: lineno });
      current = { key, pieces: [value] };
    }
    finish();
  }

  /** Python's `BasicInterpolation._interpolate_some`. `chain` lists the references followed so far. */
  private interpolate(
    section: string,
    key: string,
    rest: string,
    find: (name: string) => string | undefined,
    out: string[],
    depth: number,
    chain: string[],
  ): void {
    const fail = (what: string): ConfigError => {
      const via = chain.length > 0 ? ` (via ${chain.map((c) => `%(${c})s`).join(' -> ')})` : '';
      return new ConfigError(this.file, `${this.where(section, key)}: [${section}] ${key}: ${what}${via}`);
    };
    if (depth > MAX_INTERPOLATION_DEPTH) {
      // Name the loop when there is one (a -> b -> a), otherwise the first levels of the chain.
      const path = [key, ...chain];
      const repeat = path.findIndex((name, i) => path.indexOf(name, i + 1) >= 0);
      const shown =
        repeat >= 0 ? path.slice(repeat, path.indexOf(path[repeat]!, repeat + 1) + 1) : [...path.slice(0, 4), '...'];
      throw new ConfigError(
        this.file,
        `${this.where(section, key)}: [${section}] ${key}: interpolation deeper than ${MAX_INTERPOLATION_DEPTH} levels ` +
          `(${repeat >= 0 ? 'reference loop' : 'chain'} ${shown.join(' -> ')}); expected references that end in a plain value`,
      );
    }
    while (rest.length > 0) {
      const p = rest.indexOf('%');
      if (p < 0) {
        out.push(rest);
        return;
      }
      if (p > 0) {
        out.push(rest.slice(0, p));
        rest = rest.slice(p);
      }
      const c = rest.charAt(1);
      if (c === '%') {
        out.push('%');
        rest = rest.slice(2);
      } else if (c === '(') {
        const m = /^%\(([^)]+)\)s/.exec(rest);
        if (m === null) {
          throw fail(`'%' must be followed by '%' or '(name)s', found ${show(rest, 40)}; write '%%' for a literal '%'`);
        }
        const name = m[1]!.toLowerCase();
        rest = rest.slice(m[0].length);
        const value = find(name);
        if (value === undefined) throw fail(`%(${m[1]})s refers to an unknown key '${name}'`);
        if (value.includes('%')) {
          this.interpolate(section, key, value, find, out, depth + 1, [...chain, name]);
        } else {
          out.push(value);
        }
      } else {
        throw fail(`'%' must be followed by '%' or '(name)s', found ${show(rest, 40)}; write '%%' for a literal '%'`);
      }
    }
  }
}

/**
 * lofarpipe's list syntax (`utilities.string_to_list`): `[a, b, c]` or `a, b, c`; items trimmed,
 * empty items dropped; an empty string or `[]` gives `[]`.
 */
export function parseList(value: string): string[] {
  let text = value.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const BOOLEANS = new Map<string, boolean>([
  ['1', true],
  ['yes', true],
  ['true', true],
  ['on', true],
  ['0', false],
  ['no', false],
  ['false', false],
  ['off', false],
]);

/** Python's `getboolean`: 1/yes/true/on and 0/no/false/off, case-insensitive; anything else throws. */
export function parseBool(value: string, where: string): boolean {
  const b = BOOLEANS.get(value.trim().toLowerCase());
  if (b === undefined) {
    // `where` is usually "<file>:<line>: [section] key"; the error's file is its leading part.
    const file = /^(.+?):\d+(?::|$)/.exec(where)?.[1] ?? where;
    throw new ConfigError(
      file,
      `${where}: expected a boolean (true/false, yes/no, on/off, 1/0), got ${JSON.stringify(value)}`,
    );
  }
  return b;
}

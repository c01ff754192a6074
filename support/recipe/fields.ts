/**
 * Declared recipe inputs (lofarpipe's ingredients): each field knows its kind, help text and
 * default, turns a command-line string or a programmatic value into a checked value, and says
 * what was expected when it cannot.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { InputError } from '../errors.js';
import type { JsonValue } from '../protocol/messages.js';

export type FieldKind = 'string' | 'int' | 'float' | 'bool' | 'list' | 'dict' | 'file' | 'directory' | 'exec' | 'filelist';

export interface FieldOptions<T> {
  help: string;
  default?: T;
  /** An optional input without default is simply absent (undefined). */
  optional?: boolean;
}

export interface Field<T = unknown> {
  readonly kind: FieldKind;
  readonly help: string;
  readonly default?: T;
  readonly optional: boolean;
  /** True when the run must be given a value. */
  readonly required: boolean;
  /** Checks and converts a value (from the command line: a string; from runTask: any). */
  parse(value: unknown, name: string): T;
  /** The expected form, for `pipeline describe` and error messages. */
  readonly expected: string;
}

/** A field that may be absent in `go()` (optional, without default): its value is `T | undefined`. */
export interface OptionalField<T> extends Field<T> {
  readonly optional: true;
  readonly default?: undefined;
}

/** What a field constructor makes of its options: `optional: true` without `default` may be absent. */
export type FieldFrom<T, O> = O extends { optional: true } ? (O extends { default: T } ? Field<T> : OptionalField<T>) : Field<T>;

type Parser<T> = (value: unknown, fail: (got: unknown) => never) => T;

function makeField<T, O extends FieldOptions<T>>(kind: FieldKind, expected: string, parser: Parser<T>, options: O): FieldFrom<T, O> {
  // The options' literal type only picks the static type; every field is the same object at run time.
  return {
    kind,
    expected,
    help: options.help,
    default: options.default,
    optional: options.optional ?? false,
    required: options.default === undefined && !options.optional,
    parse(value: unknown, name: string): T {
      const fail = (got: unknown): never => {
        throw new InputError(name, `input ${flagName(name)}: expected ${expected}, got ${describeValue(got)}`);
      };
      return parser(value, fail);
    },
  } as Field<T> as FieldFrom<T, O>;
}

/** What input names are compared by: `max_per_node` (tasks.cfg), `max-per-node` and `maxPerNode` are one input. */
export function inputNameKey(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
}

/** The command-line spelling of an input name: `maxPerNode` and lofarpipe's `max_per_node` are `--max-per-node`. */
export function flagName(name: string): string {
  return '--' + name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()).replace(/_/g, '-');
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

const parseString: Parser<string> = (value, fail) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : fail(value));

const parseInt_: Parser<number> = (value, fail) => {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  return fail(value);
};

const parseFloat_: Parser<number> = (value, fail) => {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
  }
  return fail(value);
};

const parseBool: Parser<boolean> = (value, fail) => {
  if (typeof value === 'boolean') return value;
  if (value === null) return false;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    // "" and None are false in lofarpipe's BoolField, and tasks.cfg files rely on it (`skip_infile =`).
    if (['0', 'false', 'no', 'off', '', 'none'].includes(v)) return false;
  }
  return fail(value);
};

/** A list from an array, a JSON array, or comma-separated text (`a,b,c`, lofarpipe's `[a, b]`). */
const parseList: Parser<string[]> = (value, fail) => {
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
  if (typeof value !== 'string') return fail(value);
  const text = value.trim();
  if (text.startsWith('[') && text.endsWith(']')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
    } catch {
      // lofarpipe style: [a, b, c] without quotes
    }
    return splitComma(text.slice(1, -1));
  }
  return splitComma(text);
};

function splitComma(text: string): string[] {
  return text.trim() === '' ? [] : text.split(',').map((item) => item.trim());
}

const parseDict: Parser<Record<string, JsonValue>> = (value, fail) => {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, JsonValue>;
  if (typeof value !== 'string') return fail(value);
  const text = value.trim();
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, JsonValue>;
    } catch {
      return fail(value);
    }
  }
  const dict: Record<string, JsonValue> = {};
  for (const pair of splitComma(text)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return fail(value);
    dict[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return dict;
};

/**
 * A path. A `file` must only exist (lofarpipe's FileField: a measurement set is a directory);
 * a `directory` must be one, or is made when `create` is set (lofarpipe's DirectoryField).
 */
function pathParser(kind: 'file' | 'directory', mustExist: boolean, create = false): Parser<string> {
  return (value, fail) => {
    if (typeof value !== 'string' || value === '') return fail(value);
    const path = resolve(expandHome(value));
    if (create) {
      try {
        mkdirSync(path, { recursive: true });
      } catch (error) {
        return fail(`${value} (cannot be made: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
    }
    if (!mustExist && !create) return path;
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return fail(`${value} (no such ${kind})`);
    }
    if (kind === 'directory' && !stat.isDirectory()) return fail(`${value} (not a directory)`);
    return path;
  };
}

/** An executable: a path, or a name found on PATH, that this user may run (lofarpipe's ExecField). */
const parseExecutable: Parser<string> = (value, fail) => {
  if (typeof value !== 'string' || value.trim() === '') return fail(value);
  const name = expandHome(value.trim());
  const candidates = name.includes('/') ? [resolve(name)] : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => join(dir, name));
  for (const path of candidates) {
    try {
      if (statSync(path).isFile()) {
        accessSync(path, constants.X_OK);
        return path;
      }
    } catch {
      // not this one
    }
  }
  return fail(`${value} (${name.includes('/') ? 'not an executable file' : 'not found on PATH'})`);
};

/** A list of paths that must each exist (lofarpipe's FileList). */
const parseFileList: Parser<string[]> = (value, fail) => {
  const items = parseList(value, fail);
  const paths: string[] = [];
  for (const item of items) {
    const path = resolve(expandHome(item));
    if (!existsSync(path)) return fail(`${item} (no such file or directory)`);
    paths.push(path);
  }
  return paths;
};

interface PathFieldOptions extends FieldOptions<string> {
  /** Default true: the path must exist when the run starts. */
  mustExist?: boolean;
}

interface DirectoryFieldOptions extends PathFieldOptions {
  /** Make the directory (and its parents) when the inputs are checked, as lofarpipe's DirectoryField does. */
  create?: boolean;
}

// Each constructor is generic in its options so that `optional: true` (without default) reaches the type: see InputsOf.
export const field = {
  string: <O extends FieldOptions<string>>(options: O) => makeField('string', 'a string', parseString, options),
  int: <O extends FieldOptions<number>>(options: O) => makeField('int', 'an integer', parseInt_, options),
  float: <O extends FieldOptions<number>>(options: O) => makeField('float', 'a number', parseFloat_, options),
  bool: <O extends FieldOptions<boolean>>(options: O) => makeField('bool', 'a boolean (true/false)', parseBool, options),
  list: <O extends FieldOptions<string[]>>(options: O) => makeField('list', 'a list (a,b,c or a JSON array)', parseList, options),
  dict: <O extends FieldOptions<Record<string, JsonValue>>>(options: O) => makeField('dict', 'a dictionary (k=v,k2=v2 or a JSON object)', parseDict, options),
  file: <O extends PathFieldOptions>(options: O) => makeField('file', (options.mustExist ?? true) ? 'an existing file or directory' : 'a file or directory path', pathParser('file', options.mustExist ?? true), options),
  directory: <O extends DirectoryFieldOptions>(options: O) => makeField('directory', options.create ? 'a directory (made if missing)' : (options.mustExist ?? true) ? 'an existing directory' : 'a directory path',
    pathParser('directory', options.mustExist ?? true, options.create ?? false), options),
  exec: <O extends FieldOptions<string>>(options: O) => makeField('exec', 'an executable (a path, or a name on PATH)', parseExecutable, options),
  fileList: <O extends FieldOptions<string[]>>(options: O) => makeField('filelist', 'a list of existing paths', parseFileList, options),
};

export type Fields = Record<string, Field<any>>;

/**
 * The value types of a recipe's declared inputs, as `go()` sees them: `T` for a required field or
 * one with a default, `T | undefined` for an optional one without default.
 * `declare inputs: InputsOf<typeof MyRecipe.inputs>`, or let `recipe({ inputs })` do it.
 */
export type InputsOf<F extends Fields> = {
  [K in keyof F]: F[K] extends OptionalField<infer T> ? T | undefined : F[K] extends Field<infer T> ? T : never;
};

/**
 * Checks the given raw values against the declared fields: every required input present, every
 * value of its kind, no unknown names. Defaults fill the rest.
 */
/**
 * Checks the given inputs against the fields, fills in defaults. `extra` are inputs the recipe
 * does not declare that are kept as given (a tasks.cfg task's other keys, as lofarpipe passes them).
 */
export function resolveInputs(fields: Fields, givenAsTyped: Record<string, unknown>, extra: Record<string, string> = {}): Record<string, unknown> {
  const given = normalizeNames(givenAsTyped, Object.keys(fields));
  for (const name of Object.keys(given)) {
    if (!(name in fields)) {
      const known = Object.keys(fields).map(flagName).join(', ') || 'none';
      throw new InputError(name, `unknown input ${flagName(name)}; this recipe's inputs: ${known}`);
    }
  }
  const inputs: Record<string, unknown> = { ...extra };
  for (const [name, spec] of Object.entries(fields)) {
    const value = given[name];
    if (value === undefined) {
      if (spec.required) throw new InputError(name, `input ${flagName(name)} is required: ${spec.help} (${spec.expected})`);
      inputs[name] = spec.default === undefined ? undefined : spec.parse(spec.default, name);
    } else {
      inputs[name] = spec.parse(value, name);
    }
  }
  return inputs;
}

/** `--max-per-node` names the input `maxPerNode` or `max_per_node`, whichever the recipe declares. */
function normalizeNames(given: Record<string, unknown>, declared: string[]): Record<string, unknown> {
  const byForm = new Map<string, string>();
  for (const name of declared) {
    byForm.set(name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()), name);
    byForm.set(name.replace(/_/g, '-'), name);
    byForm.set(name, name);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) out[byForm.get(key) ?? key] = value;
  return out;
}

/**
 * LOFAR's data maps (lofarpipe/support/data_map.py): which host holds which data product, in the map-file
 * text LOFAR's `DataMap.save` writes. LOFAR reads them with `eval`; here a small Python-literal reader
 * takes the same literals and refuses anything that would need code to run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** A map file that cannot be used; when it comes from text, the message starts `<source>:<line>:<column>: `. */
export class DataMapError extends UsageError {
  readonly source: string | null;
  readonly line: number | null;
  readonly column: number | null;
  constructor(message: string, where?: { source: string; line: number; column: number }, options?: { cause?: unknown }) {
    super(where ? `${where.source}:${where.line}:${where.column}: ${message}` : message, options);
    this.source = where?.source ?? null;
    this.line = where?.line ?? null;
    this.column = where?.column ?? null;
  }
}

/** One data product: `file` on `host`; `skip` marks it as not to be processed. */
export interface DataProduct {
  host: string;
  file: string;
  skip: boolean;
}

/** Files on one host, skippable as a set (`skip`) and one by one (`file_skip`, one flag per file). */
export interface MultiDataProduct {
  host: string;
  file: string[];
  skip: boolean;
  file_skip: boolean[];
}

// ---------------------------------------------------------------------------------------------
// Python literals, read without evaluating anything

type Literal =
  | { kind: 'str'; at: number; value: string; verbatimAt: number | null }
  | { kind: 'number'; at: number; text: string }
  | { kind: 'bool'; at: number; value: boolean }
  | { kind: 'none'; at: number }
  | { kind: 'list'; at: number; items: Literal[] }
  | { kind: 'tuple'; at: number; items: Literal[] }
  | { kind: 'dict'; at: number; entries: DictEntry[] };

interface DictEntry {
  key: string;
  keyAt: number;
  value: Literal;
}

/** A refusal at an offset of the text read; turned into a DataMapError with line and column by the caller. */
class Refusal extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

const NOT_LITERAL = 'not a data map literal';
// Python's own parser gives up near 200 nested brackets; this keeps the reader's recursion bounded.
const MAX_DEPTH = 100;
const KEYWORDS = new Set([
  'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del', 'elif', 'else', 'except', 'finally',
  'for', 'from', 'global', 'if', 'import', 'in', 'is', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while',
  'with', 'yield',
]);
const OPERATOR = /[-+*/%@&|^~<>=!:]+/y;
const NUMBER = /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?)/y;
const WORD = /[\p{ID_Start}_][\p{ID_Continue}]*/uy;
const STRING_PREFIX = /^(?:[rRuUbBfF]|[bBrR]{2}|[fFrR]{2})$/;
const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

class LiteralReader {
  readonly #text: string;
  #pos = 0;
  #depth = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** The one literal the whole text holds; `what` names it in the message for an empty text. */
  document(what: string): Literal {
    const ended = `expected end of text after ${what}`;
    const nul = this.#text.indexOf('\0');
    if (nul >= 0) throw new Refusal(nul, "expected no NUL character (Python's eval refuses text holding one; write \\x00 in a string)");
    if (this.#skipLines(true)) throw new Refusal(this.#pos, `expected ${what} at the start of its line, got indentation (Python's eval refuses it)`);
    if (this.#pos >= this.#text.length) throw new Refusal(this.#pos, `expected ${what}, got end of text`);
    const first = this.#value();
    let newline = this.#skipLines(false);
    if (this.#pos >= this.#text.length) return first;
    if (newline || this.#text[this.#pos] !== ',') this.#afterValue(ended);
    // `a, b` with no brackets is a tuple to eval, as LOFAR reads the file.
    const items = [first];
    for (;;) {
      this.#pos++;
      newline = this.#skipLines(false);
      if (this.#pos >= this.#text.length) break;
      if (newline) this.#afterValue(ended);
      items.push(this.#value());
      newline = this.#skipLines(false);
      if (this.#pos >= this.#text.length) break;
      if (newline || this.#text[this.#pos] !== ',') this.#afterValue(newline ? ended : "expected ',' or end of text after a tuple item");
    }
    return { kind: 'tuple', at: first.at, items };
  }

  /**
   * Outside brackets a line break ends Python's expression: skips blank and comment lines and says whether one was
   * crossed (true), or, with `indent`, whether the next line to hold something is indented, which eval refuses.
   */
  #skipLines(indent: boolean): boolean {
    let newline = false;
    let indented = false;
    for (;;) {
      this.#skipSpace();
      const c = this.#text[this.#pos];
      if (c !== '\n' && c !== '\r') break;
      this.#pos++;
      newline = true;
      const lineStart = this.#pos;
      this.#skipSpace();
      indented = this.#pos > lineStart;
      if (this.#pos >= this.#text.length && /^[ \t]+$/.test(this.#text.slice(lineStart))) {
        throw new Refusal(lineStart, "expected nothing after the last line break, or a line break after these spaces (Python's eval refuses an indented last line)");
      }
    }
    return indent ? newline && indented && this.#pos < this.#text.length : newline;
  }

  /** Spaces, comments and backslash continuations; line breaks too, but only inside brackets. */
  #skipSpace(): void {
    const text = this.#text;
    for (;;) {
      const c = text[this.#pos];
      if (c === ' ' || c === '\t' || c === '\f') this.#pos++;
      else if ((c === '\n' || c === '\r') && this.#depth > 0) this.#pos++;
      else if (c === '#') while (this.#pos < text.length && text[this.#pos] !== '\n' && text[this.#pos] !== '\r') this.#pos++;
      else if (c === '\\' && (text[this.#pos + 1] === '\n' || text[this.#pos + 1] === '\r')) {
        const at = this.#pos;
        this.#pos += text.startsWith('\r\n', at + 1) ? 3 : 2;
        if (this.#pos >= text.length) throw new Refusal(at, "expected a line after the '\\' that continues this one, got end of text");
      } else return;
    }
  }

  #value(): Literal {
    this.#skipSpace();
    const text = this.#text;
    const at = this.#pos;
    const c = text[at];
    if (c === undefined) throw new Refusal(at, 'expected a value, got end of text');
    if (c === '[') return this.#list();
    if (c === '(') return this.#parenthesised();
    if (c === '{') return this.#dict();
    if (c === "'" || c === '"') return this.#strings();
    if (isDigit(c) || (c === '.' && isDigit(text[at + 1]))) return this.#number(at, '');
    if (c === '-' || c === '+') {
      // A signed number is a literal to Python's ast.literal_eval too; any other operand makes it an expression.
      this.#pos++;
      this.#skipSpace();
      const d = text[this.#pos];
      if (isDigit(d) || (d === '.' && isDigit(text[this.#pos + 1]))) return this.#number(at, c);
      throw new Refusal(at, `${NOT_LITERAL}: '${c}' is an operator`);
    }
    if (this.#peekWord() !== null) return this.#word();
    return this.#unexpected('expected a value');
  }

  #peekWord(): string | null {
    WORD.lastIndex = this.#pos;
    return WORD.exec(this.#text)?.[0] ?? null;
  }

  #word(): Literal {
    const at = this.#pos;
    const word = this.#peekWord()!;
    const next = this.#text[at + word.length];
    if ((next === "'" || next === '"') && STRING_PREFIX.test(word)) return this.#strings();
    this.#pos += word.length;
    if (word === 'True' || word === 'False') return { kind: 'bool', at, value: word === 'True' };
    if (word === 'None') return { kind: 'none', at };
    if (word === 'lambda') throw new Refusal(at, `${NOT_LITERAL}: lambda is code`);
    if (KEYWORDS.has(word)) throw new Refusal(at, `${NOT_LITERAL}: '${word}' is a Python keyword`);
    this.#skipSpace();
    const after = this.#text[this.#pos];
    if (after === '(') throw new Refusal(at, `${NOT_LITERAL}: ${word}(...) is a function call`);
    if (after === '.') {
      this.#pos++;
      this.#skipSpace();
      throw new Refusal(at, `${NOT_LITERAL}: ${word}.${this.#peekWord() ?? ''} is attribute access`);
    }
    if (after === '[') throw new Refusal(at, `${NOT_LITERAL}: ${word}[...] is a subscription`);
    throw new Refusal(at, `${NOT_LITERAL}: ${word} is a name (a string needs quotes)`);
  }

  #number(at: number, sign: string): Literal {
    NUMBER.lastIndex = this.#pos;
    const digits = NUMBER.exec(this.#text)![0];
    this.#pos += digits.length;
    if (this.#peekWord() !== null) throw new Refusal(at, `expected a number, got ${sign}${digits}${this.#peekWord()}`);
    return { kind: 'number', at, text: sign + digits };
  }

  /** Adjacent string literals, joined as Python joins them. */
  #strings(): Literal {
    const at = this.#pos;
    let value = '';
    let pieces = 0;
    let verbatimAt: number | null = null;
    for (;;) {
      const start = this.#pos;
      const prefix = this.#peekWord() ?? '';
      const quote = this.#text[start + prefix.length];
      if ((quote !== "'" && quote !== '"') || (prefix !== '' && !STRING_PREFIX.test(prefix))) break;
      const lower = prefix.toLowerCase();
      if (lower.includes('f')) throw new Refusal(start, `${NOT_LITERAL}: an f-string is code`);
      if (lower.includes('b')) throw new Refusal(start, 'expected a text string, got a bytes literal');
      this.#pos = start + prefix.length;
      const piece = this.#stringBody(start, lower.includes('r'));
      verbatimAt = pieces === 0 && piece.verbatim ? piece.contentAt : null;
      value += piece.value;
      pieces++;
      const end = this.#pos;
      this.#skipSpace();
      const more = this.#peekWord() ?? '';
      const nextQuote = this.#text[this.#pos + more.length];
      if ((nextQuote !== "'" && nextQuote !== '"') || (more !== '' && !STRING_PREFIX.test(more))) {
        this.#pos = end;
        break;
      }
      verbatimAt = null;
    }
    return { kind: 'str', at, value, verbatimAt };
  }

  /** One quoted body from the opening quote at the current position; `verbatim` when the value is the source text itself. */
  #stringBody(start: number, raw: boolean): { value: string; verbatim: boolean; contentAt: number } {
    const text = this.#text;
    const quote = text[this.#pos]!;
    const triple = text.startsWith(quote.repeat(3), this.#pos);
    this.#pos += triple ? 3 : 1;
    const contentAt = this.#pos;
    let value = '';
    for (;;) {
      const c = text[this.#pos];
      if (c === undefined || (!triple && (c === '\n' || c === '\r'))) {
        throw new Refusal(start, `expected ${triple ? quote.repeat(3) : quote} to close this string, got end of ${c === undefined ? 'text' : 'line'}`);
      }
      if (triple ? text.startsWith(quote.repeat(3), this.#pos) : c === quote) {
        const verbatim = value === text.slice(contentAt, this.#pos);
        this.#pos += triple ? 3 : 1;
        return { value, verbatim, contentAt };
      }
      if (c === '\r') {
        // Python reads map files in text mode: a CR LF or a lone CR inside a triple-quoted string is a LF.
        this.#pos += text[this.#pos + 1] === '\n' ? 2 : 1;
        value += '\n';
      } else if (c !== '\\') {
        value += c;
        this.#pos++;
      } else if (raw) {
        // A raw string keeps the backslash and the character after it, even a quote.
        const escaped = text[this.#pos + 1];
        if (escaped === undefined) throw new Refusal(start, `expected ${quote} to close this string, got end of text`);
        value += c + escaped;
        this.#pos += 2;
      } else {
        value += this.#escape(start, quote);
      }
    }
  }

  #escape(start: number, quote: string): string {
    const text = this.#text;
    const at = this.#pos;
    const e = text[at + 1];
    if (e === undefined) throw new Refusal(start, `expected ${quote} to close this string, got end of text`);
    this.#pos += 2;
    if (e === '\n') return '';
    if (e === '\r') {
      if (text[this.#pos] === '\n') this.#pos++;
      return '';
    }
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) return simple;
    if (e >= '0' && e <= '7') {
      let digits = e;
      while (digits.length < 3 && text[this.#pos]! >= '0' && text[this.#pos]! <= '7') digits += text[this.#pos++];
      return String.fromCodePoint(parseInt(digits, 8));
    }
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (width > 0) {
      const hex = text.slice(this.#pos, this.#pos + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) {
        const found = hex.match(/^[0-9a-fA-F]*.?/)![0];
        throw new Refusal(at, `expected ${width} hex digits after \\${e}, got ${found === '' ? 'end of text' : describeText(found)}`);
      }
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) throw new Refusal(at, `expected a Unicode code point after \\U, got \\U${hex}`);
      this.#pos += width;
      return String.fromCodePoint(code);
    }
    if (e === 'N') throw new Refusal(at, 'expected no \\N{...} escape (not supported here): write the character itself');
    // Python keeps an unknown escape as it stands, backslash included.
    return `\\${e}`;
  }

  #enter(at: number): void {
    if (++this.#depth > MAX_DEPTH) throw new Refusal(at, `expected at most ${MAX_DEPTH} nested brackets`);
  }

  #list(): Literal {
    const at = this.#pos;
    this.#enter(at);
    this.#pos++;
    const items = this.#items(at, ']', 'list', []);
    this.#depth--;
    return { kind: 'list', at, items };
  }

  /** `(...)`: a tuple when empty or when it has a comma, otherwise just the value in it. */
  #parenthesised(): Literal {
    const at = this.#pos;
    this.#enter(at);
    this.#pos++;
    this.#skipSpace();
    let result: Literal;
    if (this.#text[this.#pos] === ')') {
      this.#pos++;
      result = { kind: 'tuple', at, items: [] };
    } else {
      const first = this.#value();
      this.#skipSpace();
      const c = this.#text[this.#pos];
      if (c === ')') {
        this.#pos++;
        result = first;
      } else if (c === ',') {
        this.#pos++;
        result = { kind: 'tuple', at, items: this.#items(at, ')', 'tuple', [first]) };
      } else {
        this.#closeOrRefuse(at, ')', 'tuple', "expected ',' or ')' after a tuple item");
        throw new Error('unreachable');
      }
    }
    this.#depth--;
    return result;
  }

  /** The items up to `close`; the opening bracket (at `at`) and any items already read are behind. */
  #items(at: number, close: string, kind: string, items: Literal[]): Literal[] {
    for (;;) {
      this.#skipSpace();
      if (this.#text[this.#pos] === close) break;
      this.#closeOrRefuse(at, close, kind, null);
      items.push(this.#value());
      this.#skipSpace();
      const c = this.#text[this.#pos];
      if (c === close) break;
      if (c === ',') {
        this.#pos++;
        continue;
      }
      this.#closeOrRefuse(at, close, kind, `expected ',' or '${close}' after a ${kind} item`);
    }
    this.#pos++;
    return items;
  }

  /** At end of text inside brackets, names the bracket left open; otherwise refuses what stands here, if `expected` is given. */
  #closeOrRefuse(at: number, close: string, kind: string, expected: string | null): void {
    if (this.#pos >= this.#text.length) throw new Refusal(at, `expected '${close}' to close this ${kind}, got end of text`);
    if (expected !== null) this.#afterValue(expected);
  }

  #dict(): Literal {
    const at = this.#pos;
    this.#enter(at);
    this.#pos++;
    const entries: DictEntry[] = [];
    for (;;) {
      this.#skipSpace();
      if (this.#text[this.#pos] === '}') break;
      this.#closeOrRefuse(at, '}', 'dict', null);
      const key = this.#value();
      this.#skipSpace();
      if (this.#text[this.#pos] !== ':') this.#closeOrRefuse(at, '}', 'dict', "expected ':' after a dict key");
      if (key.kind !== 'str') throw new Refusal(key.at, `expected a string as dict key, got ${describe(key)}`);
      this.#pos++;
      entries.push({ key: key.value, keyAt: key.at, value: this.#value() });
      this.#skipSpace();
      const c = this.#text[this.#pos];
      if (c === '}') break;
      if (c === ',') {
        this.#pos++;
        continue;
      }
      this.#closeOrRefuse(at, '}', 'dict', "expected ',' or '}' after a dict value");
    }
    this.#pos++;
    this.#depth--;
    return { kind: 'dict', at, entries };
  }

  /** Refuses what follows a value where `expected` was due, naming code (operators, attribute access) as code. */
  #afterValue(expected: string): never {
    const at = this.#pos;
    const c = this.#text[at];
    if (c === '.') throw new Refusal(at, `${NOT_LITERAL}: '.' is attribute access`);
    OPERATOR.lastIndex = at;
    const operator = OPERATOR.exec(this.#text)?.[0];
    if (operator !== undefined && operator !== ':') throw new Refusal(at, `${NOT_LITERAL}: '${operator}' is an operator`);
    const word = this.#peekWord();
    if (word !== null && (KEYWORDS.has(word) || word === 'lambda')) throw new Refusal(at, `${NOT_LITERAL}: '${word}' is a Python keyword`);
    return this.#unexpected(expected);
  }

  #unexpected(expected: string): never {
    const at = this.#pos;
    const c = this.#text[at];
    if (c === undefined) throw new Refusal(at, `${expected}, got end of text`);
    OPERATOR.lastIndex = at;
    const operator = OPERATOR.exec(this.#text)?.[0];
    if (operator !== undefined && operator !== ':') throw new Refusal(at, `${NOT_LITERAL}: '${operator}' is an operator`);
    const found = this.#peekWord() ?? String.fromCodePoint(this.#text.codePointAt(at)!);
    throw new Refusal(at, `${expected}, got ${describeText(found)}`);
  }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** A literal as a message shows it: strings and scalars as Python writes them, containers by kind. */
function describe(literal: Literal): string {
  switch (literal.kind) {
    case 'str': return describeText(literal.value);
    case 'number': return literal.text;
    case 'bool': return literal.value ? 'True' : 'False';
    case 'none': return 'None';
    case 'dict': return 'a dict';
    default: return `a ${literal.kind}`;
  }
}

/** Text quoted as Python's repr quotes it (so a message stays one line), cut short when long. */
function describeText(text: string): string {
  const chars = [...text];
  return chars.length > 60 ? `${pythonRepr(chars.slice(0, 57).join(''))}...` : pythonRepr(text);
}

/** 1-based line and column (in characters) of `offset`; CR LF, CR and LF each end a line, as in Python's text mode. */
function locate(text: string, offset: number, source: string): { source: string; line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text[i];
    if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) {
      line++;
      lineStart = i + 1;
    }
  }
  return { source, line, column: [...text.slice(lineStart, offset)].length + 1 };
}

// ---------------------------------------------------------------------------------------------
// Python's repr, as LOFAR's save writes it

const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python 3's repr of a str: the quote it picks, its escapes, printable Unicode left as it is. */
function pythonRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f || !UNPRINTABLE.test(ch)) out += ch;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + quote;
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

// LOFAR writes '%s' with no escaping; these are the characters that would make that text mean something else.
const UNSAFE_IN_QUOTES = /[\\'\n\r\0]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `'text'` as LOFAR's `'%s'` writes it, with the escapes LOFAR leaves out where they are needed to read it back. */
function quoted(text: string): string {
  return `'${text.replace(UNSAFE_IN_QUOTES, (c) => (c === '\\' || c === "'" ? `\\${c}` : c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${hex(c.charCodeAt(0), 4)}`))}'`;
}

function pythonBool(value: boolean): string {
  return value ? 'True' : 'False';
}

function singleRepr(product: DataProduct): string {
  return `{'host': ${quoted(product.host)}, 'file': ${quoted(product.file)}, 'skip': ${pythonBool(product.skip)}}`;
}

/** LOFAR's MultiDataProduct repr: two spaces after host, `file` as the str() of a Python list inside double quotes, `'file_skip' :`. */
function multiRepr(product: MultiDataProduct): string {
  const files = `[${product.file.map(pythonRepr).join(', ')}]`;
  // LOFAR puts the list's text in "..." as it is; escaping \ and " keeps paths that hold them readable.
  const file = `"${files.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return `{'host': ${quoted(product.host)},  'skip': ${pythonBool(product.skip)}, 'file': ${file}, 'file_skip' : [${product.file_skip.map(pythonBool).join(', ')}]}`;
}

// ---------------------------------------------------------------------------------------------
// From literals to data products, with LOFAR's rules

/** The fields of one entry by name, from a dict (by key) or a tuple (by position, LOFAR's `dtype(*item)`). */
function fieldsOf(item: Extract<Literal, { kind: 'dict' | 'tuple' }>, names: readonly string[], tupleHint: string): Map<string, Literal> {
  const fields = new Map<string, Literal>();
  if (item.kind === 'tuple') {
    if (item.items.length < 2 || item.items.length > names.length) {
      throw new Refusal(item.at, `expected a ${tupleHint} tuple, got a tuple of ${item.items.length}`);
    }
    item.items.forEach((value, i) => fields.set(names[i]!, value));
    return fields;
  }
  for (const { key, keyAt, value } of item.entries) {
    if (!names.includes(key)) throw new Refusal(keyAt, `expected one of ${names.map((name) => `"${name}"`).join(', ')} as key, got ${describeText(key)}`);
    if (fields.has(key)) throw new Refusal(keyAt, `expected "${key}" once, got it again`);
    fields.set(key, value);
  }
  for (const name of ['host', 'file']) {
    if (!fields.has(name)) throw new Refusal(item.at, `expected a "${name}" key in this data product`);
  }
  return fields;
}

/** The entries of a map: a list (or tuple) of all dicts or all tuples, as LOFAR's `_set_data` takes them. */
function entriesOf<T>(root: Literal, names: readonly string[], tupleHint: string, build: (fields: Map<string, Literal>) => T): T[] {
  if (root.kind !== 'list' && root.kind !== 'tuple') throw new Refusal(root.at, `expected a list of data products, got ${describe(root)}`);
  const first = root.items[0]?.kind;
  return root.items.map((item) => {
    if (item.kind !== 'dict' && item.kind !== 'tuple') {
      throw new Refusal(item.at, `expected a data product, a dict {'host': ..., 'file': ...} or a ${tupleHint} tuple, got ${describe(item)}`);
    }
    if (item.kind !== first) throw new Refusal(item.at, `expected a ${first} like the first data product (all dicts or all tuples), got a ${item.kind}`);
    return build(fieldsOf(item, names, tupleHint));
  });
}

function stringField(fields: Map<string, Literal>, name: string): string {
  const value = fields.get(name)!;
  if (value.kind !== 'str') throw new Refusal(value.at, `expected a string for "${name}", got ${describe(value)}`);
  return value.value;
}

/** `skip`: True or False; LOFAR's default, when it is left out, is True. */
function skipField(fields: Map<string, Literal>): boolean {
  const value = fields.get('skip');
  if (value === undefined) return true;
  if (value.kind !== 'bool') throw new Refusal(value.at, `expected True or False for "skip", got ${describe(value)}`);
  return value.value;
}

function singleProduct(fields: Map<string, Literal>): DataProduct {
  return { host: stringField(fields, 'host'), file: stringField(fields, 'file'), skip: skipField(fields) };
}

/** A MultiDataProduct's `file`: a list of names, or (as LOFAR writes it) a string holding one, which LOFAR evals. */
function fileList(value: Literal): string[] {
  let list: Literal = value;
  let at = (offset: number) => offset;
  if (value.kind === 'str') {
    const base = value.verbatimAt;
    // Positions inside the string map back to the file only when the string is its own source text.
    at = (offset) => (base === null ? value.at : base + offset);
    try {
      list = new LiteralReader(value.value).document('a list of file names');
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      if (!value.value.trimStart().startsWith('[')) throw new Refusal(value.at, `expected a list of file names for "file" (or a string holding one), got ${describe(value)}`);
      throw new Refusal(at(error.offset), `in "file": ${error.message}`);
    }
  }
  if (list.kind !== 'list') throw new Refusal(at(list.at), `expected a list of file names for "file" (or a string holding one), got ${describe(list)}`);
  return list.items.map((item) => {
    if (item.kind !== 'str') throw new Refusal(at(item.at), `expected a string as file name in "file", got ${describe(item)}`);
    return item.value;
  });
}

function multiProduct(fields: Map<string, Literal>): MultiDataProduct {
  const host = stringField(fields, 'host');
  const file = fileList(fields.get('file')!);
  const skip = skipField(fields);
  const flags = fields.get('file_skip');
  // LOFAR: no file_skip (or None) gives every file the entry's own skip.
  if (flags === undefined || flags.kind === 'none') return { host, file, skip, file_skip: file.map(() => skip) };
  if (flags.kind !== 'list' && flags.kind !== 'tuple') throw new Refusal(flags.at, `expected a list of True/False for "file_skip", got ${describe(flags)}`);
  const file_skip = flags.items.map((flag) => {
    if (flag.kind !== 'bool') throw new Refusal(flag.at, `expected True or False in "file_skip", got ${describe(flag)}`);
    return flag.value;
  });
  if (file_skip.length !== file.length) {
    throw new Refusal(flags.at, `expected ${file.length} flags in "file_skip", one per file, got ${file_skip.length}`);
  }
  return { host, file, skip, file_skip };
}

function parseEntries<T>(text: string, source: string, names: readonly string[], tupleHint: string, build: (fields: Map<string, Literal>) => T): T[] {
  try {
    return entriesOf(new LiteralReader(text).document('a data map (a list of data products)'), names, tupleHint, build);
  } catch (error) {
    if (error instanceof Refusal) throw new DataMapError(error.message, locate(text, error.offset, source));
    throw error;
  }
}

function readMapFile(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new DataMapError(`${path}: cannot read the data map: ${(error as Error).message}`, undefined, { cause: error });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new DataMapError(`${path}: expected UTF-8 text in the data map`, undefined, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------
// The maps

/**
 * What both maps are: their entries in order, iteration over those that are not skipped (LOFAR's
 * `DataMap.SkipIterator`, which its recipes switch to; LOFAR's default iterator, every entry, is
 * `entries`), `length` counting every entry as LOFAR's len, and the text LOFAR's `save` writes.
 */
abstract class ProductMap<P extends { host: string; skip: boolean }> implements Iterable<P> {
  readonly #entries: P[];
  readonly #repr: (product: P) => string;

  protected constructor(entries: P[], repr: (product: P) => string) {
    this.#entries = entries;
    this.#repr = repr;
  }

  get entries(): readonly P[] {
    return this.#entries;
  }

  get length(): number {
    return this.#entries.length;
  }

  *[Symbol.iterator](): Iterator<P> {
    for (const entry of this.#entries) if (!entry.skip) yield entry;
  }

  /** The text LOFAR's `save` writes, byte for byte (no final newline), escaping only what LOFAR's own load would misread. */
  toString(): string {
    return `[${this.#entries.map(this.#repr).join(', ')}]`;
  }

  save(path: string): void {
    writeFileSync(path, this.toString(), 'utf8');
  }
}

/** LOFAR's DataMap: per entry a host and a file. */
export class DataMap extends ProductMap<DataProduct> {
  constructor(entries: Iterable<DataProduct> = []) {
    super([...entries].map(({ host, file, skip }) => ({ host, file, skip })), singleRepr);
  }

  /** Reads map-file text; `source` names it in error messages. Missing `skip` (and the old `(host, file)` form) is True, as in LOFAR. */
  static parse(text: string, source: string): DataMap {
    return new DataMap(parseEntries(text, source, ['host', 'file', 'skip'], '(host, file) or (host, file, skip)', singleProduct));
  }

  static load(path: string): DataMap {
    return DataMap.parse(readMapFile(path), path);
  }
}

/** LOFAR's MultiDataMap: per host a list of files, skippable as a whole and one by one. */
export class MultiDataMap extends ProductMap<MultiDataProduct> {
  constructor(entries: Iterable<MultiDataProduct> = []) {
    super([...entries].map(({ host, file, skip, file_skip }, index) => {
      if (file_skip.length !== file.length) {
        throw new DataMapError(`data product ${index + 1} (host ${host}): expected ${file.length} flags in file_skip, one per file, got ${file_skip.length}`);
      }
      return { host, file: [...file], skip, file_skip: [...file_skip] };
    }), multiRepr);
  }

  /** Reads map-file text; `source` names it in error messages. Missing `file_skip` gives every file the entry's `skip`, as in LOFAR. */
  static parse(text: string, source: string): MultiDataMap {
    return new MultiDataMap(parseEntries(text, source, ['host', 'file', 'skip', 'file_skip'], '(host, file[, skip[, file_skip]])', multiProduct));
  }

  static load(path: string): MultiDataMap {
    return MultiDataMap.parse(readMapFile(path), path);
  }
}

/** LOFAR's validate_data_maps: true when all maps have the same length and, index by index, the same host. */
export function validateDataMaps(...maps: ReadonlyArray<DataMap | MultiDataMap>): boolean {
  if (maps.length === 0) return false;
  const length = maps[0]!.length;
  if (maps.some((map) => map.length !== length)) return false;
  for (let i = 0; i < length; i++) {
    const host = maps[0]!.entries[i]!.host;
    if (maps.some((map) => map.entries[i]!.host !== host)) return false;
  }
  return true;
}

/** LOFAR's align_data_maps: an index skipped in any map is skipped in all (only `skip`, not `file_skip`); needs two or more valid maps. */
export function alignDataMaps(...maps: ReadonlyArray<DataMap | MultiDataMap>): void {
  if (maps.length < 2) throw new DataMapError('at least two data maps are needed to align them');
  if (!validateDataMaps(...maps)) throw new DataMapError('cannot align data maps of different lengths or with different hosts at the same index');
  for (let i = 0; i < maps[0]!.length; i++) {
    const skip = maps.some((map) => map.entries[i]!.skip);
    for (const map of maps) map.entries[i]!.skip = skip;
  }
}

/**
 * LOFAR data maps: fixtures written and read by LOFAR's own data_map.py (test/fixtures/lofar/datamaps/README.md)
 * must read the same here and be written back byte for byte; anything that is not a data map literal is refused.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../../support/errors.js';
import {
  alignDataMaps, DataMap, DataMapError, MultiDataMap, validateDataMaps, type DataProduct, type MultiDataProduct,
} from '../../../support/lofar/data-map.js';

const fixtures = fileURLToPath(new URL('../../fixtures/lofar/datamaps/', import.meta.url));
const fixture = (name: string): string => readFileSync(join(fixtures, name), 'utf8');
const lofarRead = <T>(name: string): T[] => JSON.parse(fixture(name)) as T[];

function refusal(parse: () => unknown): DataMapError {
  try {
    parse();
  } catch (error) {
    expect(error).to.be.instanceOf(DataMapError);
    return error as DataMapError;
  }
  throw new Error('expected a DataMapError');
}

describe('support/lofar/data-map', () => {
  describe('files written by LOFAR', () => {
    for (const name of ['single', 'unicode', 'lofar-backslash', 'escaped', 'python-literal', 'old-form', 'old-form.saved']) {
      it(`${name}.mapfile reads as LOFAR's DataMap.load read it`, () => {
        const map = DataMap.parse(fixture(`${name}.mapfile`), `${name}.mapfile`);
        expect(map.entries).to.deep.equal(lofarRead<DataProduct>(`${name.replace('.saved', '')}.lofar.json`));
      });
    }
    for (const name of ['multi', 'multi-escaped', 'multi-literal', 'multi-old-form', 'multi-old-form.saved']) {
      it(`${name}.mapfile reads as LOFAR's MultiDataMap.load read it`, () => {
        const map = MultiDataMap.parse(fixture(`${name}.mapfile`), `${name}.mapfile`);
        expect(map.entries).to.deep.equal(lofarRead<MultiDataProduct>(`${name.replace('.saved', '')}.lofar.json`));
      });
    }

    for (const name of ['single', 'unicode', 'escaped', 'old-form.saved']) {
      it(`writes ${name}.mapfile back byte for byte`, () => {
        const text = fixture(`${name}.mapfile`);
        expect(DataMap.parse(text, name).toString()).to.equal(text);
      });
    }
    for (const name of ['multi', 'multi-escaped', 'multi-old-form.saved']) {
      it(`writes ${name}.mapfile back byte for byte`, () => {
        const text = fixture(`${name}.mapfile`);
        expect(MultiDataMap.parse(text, name).toString()).to.equal(text);
      });
    }

    it('writes, from products built here, the text LOFAR\'s save wrote for the same products', () => {
      expect(new DataMap(lofarRead<DataProduct>('single.lofar.json')).toString()).to.equal(fixture('single.mapfile'));
      expect(new DataMap(lofarRead<DataProduct>('unicode.lofar.json')).toString()).to.equal(fixture('unicode.mapfile'));
      expect(new MultiDataMap(lofarRead<MultiDataProduct>('multi.lofar.json')).toString()).to.equal(fixture('multi.mapfile'));
      // The old form comes back in the new form, as LOFAR saves it.
      expect(DataMap.parse(fixture('old-form.mapfile'), 'old').toString()).to.equal(fixture('old-form.saved.mapfile'));
      expect(MultiDataMap.parse(fixture('multi-old-form.mapfile'), 'old').toString()).to.equal(fixture('multi-old-form.saved.mapfile'));
    });

    it('escapes what LOFAR\'s save leaves raw, in the form its load reads back (escaped.mapfile)', () => {
      const products = lofarRead<DataProduct>('escaped.lofar.json');
      expect(products[0]!.file).to.equal("/data/it's.MS");
      expect(new DataMap(products).toString()).to.equal(fixture('escaped.mapfile'));
      expect(new MultiDataMap(lofarRead<MultiDataProduct>('multi-escaped.lofar.json')).toString()).to.equal(fixture('multi-escaped.mapfile'));
    });

    it('refuses the text LOFAR\'s save writes for a path with a quote, which LOFAR\'s load cannot read either', () => {
      const error = refusal(() => DataMap.load(join(fixtures, 'lofar-quote-bug.mapfile')));
      expect(error.message).to.equal(`${join(fixtures, 'lofar-quote-bug.mapfile')}:1:41: expected ',' or '}' after a dict value, got 's'`);
    });

    it('saves and loads through a file', () => {
      const dir = mkdtempSync(join(tmpdir(), 'data-map-test-'));
      try {
        const map = DataMap.parse(fixture('unicode.mapfile'), 'unicode');
        map.save(join(dir, 'out.mapfile'));
        expect(readFileSync(join(dir, 'out.mapfile'))).to.deep.equal(readFileSync(join(fixtures, 'unicode.mapfile')));
        expect(DataMap.load(join(dir, 'out.mapfile')).entries).to.deep.equal(map.entries);
        const multi = MultiDataMap.load(join(fixtures, 'multi.mapfile'));
        multi.save(join(dir, 'multi.mapfile'));
        expect(readFileSync(join(dir, 'multi.mapfile'), 'utf8')).to.equal(fixture('multi.mapfile'));
        writeFileSync(join(dir, 'latin1.mapfile'), Buffer.from([0x5b, 0xe9, 0x5d]));
        expect(refusal(() => DataMap.load(join(dir, 'latin1.mapfile'))).message).to.equal(`${join(dir, 'latin1.mapfile')}: expected UTF-8 text in the data map`);
        expect(refusal(() => DataMap.load(join(dir, 'missing.mapfile'))).message).to.match(/missing\.mapfile: cannot read the data map: ENOENT/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the old and the multi form', () => {
    it('reads (host, file) tuples with LOFAR\'s default skip, True, and (host, file, skip)', () => {
      const map = DataMap.parse("[('locus001', '/data/a.MS'), ('locus002', '/data/b.MS', False),]", 'old');
      expect(map.entries).to.deep.equal([
        { host: 'locus001', file: '/data/a.MS', skip: true },
        { host: 'locus002', file: '/data/b.MS', skip: false },
      ]);
      expect(map.length).to.equal(2);
      expect([...map]).to.deep.equal([{ host: 'locus002', file: '/data/b.MS', skip: false }]);
    });

    it('reads a dict without skip as skipped, as LOFAR\'s DataProduct(skip=True) does', () => {
      expect(DataMap.parse("[{'host': 'h', 'file': 'f'}]", 'm').entries).to.deep.equal([{ host: 'h', file: 'f', skip: true }]);
    });

    it('reads multi products with file lists, file_skip defaulting to the product\'s skip', () => {
      const map = MultiDataMap.parse(`[
        {'host': 'locus001', 'file': ['/a.MS', '/b.MS'], 'skip': False, 'file_skip': [False, True]},
        {'host': 'locus002', 'file': "['/c.MS']", 'skip': False},
      ]`, 'multi');
      expect(map.entries).to.deep.equal([
        { host: 'locus001', file: ['/a.MS', '/b.MS'], skip: false, file_skip: [false, true] },
        { host: 'locus002', file: ['/c.MS'], skip: false, file_skip: [false] },
      ]);
      expect(MultiDataMap.parse("[('locus003', ['/d.MS', '/e.MS'])]", 'old').entries).to.deep.equal([
        { host: 'locus003', file: ['/d.MS', '/e.MS'], skip: true, file_skip: [true, true] },
      ]);
    });

    it('reads what Python\'s eval reads outside brackets: comment lines, a bare tuple, a trailing comma', () => {
      const map = DataMap.parse("# made by hand\n  \n('a', 'b', False), ('c', 'd')  , # two\n\n", 'bare');
      expect(map.entries).to.deep.equal([{ host: 'a', file: 'b', skip: false }, { host: 'c', file: 'd', skip: true }]);
      expect(DataMap.parse("  [('a', 'b')] # first line may be indented", 'm').length).to.equal(1);
    });

    it('reads an empty map, and writes it as []', () => {
      expect(DataMap.parse(' [ ] # nothing\n', 'empty').length).to.equal(0);
      expect(new DataMap().toString()).to.equal('[]');
      expect(new MultiDataMap().toString()).to.equal('[]');
    });

    it('refuses a MultiDataMap built with file_skip of the wrong length', () => {
      expect(() => new MultiDataMap([{ host: 'h', file: ['a', 'b'], skip: false, file_skip: [false] }])).to.throw(DataMapError, 'expected 2 flags in file_skip');
    });
  });

  describe('what is not a data map', () => {
    const cases: Array<[string, string, string]> = [
      ['unterminated string', "[{'host': 'locus001', 'file': '/data/a.MS}]", "1:31: expected ' to close this string, got end of text"],
      ['missing comma', "[{'host': 'a', 'file': 'b'}\n {'host': 'c', 'file': 'd'}]", "2:2: expected ',' or ']' after a list item, got '{'"],
      ['dict without host', "[{'file': '/data/a.MS', 'skip': False}]", '1:2: expected a "host" key in this data product'],
      ['host not a string', "[{'host': 12, 'file': 'b'}]", '1:11: expected a string for "host", got 12'],
      ['skip not a bool', "[{'host': 'a', 'file': 'b', 'skip': 1}]", '1:37: expected True or False for "skip", got 1'],
      ['skip a string', "[{'host': 'a', 'file': 'b', 'skip': 'yes'}]", "1:37: expected True or False for \"skip\", got 'yes'"],
      ['a dict, not a list', "{'host': 'a', 'file': 'b', 'skip': 'yes'}", '1:1: expected a list of data products, got a dict'],
      ['empty text', '', '1:1: expected a data map (a list of data products), got end of text'],
      ['only a comment', '# nothing\n', '2:1: expected a data map (a list of data products), got end of text'],
      ['trailing garbage', "[{'host': 'a', 'file': 'b'}] extra", "1:30: expected end of text after a data map (a list of data products), got 'extra'"],
      ['a function call', "[{'host': gethostname(), 'file': 'b'}]", '1:11: not a data map literal: gethostname(...) is a function call'],
      ['__import__', "__import__('os').system('x')", '1:1: not a data map literal: __import__(...) is a function call'],
      ['a bare name', "[{'host': locus001, 'file': 'b'}]", '1:11: not a data map literal: locus001 is a name (a string needs quotes)'],
      ['attribute access', "[{'host': os.environ, 'file': 'b'}]", '1:11: not a data map literal: os.environ is attribute access'],
      ['a method on a string', "[{'host': 'a'.upper(), 'file': 'b'}]", "1:14: not a data map literal: '.' is attribute access"],
      ['arithmetic', '1+1', "1:2: not a data map literal: '+' is an operator"],
      ['string arithmetic', "[{'host': 'a' + 'b', 'file': 'c'}]", "1:15: not a data map literal: '+' is an operator"],
      ['lambda', '(lambda: 1)()', '1:2: not a data map literal: lambda is code'],
      ['an f-string', "[{'host': f'{x}', 'file': 'b'}]", '1:11: not a data map literal: an f-string is code'],
      ['a comprehension', "[{'host': h, 'file': 'b'} for h in 'ab']", '1:11: not a data map literal: h is a name (a string needs quotes)'],
      ['a list as host', "[{'host': ['a'], 'file': 'b'}]", '1:11: expected a string for "host", got a list'],
      ['a bad escape', "[{'host': 'a\\x4g', 'file': 'b'}]", "1:13: expected 2 hex digits after \\x, got '4g'"],
      ['an unclosed bracket', "[{'host': 'a', 'file': 'b'},\n", "1:1: expected ']' to close this list, got end of text"],
      ['an unclosed dict', "[{'host': 'a', 'file': 'b'", "1:2: expected '}' to close this dict, got end of text"],
      ['a number', '42', '1:1: expected a list of data products, got 42'],
      ['an unknown key', "[{'host': 'a', 'file': 'b', 'files': 'c'}]", "1:29: expected one of \"host\", \"file\", \"skip\" as key, got 'files'"],
      ['a key twice', "[{'host': 'a', 'file': 'b', 'host': 'c'}]", '1:29: expected "host" once, got it again'],
      ['a non-string key', "[{1: 'a'}]", '1:3: expected a string as dict key, got 1'],
      ['a list entry', "[['a', 'b']]", "1:2: expected a data product, a dict {'host': ..., 'file': ...} or a (host, file) or (host, file, skip) tuple, got a list"],
      ['mixed entries', "[('a', 'b'), {'host': 'c', 'file': 'd'}]", '1:14: expected a tuple like the first data product (all dicts or all tuples), got a dict'],
      ['a short tuple', "[('a',)]", '1:2: expected a (host, file) or (host, file, skip) tuple, got a tuple of 1'],
      ['a bytes literal', "[{'host': b'a', 'file': 'b'}]", '1:11: expected a text string, got a bytes literal'],
      ['a set', "[{'a', 'b'}]", "1:6: expected ':' after a dict key, got ','"],
      ['a newline in a string', "[{'host': 'a\nb', 'file': 'c'}]", "1:11: expected ' to close this string, got end of line"],
      ['a second map on the next line', "[('a', 'b')]\n[('c', 'd')]", "2:1: expected end of text after a data map (a list of data products), got '['"],
      ['an indented map after a comment line', "# map\n  [('a', 'b')]", "2:3: expected a data map (a list of data products) at the start of its line, got indentation (Python's eval refuses it)"],
      ['a line continuation at the end', "[('a', 'b')] \\\n", "1:14: expected a line after the '\\' that continues this one, got end of text"],
      ['a walrus', "[(x := 'a', 'b')]", "1:3: not a data map literal: x is a name (a string needs quotes)"],
      ['a keyword', "[not True]", "1:2: not a data map literal: 'not' is a Python keyword"],
      ['a NUL character', "[('a\0', 'b')]", "1:5: expected no NUL character (Python's eval refuses text holding one; write \\x00 in a string)"],
      ['a unicode name escape', "[('\\N{EM DASH}', 'b')]", "1:4: expected no \\N{...} escape (not supported here): write the character itself"],
    ];
    for (const [what, text, expected] of cases) {
      it(`refuses ${what}`, () => {
        const error = refusal(() => DataMap.parse(text, 'maps/in.mapfile'));
        expect(error.message).to.equal(`maps/in.mapfile:${expected}`);
        expect(error.message).to.not.include('\n');
        expect(error).to.be.instanceOf(UsageError);
        expect(error.source).to.equal('maps/in.mapfile');
        expect(`${error.line}:${error.column}`).to.equal(expected.split(':').slice(0, 2).join(':'));
      });
    }

    const multiCases: Array<[string, string, string]> = [
      ['file_skip of the wrong length', "[{'host': 'a', 'file': ['x', 'y'], 'file_skip': [False]}]", '1:49: expected 2 flags in "file_skip", one per file, got 1'],
      ['a file_skip flag that is not a bool', "[{'host': 'a', 'file': ['x'], 'file_skip': [0]}]", '1:45: expected True or False in "file_skip", got 0'],
      ['a plain path as file', "[{'host': 'a', 'file': '/data/x.MS'}]", "1:24: expected a list of file names for \"file\" (or a string holding one), got '/data/x.MS'"],
      ['code in the file string', "[{'host': 'a', 'file': \"__import__('os').system('x')\"}]", "1:24: expected a list of file names for \"file\" (or a string holding one), got \"__import__('os').system('x')\""],
      ['a call inside the file list string', "[{'host': 'a', 'file': \"['x', open('y')]\"}]", '1:31: in "file": not a data map literal: open(...) is a function call'],
      ['a number in the file list', "[{'host': 'a', 'file': ['x', 2]}]", '1:30: expected a string as file name in "file", got 2'],
      ['a tuple as file list', "[{'host': 'a', 'file': ('x', 'y')}]", '1:24: expected a list of file names for "file" (or a string holding one), got a tuple'],
    ];
    for (const [what, text, expected] of multiCases) {
      it(`refuses, in a MultiDataMap, ${what}`, () => {
        expect(refusal(() => MultiDataMap.parse(text, 'multi.mapfile')).message).to.equal(`multi.mapfile:${expected}`);
      });
    }

    it('refuses file_skip in a plain DataMap, as LOFAR\'s DataProduct takes no such argument', () => {
      expect(refusal(() => DataMap.parse("[{'host': 'a', 'file': 'b', 'file_skip': []}]", 'm')).message).to.equal("m:1:29: expected one of \"host\", \"file\", \"skip\" as key, got 'file_skip'");
    });

    it('counts columns in characters and lines at CR LF, CR and LF', () => {
      expect(refusal(() => DataMap.parse("[\r\n{'host': 'ü', 'file': 1}]", 'm')).message).to.equal('m:2:23: expected a string for "file", got 1');
      expect(refusal(() => DataMap.parse("[\r\r{'host': '🛰', 'file': 1}]", 'm')).message).to.equal('m:3:23: expected a string for "file", got 1');
    });

    it('refuses brackets nested too deep instead of overflowing the stack', () => {
      expect(refusal(() => DataMap.parse('['.repeat(100_000), 'deep')).message).to.equal('deep:1:101: expected at most 100 nested brackets');
    });
  });

  describe('iteration, validate and align', () => {
    const make = (host: string[], skip: boolean[]): DataMap => new DataMap(host.map((h, i) => ({ host: h, file: `/data/${h}_${i}.MS`, skip: skip[i]! })));

    it('iterates over the entries that are not skipped; entries and length hold them all', () => {
      const map = DataMap.load(join(fixtures, 'single.mapfile'));
      expect(map.length).to.equal(4);
      expect(map.entries.map((entry) => entry.host)).to.deep.equal(['locus001', 'locus002', 'locus003', 'cbt001.control.lofar']);
      expect([...map].map((entry) => entry.host)).to.deep.equal(['locus001', 'locus003']);
      const multi = MultiDataMap.load(join(fixtures, 'multi.mapfile'));
      expect([...multi].map((entry) => entry.host)).to.deep.equal(['locus001', 'locus003', 'locus004']);
    });

    it('validates same length and same host at each index, across DataMap and MultiDataMap', () => {
      const a = make(['n1', 'n2'], [false, false]);
      expect(validateDataMaps(a)).to.equal(true);
      expect(validateDataMaps(a, make(['n1', 'n2'], [true, false]))).to.equal(true);
      expect(validateDataMaps(a, make(['n1'], [false]))).to.equal(false);
      expect(validateDataMaps(a, make(['n1', 'n3'], [false, false]))).to.equal(false);
      expect(validateDataMaps()).to.equal(false);
      const multi = new MultiDataMap([
        { host: 'n1', file: ['x'], skip: false, file_skip: [false] },
        { host: 'n2', file: [], skip: false, file_skip: [] },
      ]);
      expect(validateDataMaps(a, multi)).to.equal(true);
    });

    it('aligns: an index skipped in any map is skipped in all, file_skip untouched', () => {
      const a = make(['n1', 'n2', 'n3'], [true, false, false]);
      const b = make(['n1', 'n2', 'n3'], [false, false, true]);
      const multi = new MultiDataMap([
        { host: 'n1', file: ['x'], skip: false, file_skip: [false] },
        { host: 'n2', file: ['y'], skip: false, file_skip: [true] },
        { host: 'n3', file: ['z'], skip: false, file_skip: [false] },
      ]);
      alignDataMaps(a, b, multi);
      for (const map of [a, b, multi]) expect(map.entries.map((entry) => entry.skip)).to.deep.equal([true, false, true]);
      expect(multi.entries.map((entry) => entry.file_skip)).to.deep.equal([[false], [true], [false]]);
      expect([...a].map((entry) => entry.host)).to.deep.equal(['n2']);
    });

    it('refuses to align fewer than two maps or maps that do not validate', () => {
      const a = make(['n1'], [false]);
      expect(() => alignDataMaps(a)).to.throw(DataMapError, 'at least two data maps');
      expect(() => alignDataMaps(a, make(['n2'], [false]))).to.throw(DataMapError, 'different hosts');
    });

    it('copies the products it is built from', () => {
      const products = [{ host: 'n1', file: 'f', skip: false }];
      const map = new DataMap(products);
      products[0]!.skip = true;
      expect([...map]).to.have.length(1);
    });
  });
});

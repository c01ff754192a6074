import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InputError, UsageError } from '../../../support/errors.js';
import { field, flagName, resolveInputs, type Field } from '../../../support/recipe/fields.js';

/** Runs `fn`, expects an InputError with a one-line message, and returns it. */
function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(InputError);
    expect(err).to.be.instanceOf(UsageError);
    const e = err as InputError;
    expect(e.message, 'one-line message').not.to.include('\n');
    return e;
  }
  expect.fail('expected an InputError');
}

function parseError(spec: Field<unknown>, value: unknown, name: string): string {
  return inputError(() => spec.parse(value, name)).message;
}

describe('support/recipe/fields', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fields-test-'));
    writeFileSync(join(dir, 'data.txt'), 'x');
    mkdirSync(join(dir, 'sub'));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('flagName', () => {
    it('spells camelCase names as kebab-case flags', () => {
      expect(flagName('maxPerNode')).to.equal('--max-per-node');
      expect(flagName('jobs')).to.equal('--jobs');
      expect(flagName('max_per_node')).to.equal('--max-per-node'); // lofarpipe's spelling, as its --max-per-node
    });
  });

  describe('field descriptions', () => {
    it('exposes kind, help, expected form, default, optional and required', () => {
      const f = field.int({ help: 'how many jobs', default: 4 });
      expect(f.kind).to.equal('int');
      expect(f.help).to.equal('how many jobs');
      expect(f.expected).to.equal('an integer');
      expect(f.default).to.equal(4);
      expect(f.optional).to.equal(false);
      expect(f.required).to.equal(false);
    });

    it('is required when it has neither a default nor optional', () => {
      expect(field.string({ help: 'x' }).required).to.equal(true);
      expect(field.string({ help: 'x', optional: true }).required).to.equal(false);
      expect(field.string({ help: 'x', optional: true }).optional).to.equal(true);
      expect(field.string({ help: 'x', default: '' }).required).to.equal(false);
    });

    it('names the expected form of every kind', () => {
      expect(field.string({ help: '' }).expected).to.equal('a string');
      expect(field.float({ help: '' }).expected).to.equal('a number');
      expect(field.bool({ help: '' }).expected).to.equal('a boolean (true/false)');
      expect(field.list({ help: '' }).expected).to.equal('a list (a,b,c or a JSON array)');
      expect(field.dict({ help: '' }).expected).to.equal('a dictionary (k=v,k2=v2 or a JSON object)');
      expect(field.file({ help: '' }).expected).to.equal('an existing file or directory');
      expect(field.file({ help: '', mustExist: false }).expected).to.equal('a file or directory path');
      expect(field.directory({ help: '' }).expected).to.equal('an existing directory');
      expect(field.directory({ help: '', mustExist: false }).expected).to.equal('a directory path');
      expect(field.list({ help: '' }).kind).to.equal('list');
      expect(field.dict({ help: '' }).kind).to.equal('dict');
      expect(field.file({ help: '' }).kind).to.equal('file');
      expect(field.directory({ help: '' }).kind).to.equal('directory');
    });
  });

  describe('string', () => {
    const f = field.string({ help: 'what to say' });

    it('accepts text as given, including empty text and spaces', () => {
      expect(f.parse('hello world', 'message')).to.equal('hello world');
      expect(f.parse('', 'message')).to.equal('');
      expect(f.parse('  padded  ', 'message')).to.equal('  padded  ');
    });

    it('accepts a number from runTask as its text', () => {
      expect(f.parse(42, 'message')).to.equal('42');
    });

    it('rejects other values with a one-line message', () => {
      expect(parseError(f, true, 'message')).to.equal('input --message: expected a string, got true');
      expect(parseError(f, ['a'], 'message')).to.equal('input --message: expected a string, got ["a"]');
      expect(parseError(f, undefined, 'message')).to.equal('input --message: expected a string, got nothing');
    });

    it('records which input was wrong', () => {
      expect(inputError(() => f.parse(null, 'myMessage')).input).to.equal('myMessage');
    });
  });

  describe('int', () => {
    const f = field.int({ help: 'number of jobs' });

    it('accepts integers as numbers and as text', () => {
      expect(f.parse(3, 'jobs')).to.equal(3);
      expect(f.parse('3', 'jobs')).to.equal(3);
      expect(f.parse(' 42 ', 'jobs')).to.equal(42);
      expect(f.parse('-7', 'jobs')).to.equal(-7);
      expect(f.parse('+5', 'jobs')).to.equal(5);
      expect(f.parse('0', 'jobs')).to.equal(0);
    });

    it('rejects words with the exact message', () => {
      expect(parseError(f, 'three', 'jobs')).to.equal('input --jobs: expected an integer, got "three"');
    });

    it('rejects fractions, empty text, huge numbers and non-numbers', () => {
      expect(parseError(f, '2.5', 'jobs')).to.equal('input --jobs: expected an integer, got "2.5"');
      expect(parseError(f, 2.5, 'jobs')).to.equal('input --jobs: expected an integer, got 2.5');
      expect(parseError(f, '', 'jobs')).to.equal('input --jobs: expected an integer, got ""');
      expect(parseError(f, '1e3', 'jobs')).to.equal('input --jobs: expected an integer, got "1e3"');
      expect(parseError(f, '99999999999999999999', 'jobs')).to.equal('input --jobs: expected an integer, got "99999999999999999999"');
      expect(parseError(f, true, 'jobs')).to.equal('input --jobs: expected an integer, got true');
    });

    it('uses the kebab-case flag of a camelCase input in its message', () => {
      expect(parseError(f, 'many', 'maxPerNode')).to.equal('input --max-per-node: expected an integer, got "many"');
    });
  });

  describe('float', () => {
    const f = field.float({ help: 'seconds' });

    it('accepts numbers as numbers and as text', () => {
      expect(f.parse(2.5, 'seconds')).to.equal(2.5);
      expect(f.parse('2.5', 'seconds')).to.equal(2.5);
      expect(f.parse('-0.25', 'seconds')).to.equal(-0.25);
      expect(f.parse('1e3', 'seconds')).to.equal(1000);
      expect(f.parse('7', 'seconds')).to.equal(7);
      expect(f.parse(' 3.5 ', 'seconds')).to.equal(3.5);
    });

    it('rejects text that is not a finite number', () => {
      expect(parseError(f, 'fast', 'seconds')).to.equal('input --seconds: expected a number, got "fast"');
      expect(parseError(f, '', 'seconds')).to.equal('input --seconds: expected a number, got ""');
      expect(parseError(f, '   ', 'seconds')).to.equal('input --seconds: expected a number, got "   "');
      expect(parseError(f, 'Infinity', 'seconds')).to.equal('input --seconds: expected a number, got "Infinity"');
      expect(parseError(f, '1.5s', 'seconds')).to.equal('input --seconds: expected a number, got "1.5s"');
      expect(parseError(f, false, 'seconds')).to.equal('input --seconds: expected a number, got false');
    });
  });

  describe('bool', () => {
    const f = field.bool({ help: 'clobber' });

    it('accepts booleans and the usual words, any case', () => {
      expect(f.parse(true, 'clobber')).to.equal(true);
      expect(f.parse(false, 'clobber')).to.equal(false);
      for (const word of ['1', 'true', 'True', 'YES', 'on', ' yes ']) expect(f.parse(word, 'clobber'), word).to.equal(true);
      for (const word of ['0', 'false', 'FALSE', 'no', 'Off']) expect(f.parse(word, 'clobber'), word).to.equal(false);
    });

    it('takes "", None and null as false, as lofarpipe\'s BoolField does (tasks.cfg writes `skip_infile =`)', () => {
      for (const word of ['', '  ', 'None', 'none']) expect(f.parse(word, 'clobber'), JSON.stringify(word)).to.equal(false);
      expect(f.parse(null, 'clobber')).to.equal(false);
    });

    it('rejects anything else', () => {
      expect(parseError(f, 'maybe', 'clobber')).to.equal('input --clobber: expected a boolean (true/false), got "maybe"');
      expect(parseError(f, 1, 'clobber')).to.equal('input --clobber: expected a boolean (true/false), got 1');
    });
  });

  describe('list', () => {
    const f = field.list({ help: 'hosts' });

    it('splits comma-separated text and trims the items', () => {
      expect(f.parse('a,b,c', 'hosts')).to.deep.equal(['a', 'b', 'c']);
      expect(f.parse(' a , b ', 'hosts')).to.deep.equal(['a', 'b']);
      expect(f.parse('single', 'hosts')).to.deep.equal(['single']);
    });

    it('reads the lofarpipe form [a, b] without quotes', () => {
      expect(f.parse('[a, b]', 'hosts')).to.deep.equal(['a', 'b']);
      expect(f.parse('[lce001, lce002, lce003]', 'hosts')).to.deep.equal(['lce001', 'lce002', 'lce003']);
      expect(f.parse('[/data/a.MS, /data/b.MS]', 'hosts')).to.deep.equal(['/data/a.MS', '/data/b.MS']);
    });

    it('reads JSON arrays, keeping commas inside quoted items', () => {
      expect(f.parse('["a,b", "c"]', 'hosts')).to.deep.equal(['a,b', 'c']);
      expect(f.parse('["x"]', 'hosts')).to.deep.equal(['x']);
      expect(f.parse('[1, 2]', 'hosts')).to.deep.equal(['1', '2']);
    });

    it('gives an empty list for empty text and []', () => {
      expect(f.parse('', 'hosts')).to.deep.equal([]);
      expect(f.parse('[]', 'hosts')).to.deep.equal([]);
      expect(f.parse('[ ]', 'hosts')).to.deep.equal([]);
    });

    it('accepts arrays from runTask, as strings', () => {
      expect(f.parse(['a', 'b'], 'hosts')).to.deep.equal(['a', 'b']);
      expect(f.parse(['a', 1, { k: 2 }], 'hosts')).to.deep.equal(['a', '1', '{"k":2}']);
    });

    it('rejects values that are neither text nor arrays', () => {
      expect(parseError(f, 5, 'hosts')).to.equal('input --hosts: expected a list (a,b,c or a JSON array), got 5');
      expect(parseError(f, { a: 1 }, 'hosts')).to.equal('input --hosts: expected a list (a,b,c or a JSON array), got {"a":1}');
    });
  });

  describe('dict', () => {
    const f = field.dict({ help: 'settings' });

    it('reads k=v pairs', () => {
      expect(f.parse('a=1,b=two', 'settings')).to.deep.equal({ a: '1', b: 'two' });
      expect(f.parse(' a = 1 , b = x=y ', 'settings')).to.deep.equal({ a: '1', b: 'x=y' });
      expect(f.parse('', 'settings')).to.deep.equal({});
    });

    it('reads JSON objects, keeping their types', () => {
      expect(f.parse('{"a": 1, "b": [true, null]}', 'settings')).to.deep.equal({ a: 1, b: [true, null] });
    });

    it('accepts objects from runTask', () => {
      expect(f.parse({ x: 1 }, 'settings')).to.deep.equal({ x: 1 });
    });

    it('rejects pairs without a key or =, broken JSON, arrays and other values', () => {
      const expected = 'a dictionary (k=v,k2=v2 or a JSON object)';
      expect(parseError(f, 'novalue', 'settings')).to.equal(`input --settings: expected ${expected}, got "novalue"`);
      expect(parseError(f, '=1', 'settings')).to.equal(`input --settings: expected ${expected}, got "=1"`);
      expect(parseError(f, '{"a": 1', 'settings')).to.equal(`input --settings: expected ${expected}, got "{\\"a\\": 1"`);
      expect(parseError(f, '[1]', 'settings')).to.equal(`input --settings: expected ${expected}, got "[1]"`);
      expect(parseError(f, ['a=1'], 'settings')).to.equal(`input --settings: expected ${expected}, got ["a=1"]`);
      expect(parseError(f, 3, 'settings')).to.equal(`input --settings: expected ${expected}, got 3`);
      expect(parseError(f, null, 'settings')).to.equal(`input --settings: expected ${expected}, got null`);
    });
  });

  describe('file', () => {
    it('accepts an existing file and gives its absolute path', () => {
      const f = field.file({ help: 'input' });
      expect(f.parse(join(dir, 'data.txt'), 'input')).to.equal(join(dir, 'data.txt'));
      expect(f.parse(`${dir}/sub/../data.txt`, 'input')).to.equal(join(dir, 'data.txt'));
    });

    it('resolves relative paths against the current directory', () => {
      const f = field.file({ help: 'input', mustExist: false });
      expect(f.parse('some/file.txt', 'input')).to.equal(resolve(process.cwd(), 'some/file.txt'));
    });

    it('expands ~ to the home directory', () => {
      const f = field.file({ help: 'input', mustExist: false });
      expect(f.parse('~/x.txt', 'input')).to.equal(join(homedir(), 'x.txt'));
    });

    it('rejects a missing file, naming the path', () => {
      const f = field.file({ help: 'input' });
      const missing = join(dir, 'nope.txt');
      expect(parseError(f, missing, 'inputFile')).to.equal(`input --input-file: expected an existing file or directory, got "${missing} (no such file)"`);
    });

    it('accepts a directory, as lofarpipe\'s FileField does (a measurement set is one)', () => {
      const f = field.file({ help: 'input' });
      const sub = join(dir, 'sub');
      expect(f.parse(sub, 'input')).to.equal(sub);
    });

    it('with mustExist false, accepts a path that does not exist yet', () => {
      const f = field.file({ help: 'output', mustExist: false });
      expect(f.parse(join(dir, 'later.txt'), 'output')).to.equal(join(dir, 'later.txt'));
    });

    it('rejects an empty path and non-text', () => {
      const f = field.file({ help: 'input', mustExist: false });
      expect(parseError(f, '', 'input')).to.equal('input --input: expected a file or directory path, got ""');
      expect(parseError(f, 3, 'input')).to.equal('input --input: expected a file or directory path, got 3');
    });
  });

  describe('directory', () => {
    it('accepts an existing directory and gives its absolute path', () => {
      const f = field.directory({ help: 'where' });
      expect(f.parse(join(dir, 'sub'), 'where')).to.equal(join(dir, 'sub'));
      expect(f.parse(`${dir}/sub/`, 'where')).to.equal(join(dir, 'sub'));
    });

    it('rejects a missing directory and a file', () => {
      const f = field.directory({ help: 'where' });
      const missing = join(dir, 'nodir');
      expect(parseError(f, missing, 'workDir')).to.equal(`input --work-dir: expected an existing directory, got "${missing} (no such directory)"`);
      const file = join(dir, 'data.txt');
      expect(parseError(f, file, 'workDir')).to.equal(`input --work-dir: expected an existing directory, got "${file} (not a directory)"`);
    });

    it('with mustExist false, accepts a directory that does not exist yet', () => {
      const f = field.directory({ help: 'where', mustExist: false });
      expect(f.parse(join(dir, 'new', 'deeper'), 'where')).to.equal(join(dir, 'new', 'deeper'));
      expect(f.parse('~', 'where')).to.equal(homedir());
    });
  });

  describe('error messages', () => {
    it('shortens long values to 80 characters', () => {
      const f = field.int({ help: 'n' });
      const message = parseError(f, 'x'.repeat(200), 'n');
      const got = message.slice('input --n: expected an integer, got '.length);
      expect(got).to.have.length(80);
      expect(got).to.equal('"' + 'x'.repeat(76) + '...');
    });

    it('escapes newlines in values so the message stays on one line', () => {
      const f = field.int({ help: 'n' });
      expect(parseError(f, '1\n2', 'n')).to.equal('input --n: expected an integer, got "1\\n2"');
    });
  });

  describe('resolveInputs', () => {
    const fields = {
      message: field.string({ help: 'what to say' }),
      maxPerNode: field.int({ help: 'jobs per host', default: 2 }),
      hosts: field.list({ help: 'hosts to run on', default: ['localhost'] }),
      clobber: field.bool({ help: 'overwrite', default: false }),
      note: field.string({ help: 'a note', optional: true }),
    };

    it('parses the given values and fills defaults', () => {
      const inputs = resolveInputs(fields, { message: 'hi', maxPerNode: '5' });
      expect(inputs).to.deep.equal({ message: 'hi', maxPerNode: 5, hosts: ['localhost'], clobber: false, note: undefined });
    });

    it('leaves an optional input without default absent', () => {
      const inputs = resolveInputs(fields, { message: 'hi' });
      expect(inputs.note).to.equal(undefined);
      expect(resolveInputs(fields, { message: 'hi', note: 'n' }).note).to.equal('n');
    });

    it('treats an undefined value as not given', () => {
      expect(resolveInputs(fields, { message: 'hi', maxPerNode: undefined }).maxPerNode).to.equal(2);
    });

    it('checks defaults like given values (a default string is parsed)', () => {
      const inputs = resolveInputs({ n: field.int({ help: 'n', default: '7' as unknown as number }) }, {});
      expect(inputs.n).to.equal(7);
    });

    it('requires inputs without default, saying what they are', () => {
      const e = inputError(() => resolveInputs(fields, {}));
      expect(e.message).to.equal('input --message is required: what to say (a string)');
      expect(e.input).to.equal('message');
    });

    it('names a required camelCase input by its flag', () => {
      const e = inputError(() => resolveInputs({ outputDir: field.directory({ help: 'where results go' }) }, {}));
      expect(e.message).to.equal('input --output-dir is required: where results go (an existing directory)');
    });

    it('rejects unknown names, listing the recipe\'s inputs', () => {
      const e = inputError(() => resolveInputs(fields, { message: 'hi', colour: 'red' }));
      expect(e.message).to.equal("unknown input --colour; this recipe's inputs: --message, --max-per-node, --hosts, --clobber, --note");
      expect(e.input).to.equal('colour');
    });

    it('reports unknown kebab-case names as typed', () => {
      const e = inputError(() => resolveInputs(fields, { message: 'hi', 'max-per-host': '3' }));
      expect(e.message).to.equal("unknown input --max-per-host; this recipe's inputs: --message, --max-per-node, --hosts, --clobber, --note");
    });

    it('says "none" when the recipe takes no inputs', () => {
      const e = inputError(() => resolveInputs({}, { anything: '1' }));
      expect(e.message).to.equal("unknown input --anything; this recipe's inputs: none");
    });

    it('accepts --max-per-node for an input declared maxPerNode', () => {
      const inputs = resolveInputs(fields, { message: 'hi', 'max-per-node': '3' });
      expect(inputs.maxPerNode).to.equal(3);
      expect(inputs).not.to.have.property('max-per-node');
    });

    it('accepts --max-per-node and --max_per_node for an input declared max_per_node', () => {
      const snake = { max_per_node: field.int({ help: 'jobs per host' }) };
      expect(resolveInputs(snake, { 'max-per-node': '3' })).to.deep.equal({ max_per_node: 3 });
      expect(resolveInputs(snake, { max_per_node: '4' })).to.deep.equal({ max_per_node: 4 });
    });

    it('names a bad kebab-case value by its flag', () => {
      const e = inputError(() => resolveInputs(fields, { message: 'hi', 'max-per-node': 'three' }));
      expect(e.message).to.equal('input --max-per-node: expected an integer, got "three"');
      expect(e.input).to.equal('maxPerNode');
    });

    it('reports a bad value with the exact one-line message', () => {
      const e = inputError(() => resolveInputs({ jobs: field.int({ help: 'jobs' }) }, { jobs: 'three' }));
      expect(e.message).to.equal('input --jobs: expected an integer, got "three"');
    });

    it('parses every kind from command-line text', () => {
      const all = {
        s: field.string({ help: '' }),
        i: field.int({ help: '' }),
        f: field.float({ help: '' }),
        b: field.bool({ help: '' }),
        l: field.list({ help: '' }),
        d: field.dict({ help: '' }),
        file: field.file({ help: '' }),
        directory: field.directory({ help: '' }),
      };
      const inputs = resolveInputs(all, {
        s: 'text', i: '1', f: '1.5', b: 'yes', l: '[x, y]', d: 'k=v',
        file: join(dir, 'data.txt'), directory: join(dir, 'sub'),
      });
      expect(inputs).to.deep.equal({
        s: 'text', i: 1, f: 1.5, b: true, l: ['x', 'y'], d: { k: 'v' },
        file: join(dir, 'data.txt'), directory: join(dir, 'sub'),
      });
    });
  });

  describe('lofarpipe\'s other fields', () => {
    it('directory with create makes the directory and its parents, and says when it cannot', () => {
      const f = field.directory({ help: 'out', create: true });
      const made = join(dir, 'a', 'b', 'c');
      expect(f.parse(made, 'out')).to.equal(made);
      expect(statSync(made).isDirectory()).to.equal(true);
      writeFileSync(join(dir, 'plain'), '');
      expect(parseError(f, join(dir, 'plain', 'x'), 'out')).to.match(/^input --out: expected a directory \(made if missing\), got ".*plain\/x \(cannot be made: ENOTDIR\)"$/);
    });

    it('exec takes an executable path or a name on PATH and refuses what cannot be run', () => {
      const f = field.exec({ help: 'program' });
      expect(f.parse('sh', 'executable')).to.match(/\/sh$/);
      const script = join(dir, 'run.sh');
      writeFileSync(script, '#!/bin/sh\n', { mode: 0o644 });
      expect(parseError(f, script, 'executable')).to.equal(`input --executable: expected an executable (a path, or a name on PATH), got "${script} (not an executable file)"`);
      chmodSync(script, 0o755);
      expect(f.parse(script, 'executable')).to.equal(script);
      expect(parseError(f, 'no-such-program-here', 'executable')).to.equal('input --executable: expected an executable (a path, or a name on PATH), got "no-such-program-here (not found on PATH)"');
    });

    it('fileList takes a list of existing paths and names the first that is missing', () => {
      const f = field.fileList({ help: 'inputs' });
      const a = join(dir, 'sub');
      expect(f.parse(`[${a}, ${a}]`, 'inputs')).to.deep.equal([a, a]);
      expect(parseError(f, [a, join(dir, 'gone')], 'inputs')).to.equal(`input --inputs: expected a list of existing paths, got "${join(dir, 'gone')} (no such file or directory)"`);
    });
  });
});

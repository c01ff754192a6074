import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, UsageError } from '../../../support/errors.js';
import { IniFile, MAX_INTERPOLATION_DEPTH, parseBool, parseList } from '../../../support/config/ini.js';

/** Runs `fn`, expects a ConfigError, and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message, 'one-line message').not.to.include('\n');
    return e;
  }
  expect.fail('expected a ConfigError');
}

/** A lofarpipe pipeline.cfg as installed by CEP/Pipeline (pipeline.cfg.in with paths filled in). */
const PIPELINE_CFG = `[DEFAULT]
lofarroot = /opt/lofar
casaroot = /opt/casacore
pyraproot = /opt/pyrap
hdf5root = /usr
wcsroot = /opt/wcslib
pythonpath = /opt/lofar/lib/python3.6/site-packages
runtime_directory = /data/scratch/pipeline
recipe_directories = [%(pythonpath)s/lofarpipe/recipes]
working_directory = /data/scratch/lofarsys
task_files = [%(lofarroot)s/share/pipeline/tasks.cfg]

[layout]
job_directory = %(runtime_directory)s/jobs/%(job_name)s
parset_directory = %(job_directory)s/parsets

[cluster]
clusterdesc = %(lofarroot)s/share/local.clusterdesc

[deploy]
engine_ppath = %(pythonpath)s:%(pyraproot)s/lib:/opt/cep/pythonlibs/lib/python/site-packages
engine_lpath = %(lofarroot)s/lib:%(casaroot)s/lib:%(pyraproot)s/lib:%(hdf5root)s/lib:%(wcsroot)s/lib

[logging]
log_file = %(runtime_directory)s/jobs/%(job_name)s/logs/%(start_time)s/pipeline.log
xml_stat_file = %(runtime_directory)s/jobs/%(job_name)s/logs/%(start_time)s/statistics.xml
format = %%(asctime)s %%(levelname)-7s %%(name)s: %%(message)s

[remote]
method = ssh
max_per_node = 4
globalfs = yes

[feedback]
# Method of providing feedback to LOFAR.
# Valid options:
#    messagebus    Send feedback and status using LCS/MessageBus
#    none          Do NOT send feedback and status
method = none
`;

const TASKS_CFG = `[ndppp]
recipe = dppp
executable = %(lofarroot)s/bin/NDPPP
dry_run = False
mapfile = %(runtime_directory)s/%(job_name)s/mapfiles/dppp.mapfile
parset = %(runtime_directory)s/%(job_name)s/parsets/NDPPP.parset
nproc = 1
nthreads = 8
clobber = False

[vdsmaker]
recipe = vdsmaker
directory = %(runtime_directory)s/%(job_name)s/vds
gvds = %(runtime_directory)s/%(job_name)s/vds/%(job_name)s.gvds
makevds = %(lofarroot)s/bin/makevds
combinevds = %(lofarroot)s/bin/combinevds
`;

describe('IniFile', () => {
  describe('a lofarpipe pipeline.cfg', () => {
    const cfg = IniFile.parse(PIPELINE_CFG, '/etc/pipeline.cfg');
    const vars = { job_name: 'L123456_calibrator', start_time: '2024-01-02T03:04:05' };

    it('lists the sections in file order, without DEFAULT', () => {
      expect(cfg.sections()).to.deep.equal(['layout', 'cluster', 'deploy', 'logging', 'remote', 'feedback']);
      expect(cfg.hasSection('layout')).to.equal(true);
      expect(cfg.hasSection('DEFAULT')).to.equal(false);
      expect(cfg.hasSection('Layout')).to.equal(false);
      expect(cfg.file).to.equal('/etc/pipeline.cfg');
    });

    it('interpolates DEFAULT values and vars such as job_name', () => {
      expect(cfg.get('layout', 'job_directory', vars)).to.equal('/data/scratch/pipeline/jobs/L123456_calibrator');
      expect(cfg.get('layout', 'parset_directory', vars)).to.equal(
        '/data/scratch/pipeline/jobs/L123456_calibrator/parsets',
      );
      expect(cfg.get('cluster', 'clusterdesc')).to.equal('/opt/lofar/share/local.clusterdesc');
      expect(cfg.get('deploy', 'engine_lpath')).to.equal(
        '/opt/lofar/lib:/opt/casacore/lib:/opt/pyrap/lib:/usr/lib:/opt/wcslib/lib',
      );
      expect(cfg.get('logging', 'log_file', vars)).to.equal(
        '/data/scratch/pipeline/jobs/L123456_calibrator/logs/2024-01-02T03:04:05/pipeline.log',
      );
      expect(cfg.get('logging', 'format')).to.equal('%(asctime)s %(levelname)-7s %(name)s: %(message)s');
      expect(cfg.get('DEFAULT', 'recipe_directories')).to.equal(
        '[/opt/lofar/lib/python3.6/site-packages/lofarpipe/recipes]',
      );
      expect(parseList(cfg.get('layout', 'task_files')!)).to.deep.equal(['/opt/lofar/share/pipeline/tasks.cfg']);
    });

    it('keeps raw values uninterpolated', () => {
      expect(cfg.raw('layout', 'job_directory')).to.equal('%(runtime_directory)s/jobs/%(job_name)s');
      expect(cfg.raw('layout', 'lofarroot')).to.equal('/opt/lofar');
      expect(cfg.raw('layout', 'nope')).to.equal(undefined);
    });

    it('reports a missing job_name with file, line, section and key', () => {
      const e = configError(() => cfg.get('layout', 'job_directory'));
      expect(e.message).to.equal(
        "/etc/pipeline.cfg:14: [layout] job_directory: %(job_name)s refers to an unknown key 'job_name'",
      );
      expect(e.file).to.equal('/etc/pipeline.cfg');
      expect(e).to.be.instanceOf(UsageError);
      expect(e.reason).to.equal('usage');
    });

    it('names the intermediate reference when a nested one is missing', () => {
      const e = configError(() => cfg.get('layout', 'parset_directory'));
      expect(e.message).to.equal(
        "/etc/pipeline.cfg:15: [layout] parset_directory: %(job_name)s refers to an unknown key 'job_name' " +
          '(via %(job_directory)s)',
      );
    });

    it('sees DEFAULT keys in every section (has, keys, lineOf)', () => {
      expect(cfg.has('remote', 'lofarroot')).to.equal(true);
      expect(cfg.has('remote', 'LOFARROOT')).to.equal(true);
      expect(cfg.has('remote', 'nope')).to.equal(false);
      expect(cfg.has('nosuchsection', 'lofarroot')).to.equal(false);
      expect(cfg.keys('remote')).to.deep.equal([
        'method',
        'max_per_node',
        'globalfs',
        'lofarroot',
        'casaroot',
        'pyraproot',
        'hdf5root',
        'wcsroot',
        'pythonpath',
        'runtime_directory',
        'recipe_directories',
        'working_directory',
        'task_files',
      ]);
      expect(cfg.keys('DEFAULT')).to.have.length(10);
      expect(cfg.keys('nosuchsection')).to.deep.equal([]);
      expect(cfg.lineOf('remote', 'max_per_node')).to.equal(31);
      expect(cfg.lineOf('remote', 'lofarroot')).to.equal(2);
      expect(cfg.lineOf('remote', 'nope')).to.equal(undefined);
      expect(cfg.sectionLine('remote')).to.equal(29);
    });

    it('reads booleans and numbers the way lofarpipe does', () => {
      expect(parseBool(cfg.get('remote', 'globalfs')!, 'pipeline.cfg [remote] globalfs')).to.equal(true);
      expect(Number(cfg.get('remote', 'max_per_node'))).to.equal(4);
      expect(cfg.get('feedback', 'method')).to.equal('none');
    });

    it('loads tasks.cfg with the pipeline.cfg DEFAULTs supplied as vars', () => {
      const tasks = IniFile.parse(TASKS_CFG, 'tasks.cfg');
      const defaults: Record<string, string> = { job_name: 'L1' };
      for (const key of cfg.keys('DEFAULT')) defaults[key] = cfg.get('DEFAULT', key)!;
      expect(tasks.get('ndppp', 'executable', defaults)).to.equal('/opt/lofar/bin/NDPPP');
      expect(tasks.get('vdsmaker', 'gvds', defaults)).to.equal('/data/scratch/pipeline/L1/vds/L1.gvds');
      expect(parseBool(tasks.get('ndppp', 'clobber')!, 'tasks.cfg [ndppp] clobber')).to.equal(false);
    });
  });

  describe('syntax', () => {
    it('accepts "=" and ":" and splits at the first of either', () => {
      const ini = IniFile.parse('[s]\na = 1\nb: 2\nc=3\nurl = http://host:8080/x\nd: e=f\nempty =\n', 'f');
      expect(ini.raw('s', 'a')).to.equal('1');
      expect(ini.raw('s', 'b')).to.equal('2');
      expect(ini.raw('s', 'c')).to.equal('3');
      expect(ini.raw('s', 'url')).to.equal('http://host:8080/x');
      expect(ini.raw('s', 'd')).to.equal('e=f');
      expect(ini.raw('s', 'empty')).to.equal('');
      expect(ini.has('s', 'empty')).to.equal(true);
    });

    it('lower-cases keys but keeps section names as written', () => {
      const ini = IniFile.parse('[Layout]\nJob_Directory = /x\n[layout]\nother = 1\n', 'f');
      expect(ini.sections()).to.deep.equal(['Layout', 'layout']);
      expect(ini.keys('Layout')).to.deep.equal(['job_directory']);
      expect(ini.raw('Layout', 'JOB_DIRECTORY')).to.equal('/x');
      expect(ini.raw('layout', 'job_directory')).to.equal(undefined);
    });

    it('trims values and keys, and section names only up to the brackets', () => {
      const ini = IniFile.parse('[ spaced ]\n  key   =   value with  spaces  \n', 'f');
      expect(ini.sections()).to.deep.equal([' spaced ']);
      expect(ini.raw(' spaced ', 'key')).to.equal('value with  spaces');
    });

    it('ignores text after the closing bracket of a header, as Python does', () => {
      const ini = IniFile.parse('[remote] # how jobs start\nmethod = ssh\n', 'f');
      expect(ini.sections()).to.deep.equal(['remote']);
    });

    it('skips full-line comments (# and ;), also indented, and keeps inline ones', () => {
      const ini = IniFile.parse(
        '# top\n; also top\n[s]\n# c\n  ; indented comment\na = 1 # not a comment\nb = x ; y\nc = #value\n',
        'f',
      );
      expect(ini.keys('s')).to.deep.equal(['a', 'b', 'c']);
      expect(ini.raw('s', 'a')).to.equal('1 # not a comment');
      expect(ini.raw('s', 'b')).to.equal('x ; y');
      expect(ini.raw('s', 'c')).to.equal('#value');
    });

    it('joins continuation lines with newlines', () => {
      const ini = IniFile.parse('[s]\nhosts = a,\n  b,\n\tc\nnext = 1\n', 'f');
      expect(ini.raw('s', 'hosts')).to.equal('a,\nb,\nc');
      expect(ini.raw('s', 'next')).to.equal('1');
      expect(parseList(ini.raw('s', 'hosts')!)).to.deep.equal(['a', 'b', 'c']);
    });

    it('keeps an empty line inside a value only when a continuation follows', () => {
      const ini = IniFile.parse('[s]\na = one\n\n  three\n\n\nb = two\n\n\n[t]\nc = 1\n', 'f');
      expect(ini.raw('s', 'a')).to.equal('one\n\nthree');
      expect(ini.raw('s', 'b')).to.equal('two');
      expect(ini.raw('t', 'c')).to.equal('1');
    });

    it('skips comment lines inside a value without ending it', () => {
      const ini = IniFile.parse('[s]\na = one\n# between\n  two\n', 'f');
      expect(ini.raw('s', 'a')).to.equal('one\ntwo');
    });

    it('continues a value only with lines indented deeper than its key', () => {
      const ini = IniFile.parse('[s]\n  a = 1\n    more\n  b = 2\n', 'f');
      expect(ini.raw('s', 'a')).to.equal('1\nmore');
      expect(ini.raw('s', 'b')).to.equal('2');
    });

    it('treats an indented line right after a header as a key, not a continuation', () => {
      const ini = IniFile.parse('[s]\n   a = 1\n', 'f');
      expect(ini.raw('s', 'a')).to.equal('1');
    });

    it('keeps continuation lines that look like headers or keys as part of the value', () => {
      const ini = IniFile.parse('[s]\na = 1\n  [t]\n  b = 2\n', 'f');
      expect(ini.sections()).to.deep.equal(['s']);
      expect(ini.raw('s', 'a')).to.equal('1\n[t]\nb = 2');
    });

    it('handles CRLF line ends and a byte order mark', () => {
      const ini = IniFile.parse('\uFEFF[s]\r\na = 1\r\n  2\r\nb = 3\r\n', 'f');
      expect(ini.sections()).to.deep.equal(['s']);
      expect(ini.raw('s', 'a')).to.equal('1\n2');
      expect(ini.lineOf('s', 'b')).to.equal(4);
    });

    it('allows [DEFAULT] more than once', () => {
      const ini = IniFile.parse('[DEFAULT]\na = 1\n[s]\n[DEFAULT]\nb = 2\n', 'f');
      expect(ini.keys('s')).to.deep.equal(['a', 'b']);
      expect(ini.sections()).to.deep.equal(['s']);
    });

    it('lets a section override a DEFAULT key', () => {
      const ini = IniFile.parse('[DEFAULT]\nmethod = local\n[remote]\nmethod = ssh\n[other]\n', 'f');
      expect(ini.get('remote', 'method')).to.equal('ssh');
      expect(ini.get('other', 'method')).to.equal('local');
      expect(ini.keys('remote')).to.deep.equal(['method']);
      expect(ini.lineOf('remote', 'method')).to.equal(4);
      expect(ini.lineOf('other', 'method')).to.equal(2);
    });

    it('parses an empty file', () => {
      const ini = IniFile.parse('', 'f');
      expect(ini.sections()).to.deep.equal([]);
      expect(ini.keys('DEFAULT')).to.deep.equal([]);
    });
  });

  describe('syntax errors', () => {
    it('rejects a duplicate section, naming both lines', () => {
      const e = configError(() => IniFile.parse('[a]\nx = 1\n\n[a]\ny = 2\n', 'p.cfg'));
      expect(e.message).to.equal('p.cfg:4: duplicate section [a] (first defined on line 1); merge the two sections');
      expect(e.file).to.equal('p.cfg');
    });

    it('rejects a duplicate key in one section, whatever its case', () => {
      const e = configError(() => IniFile.parse('[a]\nx = 1\nX = 2\n', 'p.cfg'));
      expect(e.message).to.equal("p.cfg:3: duplicate key 'x' in section [a] (first defined on line 2); keep only one");
    });

    it('rejects a duplicate key across two [DEFAULT] blocks', () => {
      const e = configError(() => IniFile.parse('[DEFAULT]\nx = 1\n[DEFAULT]\nx = 2\n', 'p.cfg'));
      expect(e.message).to.match(/^p\.cfg:4: duplicate key 'x' in section \[DEFAULT\]/);
    });

    it('allows the same key in different sections', () => {
      const ini = IniFile.parse('[a]\nx = 1\n[b]\nx = 2\n', 'p.cfg');
      expect(ini.raw('a', 'x')).to.equal('1');
      expect(ini.raw('b', 'x')).to.equal('2');
    });

    it('rejects a key before any section header', () => {
      const e = configError(() => IniFile.parse('# comment\n\nKey = 1\n[a]\n', 'p.cfg'));
      expect(e.message).to.equal(
        "p.cfg:3: key 'key' appears before any section header; expected a [section] line first",
      );
    });

    it('rejects other text before any section header', () => {
      const e = configError(() => IniFile.parse('hello\n', 'p.cfg'));
      expect(e.message).to.match(/^p\.cfg:1: expected a \[section\] header .*got "hello"$/);
    });

    it('rejects a line that is not a header, assignment, comment or continuation', () => {
      const e = configError(() => IniFile.parse('[a]\nx = 1\njust some words\n', 'p.cfg'));
      expect(e.message).to.match(/^p\.cfg:3: cannot parse "just some words": expected "\[section\]", "key = value"/);
    });

    it('rejects an assignment without a key', () => {
      const e = configError(() => IniFile.parse('[a]\n = 1\n', 'p.cfg'));
      expect(e.message).to.equal(`p.cfg:2: missing key name before '=' in "= 1"; expected "key = value"`);
    });

    it('rejects an empty section name', () => {
      const e = configError(() => IniFile.parse('[]\nx = 1\n', 'p.cfg'));
      expect(e.message).to.match(/^p\.cfg:1: /);
    });

    it('cuts very long offending lines in the message', () => {
      const e = configError(() => IniFile.parse(`[a]\n${'w'.repeat(500)}\n`, 'p.cfg'));
      expect(e.message.length).to.be.below(300);
      expect(e.message).to.include('...');
    });
  });

  describe('interpolation', () => {
    const text = [
      '[DEFAULT]', //                    1
      'root = /data', //                 2
      'job_dir = %(root)s/%(job)s', //   3
      'ctx = %(where)s', //              4
      'where = default', //              5
      '[s]', //                          6
      'where = section', //              7
      'pct = 100%%', //                  8
      'nested_pct = %(pct)s done', //    9
      'missing = %(nope)s', //           10
      'bad = 50%', //                    11
      'bad2 = %(x)d', //                 12
      'loop_a = %(loop_b)s', //          13
      'loop_b = %(loop_a)s', //          14
      'Upper = %(ROOT)s', //             15
      'unclosed = %(root', //            16
      '[t]', //                          17
    ].join('\n');
    const ini = IniFile.parse(text, 'i.cfg');

    it('expands references from vars, then the section, then DEFAULT', () => {
      expect(ini.get('s', 'job_dir', { job: 'J' })).to.equal('/data/J');
      expect(ini.get('s', 'job_dir', { job: 'J', root: '/vars' })).to.equal('/vars/J');
      expect(ini.get('s', 'job_dir', { JOB: 'J' })).to.equal('/data/J');
    });

    it('expands a DEFAULT value in the context of the section asked for', () => {
      expect(ini.get('s', 'ctx')).to.equal('section');
      expect(ini.get('t', 'ctx')).to.equal('default');
      expect(ini.get('DEFAULT', 'ctx')).to.equal('default');
    });

    it('returns a var for the key itself, as Python does', () => {
      expect(ini.get('s', 'root', { root: '/override' })).to.equal('/override');
      expect(ini.get('s', 'only_in_vars', { only_in_vars: '%(root)s/v' })).to.equal('/data/v');
    });

    it('turns %% into % and keeps it through nested references', () => {
      expect(ini.get('s', 'pct')).to.equal('100%');
      expect(ini.get('s', 'nested_pct')).to.equal('100% done');
      expect(ini.raw('s', 'pct')).to.equal('100%%');
    });

    it('looks references up case-insensitively', () => {
      expect(ini.get('s', 'upper')).to.equal('/data');
    });

    it('returns undefined for a missing key or section', () => {
      expect(ini.get('s', 'absent')).to.equal(undefined);
      expect(ini.get('nosuch', 'root')).to.equal(undefined);
    });

    it('reports an unknown reference with file, line, section and key', () => {
      const e = configError(() => ini.get('s', 'missing'));
      expect(e.message).to.equal("i.cfg:10: [s] missing: %(nope)s refers to an unknown key 'nope'");
    });

    it('reports the DEFAULT line when the value comes from DEFAULT', () => {
      const e = configError(() => ini.get('t', 'job_dir'));
      expect(e.message).to.equal("i.cfg:3: [t] job_dir: %(job)s refers to an unknown key 'job'");
    });

    it('rejects a % that is not %% or %(name)s', () => {
      for (const [key, line, found] of [
        ['bad', 11, '"%"'],
        ['bad2', 12, '"%(x)d"'],
        ['unclosed', 16, '"%(root"'],
      ] as const) {
        const e = configError(() => ini.get('s', key));
        expect(e.message).to.equal(
          `i.cfg:${line}: [s] ${key}: '%' must be followed by '%' or '(name)s', found ${found}; write '%%' for a literal '%'`,
        );
      }
      expect(ini.raw('s', 'bad')).to.equal('50%');
    });

    it('stops a reference loop, naming the key and the loop', () => {
      const e = configError(() => ini.get('s', 'loop_a'));
      expect(e.message).to.equal(
        `i.cfg:13: [s] loop_a: interpolation deeper than ${MAX_INTERPOLATION_DEPTH} levels ` +
          '(reference loop loop_a -> loop_b -> loop_a); expected references that end in a plain value',
      );
    });

    it('follows chains up to 10 levels and no further, like Python', () => {
      const chain = (n: number): string =>
        '[c]\n' + Array.from({ length: n }, (_, i) => `k${i} = %(k${i + 1})s`).join('\n') + `\nk${n} = end%%\n`;
      expect(IniFile.parse(chain(9), 'c.cfg').get('c', 'k0')).to.equal('end%');
      const e = configError(() => IniFile.parse(chain(10), 'c.cfg').get('c', 'k0'));
      expect(e.message).to.match(/^c\.cfg:2: \[c\] k0: interpolation deeper than 10 levels \(chain k0 -> k1 -> /);
      // A plain value at the end of the chain is not expanded again, so one more level fits.
      const plain = '[c]\n' + Array.from({ length: 10 }, (_, i) => `k${i} = %(k${i + 1})s`).join('\n') + '\nk10 = end\n';
      expect(IniFile.parse(plain, 'c.cfg').get('c', 'k0')).to.equal('end');
    });
  });

  describe('set', () => {
    it('sets values in a section, in DEFAULT, and in a new section', () => {
      const ini = IniFile.parse('[DEFAULT]\nroot = /data\n[layout]\njob_directory = %(root)s/%(job_name)s\n', 's.cfg');
      ini.set('DEFAULT', 'Job_Name', 'L9');
      expect(ini.get('layout', 'job_directory')).to.equal('/data/L9');
      ini.set('layout', 'root', '/other');
      expect(ini.get('layout', 'job_directory')).to.equal('/other/L9');
      expect(ini.lineOf('layout', 'root')).to.equal(undefined);
      ini.set('new', 'k', 'v');
      expect(ini.sections()).to.deep.equal(['layout', 'new']);
      expect(ini.raw('new', 'k')).to.equal('v');
      expect(ini.raw('new', 'root')).to.equal('/data');
    });

    it('reports errors in set values without a line number', () => {
      const ini = IniFile.parse('[s]\n', 's.cfg');
      ini.set('s', 'x', '%(nope)s');
      expect(configError(() => ini.get('s', 'x')).message).to.equal(
        "s.cfg: [s] x: %(nope)s refers to an unknown key 'nope'",
      );
    });
  });

  describe('load', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ini-test-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('reads a file and names it in errors', async () => {
      const file = join(dir, 'pipeline.cfg');
      await writeFile(file, PIPELINE_CFG);
      const ini = await IniFile.load(file);
      expect(ini.file).to.equal(file);
      expect(ini.get('layout', 'job_directory', { job_name: 'J' })).to.equal('/data/scratch/pipeline/jobs/J');
      expect(configError(() => ini.get('layout', 'job_directory')).message).to.match(
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:14: `),
      );
    });

    it('turns an unreadable file into a ConfigError', async () => {
      const file = join(dir, 'missing.cfg');
      try {
        await IniFile.load(file);
        expect.fail('expected a ConfigError');
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        expect((err as ConfigError).message).to.match(new RegExp(`^.*missing\\.cfg: cannot read: .*ENOENT`));
        expect((err as ConfigError).file).to.equal(file);
      }
    });

    it('reports syntax errors with the file path', async () => {
      const file = join(dir, 'bad.cfg');
      await writeFile(file, '[a]\nx = 1\n[a]\n');
      try {
        await IniFile.load(file);
        expect.fail('expected a ConfigError');
      } catch (err) {
        expect((err as Error).message).to.equal(`${file}:3: duplicate section [a] (first defined on line 1); merge the two sections`);
      }
    });
  });
});

describe('parseList', () => {
  it('reads lofarpipe lists with or without brackets', () => {
    expect(parseList('[a, b, c]')).to.deep.equal(['a', 'b', 'c']);
    expect(parseList('a,b ,  c')).to.deep.equal(['a', 'b', 'c']);
    expect(parseList('  [ /opt/recipes ]  ')).to.deep.equal(['/opt/recipes']);
    expect(parseList('single')).to.deep.equal(['single']);
  });

  it('gives [] for an empty list and drops empty items', () => {
    expect(parseList('')).to.deep.equal([]);
    expect(parseList('   ')).to.deep.equal([]);
    expect(parseList('[]')).to.deep.equal([]);
    expect(parseList('[ ]')).to.deep.equal([]);
    expect(parseList('[a,,b,]')).to.deep.equal(['a', 'b']);
  });

  it('keeps inner brackets of items', () => {
    expect(parseList('[locus[001..003], x]')).to.deep.equal(['locus[001..003]', 'x']);
  });
});

describe('parseBool', () => {
  it('accepts the configparser spellings, case-insensitively', () => {
    for (const s of ['1', 'yes', 'true', 'on', 'Yes', 'TRUE', ' On ']) expect(parseBool(s, 'w'), s).to.equal(true);
    for (const s of ['0', 'no', 'false', 'off', 'No', 'FALSE', 'Off']) expect(parseBool(s, 'w'), s).to.equal(false);
  });

  it('rejects anything else with the place and the value', () => {
    for (const s of ['', 'y', '2', 'maybe', 'constructor', 'toString']) {
      const e = configError(() => parseBool(s, 'tasks.cfg:4: [ndppp] clobber'));
      expect(e.message).to.equal(
        `tasks.cfg:4: [ndppp] clobber: expected a boolean (true/false, yes/no, on/off, 1/0), got ${JSON.stringify(s)}`,
      );
      expect(e.file).to.equal('tasks.cfg');
    }
  });
});

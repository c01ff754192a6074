import { expect } from 'chai';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, UsageError } from '../../../support/errors.js';
import { frameworkRoot } from '../../../support/config/framework-paths.js';
import { expandHome, locateConfig, PipelineConfig } from '../../../support/config/pipeline-config.js';

/** Runs `fn` (sync or async), expects a one-line ConfigError, and returns it. */
async function configError(fn: () => unknown): Promise<ConfigError> {
  try {
    await fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    expect(err).to.be.instanceOf(UsageError);
    const e = err as ConfigError;
    expect(e.message, 'one-line message').not.to.include('\n');
    return e;
  }
  expect.fail('expected a ConfigError');
}

/** The 1-based line of the first line of `text` that starts with `prefix`. */
function lineOf(text: string, prefix: string): number {
  const index = text.split('\n').findIndex((line) => line.startsWith(prefix));
  expect(index, `line starting with ${prefix}`).to.be.greaterThan(-1);
  return index + 1;
}

describe('support/config/pipeline-config', () => {
  let dir: string;
  let count = 0;

  /** Writes `text` to a new config file in its own directory and returns its path. */
  function writeConfig(text: string, name = 'pipeline.cfg'): string {
    const sub = join(dir, `cfg${++count}`);
    mkdirSync(sub, { recursive: true });
    const file = join(sub, name);
    writeFileSync(file, text);
    return file;
  }

  before(() => {
    // realpath: tmpdir() may be a symlink, and paths are compared as strings.
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'pipeline-config-test-')));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('a lofarpipe-style file', () => {
    const LOFAR = [
      '[DEFAULT]',
      'lofarroot = /opt/lofar',
      'runtime_directory = /data/scratch/pipeline',
      'recipe_directories = [%(lofarroot)s/recipes, /extra/recipes]',
      'working_directory = /data/scratch/lofarsys',
      'task_files = [%(lofarroot)s/share/pipeline/tasks.cfg]',
      '',
      '[layout]',
      'job_directory = %(runtime_directory)s/jobs/%(job_name)s',
      '',
      '[remote]',
      'method = ssh',
      'max_per_node = 8',
      'job_timeout = 3600',
      'node_executable = /opt/node/bin/node',
      '',
      '[logging]',
      'log_file = %(runtime_directory)s/jobs/%(job_name)s/logs/%(start_time)s/pipeline.log',
      '',
    ].join('\n');

    it('interpolates job_name and start_time given with withVars', async () => {
      const config = (await PipelineConfig.load(writeConfig(LOFAR))).withVars({ job_name: 'L123456', start_time: '2024-05-01T10:00:00' });
      expect(config.runtimeDirectory).to.equal('/data/scratch/pipeline');
      expect(config.jobDirectory).to.equal('/data/scratch/pipeline/jobs/L123456');
      expect(config.logFile).to.equal('/data/scratch/pipeline/jobs/L123456/logs/2024-05-01T10:00:00/pipeline.log');
    });

    it('reads the other settings', async () => {
      const file = writeConfig(LOFAR);
      const config = await PipelineConfig.load(file);
      expect(config.file).to.equal(file);
      expect(config.workingDirectory).to.equal('/data/scratch/lofarsys');
      expect(config.recipeDirectories).to.deep.equal(['/opt/lofar/recipes', '/extra/recipes']);
      expect(config.taskFiles).to.deep.equal(['/opt/lofar/share/pipeline/tasks.cfg']);
      expect(config.remoteMethod).to.equal('ssh');
      expect(config.maxPerNode).to.equal(8);
      expect(config.jobTimeout).to.equal(3600);
      expect(config.nodeExecutable).to.equal('/opt/node/bin/node');
    });

    it('keeps withVars from changing the original', async () => {
      const config = await PipelineConfig.load(writeConfig(LOFAR));
      const run = config.withVars({ job_name: 'one' });
      expect(run.jobDirectory).to.equal('/data/scratch/pipeline/jobs/one');
      expect(config.withVars({ job_name: 'two' }).jobDirectory).to.equal('/data/scratch/pipeline/jobs/two');
      expect(run.jobDirectory).to.equal('/data/scratch/pipeline/jobs/one');
    });

    it('interpolates variables given to load', async () => {
      const config = await PipelineConfig.load(writeConfig(LOFAR), { job_name: 'from-load' });
      expect(config.jobDirectory).to.equal('/data/scratch/pipeline/jobs/from-load');
    });

    it('offers framework_root to interpolation', async () => {
      const config = await PipelineConfig.load(writeConfig('[DEFAULT]\nruntime_directory = /r\ntask_files = [%(framework_root)s/config/tasks.cfg]\n'));
      expect(config.taskFiles).to.deep.equal([join(frameworkRoot, 'config', 'tasks.cfg')]);
    });
  });

  describe('defaults when keys are absent', () => {
    it('derives the job directory, log file and working directory from runtime_directory', async () => {
      const config = (await PipelineConfig.load(writeConfig('[DEFAULT]\nruntime_directory = /srv/rt\n'))).withVars({ job_name: 'myjob', start_time: 'T0' });
      expect(config.jobDirectory).to.equal('/srv/rt/jobs/myjob');
      expect(config.logFile).to.equal('/srv/rt/jobs/myjob/logs/T0/pipeline.log');
      expect(config.workingDirectory).to.equal('/srv/rt/working');
    });

    it('uses "default" and "run" when the run gave no job name or start time', async () => {
      const config = await PipelineConfig.load(writeConfig('[DEFAULT]\nruntime_directory = /srv/rt\n'));
      expect(config.jobDirectory).to.equal('/srv/rt/jobs/default');
      expect(config.logFile).to.equal('/srv/rt/jobs/default/logs/run/pipeline.log');
    });

    it('puts the log file under a configured job directory', async () => {
      const config = (await PipelineConfig.load(writeConfig('[DEFAULT]\nruntime_directory = /srv/rt\n[layout]\njob_directory = /jobs/%(job_name)s\n')))
        .withVars({ job_name: 'j', start_time: 'T1' });
      expect(config.logFile).to.equal('/jobs/j/logs/T1/pipeline.log');
    });

    it('uses method auto, all CPUs per node, no timeout, this node, no extra recipe directories', async () => {
      const config = await PipelineConfig.load(writeConfig('[DEFAULT]\nruntime_directory = /srv/rt\n'));
      expect(config.remoteMethod).to.equal('auto');
      expect(config.maxPerNode).to.equal(availableParallelism());
      expect(config.jobTimeout).to.equal(0);
      expect(config.nodeExecutable).to.equal(process.execPath);
      expect(config.recipeDirectories).to.deep.equal([]);
      expect(config.taskFiles).to.deep.equal([]);
    });

    it('uses the defaults for an empty [remote] section and an empty node_executable', async () => {
      const config = await PipelineConfig.load(writeConfig('[DEFAULT]\nruntime_directory = /srv/rt\n[remote]\nnode_executable =\n'));
      expect(config.remoteMethod).to.equal('auto');
      expect(config.nodeExecutable).to.equal(process.execPath);
    });

    it('reads the method with surrounding spaces', async () => {
      const config = await PipelineConfig.load(writeConfig('[DEFAULT]\nruntime_directory = /srv/rt\n[remote]\nmethod =   local   \n'));
      expect(config.remoteMethod).to.equal('local');
    });
  });

  describe('paths', () => {
    it('resolves relative paths against the directory of the config file, not the current directory', async () => {
      const file = writeConfig([
        '[DEFAULT]',
        'runtime_directory = runtime',
        'working_directory = ../work',
        'recipe_directories = [my_recipes, /abs/recipes]',
        'task_files = [tasks.cfg]',
        '[layout]',
        'job_directory = %(runtime_directory)s/jobs/%(job_name)s',
        '[logging]',
        'log_file = logs/run.log',
      ].join('\n'));
      const base = join(file, '..');
      expect(process.cwd()).not.to.equal(base);
      const config = (await PipelineConfig.load(file)).withVars({ job_name: 'rel' });
      expect(config.runtimeDirectory).to.equal(join(base, 'runtime'));
      expect(config.workingDirectory).to.equal(join(base, '..', 'work'));
      expect(config.recipeDirectories).to.deep.equal([join(base, 'my_recipes'), '/abs/recipes']);
      expect(config.taskFiles).to.deep.equal([join(base, 'tasks.cfg')]);
      expect(config.jobDirectory).to.equal(join(base, 'runtime', 'jobs', 'rel'));
      expect(config.logFile).to.equal(join(base, 'logs', 'run.log'));
    });

    it('resolves the default working directory under a relative runtime directory', async () => {
      const file = writeConfig('[DEFAULT]\nruntime_directory = ./rt\n');
      const config = (await PipelineConfig.load(file)).withVars({ job_name: 'x', start_time: 's' });
      expect(config.workingDirectory).to.equal(join(file, '..', 'rt', 'working'));
      expect(config.jobDirectory).to.equal(join(file, '..', 'rt', 'jobs', 'x'));
      expect(config.logFile).to.equal(join(file, '..', 'rt', 'jobs', 'x', 'logs', 's', 'pipeline.log'));
    });

    it('expands ~ to the home directory', async () => {
      const file = writeConfig('[DEFAULT]\nruntime_directory = ~/pipeline_runtime\nrecipe_directories = [~/recipes]\n');
      const config = (await PipelineConfig.load(file)).withVars({ job_name: 'home' });
      expect(config.runtimeDirectory).to.equal(join(homedir(), 'pipeline_runtime'));
      expect(config.jobDirectory).to.equal(join(homedir(), 'pipeline_runtime', 'jobs', 'home'));
      expect(config.workingDirectory).to.equal(join(homedir(), 'pipeline_runtime', 'working'));
      expect(config.recipeDirectories).to.deep.equal([join(homedir(), 'recipes')]);
    });

    it('expandHome leaves other paths alone', () => {
      expect(expandHome('~')).to.equal(homedir());
      expect(expandHome('~/a')).to.equal(join(homedir(), 'a'));
      expect(expandHome('~user/a')).to.equal('~user/a');
      expect(expandHome('/a/~/b')).to.equal('/a/~/b');
      expect(expandHome('rel')).to.equal('rel');
    });
  });

  describe('errors', () => {
    it('rejects an unknown method, naming file, line and key and the choices', async () => {
      const text = '[DEFAULT]\nruntime_directory = /r\n\n[remote]\nmethod = rsh\n';
      const file = writeConfig(text);
      const config = await PipelineConfig.load(file);
      const e = await configError(() => config.remoteMethod);
      expect(e.message).to.equal(`${file}:${lineOf(text, 'method')}: [remote] method: expected one of auto, local, ssh, slurm, custom_cmdline, slurm_srun, slurm_srun_cep3, got "rsh"`);
      expect(e.file).to.equal(file);
    });

    it('rejects a max_per_node that is not an integer', async () => {
      const text = '[DEFAULT]\nruntime_directory = /r\n[remote]\nmethod = local\nmax_per_node = 2.5\n';
      const file = writeConfig(text);
      const e = await configError(async () => (await PipelineConfig.load(file)).maxPerNode);
      expect(e.message).to.equal(`${file}:${lineOf(text, 'max_per_node')}: [remote] max_per_node: expected an integer >= 0, got "2.5"`);
    });

    it('rejects a max_per_node that is a word, empty, or below 0', async () => {
      for (const value of ['four', '', '-2']) {
        const text = `[DEFAULT]\nruntime_directory = /r\n[remote]\nmax_per_node = ${value}\n`;
        const file = writeConfig(text);
        const e = await configError(async () => (await PipelineConfig.load(file)).maxPerNode);
        expect(e.message, value).to.equal(`${file}:4: [remote] max_per_node: expected an integer >= 0, got ${JSON.stringify(value)}`);
      }
    });

    it('takes max_per_node = 0 as no limit, as lofarpipe does (tasks.cfg.CEP4)', async () => {
      const file = writeConfig('[DEFAULT]\nruntime_directory = /r\n[remote]\nmax_per_node = 0\n');
      expect((await PipelineConfig.load(file)).maxPerNode).to.equal(Number.POSITIVE_INFINITY);
    });

    it('names the DEFAULT line when max_per_node comes from [DEFAULT]', async () => {
      const text = '[DEFAULT]\nruntime_directory = /r\nmax_per_node = many\n[remote]\nmethod = local\n';
      const file = writeConfig(text);
      const e = await configError(async () => (await PipelineConfig.load(file)).maxPerNode);
      expect(e.message).to.equal(`${file}:3: [remote] max_per_node: expected an integer >= 0, got "many"`);
    });

    it('rejects a negative job_timeout', async () => {
      const text = '[DEFAULT]\nruntime_directory = /r\n[remote]\njob_timeout = -1\n';
      const file = writeConfig(text);
      const e = await configError(async () => (await PipelineConfig.load(file)).jobTimeout);
      expect(e.message).to.equal(`${file}:4: [remote] job_timeout: expected a number >= 0, got "-1"`);
    });

    it('requires runtime_directory when a path depends on it', async () => {
      const file = writeConfig('[remote]\nmethod = local\n');
      const config = await PipelineConfig.load(file);
      const e = await configError(() => config.jobDirectory);
      expect(e.message).to.equal(`${file}: [DEFAULT] runtime_directory is missing; it is required`);
    });

    it('rejects a bad boolean, naming file, line and key', async () => {
      const text = '[DEFAULT]\nruntime_directory = /r\n[remote]\nverbose = perhaps\n';
      const file = writeConfig(text);
      const config = await PipelineConfig.load(file);
      const e = await configError(() => config.getBool('remote', 'verbose', false));
      expect(e.message).to.equal(`${file}:4: [remote] verbose: expected a boolean (true/false, yes/no, on/off, 1/0), got "perhaps"`);
      expect(config.getBool('remote', 'absent', true)).to.equal(true);
    });

    it('names the file when it cannot be read', async () => {
      const missing = join(dir, 'missing.cfg');
      const e = await configError(() => PipelineConfig.load(missing));
      expect(e.message).to.match(new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read: `));
    });
  });

  describe('the shipped default configuration', () => {
    it('runs locally-first under ~/pipeline_runtime', async () => {
      const config = (await PipelineConfig.load(join(frameworkRoot, 'config', 'pipeline.cfg'))).withVars({ job_name: 'demo', start_time: 'T' });
      expect(config.remoteMethod).to.equal('auto');
      expect(config.maxPerNode).to.equal(4);
      expect(config.jobTimeout).to.equal(0);
      expect(config.runtimeDirectory).to.equal(join(homedir(), 'pipeline_runtime'));
      expect(config.jobDirectory).to.equal(join(homedir(), 'pipeline_runtime', 'jobs', 'demo'));
      expect(config.logFile).to.equal(join(homedir(), 'pipeline_runtime', 'jobs', 'demo', 'logs', 'T', 'pipeline.log'));
      expect(config.workingDirectory).to.equal(join(homedir(), 'pipeline_runtime', 'working'));
    });
  });

  describe('locateConfig', () => {
    const savedHome = process.env.HOME;
    let home: string;
    let cwd: string;

    beforeEach(() => {
      const base = join(dir, `locate${++count}`);
      home = join(base, 'home');
      cwd = join(base, 'project');
      mkdirSync(home, { recursive: true });
      mkdirSync(cwd, { recursive: true });
      process.env.HOME = home;
    });

    afterEach(() => {
      if (savedHome === undefined) delete process.env.HOME;
      else process.env.HOME = savedHome;
    });

    it('takes an explicit file first, relative to the given directory', () => {
      writeFileSync(join(cwd, 'pipeline.cfg'), '');
      writeFileSync(join(home, '.pipeline.cfg'), '');
      writeFileSync(join(cwd, 'mine.cfg'), '');
      expect(locateConfig('mine.cfg', cwd)).to.equal(join(cwd, 'mine.cfg'));
      expect(locateConfig(join(cwd, 'mine.cfg'), '/')).to.equal(join(cwd, 'mine.cfg'));
    });

    it('expands ~ in an explicit file', () => {
      writeFileSync(join(home, 'special.cfg'), '');
      expect(homedir()).to.equal(home);
      expect(locateConfig('~/special.cfg', cwd)).to.equal(join(home, 'special.cfg'));
    });

    it('rejects an explicit file that does not exist', async () => {
      const e = await configError(() => locateConfig('nope.cfg', cwd));
      expect(e.message).to.equal('--config nope.cfg: no such file');
      expect(e.file).to.equal(join(cwd, 'nope.cfg'));
    });

    it('takes ./pipeline.cfg in the given directory before ~/.pipeline.cfg', () => {
      writeFileSync(join(cwd, 'pipeline.cfg'), '');
      writeFileSync(join(home, '.pipeline.cfg'), '');
      expect(locateConfig(undefined, cwd)).to.equal(join(cwd, 'pipeline.cfg'));
    });

    it('takes ~/.pipeline.cfg when there is no ./pipeline.cfg', () => {
      writeFileSync(join(home, '.pipeline.cfg'), '');
      expect(locateConfig(undefined, cwd)).to.equal(join(home, '.pipeline.cfg'));
    });

    it('falls back to the shipped configuration', () => {
      expect(locateConfig(undefined, cwd)).to.equal(join(frameworkRoot, 'config', 'pipeline.cfg'));
    });
  });
});

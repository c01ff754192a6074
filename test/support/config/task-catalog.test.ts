/** tasks.cfg as lofarpipe reads it, on LOFAR's own files (test/fixtures/lofar/config, origins in its README). */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../../support/errors.js';
import { PipelineConfig } from '../../../support/config/pipeline-config.js';
import { TaskCatalog } from '../../../support/config/task-catalog.js';
import { repoRoot } from '../../harness/pipeline-cli.js';

const lofar = join(repoRoot, 'test', 'fixtures', 'lofar', 'config');
const tasksFile = join(lofar, 'share', 'pipeline', 'tasks.cfg');
const cep4File = join(lofar, 'share', 'pipeline', 'tasks.cfg.CEP4');

/** A LOFAR pipeline.cfg with lofarroot pointing at the fixtures, for a run named L123456. */
async function lofarConfig(name: string): Promise<PipelineConfig> {
  const config = await PipelineConfig.load(join(lofar, name));
  config.ini.set('DEFAULT', 'lofarroot', lofar);
  return config.withVars({ job_name: 'L123456', start_time: '2026-12-04T10:00:00' });
}

function lineOf(file: string, text: string, nth = 1): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  let seen = 0;
  const index = lines.findIndex((line) => line === text && ++seen === nth);
  expect(index, `${text} (#${nth}) in ${file}`).to.be.greaterThan(-1);
  return index + 1;
}

describe('support/config/task-catalog (LOFAR\'s tasks.cfg and tasks.cfg.CEP4)', () => {
  it('reads all 28 tasks of tasks.cfg, merged with tasks.cfg.CEP4, every value interpolated with pipeline.cfg\'s [DEFAULT]', async () => {
    const tasks = await TaskCatalog.load(await lofarConfig('pipeline.cfg.CEP4'));
    expect(tasks.missingFiles).to.deep.equal([]);
    expect(tasks.names()).to.have.length(28);
    for (const name of tasks.names()) {
      const task = tasks.task(name)!;
      expect(task.recipe, name).to.match(/^[\w-]+$/);
      for (const [key, value] of Object.entries(task.inputs)) expect(value, `[${name}] ${key}`).not.to.include('%(');
    }
    expect(tasks.task('ndppp')!.inputs.mapfile).to.equal('/data/share/pipeline/L123456/mapfiles/dppp.mapfile');
    expect(tasks.task('ndppp')!.inputs.executable).to.equal(`${lofar}/bin/NDPPP`);
  });

  it('applies tasks.cfg.CEP4 over tasks.cfg, key by key, as Python\'s read([...]) merges them', async () => {
    const tasks = await TaskCatalog.load(await lofarConfig('pipeline.cfg.CEP4'));
    const dppp = tasks.task('dppp')!;
    expect(dppp.recipe).to.equal('executable_args');
    expect(dppp.inputs).to.include({ max_per_node: '0', nthreads: '10', args_format: 'lofar', outputkey: 'msout' });
    expect(tasks.task('imager_prepare')!.inputs).to.include({ rficonsole_executable: '/opt/aoflagger/bin/aoflagger', nthreads: '10' });
    expect(tasks.task('ndppp')!.inputs).to.include({ nproc: '0', nthreads: '10', clobber: 'False' });
    expect(dppp.file).to.equal(tasksFile);
    expect(dppp.line).to.equal(lineOf(tasksFile, '[dppp]'));
  });

  it('merges a section defined twice in one file as Python 2 did (later values win), with a warning naming both lines', async () => {
    const tasks = await TaskCatalog.load(await lofarConfig('pipeline.cfg.CEP4'));
    const rficonsole = tasks.task('rficonsole')!;
    expect(rficonsole.recipe).to.equal('executable_args');
    expect(rficonsole.inputs).to.include({ executable: '/opt/aoflagger/bin/aoflagger', max_per_node: '0', nproc: '0', nthreads: '10' });
    const first = lineOf(tasksFile, '[rficonsole]');
    const second = lineOf(tasksFile, '[rficonsole]', 2);
    expect(tasks.warnings).to.include(`${tasksFile}:${second}: [rficonsole] is defined again (first on line ${first}); its keys are added to the first, later values win, as Python 2's ConfigParser read it`);
    expect(tasks.warnings.some((line) => line.startsWith(`${cep4File}:${lineOf(cep4File, '[rficonsole]', 2)}: [rficonsole] is defined again`))).to.equal(true);
    expect(tasks.warnings.some((line) => line.startsWith(`${cep4File}:${lineOf(cep4File, '[imager_prepare]', 2)}: [imager_prepare] is defined again`))).to.equal(true);
  });

  it('without the CEP4 overrides, a task that refers to a key pipeline.cfg lacks fails with one line naming tasks.cfg, the line and the key', async () => {
    const tasks = await TaskCatalog.load(await lofarConfig('pipeline.cfg'));
    expect(tasks.names()).to.have.length(28);
    expect(tasks.task('copier')!.inputs.mapfiles_dir).to.equal(`${lofar}/var/run/pipeline/L123456/mapfiles`);
    let error: unknown;
    try {
      tasks.task('imager_prepare');
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(ConfigError);
    const line = readFileSync(tasksFile, 'utf8').split('\n').findIndex((text, i, all) => text.startsWith('rficonsole_executable') && all.slice(0, i).reverse().find((l) => l.startsWith('['))  === '[imager_prepare]') + 1;
    expect((error as Error).message).to.equal(`${tasksFile}:${line}: [imager_prepare] rficonsole_executable: %(aoflaggerroot)s refers to an unknown key 'aoflaggerroot'`);
  });

  it('passes only a task\'s own keys, not pipeline.cfg\'s [DEFAULT] values, and says which task files are missing', async () => {
    const config = await lofarConfig('pipeline.cfg.CEP4');
    config.ini.set('DEFAULT', 'task_files', `[${tasksFile}, /nonexistent/tasks.cfg]`);
    const tasks = await TaskCatalog.load(config);
    expect(tasks.missingFiles).to.deep.equal(['/nonexistent/tasks.cfg']);
    expect(Object.keys(tasks.task('get_metadata')!.inputs)).to.deep.equal([]);
    expect(tasks.task('no_such_task')).to.equal(undefined);
  });
});

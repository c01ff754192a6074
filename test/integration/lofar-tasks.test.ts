/**
 * LOFAR's own pipeline.cfg and tasks.cfg files (test/fixtures/lofar/config) through the command
 * as a LOFAR user runs it: `-c pipeline.cfg`, `list`, `describe` of every task whose recipe ships
 * here, one line for a task whose recipe does not, and LOFAR's [dppp] task run over a data map.
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { repoRoot, stderrLines, Workspace } from '../harness/pipeline-cli.js';
import { DataMap } from '../../support/lofar/data-map.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'lofar', 'config');
/** The tasks of tasks.cfg whose recipe ships with the framework. */
const SHIPPED = ['executable_args', 'casapy-imager', 'pythonplugin', 'python-calibrate-stand-alone', 'calibrate-stand-alone', 'dppp', 'awimager', 'rficonsole', 'copier'];

describe('LOFAR\'s pipeline.cfg and tasks.cfg through the command', function () {
  this.timeout(60_000);
  let ws: Workspace;
  let lofarroot: string;

  /** LOFAR's file `name` with lofarroot at a copy of the fixtures and the runtime in the workspace. */
  function lofarConfig(name: string): string {
    const text = readFileSync(join(fixtures, name), 'utf8')
      .replace(/^lofarroot = .*$/m, `lofarroot = ${lofarroot}`)
      .replace(/^runtime_directory = .*$/m, `runtime_directory = ${ws.runtimeDirectory}`)
      .replace(/^working_directory = .*$/m, `working_directory = ${join(ws.dir, 'scratch')}`)
      .replace(/^clusterdesc = .*$/m, `clusterdesc = ${join(ws.dir, 'local.clusterdesc')}`);
    return ws.write(name, text);
  }

  beforeEach(() => {
    ws = new Workspace();
    lofarroot = join(ws.dir, 'lofar');
    cpSync(fixtures, lofarroot, { recursive: true });
    ws.write('local.clusterdesc', 'ClusterName = local\nHead.Nodes = [ localhost ]\nCompute.Nodes = [ localhost ]\n');
  });
  afterEach(() => ws.remove());

  it('pipeline list -c pipeline.cfg.CEP4 shows the recipes and all 28 tasks, and says once what it does not implement', async () => {
    const config = lofarConfig('pipeline.cfg.CEP4');
    const result = await ws.run(['list', '-c', config], { config: false });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^executable_args +run an executable once per input/m);
    const tasks = result.stdout.slice(result.stdout.indexOf('\ntasks (merged from'));
    expect(tasks.trim().split('\n').slice(1)).to.have.length(28);
    expect(tasks).to.match(/^dppp +task: recipe executable_args$/m);
    expect(tasks).to.match(/^ndppp +task: recipe dppp$/m);
    const warnings = stderrLines(result);
    expect(warnings.filter((line) => line.includes('[deploy] engine_ppath, engine_lpath: lofarpipe settings this framework does not implement; ignored'))).to.have.length(1);
    expect(warnings.some((line) => /\[rficonsole\] is defined again \(first on line \d+\)/.test(line))).to.equal(true);
  });

  it('pipeline describe works for every task whose recipe ships, with the task\'s values (CEP4 overrides included)', async () => {
    const config = lofarConfig('pipeline.cfg.CEP4');
    for (const task of SHIPPED) {
      const result = await ws.run(['describe', task, '-c', config], { config: false });
      expect(result.code, `${task}: ${result.stderr}`).to.equal(0);
      expect(result.stdout, task).to.match(new RegExp(`^${task}: task of .*tasks\\.cfg:\\d+, runs recipe (executable_args|copier): `));
    }
    const dppp = await ws.run(['describe', 'dppp', '-c', config], { config: false });
    expect(dppp.stdout).to.include('--args-format <string>');
    expect(dppp.stdout).to.match(/--args-format <string> .*\(task sets "lofar"\)/);
    expect(dppp.stdout).to.match(/--nthreads <int> .*\(task sets "10"\)/);
    expect(dppp.stdout).to.match(/--max-per-node <int> .*\(task sets "0"\)/);
    const python = await ws.run(['describe', 'pythonplugin', '-c', config], { config: false });
    expect(python.stdout).to.match(/--nodescript <string> .*\(task sets "python_plugin"\)/);
  });

  it('pipeline describe of each of the 28 tasks either describes it or says in one line that its recipe is not here (exit 2)', async () => {
    const config = lofarConfig('pipeline.cfg.CEP4');
    const list = await ws.run(['list', '-c', config], { config: false });
    const tasks = list.stdout.slice(list.stdout.indexOf('\ntasks (merged from')).trim().split('\n').slice(1).map((line) => line.split(/\s+/)[0]!);
    expect(tasks).to.have.length(28);
    const described: string[] = [];
    for (const task of tasks) {
      const result = await ws.run(['describe', task, '-c', config], { config: false });
      if (result.code === 0) {
        expect(result.stdout, task).to.match(new RegExp(`^${task}: task of .*tasks\\.cfg:\\d+, runs recipe `));
        described.push(task);
        continue;
      }
      expect(result.code, `${task}: ${result.stderr}`).to.equal(2);
      const lines = stderrLines(result).filter((line) => !line.includes('warning:'));
      expect(lines, `${task}: ${result.stderr}`).to.have.length(1);
      expect(lines[0], task).to.match(new RegExp(`^pipeline: task \\[${task}\\] of .*tasks\\.cfg runs recipe "[^"]+", which is not here`));
    }
    expect(described.sort()).to.deep.equal([...SHIPPED].sort());
  });

  it('a task whose recipe does not ship says so in one line naming the task, its file and the recipe (exit 2)', async () => {
    const config = lofarConfig('pipeline.cfg.CEP4');
    for (const task of ['vdsreader', 'new_bbs', 'imager_prepare']) {
      const result = await ws.run(['describe', task, '-c', config], { config: false });
      expect(result.code).to.equal(2);
      const lines = stderrLines(result).filter((line) => !line.includes('warning:'));
      expect(lines, result.stderr).to.have.length(1);
      expect(lines[0]).to.match(new RegExp(`^pipeline: task \\[${task}\\] of .*tasks\\.cfg runs recipe "${task}", which is not here: not found in .*; write it as a recipe`));
    }
  });

  it('LOFAR\'s [ndppp]-era [dppp] task runs over a data map with LOFAR\'s pipeline.cfg and tasks.cfg.CEP4, its NDPPP given msin= and msout=', async () => {
    const config = lofarConfig('pipeline.cfg.CEP4');
    // pipeline.cfg.CEP4 runs jobs through custom_cmdline (not here yet): run them locally.
    ws.write('pipeline.cfg.CEP4', readFileSync(config, 'utf8').replace('method = custom_cmdline', 'method = local'));
    mkdirSync(join(lofarroot, 'bin'), { recursive: true });
    const ndppp = join(lofarroot, 'bin', 'NDPPP');
    writeFileSync(ndppp, `#!/bin/sh\necho "$OMP_NUM_THREADS $*" >> ${join(ws.dir, 'ndppp.calls')}\n`);
    chmodSync(ndppp, 0o755);
    const map = ws.write('in.mapfile', new DataMap([0, 1, 2].map((n) => ({ host: 'localhost', file: `/data/L1_SB00${n}.MS`, skip: false }))).toString());
    const result = await ws.run(['run', 'dppp', '-c', config, '--mapfile-in', map, '--stepname', 'avg', '--inputkey', 'msin', '-j', 'L1'], { config: false });
    expect(result.code, result.stderr).to.equal(0);
    const calls = readFileSync(join(ws.dir, 'ndppp.calls'), 'utf8').trim().split('\n').sort();
    expect(calls).to.deep.equal([0, 1, 2].map((n) => `10 msin=/data/L1_SB00${n}.MS msout=${join(ws.dir, 'scratch', 'L1')}/L1_SB00${n}.avg`));
    const out = DataMap.load(JSON.parse(result.stdout).mapfile);
    expect(out.entries.map((entry) => entry.skip)).to.deep.equal([false, false, false]);
  });

  it('prefactor\'s pipeline.cfg runs a task although the clusterdesc it names does not exist (the jobs name their hosts)', async () => {
    const text = readFileSync(join(fixtures, 'prefactor', 'pipeline.cfg'), 'utf8')
      .replace(/^lofarroot = .*$/m, `lofarroot = ${lofarroot}`)
      .replace(/^runtime_directory = .*$/m, `runtime_directory = ${ws.runtimeDirectory}`)
      .replace(/^task_files = .*$/m, `task_files = [${join(lofarroot, 'share', 'pipeline', 'tasks.cfg')}]`);
    const config = ws.write('prefactor.cfg', text);
    const map = ws.write('in.mapfile', `[{'host': 'localhost', 'file': '/data/A.MS', 'skip': False}]`);
    const result = await ws.run(['run', 'executable_args', '-c', config, '--mapfile-in', map, '--executable', '/bin/true', '--inputkey', 'msin', '-j', 'pf'], { config: false });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).not.to.include('clusterdesc');
  });
});

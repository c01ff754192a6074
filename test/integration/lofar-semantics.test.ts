/**
 * lofarpipe's semantics that a LOFAR user's files rely on (issue 14), through the command: a task
 * wins over a recipe of its name, recipes are also found under `<recipe_directory>/master`, task
 * keys the recipe does not declare are passed on with a verbose line, lofarpipe settings we do
 * not implement are named once, `[remote] python_executable` runs Python node scripts, and
 * executable_args says which of LOFAR's inputs it does not implement.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { projectPerTest, stderrLines } from '../harness/pipeline-cli.js';

describe('lofarpipe semantics through the command', function () {
  this.timeout(60_000);
  const project = projectPerTest();

  it('a task wins over the recipe of its name: pipeline run greet takes [greet]\'s values, and passes on the key greet does not declare with a verbose line', async () => {
    const { ws } = project;
    ws.write('tasks.cfg', '[greet]\nrecipe = greet\nnames = [tess, uma]\nnthreads = 4\n');
    const result = await ws.run(['run', 'greet', '-v']);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).greetings).to.deep.equal(['hello tess', 'hello uma']);
    expect(result.stderr).to.match(/task \[greet\] sets nthreads, which recipe greet does not declare: passed on as text in this\.inputs/);
    // An input given on the command line still wins over the task's.
    const given = await ws.run(['run', 'greet', '--names', 'vic', '--fresh']);
    expect(JSON.parse(given.stdout).greetings).to.deep.equal(['hello vic']);
  });

  it('finds a recipe under <recipe_directory>/master, where lofarpipe keeps its recipes', async () => {
    const { ws } = project;
    ws.write('recipes/master/from_master.js', `import { BaseRecipe } from 'pipeline-framework';
export default class FromMaster extends BaseRecipe {
  static description = 'a recipe in master/';
  static inputs = {};
  async go() { this.outputs.where = 'master'; return 0; }
}
`);
    const list = await ws.run(['list']);
    expect(list.stdout).to.match(/^from_master +a recipe in master\//m);
    const result = await ws.run(['run', 'from_master']);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.equal({ where: 'master' });
  });

  it('names once, with file and line, the lofarpipe settings of [logging], [feedback] and [remote] it does not implement', async () => {
    const { ws } = project;
    ws.writeConfig('globalfs = no\n\n[logging]\nformat = %(asctime)s %(message)s\ndatefmt = %H:%M:%S\nxml_stat_file = stats.xml\n\n[feedback]\nmethod = messagebus\n');
    const result = await ws.run(['list']);
    expect(result.code, result.stderr).to.equal(0);
    const warnings = stderrLines(result).filter((line) => line.includes('does not implement'));
    const config = ws.configPath;
    expect(warnings.some((line) => line.includes(`${config}:`) && line.includes('[logging] format, datefmt, xml_stat_file: lofarpipe settings this framework does not implement; ignored'))).to.equal(true);
    expect(warnings.some((line) => line.includes('[feedback] method: lofarpipe setting this framework does not implement; ignored'))).to.equal(true);
    expect(warnings.some((line) => line.includes('[remote] globalfs') || line.includes('globalfs'))).to.equal(false); // globalfs is read (by copier)
    expect(new Set(warnings).size).to.equal(warnings.length);
  });

  it('[remote] python_executable runs Python node scripts', async () => {
    const { ws } = project;
    const calls = join(ws.dir, 'python.calls');
    const python = ws.write('my-python', `#!/bin/sh\necho "$@" >> ${calls}\nexec python3 "$@"\n`);
    chmodSync(python, 0o755);
    ws.writeConfig(`python_executable = ${python}`);
    const result = await ws.run(['run', 'faults', '--jobs', JSON.stringify([{ name: 'py', host: 'localhost', python: ['echo', 'x', 1] }])]);
    expect(result.code, result.stderr).to.equal(0);
    expect(readFileSync(calls, 'utf8')).to.match(/pyfault\.py/);
  });

  it('executable_args says which of LOFAR\'s inputs it does not implement when a task sets them', async () => {
    const { ws } = project;
    ws.write('tasks.cfg', '[casa_like]\nrecipe = executable_args\nexecutable = /bin/true\nmapfiles_as_string = []\nargs_format_option = -\n');
    const result = await ws.run(['run', 'casa_like', '--inputs', 'a']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/executable_args: LOFAR's inputs mapfiles_as_string, args_format_option are not implemented here and are ignored/);
  });
});

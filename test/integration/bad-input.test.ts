import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { stderrLines, userProject, type CliResult, type Workspace } from '../harness/pipeline-cli.js';

/** Exit 2, one clear line on stderr, no stack trace, nothing printed as outputs. */
function expectUsageError(result: CliResult, pattern: RegExp): void {
  const lines = stderrLines(result);
  expect(result.code, result.stderr).to.equal(2);
  expect(lines, result.stderr).to.have.lengthOf(1);
  expect(lines[0]).to.match(pattern);
  expect(result.stderr).not.to.match(/^\s+at /m);
  expect(result.stdout).to.equal('');
}

describe('bad input: exit 2 and one clear line', function () {
  let ws: Workspace;
  beforeEach(() => { ws = userProject(); });
  afterEach(() => ws.remove());

  it('an unknown recipe', async () => {
    expectUsageError(await ws.run(['run', 'no_such_recipe']), /^pipeline: unknown recipe or task "no_such_recipe": not found in .*recipes/);
  });

  it('a one-value option given twice', async () => {
    expectUsageError(await ws.run(['run', 'greet', '--job-name', 'a', '--job-name', 'b']), /^pipeline: --job-name was given 2 times \(a, b\); give it once$/);
    expectUsageError(await ws.run(['status', '--config', 'x.cfg']), /^pipeline: --config was given 2 times \(x\.cfg, .*pipeline\.cfg\); give it once$/);
  });

  it('a job name that is not one safe path segment, and nothing is written outside the runtime directory', async () => {
    for (const name of ['../../escaped', '', 'a/b', '.hidden', 'two words']) {
      expectUsageError(await ws.run(['run', 'greet', '--job-name', name]),
        new RegExp(`^pipeline: job name ${JSON.stringify(name).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: expected one path segment of letters, digits, '\\.', '_' and '-', not starting with '\\.'`));
    }
    expect(existsSync(join(ws.dir, 'escaped'))).to.equal(false);
    expect(existsSync(join(ws.runtimeDirectory, 'escaped'))).to.equal(false);
    expect(existsSync(join(ws.runtimeDirectory, 'jobs', 'a'))).to.equal(false);
    expectUsageError(await ws.run(['status', '../x']), /^pipeline: job name "\.\.\/x": expected one path segment/);
  });

  it('two jobs of one run with the same name are refused before either runs', async () => {
    const specs = [{ name: 'same', host: 'localhost', shell: 'echo one' }, { name: 'same', host: 'localhost', shell: 'echo two' }];
    const result = await ws.run(['run', 'faults', '--jobs', JSON.stringify(specs)]);
    expect(result.code, result.stderr).to.equal(2);
    expect(stderrLines(result).filter((line) => line.startsWith('pipeline:'))).to.deep.equal([
      'pipeline: job same: another job of this run has the same name; give each job a name of its own (its log, files and records are found by it)',
    ]);
    expect(result.stderr).not.to.match(/^\s+at /m);
  });

  it('two jobs whose names make the same directory name (a/b and a?b) each keep a directory and result.json of their own', async () => {
    const specs = [{ name: 'a/b', host: 'localhost', shell: 'echo slash' }, { name: 'a?b', host: 'localhost', shell: 'echo question' }];
    const result = await ws.run(['run', 'faults', '--job-name', 'clash', '--jobs', JSON.stringify(specs)]);
    expect(result.code, result.stderr).to.equal(0);
    const jobs = join(ws.jobDirectory('clash'), 'jobs');
    const results = readdirSync(jobs).map((dir) => JSON.parse(readFileSync(join(jobs, dir, 'result.json'), 'utf8')) as { outputs: { stdout: string[] } });
    expect(results.map((recorded) => recorded.outputs.stdout.join()).sort()).to.deep.equal(['question', 'slash']);
  });

  it('a recipe path that does not exist', async () => {
    expectUsageError(await ws.run(['run', './nowhere/r.js']), /^pipeline: recipe file \.\/nowhere\/r\.js does not exist$/);
  });

  it('a file that is not a recipe', async () => {
    ws.write('recipes/not_a_recipe.js', 'export default 42;\n');
    expectUsageError(await ws.run(['run', 'not_a_recipe']), /default export must be a class that extends BaseRecipe/);
  });

  it('a recipe with a syntax error', async () => {
    ws.write('recipes/broken.js', 'export default class {\n');
    expectUsageError(await ws.run(['run', 'broken']), /^pipeline: recipe .*broken\.js cannot be loaded: SyntaxError/);
  });

  it('a missing required input', async () => {
    expectUsageError(await ws.run(['run', 'echo_bytes', '--out', '.']), /^pipeline: input --texts is required: JSON file with an array of strings \(an existing file or directory\)$/);
  });

  it('a value of the wrong type', async () => {
    expectUsageError(await ws.run(['run', 'parallel_example', '--jobs', 'three']), /^pipeline: input --jobs: expected an integer, got "three"$/);
    expectUsageError(await ws.run(['run', 'parallel_example', '--sleep', '1x']), /^pipeline: input --sleep: expected a number, got "1x"$/);
  });

  it('a file input that does not exist', async () => {
    expectUsageError(await ws.run(['run', 'echo_bytes', '--texts', 'missing.json', '--out', '.']), /^pipeline: input --texts: expected an existing file or directory, got "missing\.json \(no such file\)"$/);
  });

  it('an unknown input', async () => {
    expectUsageError(await ws.run(['run', 'parallel_example', '--jbos', '3']), /^pipeline: unknown input --jbos; this recipe's inputs: --jobs, --message, --sleep, --max-per-node$/);
  });

  it('a config file that does not exist', async () => {
    expectUsageError(await ws.run(['run', 'greet', '--config', 'nope.cfg'], { config: false }), /^pipeline: --config nope\.cfg: no such file$/);
  });

  it('a config file that cannot be read', async () => {
    mkdirSync(join(ws.dir, 'dir.cfg'));
    expectUsageError(await ws.run(['run', 'greet', '--config', 'dir.cfg'], { config: false }), /^pipeline: .*dir\.cfg: cannot read: EISDIR/);
  });

  it('an ssh_config or identity_file named in pipeline.cfg that does not exist', async () => {
    ws.writeConfig('ssh_config = /nonexistent/ssh_config\n');
    expectUsageError(await ws.run(['run', 'greet']), new RegExp(`^pipeline: ${ws.configPath}:\\d+: \\[remote\\] ssh_config: /nonexistent/ssh_config does not exist$`));
    ws.writeConfig('identity_file = ~/no_such_key\n');
    expectUsageError(await ws.run(['run', 'greet']), /^pipeline: .*\[remote\] identity_file: .*no_such_key does not exist$/);
  });

  it('a key a known section does not have is warned about, with the closest key, and the run goes on', async () => {
    ws.writeConfig('max_per_nod = 2\nmethodd = local\n\n[logging]\nlog_fille = x\n');
    const result = await ws.run(['run', 'greet']);
    expect(result.code, result.stderr).to.equal(0);
    const warnings = stderrLines(result).filter((line) => line.startsWith('pipeline: warning:'));
    expect(warnings).to.deep.equal([
      `pipeline: warning: ${ws.configPath}:10: [remote] max_per_nod is not a setting this framework knows, and is ignored; did you mean max_per_node?`,
      `pipeline: warning: ${ws.configPath}:11: [remote] methodd is not a setting this framework knows, and is ignored; did you mean method?`,
      `pipeline: warning: ${ws.configPath}:14: [logging] log_fille is not a setting this framework knows, and is ignored; did you mean log_file?`,
    ]);
  });

  it('a config file with a syntax error names the file and line', async () => {
    ws.writeConfig('[remote]\nthis line is wrong\n');
    expectUsageError(await ws.run(['run', 'greet']), new RegExp(`^pipeline: ${ws.configPath}:\\d+: `));
  });

  it('a config value of the wrong kind names the file, line and key', async () => {
    ws.writeConfig('[logging]\n[cluster]\n');
    ws.write('pipeline.cfg', `[DEFAULT]\nruntime_directory = ${ws.runtimeDirectory}\n[remote]\nmax_per_node = many\n`);
    expectUsageError(await ws.run(['run', 'greet']), new RegExp(`^pipeline: ${ws.configPath}:4: \\[remote\\] max_per_node: expected an integer >= 0, got "many"$`));
  });

  it('a clusterdesc that does not exist names the key and the file', async () => {
    ws.write('pipeline.cfg', `[DEFAULT]\nruntime_directory = ${ws.runtimeDirectory}\n[cluster]\nclusterdesc = nowhere.clusterdesc\n`);
    const missing = join(ws.dir, 'nowhere.clusterdesc');
    // Found when the recipe first needs the cluster: after the run's opening lines, one error line.
    const run = await ws.run(['run', 'parallel_example']);
    expect(run.code, run.stderr).to.equal(2);
    const errors = stderrLines(run).filter((line) => !/^\d\d:\d\d:\d\d INFO /.test(line));
    expect(errors, run.stderr).to.have.lengthOf(1);
    expect(errors[0]).to.match(new RegExp(`^pipeline: ${ws.configPath}: \\[cluster\\] clusterdesc: ${missing} does not exist; expected a clusterdesc file`));
    expect(run.stderr).not.to.match(/^\s+at /m);
    expectUsageError(await ws.run(['hosts', 'check']), /\[cluster\] clusterdesc: .* does not exist/);
  });

  it('a clusterdesc that does not exist is no error for a run that does not need the cluster (prefactor\'s default pipeline.cfg names one)', async () => {
    ws.write('pipeline.cfg', `[DEFAULT]\nruntime_directory = ${ws.runtimeDirectory}\n[cluster]\nclusterdesc = nowhere.clusterdesc\n`);
    const result = await ws.run(['run', 'parallel_example', '--hosts', 'localhost', '--jobs', '2']);
    expect(result.code, result.stderr).to.equal(0);
  });

  it('an unknown interpolation names the key', async () => {
    ws.write('pipeline.cfg', `[DEFAULT]\nruntime_directory = %(nowhere)s/x\n`);
    expectUsageError(await ws.run(['run', 'greet']), /runtime_directory: %\(nowhere\)s refers to an unknown key 'nowhere'/);
  });

  it('an unknown command', async () => {
    const result = await ws.run(['fly']);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('Unknown');
  });
});

import { expect } from 'chai';
import { latestLog, runCli, Workspace } from '../harness/pipeline-cli.js';

describe('the shipped example recipes', function () {
  let ws: Workspace;
  beforeEach(() => { ws = new Workspace(); });
  afterEach(() => ws.remove());

  it('pipeline list shows them with their descriptions', async () => {
    const result = await ws.run(['list']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.match(/^parallel_example +fan jobs out over hosts/m);
    expect(result.stdout).to.match(/^executable_args +run an executable once per input/m);
  });

  it('pipeline describe shows inputs with kinds, defaults and help', async () => {
    const result = await ws.run(['describe', 'executable_args']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.include('--executable <string>  program to run (a path, or a name on PATH) (required)');
    expect(result.stdout).to.include('--inputs <list>  without a data map: one job per item, the item as the last argument (optional)');
    expect(result.stdout).to.include('--mapfile-in <string>  data map of the inputs: one job per entry that is not skipped, on its host (default "")');
    expect(result.stdout).to.include('--max-per-node <int>');
  });

  it('parallel_example: every job logs its arguments from its host', async () => {
    const result = await ws.run(['run', 'parallel_example', '--jobs', '5', '--message', 'good morning', '--hosts', 'localhost']);
    expect(result.code, result.stderr).to.equal(0);
    const outputs = JSON.parse(result.stdout);
    expect(outputs.jobs).to.have.lengthOf(5);
    expect(outputs.jobs.map((j: { index: number }) => j.index)).to.deep.equal([0, 1, 2, 3, 4]);
    const log = latestLog(ws.jobDirectory('parallel_example'));
    for (let i = 0; i < 5; i++) expect(log).to.match(new RegExp(`localhost#\\d+ job ${i} on \\S+ \\(pid \\d+\\) says: good morning`));
  });

  it('executable_args: one job per input with its own return code and output lines', async () => {
    // jobs start in working_directory, so inputs are given as absolute paths
    const a = ws.write('a.txt', 'one\ntwo\n');
    const b = ws.write('b.txt', 'three\n');
    const missing = `${ws.dir}/missing.txt`;
    const result = await ws.run(['run', 'executable_args', '--executable', 'wc', '--arguments=-l', '--inputs', [a, b, missing].join(',')]);
    expect(result.code).to.equal(1); // missing.txt fails
    const { results } = JSON.parse(result.stdout);
    expect(results).to.have.lengthOf(3);
    expect(results[0]).to.include({ input: a, returncode: 0 });
    expect(results[0].stdout).to.deep.equal([`2 ${a}`]);
    expect(results[1].stdout).to.deep.equal([`1 ${b}`]);
    expect(results[2]).to.include({ input: missing, returncode: 1, failure: 'exit' });
  });

  it('a tasks.cfg task runs its recipe with the task\'s inputs, overridable on the command line', async () => {
    ws.write('tasks.cfg', '[morning]\nrecipe = parallel_example\nmessage = from the task\njobs = 2\n');
    const result = await ws.run(['run', 'morning', '--jobs', '3']);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).jobs).to.have.lengthOf(3);
    expect(latestLog(ws.jobDirectory('morning'))).to.include('says: from the task');
  });

  it('the shipped default configuration runs a pipeline with no config given', async () => {
    const home = new Workspace();
    try {
      // no ./pipeline.cfg and no ~/.pipeline.cfg: the shipped one is used
      const result = await runCli(['run', 'parallel_example', '--jobs', '2'], { cwd: home.write('empty/.keep', '').replace(/\/\.keep$/, ''), env: { HOME: home.dir } });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).to.include(`${home.dir}/pipeline_runtime/jobs/parallel_example/logs/`);
    } finally {
      home.remove();
    }
  });
});

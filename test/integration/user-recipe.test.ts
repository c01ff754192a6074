import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { latestLog, userProject, type Workspace } from '../harness/pipeline-cli.js';

describe('a user recipe and node script outside the repository', function () {
  let ws: Workspace;
  beforeEach(() => { ws = userProject(); });
  afterEach(() => ws.remove());

  it('runs three jobs through `pipeline run <path>`: outputs per job, node log lines in the run log with host, job and level', async () => {
    const result = await ws.run(['run', join(ws.dir, 'recipes', 'greet.js')]);
    expect(result.code, result.stderr).to.equal(0);
    const outputs = JSON.parse(result.stdout);
    expect(outputs.greetings).to.deep.equal(['hello ann', 'hello bob', 'hello cy']);
    expect(outputs.returncodes).to.deep.equal([0, 0, 0]);
    expect(outputs.errorSet).to.equal(false);

    const log = latestLog(ws.jobDirectory('greet'));
    for (const name of ['ann', 'bob', 'cy']) {
      const line = log.split('\n').find((l) => l.includes(`greeting ${name}`));
      expect(line, `log line for ${name}`).to.match(/ WARN +localhost#\d+ greeting \w+/);
      expect(line).to.include(`"who":"${name}"`); // the node's metadata arrives too
    }
    // the file keeps debug records; the console (info) does not show them
    expect(log).to.include('debug detail for ann');
    expect(result.stderr).not.to.include('debug detail');
    expect(result.stderr).to.match(/WARN +localhost#\d+ greeting ann/);
  });

  it('finds the recipe by name in recipe_directories', async () => {
    const result = await ws.run(['run', 'greet', '--names', 'dee']);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).greetings).to.deep.equal(['hello dee']);
  });

  it('a job that exits 3: returncode 3, error event set, the other jobs complete, exit 1', async () => {
    const result = await ws.run(['run', 'greet', '--fail-on', 'bob']);
    expect(result.code, result.stderr).to.equal(1);
    const outputs = JSON.parse(result.stdout);
    expect(outputs.returncodes).to.deep.equal([0, 3, 0]);
    expect(outputs.failures).to.deep.equal([null, 'exit', null]);
    expect(outputs.greetings).to.deep.equal(['hello ann', 'hello bob', 'hello cy']);
    expect(outputs.errorSet).to.equal(true);
    expect(result.stderr).to.match(/ERROR +localhost#\d+ failed \(exit\): exited with return code 3/);
  });

  it('a node that throws: node-exception, and its message and stack reach the master log', async () => {
    const result = await ws.run(['run', 'greet', '--throw-on', 'cy']);
    expect(result.code).to.equal(1);
    const outputs = JSON.parse(result.stdout);
    expect(outputs.failures).to.deep.equal([null, null, 'node-exception']);
    expect(outputs.returncodes[2]).to.not.equal(0);
    const log = latestLog(ws.jobDirectory('greet'));
    expect(log).to.include('TypeError: cannot greet cy');
    expect(log).to.match(/at GreetNode\.run \(file:\/\/.*nodes\/greet\.js:\d+:\d+\)/);
    expect(log).to.match(/failed \(node-exception\): node script threw TypeError: cannot greet cy/);
  });

  it('arguments with quotes, ;, $(...), newlines and non-ASCII arrive in the node byte for byte', async () => {
    const texts = [
      `it's "quoted" and 'single'`,
      'a; touch INJECTED; b',
      '$(touch INJECTED) `touch INJECTED` ${HOME}',
      'line one\nline two\r\nline three\n',
      'naïve café — ☃ 日本語 🚀',
      '\\ backslash \\\\ and \t tab',
      '-not-an-option --flag',
      '',
    ];
    ws.write('texts.json', JSON.stringify(texts));
    ws.write('out/.keep', '');
    const result = await ws.run(['run', 'echo_bytes', '--texts', 'texts.json', '--out', 'out']);
    expect(result.code, result.stderr).to.equal(0);
    texts.forEach((text, i) => {
      expect(readFileSync(join(ws.dir, 'out', `${i}.txt`))).to.deep.equal(Buffer.from(text, 'utf8'));
    });
    expect(JSON.parse(result.stdout).echoed).to.deep.equal(texts);
    expect(existsSync(join(ws.dir, 'INJECTED'))).to.equal(false);
    expect(existsSync(join(ws.runtimeDirectory, 'working', 'INJECTED'))).to.equal(false);
  });

  it('the same text given on the command line arrives intact too', async () => {
    const tricky = `x'y"z; $(id) \`id\` é ✓`;
    const result = await ws.run(['run', 'greet', '--names', `["${tricky.replace(/"/g, '\\"')}"]`]);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).greetings).to.deep.equal([`hello ${tricky}`]);
  });
});

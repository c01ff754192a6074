import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { latestLog, userProject, type Workspace } from '../harness/pipeline-cli.js';

describe('central log: nothing lost at exit', function () {
  let ws: Workspace;
  beforeEach(() => { ws = userProject(); });
  afterEach(() => ws.remove());

  it('keeps every one of 100,000 node log lines and 100,000 command output lines, the last ones included', async () => {
    const result = await ws.run(['run', 'chatty', '--lines', '100000'], { timeoutMs: 120_000 });
    expect(result.code, result.stderr.slice(-2000)).to.equal(0);
    const log = latestLog(ws.jobDirectory('chatty'));
    const nodeLines = log.match(/ INFO +localhost#\d+ node line \d+$/gm) ?? [];
    expect(nodeLines).to.have.lengthOf(100_000);
    expect(log).to.match(/ node line 100000$/m);
    const seqLines = log.match(/ INFO +localhost#\d+ \d+$/gm) ?? [];
    expect(seqLines).to.have.lengthOf(100_000);
    expect(log).to.match(/localhost#\d+ 100000$/m);
    // the console got them too, up to the end
    expect(result.stderr).to.match(/node line 100000\n/);
    expect(result.stderr).to.match(/recipe chatty completed\n/);
  });

  it('a node cannot forge a log record or drive the terminal: continuation lines are marked, control characters escaped', async () => {
    const specs = [{ name: 'forger', host: 'localhost', node: ['forge'] }];
    const jsonLog = join(ws.dir, 'run.log.json');
    ws.writeConfig(`[logging]\njson_log_file = ${jsonLog}`);
    const result = await ws.run(['run', 'faults', '--jobs', JSON.stringify(specs)]);
    expect(result.code, result.stderr).to.equal(0);
    const log = latestLog(ws.jobDirectory('faults'));
    for (const text of [log, result.stderr]) {
      expect(text).to.not.match(/^\d{4}-\d\d-\d\d [\d:.]+ INFO    node9#admin FORGED/m); // no line starts as the forged record
      expect(text).to.not.include('\x1b'); // no raw ESC: the screen is not cleared
      expect(text).to.match(/^ +\| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO    node9#admin FORGED\\x1b\[2J$/m);
    }
    expect(log).to.match(/WARN    localhost#forger innocent$/m);
    expect(log).to.match(/INFO    localhost#forger printed\\r\d{4}-.* node9#admin FORGED\\x1b\[2J/);
    // The JSON log ([logging] json_log_file) keeps each message exactly as the node sent it.
    const records = readFileSync(jsonLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { message: string; level: string; job?: string });
    const forged = records.filter((record) => record.job === 'forger' && record.message.includes('FORGED'));
    expect(forged.length).to.be.at.least(1);
    expect(forged.some((record) => /\r\n?\d{4}-\d\d-\d\d [\d:.]+ INFO +node9#admin FORGED\x1b\[2J/.test(record.message)), JSON.stringify(forged)).to.equal(true);
  });
});


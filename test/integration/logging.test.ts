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
});

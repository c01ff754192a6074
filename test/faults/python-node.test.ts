/**
 * A Python node script (lofarpipe_node, a LOFAR script ported by its import and __main__ lines)
 * over real sshd hosts: arguments arrive byte for byte, log levels keep their level, outputs
 * come back, an exception's traceback reaches the master's log, and a master killed with
 * SIGKILL leaves nothing of the job on the host.
 */
import { expect } from 'chai';
import { expectNothingLeft, job, sshTestHosts, startFaultRun } from './fault-run.js';
import { latestLog } from '../harness/pipeline-cli.js';

describe('faults: Python node scripts over SSH (real sshd hosts)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();

  const tricky = ['plain', 'with space', "it's \"quoted\" $(rm -rf /) `x` \\", 'ünïcødé ✓ 🚀', '\u2028line\nbreak\ttab', '', { nested: [1, 2.5, null, true, { deep: 'x' }] }, 'x'.repeat(100_000)];

  it('arguments byte for byte, log levels kept, outputs back, an exception with its traceback in the log', async () => {
    const run = startFaultRun(hosts.p, [
      { name: 'echo', host: 'node1', python: ['echo', ...tricky] },
      { name: 'levels', host: 'node2', python: ['levels'] },
      { name: 'raises', host: 'node3', python: ['raise', 'L1_SB000.MS'] },
    ], ['-d', '--job-name', 'python']);
    const result = await run.ended;
    expect(result.code, result.stderr.slice(-3000)).to.equal(1);
    expect(job(result, 'echo')).to.include({ state: 'succeeded', returncode: 0, host: 'node1' });
    expect(job(result, 'echo').outputs.args).to.deep.equal(tricky);
    expect(job(result, 'levels')).to.include({ state: 'succeeded' });
    const raised = job(result, 'raises');
    expect(raised).to.include({ state: 'failed', failure: 'node-exception' });
    expect(raised.message).to.match(/ValueError: the input is wrong: L1_SB000\.MS/);

    const log = latestLog(hosts.p.ws.jobDirectory('python'));
    for (const [level, text] of [['DEBUG', 'a debug line'], ['INFO', 'an info line'], ['WARN', 'a warning line'], ['ERROR', 'an error line']]) {
      expect(log, text).to.match(new RegExp(`${level} +node2#levels ${text}$`, 'm'));
    }
    // The traceback names the script's own line.
    expect(log).to.match(/pyfault\.py", line \d+, in run/);
    expect(log).to.match(/ValueError: the input is wrong: L1_SB000\.MS/);
  });

  it('a master killed with SIGKILL leaves nothing of a Python job on its host, its children included', async () => {
    const run = startFaultRun(hosts.p, [{ name: 'kids', host: 'node1', python: ['children', 307] }], ['--job-name', 'python-kill']);
    await run.waitForLog(/node1#kids children started/);
    run.master.kill('SIGKILL');
    await run.ended;
    await expectNothingLeft(hosts.p.cluster, 8000);
  });
});

/**
 * Outputs and log messages of any size a node sends: outputs arrive whole up to the 16 MiB cap
 * and past it the job fails with its own reason, naming the size (an outside probe saw 100 KiB
 * outputs vanish from a job that still succeeded); a long log message is cut and marked, never
 * dropped; a node flooding outputs messages cannot exhaust the master's memory.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { MAX_OUTPUTS_BYTES } from '../../support/protocol/messages.js';
import { job, sshTestHosts, startFaultRun, watchMemory } from './fault-run.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('faults: outputs and log messages of any size (real sshd hosts)', function () {
  this.timeout(180_000);
  const hosts = sshTestHosts();

  it('outputs up to the cap arrive whole; past it the job fails with outputs-too-large naming the size, and is not reused on a rerun', async () => {
    const over = MAX_OUTPUTS_BYTES + 1 * MiB;
    const specs = [
      { name: 'small', host: 'node1', node: ['outputs', 100 * KiB] },
      { name: 'near-cap', host: 'node2', node: ['outputs', MAX_OUTPUTS_BYTES - 64 * KiB] },
      { name: 'over-cap', host: 'node3', node: ['outputs', over] },
    ];
    const run = startFaultRun(hosts.p, specs, ['--job-name', 'outputs-cap']);
    const result = await run.ended;
    expect(result.code, result.stderr).to.equal(1);
    expect(job(result, 'small')).to.include({ state: 'succeeded' });
    expect((job(result, 'small').outputs.big as string).length).to.equal(100 * KiB);
    expect(job(result, 'near-cap')).to.include({ state: 'succeeded' });
    expect((job(result, 'near-cap').outputs.big as string).length).to.equal(MAX_OUTPUTS_BYTES - 64 * KiB);
    const failed = job(result, 'over-cap');
    expect(failed).to.include({ state: 'failed', failure: 'outputs-too-large' });
    expect(failed.outputs).to.deep.equal({});
    const size = over + '{"type":"outputs","job":"over-cap","outputs":{"big":""}}'.length;
    expect(failed.message).to.equal(`outputs reached ${size} bytes, over the cap of 16 MiB (${MAX_OUTPUTS_BYTES} bytes); write large results to files and put their paths in outputs`);
    expect(result.stderr).to.match(/summary: 3 jobs: .*1 outputs-too-large/);

    const rerun = startFaultRun(hosts.p, specs, ['--job-name', 'outputs-cap']);
    const again = await rerun.ended;
    expect(again.code, again.stderr).to.equal(1);
    expect(job(again, 'small').reused, 'the job that succeeded is reused').to.equal(true);
    expect(job(again, 'over-cap').reused ?? false, 'the job whose outputs were lost runs again').to.equal(false);
    expect(job(again, 'over-cap')).to.include({ failure: 'outputs-too-large' });
  });

  it('a 200 KiB log message is cut at 64 KiB and marked, from the runtime and from a node writing the channel itself', async () => {
    const run = startFaultRun(hosts.p, [
      { name: 'long-log', host: 'node1', node: ['long-log', 200 * KiB] },
      { name: 'raw-long-log', host: 'node2', node: ['raw-messages', 1, 200 * KiB, 'log'] },
    ]);
    const result = await run.ended;
    expect(result.code, result.stderr).to.equal(0);
    const log = run.log();
    for (const [who, letter] of [['node1#long-log', 'L'], ['node2#raw-long-log', 'R']] as const) {
      const line = log.split('\n').find((text) => text.includes(`${who} ${letter}${letter}${letter}`));
      expect(line, `${who}'s message is in the log`).to.be.a('string');
      expect(line!).to.include(`${letter.repeat(64 * KiB)} [line cut: ${200 * KiB - 64 * KiB} more bytes dropped]`);
      expect(line!).to.not.include('END');
    }
    expect(log).to.not.include('malformed message');
  });

  for (const count of [5000, 10000]) {
    it(`${count} outputs messages of 60 KiB: the job fails with outputs-too-large, the master's memory stays bounded, the run ends and says so`, async () => {
      const run = startFaultRun(hosts.p, [{ name: 'flood', host: 'node3', node: ['raw-messages', count, 60 * KiB, 'outputs'] }], ['--job-name', `flood${count}`]);
      const memory = watchMemory(run.master.pid!);
      const result = await run.ended;
      const peak = memory.stop();
      expect(result.code, result.stderr).to.equal(1);
      expect(job(result, 'flood')).to.include({ state: 'failed', failure: 'outputs-too-large' });
      expect(job(result, 'flood').message).to.match(/^outputs reached \d+ bytes, over the cap of 16 MiB/);
      // Measured: about 250 MiB here (the cap's worth of messages, parsed, and the run's own); 1.9 GB before the cap.
      expect(peak, `master peak RSS ${Math.round(peak / MiB)} MiB`).to.be.below(600 * MiB);
      const status = await hosts.p.ws.run(['status', `flood${count}`, '--json']);
      expect(status.code, status.stderr).to.equal(1); // a failed run
      expect(JSON.parse(status.stdout)).to.include({ status: 'failed' });
      // The outputs were dropped, not journalled: the journal stays small (it reached 615 MB before the cap).
      const journal = statSync(join(hosts.p.ws.jobDirectory(`flood${count}`), 'journal.ndjson')).size;
      expect(journal, `journal of ${journal} bytes`).to.be.below(1 * MiB);
    });
  }
});

/**
 * Hostile output: a node that writes a 50 MB line, or a gigabyte of binary bytes, or a flood of
 * random lines, must not make the master run out of memory or stall the other jobs. Lines are
 * capped (LineSplitter), and job output is read no faster than the log is written (LogPressure).
 */
import { expect } from 'chai';
import { expectNothingLeft, job, sshTestHosts } from './fault-run.js';
import { expectChatterDuringFlood, LINE_CAP, MAX_RSS, MiB, watchRun } from './output-watch.js';

describe('faults: hostile output neither exhausts nor stalls the master (real sshd hosts)', function () {
  this.timeout(180_000);
  const hosts = sshTestHosts();

  it('a 50 MB line, 1 GB of binary and a flood of random lines over SSH, while another host chatters', async () => {
    const bigLine = 50 * MiB;
    const binary = 1024 * MiB;
    const flood = 96 * MiB;
    // The gigabyte and the flood come from plain commands: `head | tr` streams them at disk speed.
    const run = await watchRun(hosts.p, [
      { name: 'bigline', host: 'node1', node: ['bigline', bigLine] },
      { name: 'binary', host: 'node1', shell: `head -c ${binary} /dev/urandom | tr '\\n' '\\0' >&2; printf '\\nafter the big line\\n' >&2` },
      { name: 'flood', host: 'node2', shell: `head -c ${flood} /dev/urandom >&2; printf '\\nflood done\\n' >&2` },
      { name: 'chatter', host: 'node3', node: ['chatter', 30] },
    ], [
      `node1#bigline ${'a'.repeat(64)}`,
      `[line cut: ${bigLine - LINE_CAP} more bytes dropped]`,
      'node1#binary after the big line',
      'node2#flood flood done',
      'node2#flood succeeded in',
      'node3#chatter succeeded in',
    ], (log) => log.bytes > 16 * MiB && log.count('node2#flood succeeded in') === 0 && log.count('node3#chatter succeeded in') === 0);
    const { result, log } = run;
    const chatter = expectChatterDuringFlood(run.samples);
    console.log(`      ${run.seconds.toFixed(1)} s, master max RSS ${(run.maxRss / MiB).toFixed(0)} MiB, log ${(log.bytes / MiB).toFixed(0)} MiB, `
      + `flood ${job(result, 'flood').duration.toFixed(1)} s, 1 GiB binary ${job(result, 'binary').duration.toFixed(1)} s, `
      + `${chatter.lines} chatter lines in ${chatter.seconds.toFixed(1)} s of flood (longest gap ${chatter.longestStall} ms)`);

    expect(result.code, result.stderr).to.equal(0);
    for (const name of ['bigline', 'binary', 'flood', 'chatter']) expect(job(result, name), name).to.include({ state: 'succeeded', returncode: 0 });
    expect(run.maxRss, `master max RSS ${run.maxRss} bytes`).to.be.below(MAX_RSS);
    expect(log.count(`node1#bigline ${'a'.repeat(64)}`), 'the 50 MB line, cut').to.equal(1);
    expect(log.count(`[line cut: ${bigLine - LINE_CAP} more bytes dropped]`), 'its cut marker').to.equal(1);
    expect(log.count('node1#binary after the big line')).to.equal(1);
    expect(log.count('node2#flood flood done')).to.equal(1);
    expect(log.bytes, 'every line of the flood is in the log').to.be.above(flood);
    await expectNothingLeft(hosts.p.cluster);
  });
});

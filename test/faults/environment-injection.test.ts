/**
 * Shell injection through a job's environment names (an outside probe ran commands on the hosts
 * and on the master this way): the job is refused when it is created, with one line naming the
 * name, and nothing runs anywhere.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startFaultRun, sshTestHosts } from './fault-run.js';

describe('faults: environment names cannot inject shell code (real sshd hosts)', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();

  for (const host of ['node1', 'localhost']) {
    it(`a job for ${host} whose environment names hold shell code is refused at creation; nothing runs`, async () => {
      const work = join(hosts.p.cluster.dir, 'work');
      const pwned = [join(work, `pwned_${host}_1`), join(work, `pwned_${host}_2`), join(work, `ran_${host}`)];
      const run = startFaultRun(hosts.p, [
        { name: 'innocent', host, shell: `touch ${pwned[2]}` },
        { name: 'probe', host, shell: 'echo ok', environment: { [`X;touch ${pwned[0]};Y`]: 'v', [`$(touch ${pwned[1]})`]: '1' } },
      ]);
      const result = await run.ended;
      expect(result.code, result.stderr).to.equal(2);
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('pipeline: '));
      expect(result.stderr, 'no stack trace').to.not.match(/^\s+at /m);
      expect(errors, result.stderr).to.have.length(1);
      expect(errors[0]).to.equal(`pipeline: job probe: environment variable name ${JSON.stringify(`X;touch ${pwned[0]};Y`)} is not a valid name (letters, digits and _, not starting with a digit)`);
      for (const file of pwned) expect(existsSync(file), `${file} was created`).to.equal(false);
    });
  }
});

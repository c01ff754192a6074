import { expect } from 'chai';
import { RecordsError } from '../../../support/errors.js';
import { recording, recordsError, RecordsOutage } from '../../../support/records/records-outage.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, write`), { code });
}

describe('support/records/records-outage', () => {
  it('names the directory and the cause a user can act on, keeping the original error as cause', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['ENOSPC', 'no-space', /no space left on the device \(ENOSPC\); free space there/],
      ['EDQUOT', 'no-space', /no space left on the device \(EDQUOT\)/],
      ['EROFS', 'read-only', /the file system is read-only \(EROFS\); point runtime_directory/],
      ['EACCES', 'no-permission', /permission denied \(EACCES\)/],
      ['EIO', 'io-error', /the file system failed \(EIO\)/],
    ];
    for (const [code, reason, message] of cases) {
      const original = errno(code);
      const error = recordsError(original, '/runtime/jobs/x');
      expect(error).to.be.instanceOf(RecordsError);
      expect(error.reason, code).to.equal(reason);
      expect(error.message).to.match(/^cannot write the run's records in \/runtime\/jobs\/x: /).and.match(message);
      expect(error.cause).to.equal(original);
    }
  });

  it('recording() turns what a write throws into a RecordsError and passes a result through', () => {
    expect(recording('/d', () => 7)).to.equal(7);
    expect(() => recording('/d', () => { throw errno('ENOSPC'); })).to.throw(RecordsError, /in \/d: no space/);
  });

  it('tells the run once, at the first failure, and counts everything not recorded after it', () => {
    const heard: RecordsError[] = [];
    const outage = new RecordsOutage('/jobs/x', (error) => heard.push(error));
    expect(outage.describe()).to.equal(undefined);
    outage.lost('job file writes', errno('ENOSPC'));
    outage.lost('journal events', errno('ENOSPC'));
    outage.lost('journal events');
    outage.lost('log file', errno('ENOSPC'));
    expect(heard).to.have.length(1);
    expect(outage.failure?.reason).to.equal('no-space');
    expect(outage.describe()).to.match(/^records incomplete since \d\d:\d\d:\d\d: cannot write the run's records in \/jobs\/x: no space left on the device \(ENOSPC\); not recorded: 1 job file writes, 2 journal events, the rest of the log file$/);
  });

  it('a job file that cannot be written for another cause (not a directory, a permission) is told once and does not stop the run', () => {
    const stops: RecordsError[] = [];
    const told: string[] = [];
    const outage = new RecordsOutage('/jobs/x', (error) => stops.push(error), (kind, error) => told.push(`${kind}: ${error.message}`));
    outage.lost('job file writes', errno('ENOTDIR'));
    outage.lost('job file writes', errno('EACCES'));
    expect(stops).to.deep.equal([]);
    expect(told).to.deep.equal(['job file writes: ENOTDIR: failed, write']);
    expect(outage.describe()).to.equal(undefined);
    outage.lost('journal events', errno('EACCES'));
    expect(stops).to.have.length(1);
  });
});

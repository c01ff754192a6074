/** Jobs over a data map: one per entry not skipped, on its host; the output map skips what failed. */
import { expect } from 'chai';
import { dataMapJobs, skipFailed } from '../../../support/recipe/data-map-jobs.js';
import { DataMap, type DataProduct } from '../../../support/lofar/data-map.js';

describe('support/recipe/data-map-jobs', () => {
  const input = () => new DataMap([
    { host: 'node1', file: '/data/a.MS', skip: false },
    { host: 'node2', file: '/data/b.MS', skip: true },
    { host: 'node3', file: '/data/c.MS', skip: false },
    { host: 'node1', file: '/data/d.MS', skip: false },
  ]);

  it('makes one job per entry that is not skipped, on the entry\'s host, knowing its place in the map', () => {
    const seen: Array<[string, number]> = [];
    const jobs = dataMapJobs<DataProduct>(input(), (entry, index) => {
      seen.push([entry.file, index]);
      return { command: 'process', args: [entry.file], options: { name: `p.${index}` } };
    });
    expect(seen).to.deep.equal([['/data/a.MS', 0], ['/data/c.MS', 2], ['/data/d.MS', 3]]);
    expect(jobs.map(({ job, index }) => [job.host, job.requestedHost, job.pinned, job.args, job.id, index])).to.deep.equal([
      ['node1', 'node1', true, ['/data/a.MS'], 'p.0', 0],
      ['node3', 'node3', true, ['/data/c.MS'], 'p.2', 2],
      ['node1', 'node1', true, ['/data/d.MS'], 'p.3', 3],
    ]);
  });

  it('leaves out an entry the maker declines', () => {
    const jobs = dataMapJobs<DataProduct>(input(), (entry) => (entry.file.includes('c') ? undefined : { command: 'true' }));
    expect(jobs.map(({ entry }) => entry.file)).to.deep.equal(['/data/a.MS', '/data/d.MS']);
  });

  it('marks skipped, in an aligned output map, the entries whose job did not succeed, and counts them', () => {
    const jobs = dataMapJobs<DataProduct>(input(), (entry, index) => ({ command: 'true', options: { name: `q.${index}` } }));
    jobs[0]!.job.results.state = 'succeeded';
    jobs[1]!.job.results.state = 'failed';
    jobs[2]!.job.results.state = 'failed';
    const output = new DataMap(input().entries.map((entry) => ({ ...entry, file: entry.file.replace('.MS', '.out') })));
    expect(skipFailed(output, jobs)).to.equal(2);
    expect(output.entries.map((entry) => entry.skip)).to.deep.equal([false, true, true, true]);
  });
});

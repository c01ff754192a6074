import { expect } from 'chai';
import { ComputeJob, type JobResults } from '../../support/compute-job.js';
import { summarizeJobs } from '../../support/run-summary.js';

function ended(host: string, name: string, results: Partial<JobResults>): ComputeJob {
  const job = new ComputeJob(host, 'true', [], { name });
  job.results = { ...job.results, state: 'succeeded', ...results };
  return job;
}

describe('support/run-summary', () => {
  it('counts states, failure reasons and retries, and lists each failed job with its reason', () => {
    const jobs = [
      ended('n1', 'a', {}),
      ended('n1', 'b', { retries: 2 }),
      ended('n2', 'c', { state: 'failed', failure: 'connection-lost', message: 'connection to n2 lost while the job ran' }),
      ended('n2', 'd', { state: 'failed', failure: 'exit', returncode: 3, message: 'exited with return code 3', retries: 1 }),
      ended('n3', 'e', { state: 'failed', failure: 'connection-lost', message: 'lost' }),
    ];
    const summary = summarizeJobs(jobs);
    expect(summary.headline).to.equal('5 jobs: 2 succeeded, 3 failed (2 connection-lost, 1 exit); 2 jobs retried 3 times');
    expect(summary.failures).to.deep.equal([
      'n2#c connection-lost: connection to n2 lost while the job ran',
      'n2#d exit: exited with return code 3',
      'n3#e connection-lost: lost',
    ]);
    expect(summary.failed).to.equal(3);
  });

  it('says so plainly when everything succeeded', () => {
    const summary = summarizeJobs([ended('n1', 'only', {})]);
    expect(summary).to.deep.equal({ headline: '1 job: 1 succeeded', failures: [], failed: 0 });
  });

  it('lists at most 20 failed jobs and counts the rest', () => {
    const jobs = Array.from({ length: 25 }, (_, i) => ended('n1', `f${i}`, { state: 'failed', failure: 'cancelled', message: 'cancelled' }));
    const summary = summarizeJobs(jobs);
    expect(summary.headline).to.equal('25 jobs: 25 failed (25 cancelled)');
    expect(summary.failures).to.have.length(21);
    expect(summary.failures[20]).to.equal('... and 5 more failed jobs (see the log file)');
  });
});

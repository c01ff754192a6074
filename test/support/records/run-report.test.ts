import { expect } from 'chai';
import { hostname } from 'node:os';
import type { RecordedJob, RecordedRun } from '../../../support/records/job-journal.js';
import { detailLines, formatReport, headline, reportRun } from '../../../support/records/run-report.js';
import type { JobEnded } from '../../../support/records/run-events.js';

const START = '2026-11-22T01:00:00.000Z';

function recorded(job: string, host: string, ended?: Partial<JobEnded>): RecordedJob {
  const state = ended?.state ?? 'running';
  return {
    job, key: `k-${job}`, host, state, attempt: 1,
    ...(ended ? { ended: { type: 'job-ended', time: START, run: 'r', job, key: `k-${job}`, host, state: 'succeeded', returncode: 0, signal: null, duration: 1, retries: 0, outputs: {}, ...ended } as JobEnded } : {}),
  };
}

function run(jobs: RecordedJob[], ended = true): RecordedRun {
  return {
    started: {
      type: 'run-started', v: 1, time: START, run: 'r1', jobName: 'calib', recipe: 'calibrate', recipePath: '/r.js', inputs: {}, inputsHash: 'h',
      hosts: [], pid: process.pid, controlHost: hostname(), fresh: false, logFile: null,
    },
    ...(ended ? { ended: { type: 'run-ended', time: '2026-11-22T01:00:42.000Z', run: 'r1', returncode: 1, interrupted: null, outputs: {} } } : {}),
    jobs: new Map(jobs.map((job) => [job.job, job])),
    status: ended ? 'failed' : 'running',
  };
}

describe('support/records/run-report', () => {
  const jobs = [
    recorded('a', 'n1', { state: 'succeeded', duration: 4 }),
    recorded('b', 'n1', { state: 'succeeded', duration: 2, retries: 2 }),
    recorded('c', 'n2', { state: 'failed', failure: 'connection-lost', message: 'connection to n2 lost while the job ran', duration: 1.5 }),
    recorded('d', 'n2', { state: 'failed', failure: 'exit', returncode: 3, message: 'exited with return code 3', retries: 1, duration: 0.5 }),
    recorded('e', 'n3', { state: 'succeeded', reused: true, duration: 9 }),
    recorded('f', 'n3'),
  ];

  it('counts states, failure reasons, retries and reused jobs in one headline', () => {
    const report = reportRun('/runs/calib', run(jobs));
    expect(headline(report)).to.equal('6 jobs: 3 succeeded, 2 failed, 1 running (1 connection-lost, 1 exit); 2 jobs retried 3 times; 1 reused from an earlier run');
  });

  it('gives a row per host with its busy time, the slowest jobs that ran here, and each failure with its log', () => {
    const report = reportRun('/runs/calib', run(jobs));
    expect(report.hosts).to.deep.equal([
      { host: 'n1', jobs: 2, succeeded: 2, failed: 0, busy: 6 },
      { host: 'n2', jobs: 2, succeeded: 0, failed: 2, busy: 2 },
      { host: 'n3', jobs: 2, succeeded: 1, failed: 0, busy: 0 },
    ]);
    expect(report.slowest.map((job) => job.job)).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(detailLines(report)).to.deep.equal([
      'host  jobs  succeeded  failed   busy',
      'n1       2          2       0  6.0 s',
      'n2       2          0       2  2.0 s',
      'n3       2          1       0  0.0 s',
      'slowest: n1#a 4.0 s, n1#b 2.0 s, n2#c 1.5 s, n2#d 0.5 s',
      'n2#c connection-lost: connection to n2 lost while the job ran  (log: /runs/calib/jobs/c/job.log)',
      'n2#d exit: exited with return code 3  (log: /runs/calib/jobs/d/job.log)',
    ]);
  });

  it('names the jobs with the highest peak memory and the most CPU, when their hosts measured them', () => {
    const MiB = 1024 * 1024;
    const measured = [
      recorded('big', 'node2', { state: 'succeeded', duration: 3, usage: { userSeconds: 0.1, systemSeconds: 0.4, peakRssBytes: 212 * MiB } }),
      recorded('burn', 'node1', { state: 'succeeded', duration: 2.5, usage: { userSeconds: 2.04, systemSeconds: 0.02, peakRssBytes: 3.5 * MiB } }),
      recorded('huge', 'node3', { state: 'failed', failure: 'exit', message: 'exited with return code 1', duration: 1, usage: { userSeconds: 0.5, systemSeconds: 0.7, peakRssBytes: 3.25 * 1024 * MiB } }),
      recorded('idle', 'node1', { state: 'succeeded', duration: 0.1, usage: { userSeconds: 0, systemSeconds: 0, peakRssBytes: 0 } }),
      recorded('small', 'node1', { state: 'succeeded', duration: 0.2, usage: { userSeconds: 0.01, systemSeconds: 0, peakRssBytes: 900 * 1024 } }),
      recorded('unmeasured', 'node2', { state: 'succeeded', duration: 0.3 }),
      recorded('old', 'node3', { state: 'succeeded', reused: true, duration: 9, usage: { userSeconds: 99, systemSeconds: 0, peakRssBytes: 99 * 1024 * MiB } }),
    ];
    const report = reportRun('/runs/calib', run(measured));
    expect(report.mostMemory.map((job) => job.job)).to.deep.equal(['huge', 'big', 'burn']);
    expect(report.mostCpu).to.deep.equal([
      { job: 'burn', host: 'node1', cpuSeconds: 2.06 },
      { job: 'huge', host: 'node3', cpuSeconds: 1.2 },
      { job: 'big', host: 'node2', cpuSeconds: 0.5 },
    ]);
    expect(detailLines(report)).to.include('most memory: node3#huge 3.3 GiB, node2#big 212 MiB, node1#burn 3.5 MiB; most CPU: node1#burn 2.1 s, node3#huge 1.2 s, node2#big 0.5 s');
    // jobs that used next to nothing are no heaviest
    const light = reportRun('/runs/calib', run(measured.filter((job) => ['idle', 'small'].includes(job.job))));
    expect(detailLines(light)).to.include('most memory: node1#small 900 KiB; most CPU: node1#small 0.01 s');
  });

  it('has no line of the heaviest jobs when no job was measured (or none used anything)', () => {
    expect(detailLines(reportRun('/runs/calib', run(jobs))).some((line) => line.startsWith('most '))).to.equal(false);
    const idle = recorded('idle', 'n1', { state: 'succeeded', usage: { userSeconds: 0, systemSeconds: 0, peakRssBytes: 0 } });
    expect(detailLines(reportRun('/runs/calib', run([idle]))).some((line) => line.startsWith('most '))).to.equal(false);
  });

  it('gives no log path for a job that never started (cancelled while queued)', () => {
    const queued = { ...recorded('q', 'n1', { state: 'failed', failure: 'cancelled', message: 'cancelled before it started', duration: 0 }), attempt: 0 };
    const report = reportRun('/runs/calib', run([queued]));
    expect(report.failures).to.deep.equal([{ job: 'q', host: 'n1', failure: 'cancelled', message: 'cancelled before it started' }]);
    expect(detailLines(report).at(-1)).to.equal('n1#q cancelled: cancelled before it started');
  });

  it('heads the status with the run: its state and how long it took', () => {
    const lines = formatReport(reportRun('/runs/calib', run(jobs)));
    expect(lines[0]).to.equal('job calib: failed in 0:42 (recipe calibrate, run r1)');
    expect(formatReport(reportRun('/runs/calib', run(jobs, false)))[0]).to.equal('job calib: running (recipe calibrate, run r1)');
  });

  it('lists at most 20 failed jobs and counts the rest', () => {
    const many = Array.from({ length: 25 }, (_, i) => recorded(`f${i}`, 'n1', { state: 'failed', failure: 'cancelled', message: 'cancelled' }));
    const lines = detailLines(reportRun('/runs/calib', run(many)));
    expect(lines.filter((line) => line.includes(' cancelled: '))).to.have.length(20);
    expect(lines.at(-1)).to.equal('... and 5 more failed jobs (pipeline status calib --json lists them)');
  });
});

import { expect } from 'chai';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { FailureReason, JobState, JobUsage } from '../../../support/protocol/job-outcome.js';
import { journalPath, readJournal, type RecordedRun } from '../../../support/records/job-journal.js';
import { jobLogPath } from '../../../support/records/job-files.js';
import { readRunAttempts, renderRunPage, writeRunPage } from '../../../support/records/run-page.js';
import { reportRun } from '../../../support/records/run-report.js';
import type { RunEvent } from '../../../support/records/run-events.js';

const CHROMIUM = '/usr/bin/chromium';
const T0 = Date.parse('2026-11-22T01:00:00.000Z');

/** Writes a job directory's journal as a run would: events in time order, one JSON line each. */
class JournalFixture {
  readonly events: Array<{ at: number; event: RunEvent }> = [];

  constructor(readonly jobDirectory: string, readonly run: string, readonly hosts: string[]) {}

  time(seconds: number): string {
    return new Date(T0 + seconds * 1000).toISOString();
  }

  add(at: number, event: RunEvent): void {
    this.events.push({ at, event });
  }

  started(at = 0): void {
    this.add(at, {
      type: 'run-started', v: 1, time: this.time(at), run: this.run, jobName: 'L123456', recipe: 'calibrate', recipePath: '/opt/recipes/calibrate.js',
      inputs: { observation: 'L123456', 'subbands': 244 }, inputsHash: 'h', hosts: this.hosts, pid: 4242, controlHost: 'master.example.org', fresh: false,
      logFile: join(this.jobDirectory, 'logs', 'pipeline.log'),
    });
  }

  queued(at: number, job: string, host: string): void {
    this.add(at, { type: 'job-queued', time: this.time(at), run: this.run, job, key: `k-${job}`, host });
  }

  attempt(at: number, job: string, host: string, attempt: number, args: string[] = [`/data/L123456/${job}.MS`]): void {
    this.add(at, { type: 'job-started', time: this.time(at), run: this.run, job, key: `k-${job}`, host, attempt, command: 'exec 3>&1 1>&2; exec python3 /opt/nodes/dppp.py', args });
  }

  ended(at: number, job: string, host: string, state: JobState, options: { failure?: FailureReason; message?: string; returncode?: number | null; duration?: number; retries?: number; usage?: JobUsage; reused?: boolean } = {}): void {
    const { failure, message, returncode = state === 'succeeded' ? 0 : null, duration = 0, retries = 0, usage, reused } = options;
    this.add(at, {
      type: 'job-ended', time: this.time(at), run: this.run, job, key: `k-${job}`, host, state, returncode, signal: null, duration, retries, outputs: {},
      ...(failure ? { failure, message: message ?? failure } : {}), ...(usage ? { usage } : {}), ...(reused ? { reused } : {}),
    });
  }

  finished(at: number, returncode: number): void {
    this.add(at, { type: 'run-ended', time: this.time(at), run: this.run, returncode, interrupted: null, outputs: {} });
  }

  /** Appends the events to the journal (after any earlier run's) in time order, in pieces: 100,000 jobs make ~100 MB. */
  write(): string {
    const path = journalPath(this.jobDirectory);
    mkdirSync(this.jobDirectory, { recursive: true });
    const sorted = this.events.map((entry, i) => ({ ...entry, i })).sort((a, b) => a.at - b.at || a.i - b.i);
    for (let i = 0; i < sorted.length; i += 20000) appendFileSync(path, sorted.slice(i, i + 20000).map(({ event }) => JSON.stringify(event) + '\n').join(''));
    return path;
  }
}

function usage(seed: number): JobUsage {
  return { userSeconds: 2 + (seed % 37) * 0.9, systemSeconds: 0.2 + (seed % 5) * 0.1, peakRssBytes: (200 + ((seed * 7919) % 1800)) * 1024 * 1024 };
}

const FAILED_LOG = [
  '2026-11-22 01:00:40 INFO    dppp: reading /data/L123456/SB002.MS',
  '2026-11-22 01:00:41 INFO    dppp: applying calibration table',
  '2026-11-22 01:00:43 WARNING dppp: 12% of the data flagged',
  '2026-11-22 01:00:44 ERROR   dppp: cannot open /data/L123456/SB002.MS/ANTENNA: No such file or directory',
];

/**
 * A run over three hosts: five jobs that succeed, SB002 fails (exit 2, with a job.log), SB003
 * loses its connection on n3 and succeeds on n1, one job is reused from an earlier run, and one
 * has a name that is unsafe in HTML and as a path. An earlier run in the same journal must not show.
 */
function smallRun(jobDirectory: string): RecordedRun {
  const earlier = new JournalFixture(jobDirectory, 'run-0', ['n1']);
  earlier.started(-3600);
  earlier.queued(-3600, 'SB001', 'n1');
  earlier.attempt(-3599, 'SB001', 'n1', 1);
  earlier.ended(-3590, 'SB001', 'n1', 'succeeded', { duration: 9 });
  earlier.finished(-3589, 0);
  earlier.write();

  const run = new JournalFixture(jobDirectory, 'run-1', ['n1', 'n2', 'n3']);
  run.started();
  const jobs: Array<[string, string]> = [['SB000', 'n1'], ['SB001', 'n2'], ['SB002', 'n2'], ['SB003', 'n3'], ['SB004', 'n1'], ['SB005', 'n3'], ['odd </script><b>&"name', 'n1'], ['SB009', 'n2']];
  for (const [job, host] of jobs) run.queued(0.1, job, host);
  run.attempt(1, 'SB000', 'n1', 1);
  run.ended(31, 'SB000', 'n1', 'succeeded', { duration: 30, usage: usage(1) });
  run.attempt(1, 'SB001', 'n2', 1);
  run.ended(26, 'SB001', 'n2', 'succeeded', { duration: 25, usage: usage(2) });
  run.attempt(27, 'SB002', 'n2', 1);
  run.ended(45, 'SB002', 'n2', 'failed', { failure: 'exit', message: 'exited with return code 2', returncode: 2, duration: 18, usage: usage(3) });
  run.attempt(1, 'SB003', 'n3', 1);
  run.attempt(22, 'SB003', 'n1', 2); // n3 dropped the connection at 20 s; retried on n1
  run.ended(50, 'SB003', 'n1', 'succeeded', { duration: 28, retries: 1, usage: usage(4) });
  run.attempt(32, 'SB004', 'n1', 1);
  run.ended(58, 'SB004', 'n1', 'succeeded', { duration: 26, usage: usage(5) });
  run.attempt(21, 'SB005', 'n3', 1);
  run.ended(55, 'SB005', 'n3', 'succeeded', { duration: 34, usage: usage(6) });
  run.attempt(2, 'odd </script><b>&"name', 'n1', 1, ['</script>']);
  run.ended(12, 'odd </script><b>&"name', 'n1', 'succeeded', { duration: 10, usage: usage(7) });
  run.ended(0.2, 'SB009', 'n2', 'succeeded', { duration: 9, reused: true });
  run.finished(60, 1);
  run.write();

  mkdirSync(dirname(jobLogPath(jobDirectory, 'SB002')), { recursive: true });
  writeFileSync(jobLogPath(jobDirectory, 'SB002'), FAILED_LOG.join('\n') + '\n');
  return readJournal(journalPath(jobDirectory)).runs.at(-1)!;
}

/** 100,000 jobs over 16 hosts of 8 slots each, some 7 hours: 1% fail, 0.3% are retried once. */
function largeRun(jobDirectory: string, jobs = 100_000): RecordedRun {
  const hosts = Array.from({ length: 16 }, (_, i) => `lof${String(i + 1).padStart(3, '0')}.cluster.example.org`);
  const run = new JournalFixture(jobDirectory, 'run-big', hosts);
  run.started();
  const free = hosts.map(() => new Array<number>(8).fill(1));
  let random = 42;
  const next = (): number => ((random = (random * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < jobs; i++) {
    const job = `L123456_SB${String(i).padStart(6, '0')}_uv`;
    const h = (i * 7 + Math.floor(i / 100)) % hosts.length; // failures (every 100th job) spread over all hosts
    run.queued(0.5, job, hosts[h]!);
    const slots = free[h]!;
    const slot = slots.indexOf(Math.min(...slots));
    let at = slots[slot]!;
    const retried = i % 333 === 7;
    if (retried) {
      run.attempt(at, job, hosts[h]!, 1);
      at += 3 + next() * 10;
    }
    const duration = 5 + next() * 55;
    run.attempt(at, job, hosts[h]!, retried ? 2 : 1);
    if (i % 100 === 3) run.ended(at + duration, job, hosts[h]!, 'failed', { failure: 'exit', message: 'exited with return code 1', returncode: 1, duration, retries: retried ? 1 : 0, usage: usage(i) });
    else run.ended(at + duration, job, hosts[h]!, 'succeeded', { duration, retries: retried ? 1 : 0, usage: usage(i) });
    slots[slot] = at + duration + 0.05;
  }
  run.finished(Math.max(...free.flat()) + 1, 1);
  run.write();
  return readJournal(journalPath(jobDirectory)).runs.at(-1)!;
}

describe('support/records/run-page', function () {
  let temp: string;
  let browser: Browser | undefined;

  before(async function () {
    temp = mkdtempSync(join(tmpdir(), 'run-page-'));
  });

  after(async function () {
    await browser?.close();
  });

  /** Skips the test, saying why, when there is no browser to open the page in. */
  function needChromium(test: Mocha.Context): void {
    if (existsSync(CHROMIUM)) return;
    console.log(`      skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
    test.skip();
  }

  /** A page opened on the file, with every console error and page error collected. */
  async function open(file: string): Promise<{ page: Page; errors: string[]; loadMs: number }> {
    if (!browser) {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    }
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    const begun = performance.now();
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    return { page, errors, loadMs: performance.now() - begun };
  }

  it('reads every attempt of the run: start, end (the next attempt or the job\'s end), host and outcome', () => {
    const jobDirectory = join(temp, 'attempts');
    const recorded = smallRun(jobDirectory);
    const attempts = readRunAttempts(journalPath(jobDirectory), recorded.started.run);
    const at = (seconds: number): number => T0 + seconds * 1000;
    expect(attempts.map((a) => [a.job, a.host, a.attempt, a.outcome])).to.deep.equal([
      ['SB000', 'n1', 1, 'succeeded'], ['SB001', 'n2', 1, 'succeeded'], ['SB003', 'n3', 1, 'retried'], ['odd </script><b>&"name', 'n1', 1, 'succeeded'],
      ['SB005', 'n3', 1, 'succeeded'], ['SB003', 'n1', 2, 'succeeded'], ['SB002', 'n2', 1, 'exit'], ['SB004', 'n1', 1, 'succeeded'],
    ]);
    const retried = attempts.filter((a) => a.job === 'SB003');
    expect(retried.map((a) => [a.start, a.end])).to.deep.equal([[at(1), at(22)], [at(22), at(50)]]);
    expect(attempts.some((a) => a.job === 'SB009')).to.equal(false); // reused: no attempt in this run
  });

  it('says so when no job recorded its usage, and embeds no raw "<" of the data', () => {
    const jobDirectory = join(temp, 'no-usage');
    const recorded = smallRun(jobDirectory);
    for (const job of recorded.jobs.values()) if (job.ended) delete job.ended.usage;
    const html = renderRunPage({ jobDirectory, recorded, attempts: readRunAttempts(journalPath(jobDirectory), 'run-1') });
    expect(html).to.contain('id="no-usage"');
    const data = /<script type="application\/json" id="run-data">(.*?)<\/script>/s.exec(html)![1]!;
    expect(data).not.to.contain('<');
    expect(JSON.parse(data).jobs).to.include('odd </script><b>&"name');
  });

  it('draws an attempt with no end yet up to now, and points at command.sh for commands past the page\'s text budget', () => {
    const jobDirectory = join(temp, 'running');
    const run = new JournalFixture(jobDirectory, 'run-live', ['n1']);
    run.started();
    for (let i = 0; i < 1200; i++) {
      run.queued(0, `j${i}`, 'n1');
      run.attempt(1 + i, `j${i}`, 'n1', 1, [`${i}`.padEnd(4000, 'x')]); // 1,200 distinct 4,000-character arguments: over the budget
      if (i > 0) run.ended(2 + i, `j${i}`, 'n1', 'succeeded', { duration: 1 });
    }
    run.write();
    const recorded = readJournal(journalPath(jobDirectory)).runs.at(-1)!;
    const attempts = readRunAttempts(journalPath(jobDirectory), 'run-live');
    expect(attempts[0]).to.include({ job: 'j0', outcome: 'running', end: undefined });
    const html = renderRunPage({ jobDirectory, recorded, attempts, now: T0 + 5000 * 1000 });
    const data = JSON.parse(/<script type="application\/json" id="run-data">(.*?)<\/script>/s.exec(html)![1]!);
    expect(data.aDur[data.aJob.indexOf(0)]).to.equal(4999 * 1000);
    expect(data.args).to.include(-2);
    expect(html).to.match(/\d+ commands or arguments not embedded/);
    expect(html.length).to.be.below(5 * 1024 * 1024);
  });

  it('opens in a browser with a lane per host, a bar per attempt, the failure in its colour and its log in the details', async function () {
    needChromium(this);
    const jobDirectory = join(temp, 'small');
    const recorded = smallRun(jobDirectory);
    const file = join(temp, 'small.html');
    writeRunPage(jobDirectory, recorded, file);
    const { page, errors } = await open(file);

    expect(await page.locator('#timeline .lane').evaluateAll((lanes) => lanes.map((lane) => lane.getAttribute('data-host')))).to.deep.equal(['n1', 'n2', 'n3']);
    const bars = await page.locator('#timeline .bar').evaluateAll((all) => all.map((bar) => `${bar.closest('.lane')!.getAttribute('data-host')} ${bar.getAttribute('data-job')}#${bar.getAttribute('data-attempt')} ${bar.getAttribute('data-outcome')}`));
    expect(bars.sort()).to.deep.equal([
      'n1 SB000#1 succeeded', 'n1 SB003#2 succeeded', 'n1 SB004#1 succeeded', 'n1 odd </script><b>&"name#1 succeeded',
      'n2 SB001#1 succeeded', 'n2 SB002#1 exit', 'n3 SB003#1 retried', 'n3 SB005#1 succeeded',
    ]);

    const failed = page.locator('#timeline .bar[data-job="SB002"]');
    const exitColour = (await page.locator('#legend .legend-item[data-outcome="exit"] i').getAttribute('style'))!.replace('background:', '');
    expect(await failed.getAttribute('fill')).to.equal(exitColour);
    expect(await page.locator('#timeline .bar[data-job="SB000"]').getAttribute('fill')).not.to.equal(exitColour);
    await failed.click();
    const details = await page.locator('#details').innerText();
    expect(details).to.contain('exit').and.contain('exited with return code 2').and.contain('n2');
    for (const line of FAILED_LOG) expect(details).to.contain(line);
    expect(details).to.contain(jobLogPath(jobDirectory, 'SB002'));

    await page.locator('#timeline .bar[data-job="SB003"][data-attempt="1"]').hover();
    await page.locator('#timeline .bar[data-job="SB003"][data-attempt="1"]').click();
    expect(await page.locator('#details').getAttribute('data-outcome')).to.equal('retried');
    expect(await page.locator('#details').innerText()).to.contain('1 of 2').and.contain('n3');

    const report = reportRun(jobDirectory, recorded);
    const counts = await page.locator('#header [data-count]').evaluateAll((all) => Object.fromEntries(all.map((count) => [count.getAttribute('data-count'), Number(count.getAttribute('data-n'))])));
    const reasons = await page.locator('#header [data-reason]').evaluateAll((all) => Object.fromEntries(all.map((count) => [count.getAttribute('data-reason'), Number(count.getAttribute('data-n'))])));
    expect(counts).to.deep.equal(report.counts);
    expect(reasons).to.deep.equal(report.reasons);
    expect(await page.locator('#header').getAttribute('data-status')).to.equal('failed');
    expect(await page.locator('#failures tr.failure').count()).to.equal(report.failures.length);
    expect(await page.locator('#usage .point').count()).to.equal(7);

    const range = await page.locator('#view-range').innerText();
    await page.locator('#zoom-in').click();
    await page.waitForFunction(`document.getElementById('view-range').textContent !== ${JSON.stringify(range)}`);
    const zoomed = await page.locator('#view-range').innerText();
    const box = (await page.locator('#timeline').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height - 4);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 200, box.y + box.height - 4, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction(`document.getElementById('view-range').textContent !== ${JSON.stringify(zoomed)}`); // dragged: panned
    await page.locator('#zoom-reset').click();

    await failed.click();
    const screenshot = join(temp, 'small-run.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`      screenshot: ${screenshot}`);
    expect(errors).to.deep.equal([]);
    await page.close();
  });

  it('keeps a run of 100,000 jobs on 16 hosts under 20 MB, and it opens in the browser', async function () {
    this.timeout(300_000);
    const jobDirectory = join(temp, 'large');
    let begun = performance.now();
    const recorded = largeRun(jobDirectory);
    const journalMs = performance.now() - begun;
    const file = join(temp, 'large.html');
    begun = performance.now();
    const bytes = writeRunPage(jobDirectory, recorded, file);
    const writeMs = performance.now() - begun;
    expect(statSync(file).size).to.equal(bytes).and.be.below(20 * 1024 * 1024);
    console.log(`      100,000 jobs: journal ${(statSync(journalPath(jobDirectory)).size / 1e6).toFixed(1)} MB written in ${(journalMs / 1000).toFixed(1)} s; page ${(bytes / 1e6).toFixed(1)} MB written in ${(writeMs / 1000).toFixed(1)} s`);
    rmSync(jobDirectory, { recursive: true, force: true });
    needChromium(this);

    const { page, errors, loadMs } = await open(file);
    console.log(`      100,000 jobs: loaded and drawn in the browser in ${(loadMs / 1000).toFixed(2)} s`);
    expect(await page.locator('#timeline .lane').count()).to.equal(16);
    expect(Number(await page.locator('#timeline').getAttribute('data-buckets'))).to.be.above(0);
    expect(await page.locator('#legend .legend-item[data-outcome="exit"]').getAttribute('data-n')).to.equal('1000');
    const screenshot = join(temp, 'large-run.png');
    await page.screenshot({ path: screenshot });

    // A bucket zooms in when clicked; zoomed in far enough, attempts are bars again.
    const whole = await page.locator('#view-range').innerText();
    await page.locator('#timeline .bucket[data-outcome="exit"]').first().click();
    await page.waitForFunction(`document.getElementById('view-range').textContent !== ${JSON.stringify(whole)}`);
    await page.locator('#zoom-reset').click();
    const box = (await page.locator('#timeline').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 60);
    for (let i = 0; i < 12; i++) await page.mouse.wheel(0, -400);
    await page.waitForFunction('Number(document.getElementById("timeline").getAttribute("data-bars")) > 0', undefined, { timeout: 10_000 });
    await page.screenshot({ path: join(temp, 'large-run-zoomed.png') });
    console.log(`      screenshots: ${screenshot}, ${join(temp, 'large-run-zoomed.png')}`);
    expect(errors).to.deep.equal([]);
    expect(readFileSync(file, 'utf8')).to.match(/<\/html>\s*$/);
    await page.close();
    rmSync(file); // 14 MB; the screenshots stay
  });
});

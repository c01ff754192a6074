/**
 * The run's HTML page for a run over real sshd hosts, in a real browser (Debian's chromium driven
 * by playwright-core): written at the end of the run and again by `pipeline report`, one lane per
 * host and one bar per attempt, the failed job in its colour with its reason and log lines, and
 * header counts that agree with `pipeline status --json`.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { job, sshTestHosts, startFaultRun } from './fault-run.js';

const CHROMIUM = '/usr/bin/chromium';

describe('faults: the run page of a run over real sshd hosts, in a browser', function () {
  this.timeout(120_000);
  const hosts = sshTestHosts();
  let browser: Browser | undefined;
  before(function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);
      this.skip();
    }
  });
  after(async () => { await browser?.close(); });

  it('shows 3 lanes, a bar per attempt, the failure with its reason and log, and the counts of pipeline status', async () => {
    const marker = join(hosts.p.cluster.dir, 'work', `flaky-${process.pid}-${Date.now()}`);
    const run = startFaultRun(hosts.p, [
      { name: 'fine1', host: 'node1', shell: 'sleep 0.3; echo one' },
      { name: 'fine2', host: 'node2', shell: 'sleep 0.2; echo two' },
      // Fails once, then succeeds: retried on its host.
      { name: 'flaky', host: 'node3', shell: `[ -e ${marker} ] || { touch ${marker}; echo first try fails >&2; exit 5; }; echo second try`, retries: 1, retryOn: ['exit'] },
      { name: 'broken', host: 'node2', shell: 'echo reading the input >&2; echo cannot open L1_SB007.MS >&2; exit 4' },
    ], ['--job-name', 'page']);
    const result = await run.ended;
    expect(result.code, result.stderr.slice(-2000)).to.equal(1);
    expect(job(result, 'flaky')).to.include({ state: 'succeeded', retries: 1 });
    expect(job(result, 'broken')).to.include({ state: 'failed', failure: 'exit' });

    // Written at the end of the run; written again, elsewhere, by the command.
    const jobDirectory = hosts.p.ws.jobDirectory('page');
    expect(existsSync(join(jobDirectory, 'report.html')), 'report.html written at the end of the run').to.equal(true);
    const out = join(mkdtempSync(join(tmpdir(), 'run-page-ssh-')), 'page.html');
    const report = await hosts.p.ws.run(['report', 'page', '--output', out]);
    expect(report.code, report.stderr).to.equal(0);
    expect(report.stdout.trim()).to.equal(out);
    const status = JSON.parse((await hosts.p.ws.run(['status', 'page', '--json'])).stdout) as { counts: Record<string, number>; reasons: Record<string, number> };

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });
    await page.waitForSelector('body[data-ready="1"]');

    expect(errors, 'console and page errors').to.deep.equal([]);
    expect(await page.locator('#timeline .lane').evaluateAll((lanes) => lanes.map((lane) => lane.getAttribute('data-host')))).to.deep.equal(['node1', 'node2', 'node3']);
    const bars = await page.locator('#timeline .bar').evaluateAll((all) => all.map((bar) => `${bar.getAttribute('data-job')}#${bar.getAttribute('data-attempt')} ${bar.getAttribute('data-outcome')}`).sort());
    expect(bars).to.deep.equal(['broken#1 exit', 'fine1#1 succeeded', 'fine2#1 succeeded', 'flaky#1 retried', 'flaky#2 succeeded']);
    const failureColour = (await page.locator('#legend .legend-item[data-outcome="exit"] i').getAttribute('style'))!.replace('background:', '');
    expect(await page.locator('#timeline .bar[data-job="broken"]').getAttribute('fill')).to.equal(failureColour);
    await page.locator('#timeline .bar[data-job="broken"]').click();
    const details = await page.locator('#details').innerText();
    expect(details).to.contain('exit').and.contain('exited with return code 4').and.contain('cannot open L1_SB007.MS');
    // A job that succeeded has its details too: command, duration, its log file and its last lines.
    await page.locator('#timeline .bar[data-job="fine1"]').click();
    const fine = await page.locator('#details').innerText();
    expect(fine).to.contain('sleep 0.3; echo one').and.contain('job duration').and.contain(join(jobDirectory, 'jobs', 'fine1', 'job.log'));
    expect(await page.locator('#details #log-tail').innerText()).to.contain('one');
    expect(await page.locator('#config-file').innerText()).to.contain(hosts.p.ws.configPath);

    const counts = await page.locator('#header [data-count]').evaluateAll((all) => Object.fromEntries(all.map((count) => [count.getAttribute('data-count'), Number(count.getAttribute('data-n'))])));
    const reasons = await page.locator('#header [data-reason]').evaluateAll((all) => Object.fromEntries(all.map((count) => [count.getAttribute('data-reason'), Number(count.getAttribute('data-n'))])));
    expect(counts).to.deep.equal(status.counts);
    expect(reasons).to.deep.equal(status.reasons);
    const screenshot = join(out, '..', 'page.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`      screenshot: ${screenshot}`);

    // --open writes the page where the run keeps it and hands it to the desktop's opener (a stand-in here that says what it got).
    const bin = mkdtempSync(join(tmpdir(), 'xdg-open-'));
    const opened = join(bin, 'opened');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" > ${opened}\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const open = await hosts.p.ws.run(['report', 'page', '--open'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(open.code, open.stderr).to.equal(0);
    expect(open.stdout.trim()).to.equal(join(jobDirectory, 'report.html'));
    for (let waited = 0; !existsSync(opened) && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(readFileSync(opened, 'utf8').trim()).to.equal(join(jobDirectory, 'report.html'));
  });

  it('writes the page of a run interrupted by Ctrl-C, and of a run still going when asked', async () => {
    const run = startFaultRun(hosts.p, [
      { name: 'quick', host: 'node1', shell: 'echo done quickly' },
      { name: 'long', host: 'node2', shell: 'echo long is under way; sleep 60' },
    ], ['--job-name', 'page-interrupted']);
    const jobDirectory = hosts.p.ws.jobDirectory('page-interrupted');
    await run.waitForLog(/long is under way/);
    await run.waitForLog(/done quickly/);
    // While it runs, the command writes the page of where it is.
    const live = join(mkdtempSync(join(tmpdir(), 'run-page-live-')), 'live.html');
    const report = await hosts.p.ws.run(['report', 'page-interrupted', '--output', live]);
    expect(report.code, report.stderr).to.equal(0);
    expect(report.stderr).to.match(/report of job page-interrupted \(running\)/);
    expect(readFileSync(live, 'utf8')).to.match(/data-status="running"/);
    run.master.kill('SIGINT');
    const result = await run.ended;
    expect(result.code).to.equal(130);
    const page = readFileSync(join(jobDirectory, 'report.html'), 'utf8');
    expect(page).to.match(/data-status="interrupted"/);
    expect(page).to.match(/data-job="long"/);
  });
});

import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../../support/errors.js';
import { LOCK_FILE, RunLock, STALE_AFTER_MS } from '../../../support/records/run-lock.js';

describe('support/records/run-lock', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'run-lock-test-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const holder = (host: string, pid: number) => JSON.stringify({ host, pid, run: 'r0', since: '2026-12-02T10:00:00.000Z' });

  it('is held by one run at a time and given back at its end', () => {
    const first = new RunLock(dir, 'r1');
    first.acquire('job');
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).to.include({ host: hostname(), pid: process.pid, run: 'r1' });
    expect(() => new RunLock(dir, 'r2').acquire('job')).to.throw(UsageError, `job job is being run by another master (pid ${process.pid} on ${hostname()}, run r1 since `);
    first.release();
    expect(existsSync(join(dir, LOCK_FILE))).to.equal(false);
    const second = new RunLock(dir, 'r2');
    second.acquire('job');
    second.release();
  });

  it('refuses while a master on another host keeps its lock touched, and takes over one left silent for a minute', () => {
    const path = join(dir, LOCK_FILE);
    writeFileSync(path, holder('elsewhere', 4242));
    expect(() => new RunLock(dir, 'r1').acquire('job')).to.throw(UsageError, /pid 4242 on elsewhere, run r0/);
    const old = new Date(Date.now() - STALE_AFTER_MS - 5000);
    utimesSync(path, old, old);
    const heard: string[] = [];
    const lock = new RunLock(dir, 'r1');
    lock.acquire('job', (why) => heard.push(why));
    expect(heard).to.have.length(1);
    expect(heard[0]).to.match(/^it was last touched \d+ s ago$/);
    expect(JSON.parse(readFileSync(path, 'utf8'))).to.include({ run: 'r1' });
    lock.release();
  });

  it('takes over at once from a master on this host whose pid is gone', () => {
    writeFileSync(join(dir, LOCK_FILE), holder(hostname(), 999_999_999));
    const heard: string[] = [];
    const lock = new RunLock(dir, 'r1');
    lock.acquire('job', (why) => heard.push(why));
    expect(heard).to.deep.equal(['its master (pid 999999999) is no longer running']);
    lock.release();
  });

  it('does not remove a lock that another run has taken since', () => {
    const lock = new RunLock(dir, 'r1');
    lock.acquire('job');
    writeFileSync(join(dir, LOCK_FILE), holder(hostname(), process.pid).replace('r0', 'r9'));
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).to.equal(true);
  });

  it('leaves no empty lock at any instant: a draft left by a killed master holds nothing off, and is swept after a minute', () => {
    // A master SIGKILLed after writing its draft and before linking it leaves only the draft.
    const draft = join(dir, `${LOCK_FILE}.${hostname()}.4242.draft`);
    writeFileSync(draft, holder(hostname(), 4242));
    const lock = new RunLock(dir, 'r1');
    lock.acquire('job');
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).to.include({ run: 'r1', pid: process.pid });
    expect(readdirSync(dir).sort()).to.deep.equal([LOCK_FILE, `${LOCK_FILE}.${hostname()}.4242.draft`]);
    lock.release();
    const old = new Date(Date.now() - STALE_AFTER_MS - 5000);
    utimesSync(draft, old, old);
    const next = new RunLock(dir, 'r2');
    next.acquire('job');
    expect(readdirSync(dir)).to.deep.equal([LOCK_FILE]);
    next.release();
    expect(readdirSync(dir)).to.deep.equal([]);
  });
});

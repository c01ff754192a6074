import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalLauncher } from '../../../support/launchers/local.js';
import type { LaunchedProcess } from '../../../support/launchers/launcher.js';
import { isAlive } from '../../harness/local-processes.js';

/** Living (non-zombie) processes of a process group, with their command names, from /proc. */
function groupMembers(pgid: number): Array<{ pid: number; comm: string }> {
  const members: Array<{ pid: number; comm: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push({ pid: Number(entry), comm });
    } catch {
      // ended while we looked
    }
  }
  return members;
}

/** Whether a process exists and is not a zombie. */

/** Polls `check` until it holds; fails after `limitMs` (a bound against hangs, not a speed test). */
async function eventually(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) expect.fail(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

/** Collects a stream's text. */
function collect(stream: Readable): { text: () => string } {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => { text += chunk; });
  return { text: () => text };
}

/** Waits until `stream` has produced `count` lines; returns them. */
async function firstLines(output: { text: () => string }, count: number): Promise<string[]> {
  await eventually(() => output.text().split('\n').length > count, `${count} lines of output`);
  return output.text().split('\n').slice(0, count);
}

describe('support/launchers/local', () => {
  let launcher: LocalLauncher;
  /** Process groups started by a test, killed in afterEach whatever happened. */
  let groups: number[];

  beforeEach(() => {
    launcher = new LocalLauncher();
    groups = [];
  });

  afterEach(async () => {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await launcher.close();
  });

  it('is named local', () => {
    expect(launcher.name).to.equal('local');
  });

  it('gives back stdout, stderr and the exit code', async () => {
    const launched = await launcher.start('localhost', 'echo hi; echo err >&2; exit 4');
    const stdout = collect(launched.stdout);
    const stderr = collect(launched.stderr);
    const status = await launched.exited;
    expect(status.code).to.equal(4);
    expect(status.signal).to.equal(null);
    expect(status.connectionLost ?? false).to.equal(false);
    expect(stdout.text()).to.equal('hi\n');
    expect(stderr.text()).to.equal('err\n');
  });

  it('reports exit code 0', async () => {
    const launched = await launcher.start('localhost', 'true');
    expect(await launched.exited).to.deep.include({ code: 0, signal: null });
  });

  it('has all output read by the time exited resolves', async () => {
    const launched = await launcher.start('localhost', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done');
    const stdout = collect(launched.stdout);
    await launched.exited;
    const lines = stdout.text().trimEnd().split('\n');
    expect(lines).to.have.length(2000);
    expect(lines[1999]).to.equal('line 1999');
  });

  it('reports the signal that killed the command', async () => {
    const launched = await launcher.start('localhost', 'kill -9 $$');
    expect(await launched.exited).to.deep.include({ code: null, signal: 'SIGKILL' });
  });

  it('feeds stdin to the command', async () => {
    const launched = await launcher.start('localhost', 'read line; echo "got $line"; cat');
    const stdout = collect(launched.stdout);
    launched.stdin.write('first\nsecond\n');
    launched.stdin.end();
    expect((await launched.exited).code).to.equal(0);
    expect(stdout.text()).to.equal('got first\nsecond\n');
  });

  it('does not fail when the command exits without reading its stdin', async () => {
    const launched = await launcher.start('localhost', 'exit 0');
    const status = await launched.exited;
    launched.stdin.write('x'.repeat(1 << 20));
    launched.stdin.end();
    expect(status.code).to.equal(0);
    await sleep(50);
  });

  it('runs each command as the leader of its own process group', async () => {
    const launched = await launcher.start('localhost', 'echo $$; cat /proc/self/stat');
    const stdout = collect(launched.stdout);
    await launched.exited;
    const [pid, stat] = stdout.text().split('\n');
    const pgid = Number(stat!.slice(stat!.lastIndexOf(')') + 2).split(' ')[2]);
    expect(pgid).to.equal(Number(pid));
    expect(pgid).not.to.equal(process.pid);
  });

  it('terminate() kills the whole process group', async () => {
    const launched = await launcher.start('localhost', 'echo $$; sleep 100 & sleep 100; wait');
    const stdout = collect(launched.stdout);
    const [pgidText] = await firstLines(stdout, 1);
    const pgid = Number(pgidText);
    groups.push(pgid);
    await eventually(() => groupMembers(pgid).filter((m) => m.comm === 'sleep').length === 2, 'both sleeps running');
    const sleeps = groupMembers(pgid).filter((m) => m.comm === 'sleep').map((m) => m.pid);

    launched.terminate(5000);
    const status = await launched.exited;
    expect(status.code).to.equal(null);
    expect(status.signal).to.equal('SIGTERM');
    await eventually(() => sleeps.every((pid) => !isAlive(pid)), 'both sleeps gone');
    await eventually(() => groupMembers(pgid).length === 0, 'the process group empty');
  });

  it('terminate() follows up with KILL for a group that ignores TERM', async () => {
    const launched = await launcher.start('localhost', "trap '' TERM; echo $$; sleep 100 & sleep 100; wait");
    const stdout = collect(launched.stdout);
    const pgid = Number((await firstLines(stdout, 1))[0]);
    groups.push(pgid);
    await eventually(() => groupMembers(pgid).filter((m) => m.comm === 'sleep').length === 2, 'both sleeps running');

    launched.terminate(200);
    const status = await launched.exited;
    expect(status.signal).to.equal('SIGKILL');
    await eventually(() => groupMembers(pgid).length === 0, 'the process group empty');
  });

  it('kills processes left in the background by a command that exited', async () => {
    // One background sleep keeps the output pipes open, the other does not.
    const launched = await launcher.start('localhost', 'echo $$; sleep 100 & echo $!; sleep 100 >/dev/null 2>&1 </dev/null & echo $!; exit 0');
    const stdout = collect(launched.stdout);
    const status = await launched.exited;
    expect(status.code).to.equal(0);
    const [pgid, first, second] = stdout.text().trimEnd().split('\n').map(Number);
    groups.push(pgid!);
    expect(first).to.be.a('number').and.greaterThan(0);
    expect(second).to.be.a('number').and.greaterThan(0);
    await eventually(() => !isAlive(first!) && !isAlive(second!), 'both background sleeps gone');
    await eventually(() => groupMembers(pgid!).length === 0, 'the process group empty');
  });

  it('kills grandchildren too', async () => {
    const launched = await launcher.start('localhost', 'echo $$; sh -c "sleep 100 & echo \\$!; wait" & wait');
    const stdout = collect(launched.stdout);
    const [pgidText, grandchildText] = await firstLines(stdout, 2);
    const pgid = Number(pgidText);
    const grandchild = Number(grandchildText);
    groups.push(pgid);
    await eventually(() => isAlive(grandchild), 'grandchild running');
    launched.terminate(5000);
    await launched.exited;
    await eventually(() => !isAlive(grandchild), 'grandchild gone');
    await eventually(() => groupMembers(pgid).length === 0, 'the process group empty');
  });

  it('close() terminates everything still running and waits for it', async () => {
    const started: LaunchedProcess[] = [];
    const pgids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const launched = await launcher.start(`host${i}`, 'echo $$; sleep 100 & sleep 100; wait');
      const stdout = collect(launched.stdout);
      const pgid = Number((await firstLines(stdout, 1))[0]);
      groups.push(pgid);
      pgids.push(pgid);
      started.push(launched);
    }
    const done = await launcher.start('localhost', 'exit 0');
    await done.exited;
    for (const pgid of pgids) await eventually(() => groupMembers(pgid).filter((m) => m.comm === 'sleep').length === 2, 'sleeps running');

    await launcher.close();
    for (const launched of started) {
      // Already settled: close() waited for them.
      const status = await Promise.race([launched.exited, Promise.resolve('pending' as const)]);
      expect(status).not.to.equal('pending');
      expect(status).to.deep.include({ code: null, signal: 'SIGTERM' });
    }
    for (const pgid of pgids) await eventually(() => groupMembers(pgid).length === 0, `group ${pgid} empty`);
  });

  it('close() with nothing running resolves', async () => {
    await launcher.close();
    await launcher.close();
  });
});

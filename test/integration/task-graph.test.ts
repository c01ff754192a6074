/**
 * Task graphs in TypeScript (issue 15): a recipe that awaits submit() and map() forms a diamond,
 * 1 -> 8 -> 1 -> 8. Ordering holds, the run's max_per_node holds over all its calls, a rerun after
 * a SIGKILL of the master reruns only what did not finish, and --serial gives the same outputs.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import { cliPath, projectPerTest } from '../harness/pipeline-cli.js';

interface Span {
  name: string;
  start: number;
  end: number;
}

/** Each job's span from the log the jobs write (ns since the epoch); several runs may have written it. */
function spans(log: string): Span[] {
  const starts = new Map<string, number[]>();
  const found: Span[] = [];
  for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
    const [what, name, ns] = line.split(' ') as [string, string, string];
    if (what === 'start') starts.set(name, [...(starts.get(name) ?? []), Number(ns)]);
    else found.push({ name, start: starts.get(name)!.shift()!, end: Number(ns) });
  }
  return found;
}

function mostAtOnce(list: Span[]): number {
  const events = list.flatMap((span) => [[span.start, 1], [span.end, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, step] of events) most = Math.max(most, (now += step));
  return most;
}

const EXPECTED = Array.from({ length: 8 }, (_, i) => `d${i}(c(${Array.from({ length: 8 }, (_, j) => `b${j}(a(seed))`).join('+')}))`);

describe('task graphs with submit and map: a 1 -> 8 -> 1 -> 8 diamond', function () {
  this.timeout(120_000);
  const project = projectPerTest();

  it('runs each level after the one it waits on, and keeps max_per_node over all its submit and map calls', async () => {
    const { ws } = project;
    ws.writeConfig('method = local\nmax_per_node = 3');
    const log = join(ws.dir, 'spans.log');
    const result = await ws.run(['run', 'diamond', '--log', log, '--hosts', 'h1']);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).result).to.deep.equal(EXPECTED);
    const all = spans(log);
    expect(all).to.have.length(18);
    const level = (prefix: string) => all.filter((span) => span.name.startsWith(prefix));
    const [a] = level('a');
    for (const b of level('b')) expect(b.start, b.name).to.be.above(a!.end);
    const [c] = level('c');
    for (const b of level('b')) expect(c!.start).to.be.above(b.end);
    for (const d of level('d')) expect(d.start, d.name).to.be.above(c!.end);
    // Eight d jobs submitted at once through Promise.all, eight b jobs through map: never more than 3 at a time.
    expect(mostAtOnce(all)).to.equal(3);
  });

  it('a rerun after SIGKILL of the master runs only what had not succeeded, with the same final outputs', async () => {
    const { ws } = project;
    ws.writeConfig('method = local\nmax_per_node = 2');
    const log = join(ws.dir, 'spans.log');
    const master = spawn(process.execPath, [cliPath, 'run', 'diamond', '--log', log, '--hosts', 'h1', '--config', ws.configPath], { cwd: ws.dir, stdio: 'ignore' });
    // Kill it once the c level has started: a and all of b are done.
    for (let waited = 0; !(existsSync(log) && readFileSync(log, 'utf8').includes('start c ')); waited += 20) {
      if (waited > 60_000) throw new Error('the diamond never reached c');
      await delay(20);
    }
    master.kill('SIGKILL');
    await new Promise((resolve) => master.once('close', resolve));
    const before = spans(log).map((span) => span.name);
    expect(before).to.include.members(['a', 'b0', 'b7']);
    const rerun = await ws.run(['run', 'diamond', '--log', log, '--hosts', 'h1']);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(JSON.parse(rerun.stdout).result).to.deep.equal(EXPECTED);
    const names = spans(log).map((span) => span.name);
    // a and every b ran once; c and the d jobs ran (again) in the rerun.
    for (const name of ['a', ...Array.from({ length: 8 }, (_, i) => `b${i}`)]) expect(names.filter((n) => n === name), name).to.have.length(1);
    for (const name of Array.from({ length: 8 }, (_, i) => `d${i}`)) expect(names.filter((n) => n === name), name).to.have.length(1);
    expect(rerun.stderr).to.match(/resuming job diamond: 9 jobs succeeded in earlier runs/);
  });

  it('--serial runs every job here, one after another, with the same outputs', async () => {
    const { ws } = project;
    ws.writeConfig('max_per_node = 8');
    const log = join(ws.dir, 'spans.log');
    const result = await ws.run(['run', 'diamond', '--log', log, '--hosts', 'node1,node2', '--serial']);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).result).to.deep.equal(EXPECTED);
    const all = spans(log);
    expect(all).to.have.length(18);
    expect(mostAtOnce(all)).to.equal(1);
    // In the order asked for: a, b0..b7, c, d0..d7.
    expect(all.map((span) => span.name)).to.deep.equal(['a', ...Array.from({ length: 8 }, (_, i) => `b${i}`), 'c', ...Array.from({ length: 8 }, (_, i) => `d${i}`)]);
  });
});

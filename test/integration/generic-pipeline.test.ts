/**
 * `pipeline run genericpipeline <file.parset>` (issue 15, first part): a generic-pipeline parset's
 * steps run in order on this machine (method local): createMapfile from a folder, a tasks.cfg
 * task over the map (a slow stand-in for NDPPP), mapfile_all_to_one, makeDirectory, a loop; the
 * files and maps exist; a rerun skips finished steps; a changed key reruns its step and the steps
 * that use it; a rerun after SIGKILL in the middle of a step reruns only that step's unfinished jobs.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import { DataMap, MultiDataMap } from '../../support/lofar/data-map.js';
import { cliPath, projectPerTest, stderrLines } from '../harness/pipeline-cli.js';

describe('pipeline run genericpipeline <file.parset>', function () {
  this.timeout(120_000);
  const project = projectPerTest();

  /** A workspace with 6 measurement sets, a tasks.cfg with the stand-ins, and the parset. */
  function setUp(copyArguments = '[source, target]'): { parset: string; calls: string; data: string; out: string } {
    const { ws } = project;
    ws.writeConfig('method = local\nmax_per_node = 2');
    const data = join(ws.dir, 'data');
    mkdirSync(data);
    for (let i = 0; i < 6; i++) writeFileSync(join(data, `L1_SB00${i}.MS`), `visibilities ${i}\n`);
    writeFileSync(join(data, 'notes.txt'), 'not data\n');
    const calls = join(ws.dir, 'calls.log');
    // The stand-in for NDPPP: logs its call, takes a while, copies.
    const copy = ws.write('slowcopy.sh', `#!/bin/sh\necho "$1" >> ${calls}\nsleep 0.4\ncp "$1" "$2"\n`);
    chmodSync(copy, 0o755);
    const out = join(ws.dir, 'out');
    const stamp = ws.write('stamp.sh', `#!/bin/sh\nmkdir -p ${out} && echo round >> ${out}/rounds.txt\n`);
    chmodSync(stamp, 0o755);
    ws.write('tasks.cfg', `[copyfile]\nrecipe = executable_args\nexecutable = ${copy}\n\n[stamp]\nrecipe = executable_args\nexecutable = ${stamp}\n`);
    const parset = ws.write('cal.parset', `# a cut-down calibrator pipeline
! data_dir = ${data}
! out_dir  = ${out}
pipeline.steps = [listdata, copy, allinone, mkdir, repeat]

listdata.control.kind        = plugin
listdata.control.type        = createMapfile
listdata.control.method      = mapfile_from_folder
listdata.control.mapfile_dir = input.output.mapfile_dir
listdata.control.filename    = data.mapfile
listdata.control.folder      = {{ data_dir }}
listdata.control.pattern     = L*.MS

copy.control.type       = copyfile
copy.control.mapfile_in = listdata.output.mapfile
copy.control.inputkey   = source
copy.control.outputkey  = target
copy.control.arguments  = ${copyArguments}

allinone.control.kind        = plugin
allinone.control.type        = createMapfile
allinone.control.method      = mapfile_all_to_one
allinone.control.mapfile_in  = copy.output.mapfile
allinone.control.mapfile_dir = input.output.mapfile_dir
allinone.control.filename    = all.mapfile

mkdir.control.kind      = plugin
mkdir.control.type      = makeDirectory
mkdir.control.directory = {{ out_dir }}/done

repeat.control.kind      = loop
repeat.control.loopcount = 2
repeat.control.loopsteps = [stampit]
stampit.control.type      = stamp
stampit.control.inputs    = [x]
`);
    return { parset, calls, data, out };
  }

  it('runs the steps in order: the maps, the copies over the map, the directory and both rounds of the loop', async () => {
    const { ws } = project;
    const { parset, out } = setUp();
    const result = await ws.run(['run', 'genericpipeline', parset]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/parset .*cal\.parset: 5 steps: listdata, copy, allinone, mkdir, repeat/);
    const mapfiles = join(ws.jobDirectory('genericpipeline'), 'mapfiles');
    const listed = DataMap.load(join(mapfiles, 'data.mapfile'));
    expect(listed.entries.map((entry) => entry.file.split('/').pop())).to.deep.equal(Array.from({ length: 6 }, (_, i) => `L1_SB00${i}.MS`));
    const copied = DataMap.load(join(mapfiles, 'copy.mapfile'));
    expect(copied.length).to.equal(6);
    for (const entry of copied) expect(readFileSync(entry.file, 'utf8')).to.match(/^visibilities \d\n$/);
    expect(MultiDataMap.load(join(mapfiles, 'all.mapfile')).entries.map((entry) => entry.file.length)).to.deep.equal([6]);
    expect(existsSync(join(out, 'done'))).to.equal(true);
    expect(readFileSync(join(out, 'rounds.txt'), 'utf8')).to.equal('round\nround\n');
    // pipeline status shows the steps with their jobs.
    const status = await ws.run(['status', 'genericpipeline']);
    expect(status.stdout).to.include('steps: listdata done, copy done (6 of 6 jobs succeeded), allinone done, mkdir done, repeat done, stampit done (2 of 2 jobs succeeded)');
    const json = JSON.parse((await ws.run(['status', 'genericpipeline', '--json'])).stdout) as { steps: Array<{ name: string; state: string; jobs: number }> };
    expect(json.steps.map((step) => [step.name, step.state, step.jobs])).to.deep.equal([['listdata', 'done', 0], ['copy', 'done', 6], ['allinone', 'done', 0], ['mkdir', 'done', 0], ['repeat', 'done', 0], ['stampit', 'done', 2]]);
  });

  it('a rerun skips the finished steps; a changed key reruns its step and those that use it, and says why', async () => {
    const { ws } = project;
    const { parset, calls, out } = setUp();
    expect((await ws.run(['run', 'genericpipeline', parset])).code).to.equal(0);
    const again = await ws.run(['run', 'genericpipeline', parset]);
    expect(again.code, again.stderr).to.equal(0);
    for (const step of ['listdata', 'copy', 'allinone', 'mkdir']) expect(again.stderr).to.match(new RegExp(`step ${step}: finished in an earlier run with the same inputs; not run again`));
    expect(again.stderr).to.match(/loop repeat: finished in an earlier run/);
    // A loop skipped as a whole still shows its steps done.
    expect((await ws.run(['status', 'genericpipeline'])).stdout).to.include('repeat done, stampit done');
    expect(readFileSync(calls, 'utf8').trim().split('\n')).to.have.length(6);
    expect(readFileSync(join(out, 'rounds.txt'), 'utf8')).to.equal('round\nround\n');

    // The copy step's arguments change: it and allinone (which uses its map) run again; the others do not.
    writeFileSync(parset, readFileSync(parset, 'utf8').replace('copy.control.arguments  = [source, target]', 'copy.control.arguments  = [source,target]\ncopy.control.max_per_node = 3'));
    const changed = await ws.run(['run', 'genericpipeline', parset]);
    expect(changed.code, changed.stderr).to.equal(0);
    expect(changed.stderr).to.match(/step copy: runs again: its keys changed since the earlier run/);
    expect(changed.stderr).to.match(/step allinone: runs again: step copy, which it uses, ran again/);
    expect(changed.stderr).to.match(/step listdata: finished in an earlier run/);
    expect(changed.stderr).to.match(/step mkdir: finished in an earlier run/);
  });

  it('after SIGKILL of the master in the middle of the copy step, a rerun does not repeat listdata and runs only the copies that had not finished', async () => {
    const { ws } = project;
    const { parset, calls } = setUp();
    const master = spawn(process.execPath, [cliPath, 'run', 'genericpipeline', parset, '--config', ws.configPath], { cwd: ws.dir, stdio: 'ignore' });
    const copiesDone = () => {
      const dir = join(ws.runtimeDirectory, 'working', 'genericpipeline');
      return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.copy')).length : 0;
    };
    for (let waited = 0; copiesDone() < 2; waited += 20) {
      if (waited > 60_000) throw new Error('no copy finished');
      await delay(20);
    }
    master.kill('SIGKILL');
    await new Promise((resolve) => master.once('close', resolve));
    const before = readFileSync(calls, 'utf8').trim().split('\n').length;
    expect(before).to.be.below(6);
    // The killed run: listdata done, copy cut off (some of its jobs succeeded), the rest not started.
    const killed = (await ws.run(['status', 'genericpipeline'])).stdout;
    expect(killed).to.match(/steps: listdata done, copy interrupted \(\d of \d jobs succeeded\), allinone not started, mkdir not started, repeat not started, stampit not started/);
    const rerun = await ws.run(['run', 'genericpipeline', parset]);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(rerun.stderr).to.match(/step listdata: finished in an earlier run/);
    expect(rerun.stderr).to.match(/resuming job genericpipeline: \d+ jobs succeeded in earlier runs/);
    // Every input was copied once in all, but for those the kill interrupted mid-copy.
    const all = readFileSync(calls, 'utf8').trim().split('\n');
    expect(new Set(all).size).to.equal(6);
    expect(all.length).to.be.below(6 + before);
  });

  it('refuses a malformed parset before any step runs: exit 2, one line with the file, line and key', async () => {
    const { ws } = project;
    const { parset, calls } = setUp();
    writeFileSync(parset, readFileSync(parset, 'utf8').replace('copy.control.type       = copyfile', 'copy.control.type       = copyfiles'));
    const result = await ws.run(['run', 'genericpipeline', parset]);
    expect(result.code).to.equal(2);
    expect(stderrLines(result).filter((line) => !/INFO/.test(line))).to.deep.equal([`pipeline: ${parset}:14: copy.control.type: unknown task type "copyfiles"; expected a section of the task files`]);
    expect(existsSync(calls)).to.equal(false);
  });

  /** A parset whose loop runs a step over 6 files `rounds` times, appending a line to each file each round (0.3 s a job); loops nested when `inner`. */
  function loopSetUp(rounds: number, inner?: number): { parset: string; data: string; calls: string } {
    const { ws } = project;
    ws.writeConfig('method = local\nmax_per_node = 2');
    const data = join(ws.dir, 'loopdata');
    mkdirSync(data);
    for (let i = 0; i < 6; i++) writeFileSync(join(data, `L1_SB00${i}.MS`), '');
    const calls = join(ws.dir, 'calls.log');
    const append = ws.write('append.sh', `#!/bin/sh\necho "$1" >> ${calls}\nsleep 0.3\necho round >> "$1"\n`);
    chmodSync(append, 0o755);
    ws.write('tasks.cfg', `[append]\nrecipe = executable_args\nexecutable = ${append}\n`);
    const loops = inner === undefined
      ? `outer.control.kind = loop\nouter.control.loopcount = ${rounds}\nouter.control.loopsteps = [work]\n`
      : `outer.control.kind = loop\nouter.control.loopcount = ${rounds}\nouter.control.loopsteps = [innerloop]\ninnerloop.control.kind = loop\ninnerloop.control.loopcount = ${inner}\ninnerloop.control.loopsteps = [work]\n`;
    const parset = ws.write('loop.parset', `pipeline.steps = [listdata, outer]
listdata.control.kind        = plugin
listdata.control.type        = createMapfile
listdata.control.method      = mapfile_from_folder
listdata.control.mapfile_dir = input.output.mapfile_dir
listdata.control.filename    = data.mapfile
listdata.control.folder      = ${data}
${loops}work.control.type       = append
work.control.mapfile_in = listdata.output.mapfile
work.control.inputkey   = ms
work.control.arguments  = [ms]
work.control.inplace    = True
`);
    return { parset, data, calls };
  }

  const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

  it('after SIGKILL in round 2 of a loop of 3, a rerun starts the loop over, reuses what each round had finished, and ends with every round done once', async () => {
    const { ws } = project;
    const { parset, data, calls } = loopSetUp(3);
    const master = spawn(process.execPath, [cliPath, 'run', 'genericpipeline', parset, '--config', ws.configPath], { cwd: ws.dir, stdio: 'ignore' });
    const files = Array.from({ length: 6 }, (_, i) => join(data, `L1_SB00${i}.MS`));
    for (let waited = 0; !files.some((file) => linesOf(file) >= 2); waited += 20) {
      if (waited > 60_000) throw new Error('round 2 never began');
      await delay(20);
    }
    master.kill('SIGKILL');
    await new Promise((resolve) => master.once('close', resolve));
    const before = readFileSync(calls, 'utf8').trim().split('\n').length;
    const rerun = await ws.run(['run', 'genericpipeline', parset]);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(rerun.stderr).to.match(/step listdata: finished in an earlier run/);
    expect(rerun.stderr).to.match(/loop outer: round 3 of 3/);
    // Every file got its three rounds (a job the kill cut off mid-way may have appended once more), none was skipped.
    for (const file of files) expect(linesOf(file), file).to.be.within(3, 4);
    const all = readFileSync(calls, 'utf8').trim().split('\n');
    expect(all.length - before, 'jobs run by the rerun').to.be.below(18);
    const status = JSON.parse((await ws.run(['status', 'genericpipeline', '--json'])).stdout) as { jobs: Array<{ job: string; state: string }> };
    const names = status.jobs.filter((job) => job.state === 'succeeded').map((job) => job.job).sort();
    expect(names).to.include.members(['work.0', 'work.0.round2', 'work.0.round3', 'work.5.round3']);
  });

  it('a loop inside a loop names each round\'s jobs apart (<name>.round<outer>.<inner>) and runs them all', async () => {
    const { ws } = project;
    const { parset, data } = loopSetUp(2, 2);
    const result = await ws.run(['run', 'genericpipeline', parset, '--json']);
    expect(result.code, result.stderr).to.equal(0);
    for (let i = 0; i < 6; i++) expect(linesOf(join(data, `L1_SB00${i}.MS`))).to.equal(4);
    const queued = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; job?: string; step?: string }).filter((event) => event.type === 'job-queued' && event.job?.startsWith('work.0'));
    expect(queued.map((event) => event.job)).to.deep.equal(['work.0', 'work.0.round1.2', 'work.0.round2.1', 'work.0.round2.2']);
  });

  it('a reference to an output the step before did not give stops the pipeline with one line naming the line and key (exit 2)', async () => {
    const { ws } = project;
    const { parset } = setUp();
    writeFileSync(parset, readFileSync(parset, 'utf8').replace('mkdir.control.directory = {{ out_dir }}/done', 'mkdir.control.directory = listdata.output.nosuch'));
    const line = readFileSync(parset, 'utf8').split('\n').findIndex((text) => text.startsWith('mkdir.control.directory')) + 1;
    const result = await ws.run(['run', 'genericpipeline', parset]);
    expect(result.code).to.equal(2);
    expect(stderrLines(result).filter((text) => text.startsWith('pipeline:'))).to.deep.equal([
      `pipeline: ${parset}:${line}: mkdir.control.directory: listdata.output.nosuch is not an output of step listdata (its outputs: mapfile)`,
    ]);
  });
});

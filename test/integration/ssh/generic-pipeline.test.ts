/**
 * A cut-down prefactor-style generic pipeline over 3 real sshd hosts (issue 15): a directory, a
 * stand-in for NDPPP over a data map of the three hosts (each entry on its host), createMapfile
 * from the folder it wrote, a pythonplugin checking each output on its host, mapfile_all_to_one,
 * a loop of at most 3 rounds that a pythonplugin breaks after 2, and a sub-pipeline that copies
 * the results out. Every file it should make exists and its maps are LOFAR's; after SIGKILL of
 * the master in step 4 a rerun does not repeat steps 1-3, reruns only step 4's unfinished jobs,
 * and ends with the same files as an uninterrupted run.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import { DataMap, MultiDataMap } from '../../../support/lofar/data-map.js';
import { readJournal, journalPath } from '../../../support/records/job-journal.js';
import { cliPath } from '../../harness/pipeline-cli.js';
import { startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';
import { expectNothingLeft } from '../../faults/fault-run.js';
import { lofarPythonPath, noteNoLofar, readWithLofar } from '../../harness/lofar-data-map.js';

/** Every file under `dir` with its content, by path relative to it. */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string) => {
    for (const name of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, name.name);
      if (name.isDirectory()) walk(path);
      else files[relative(dir, path)] = readFileSync(path, 'utf8');
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}

describe('genericpipeline: a prefactor-style parset over 3 real sshd hosts', function () {
  this.timeout(240_000);
  let p: SshPipeline;
  let work: string;
  before(async () => {
    p = await startSshPipeline({ hosts: 3 });
    work = join(p.cluster.dir, 'work');
    const { ws } = p;
    // The stand-ins: NDPPP writes its input and where it ran; the solver appends to its input in place.
    const ndppp = ws.write('ndppp.sh', '#!/bin/sh\n{ cat "$1"; echo "on $(echo $SSH_CONNECTION | cut -d" " -f3)"; } > "$2"\n');
    const solve = ws.write('solve.sh', '#!/bin/sh\necho solved >> "$1"\n');
    chmodSync(ndppp, 0o755);
    chmodSync(solve, 0o755);
    ws.write('check.py', `import os, time

def main(ms, calls, **kwargs):
    with open(calls, 'a') as log:
        log.write(os.path.basename(ms) + '\\n')
    time.sleep(1.0)
    with open(ms + '.checked', 'w') as out:
        out.write('checked %s\\n' % os.path.basename(ms))
    return {'checked': ms + '.checked', 'flagged': 0.25, '../../escaped': 'x'}
`);
    ws.write('converged.py', `import os

def main(*args, **kwargs):
    state = kwargs['state']
    rounds = (int(open(state).read()) if os.path.exists(state) else 0) + 1
    with open(state, 'w') as out:
        out.write(str(rounds))
    return {'break': rounds >= 2, 'rounds': rounds}
`);
    ws.write('tasks.cfg', `[ndppp]
recipe = executable_args
executable = ${ndppp}

[solve]
recipe = executable_args
executable = ${solve}

[copyout]
recipe = executable_args
executable = /bin/cp

[pythonplugin]
recipe = executable_args
nodescript = python_plugin
`);
    // The sub-pipeline: its outdir is the calling step's, its map the one the step gives it.
    ws.write('finalize.parset', `! outdir = /nowhere
pipeline.steps = [collect, names]

collect.control.type       = copyout
collect.control.mapfile_in = finalize.output.mapfile
collect.control.inputkey   = src
collect.control.arguments  = [src, {{ outdir }}]

names.control.kind            = plugin
names.control.type            = mapfilenamesFromMapfiles
names.control.mapfile_checked = check.output.checked.mapfile
`);
  });
  after(async () => {
    await p?.stop();
  });

  /** A run's own data (6 measurement sets, 2 on each host), its directories open to the hosts' user, and its parset. */
  function setUp(job: string): { parset: string; calls: string; results: string; prepared: string } {
    const { ws } = p;
    const data = join(work, `${job}-data`);
    const prepared = join(work, job);
    const results = join(work, `${job}-results`);
    for (const dir of [data, prepared, results]) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o777);
    }
    const hosts = ['node1', 'node2', 'node3'];
    const entries = Array.from({ length: 6 }, (_, i) => ({ host: hosts[i % 3]!, file: join(data, `L1_SB00${i}.MS`), skip: false }));
    for (const entry of entries) writeFileSync(entry.file, `visibilities of ${entry.host}\n`);
    const inputMap = join(work, `${job}-input.mapfile`);
    new DataMap(entries).save(inputMap);
    const calls = join(work, `${job}-calls.log`);
    writeFileSync(calls, '');
    chmodSync(calls, 0o666);
    const parset = ws.write(`${job}.parset`, `# cut down from prefactor's Pre-Facet-Calibrator.parset
! inspection = ${join(ws.dir, `${job}-inspection`)}
! results    = ${results}
pipeline.mapfile = ${inputMap}
pipeline.steps   = [mk_inspect, ndppp_prep, listprep, check, combine, one, selfcal, finalize]

mk_inspect.control.kind      = plugin
mk_inspect.control.type      = makeDirectory
mk_inspect.control.directory = {{ inspection }}

ndppp_prep.control.type       = ndppp
ndppp_prep.control.mapfile_in = input.output.mapfile
ndppp_prep.control.inputkey   = msin
ndppp_prep.control.outputkey  = msout
ndppp_prep.control.arguments  = [msin, msout]

listprep.control.kind        = plugin
listprep.control.type        = createMapfile
listprep.control.method      = mapfile_from_folder
listprep.control.folder      = input.output.working_directory/input.output.job_name
listprep.control.pattern     = *.ndppp_prep
listprep.control.mapfile_dir = input.output.mapfile_dir
listprep.control.filename    = prepared.mapfile

check.control.type         = pythonplugin
check.control.executable   = ${join(ws.dir, 'check.py')}
check.control.mapfile_in   = ndppp_prep.output.mapfile
check.control.inputkey     = ms
check.control.max_per_node = 1
check.argument.calls       = ${calls}

combine.control.kind        = plugin
combine.control.type        = createMapfile
combine.control.method      = mapfile_all_to_one
combine.control.mapfile_in  = listprep.output.mapfile
combine.control.mapfile_dir = input.output.mapfile_dir
combine.control.filename    = combined.mapfile

one.control.kind        = plugin
one.control.type        = createMapfile
one.control.method      = dummy
one.control.number      = 1
one.control.mapfile_dir = input.output.mapfile_dir
one.control.filename    = one.mapfile

selfcal.control.kind      = loop
selfcal.control.loopcount = 3
selfcal.control.loopsteps = [solve, converged]

solve.control.type       = solve
solve.control.mapfile_in = ndppp_prep.output.mapfile
solve.control.inputkey   = msin
solve.control.arguments  = [msin]
solve.control.inplace    = True

converged.control.type        = pythonplugin
converged.control.executable  = ${join(ws.dir, 'converged.py')}
converged.control.mapfile_in  = one.output.mapfile
converged.control.skip_infile = True
converged.argument.state      = ${join(ws.dir, `${job}-rounds`)}

finalize.control.kind       = pipeline
finalize.control.type       = finalize.parset
finalize.control.mapfile_in = ndppp_prep.output.mapfile
finalize.argument.outdir    = {{ results }}
`);
    return { parset, calls, results, prepared };
  }

  let uninterrupted: { prepared: Record<string, string>; results: Record<string, string> } | undefined;

  it('runs every step: each file it should make exists, its maps are LOFAR\'s, status and --json carry the steps', async () => {
    const { ws } = p;
    const { parset, calls, results, prepared } = setUp('gp');
    const run = await ws.run(['run', 'genericpipeline', parset, '--job-name', 'gp', '--json']);
    expect(run.code, run.stderr.slice(-3000)).to.equal(0);
    expect(run.stderr).to.match(/10 steps: mk_inspect, ndppp_prep, listprep, check, combine, one, selfcal, finalize, finalize-collect, finalize-names/);
    const address = new Map(p.cluster.hosts.map((host) => [host.alias, host.address]));
    const mapfiles = join(ws.jobDirectory('gp'), 'mapfiles');

    // ndppp_prep ran each entry on its host; the loop's solver ran twice (the plugin broke it after round 2).
    const prep = DataMap.load(join(mapfiles, 'ndppp_prep.mapfile'));
    expect(prep.entries.map((entry) => entry.host)).to.deep.equal(['node1', 'node2', 'node3', 'node1', 'node2', 'node3']);
    for (const entry of prep) {
      expect(readFileSync(entry.file, 'utf8')).to.equal(`visibilities of ${entry.host}\non ${address.get(entry.host)}\nsolved\nsolved\n`);
      expect(readFileSync(`${entry.file}.checked`, 'utf8')).to.match(/^checked L1_SB00\d\.ndppp_prep\n$/);
    }
    expect(run.stderr).to.match(/loop selfcal: step converged says break after round 2/);
    expect(readFileSync(join(ws.dir, 'gp-rounds'), 'utf8')).to.equal('2');
    expect(existsSync(join(ws.dir, 'gp-inspection'))).to.equal(true);
    // createMapfile from the folder, and all in one.
    expect(DataMap.load(join(mapfiles, 'prepared.mapfile')).entries.map((entry) => relative(prepared, entry.file))).to.deep.equal(Array.from({ length: 6 }, (_, i) => `L1_SB00${i}.ndppp_prep`));
    expect(MultiDataMap.load(join(mapfiles, 'combined.mapfile')).entries.map((entry) => entry.file.length)).to.deep.equal([6]);
    // The pythonplugin's returned dict became a map per key, each value on its entry's host.
    const checked = DataMap.load(join(mapfiles, 'check.checked.mapfile'));
    expect(checked.entries.map((entry) => [entry.host, entry.file])).to.deep.equal(prep.entries.map((entry) => [entry.host, `${entry.file}.checked`]));
    expect(DataMap.load(join(mapfiles, 'check.flagged.mapfile')).entries.map((entry) => entry.file)).to.deep.equal(Array(6).fill('0.25'));
    expect(readFileSync(calls, 'utf8').trim().split('\n').sort()).to.deep.equal(Array.from({ length: 6 }, (_, i) => `L1_SB00${i}.ndppp_prep`));
    // A returned key that is not a plain name gets no map, and no file is written for it anywhere.
    expect(run.stderr).to.include('outputs "../../escaped" of the jobs are not plain names');
    expect(readdirSync(ws.jobDirectory('gp'), { recursive: true }).map(String).filter((path) => path.includes('escaped'))).to.deep.equal([]);
    // The sub-pipeline copied every output to the results directory given by the calling step.
    expect(readdirSync(results).sort()).to.deep.equal(Array.from({ length: 6 }, (_, i) => `L1_SB00${i}.ndppp_prep`));
    expect(DataMap.load(join(mapfiles, 'finalize-collect.mapfile')).length).to.equal(6);
    expect(readFileSync(join(ws.jobDirectory('gp'), 'parsets', 'check.parset'), 'utf8')).to.equal(`calls = ${calls}\n`);

    // Every map this run wrote reads back in LOFAR's own data_map.py, as what this framework reads.
    const written = readdirSync(mapfiles).filter((name) => name.endsWith('.mapfile')).map((name) => join(mapfiles, name));
    expect(written.length).to.be.at.least(10);
    const lofar = lofarPythonPath();
    if (lofar === undefined) noteNoLofar();
    else {
      const byLofar = readWithLofar(lofar, written);
      for (const path of written) {
        const ours = /combined|split/.test(path) ? MultiDataMap.load(path) : DataMap.load(path);
        expect(byLofar[path], path).to.deep.equal(ours.entries.map((entry) => [entry.host, entry.file, entry.skip]));
      }
    }

    // --json: each step's start and end, and every job carries its step (a later round's are named apart).
    const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const steps = events.filter((event) => event.type === 'step').map((event) => `${event.step as string} ${event.state as string}`);
    expect(steps).to.include.members(['mk_inspect done', 'ndppp_prep started', 'ndppp_prep done', 'check done', 'selfcal done', 'solve done', 'converged done', 'finalize done', 'finalize-collect done', 'finalize-names done']);
    const queued = events.filter((event) => event.type === 'job-queued');
    expect(queued.filter((event) => event.step === 'ndppp_prep').map((event) => event.job)).to.deep.equal(Array.from({ length: 6 }, (_, i) => `ndppp_prep.${i}`));
    expect(queued.filter((event) => event.step === 'solve').map((event) => event.job)).to.include.members(['solve.0', 'solve.0.round2']);
    expect(queued.every((event) => typeof event.step === 'string')).to.equal(true);
    expect(events.filter((event) => event.type === 'job-ended').every((event) => typeof event.step === 'string')).to.equal(true);

    const status = JSON.parse((await ws.run(['status', 'gp', '--json'])).stdout) as { steps: Array<{ name: string; state: string; jobs: number }> };
    expect(status.steps.map((step) => [step.name, step.state, step.jobs])).to.deep.equal([
      ['mk_inspect', 'done', 0], ['ndppp_prep', 'done', 6], ['listprep', 'done', 0], ['check', 'done', 6], ['combine', 'done', 0], ['one', 'done', 0],
      ['selfcal', 'done', 0], ['solve', 'done', 12], ['converged', 'done', 2], ['finalize', 'done', 0], ['finalize-collect', 'done', 6], ['finalize-names', 'done', 0],
    ]);
    // The run's page has the steps too.
    const page = readFileSync(join(ws.jobDirectory('gp'), 'report.html'), 'utf8');
    expect([...page.matchAll(/<tr class="step" data-step="([^"]+)" data-state="([^"]+)"/g)].map((match) => `${match[1]} ${match[2]}`)).to.deep.equal(status.steps.map((step) => `${step.name} ${step.state}`));
    uninterrupted = { prepared: tree(prepared), results: tree(results) };
  });

  it('after SIGKILL of the master in step 4, a rerun skips steps 1-3, reruns only step 4\'s unfinished jobs, and ends as an uninterrupted run', async function () {
    if (!uninterrupted) this.skip();
    const { ws } = p;
    const { parset, calls, results, prepared } = setUp('gk');
    const master = spawn(process.execPath, [cliPath, 'run', 'genericpipeline', parset, '--job-name', 'gk', '--config', ws.configPath], { cwd: ws.dir, stdio: 'ignore' });
    // Killed once the records say one of step 4's jobs succeeded: the others are running or queued.
    const checksDone = () => {
      const journal = journalPath(ws.jobDirectory('gk'));
      if (!existsSync(journal)) return 0;
      const run = readJournal(journal).runs.at(-1);
      return run ? [...run.jobs.values()].filter((job) => job.step === 'check' && job.state === 'succeeded').length : 0;
    };
    for (let waited = 0; checksDone() < 1; waited += 50) {
      if (waited > 120_000) throw new Error('step 4 never got under way');
      await delay(50);
    }
    master.kill('SIGKILL');
    await new Promise((resolve) => master.once('close', resolve));
    // The jobs the kill cut off are gone from the hosts (one just starting may still have logged its call).
    await expectNothingLeft(p.cluster, 10_000);
    const callsBefore = readFileSync(calls, 'utf8').trim().split('\n');
    expect(callsBefore.length).to.be.below(6);
    // What the killed run's records say step 4 finished.
    const killedRun = readJournal(journalPath(ws.jobDirectory('gk'))).runs.at(-1)!;
    const finished = [...killedRun.jobs.values()].filter((job) => job.step === 'check' && job.state === 'succeeded').map((job) => (job.ended!.outputs.checked as string).split('/').pop()!.replace('.checked', ''));
    expect(finished.length).to.be.within(1, 5);
    const status = (await ws.run(['status', 'gk'])).stdout;
    expect(status).to.match(/steps: mk_inspect done, ndppp_prep done \(6 of 6 jobs succeeded\), listprep done, check interrupted \(\d of \d jobs succeeded\), combine not started/);

    const rerun = await ws.run(['run', 'genericpipeline', parset, '--job-name', 'gk']);
    expect(rerun.code, rerun.stderr.slice(-3000)).to.equal(0);
    for (const step of ['mk_inspect', 'ndppp_prep', 'listprep']) expect(rerun.stderr).to.match(new RegExp(`step ${step}: finished in an earlier run with the same inputs; not run again`));
    expect(rerun.stderr).to.not.match(/step ndppp_prep \(recipe ndppp\) started/);
    // Step 4 ran again only for the inputs whose jobs had not succeeded: each of the others was called once, before the kill.
    const callsAfter = readFileSync(calls, 'utf8').trim().split('\n').slice(callsBefore.length);
    for (const name of finished) expect(callsAfter, `${name} succeeded before the kill`).to.not.include(name);
    expect(new Set([...callsBefore, ...callsAfter]).size).to.equal(6);
    expect(callsAfter.length).to.equal(6 - finished.length);
    // The same files as the uninterrupted run.
    expect(tree(results)).to.deep.equal(uninterrupted!.results);
    expect(tree(prepared)).to.deep.equal(uninterrupted!.prepared);
  });
});

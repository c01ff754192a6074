/**
 * LOFAR's recipes over data maps on real sshd hosts. executable_args: each job runs on its entry's host
 * (the program sees the sshd of that host in SSH_CONNECTION), the program gets its input and
 * output files as LOFAR's keys, a failing entry is skipped in the output map, error_tolerance
 * decides the exit code, and the output map is in LOFAR's own format. copier: each path goes to
 * its target entry's host, and the map it writes skips the copies that failed.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';
import { DataMap } from '../../../support/lofar/data-map.js';

describe('LOFAR recipes over data maps on real sshd hosts', function () {
  this.timeout(120_000);
  let p: SshPipeline;
  let work: string;
  let calls: string;
  let program: string;
  let inputMap: string;
  const entries = [['node1', 'L1_SB000.MS'], ['node2', 'L1_SB001.MS'], ['node3', 'L1_SB002.MS'], ['node1', 'L1_SB003.MS'], ['node2', 'L1_SB004_bad.MS'], ['node3', 'L1_SB005.MS']] as const;

  before(async () => {
    p = await startSshPipeline({ hosts: 3 });
    work = join(p.cluster.dir, 'work');
    calls = join(work, 'calls.log');
    // The "NDPPP" of the test: says where it ran, with what, and fails on a bad input.
    program = join(work, 'record.sh');
    writeFileSync(program, `#!/bin/sh\necho "$SSH_CONNECTION|$OMP_NUM_THREADS|$*" >> ${calls}\ncase "$*" in *bad*) echo "cannot read $1" >&2; exit 3;; esac\necho "processed $*"\n`);
    chmodSync(program, 0o755);
    inputMap = join(work, 'input.mapfile');
    writeFileSync(inputMap, new DataMap(entries.map(([host, file]) => ({ host, file: `/data/${file}`, skip: false }))).toString());
    // LOFAR's [dppp] task (kernsuite tasks.cfg.in), with the test's program as its executable.
    p.ws.write('tasks.cfg', `[dppp]\nrecipe = executable_args\nparsetasfile = False\nexecutable = ${program}\noutputsuffixes = []\nargs_format=lofar\noutputkey=msout\ninputkey=msin\nnthreads = 2\n`);
  });
  after(async () => { await p?.stop(); });
  beforeEach(() => {
    writeFileSync(calls, '');
    chmodSync(calls, 0o666); // the jobs run as the test user
  });

  function callLines(): Array<{ server: string; threads: string; args: string }> {
    return readFileSync(calls, 'utf8').trim().split('\n').map((line) => {
      const [connection, threads, args] = line.split('|');
      return { server: connection!.split(' ')[2]!, threads: threads!, args: args! };
    });
  }

  it('runs each entry on its host with msin/msout, skips the failed entry in the output map, and exits 0 under error_tolerance', async () => {
    const result = await p.ws.run(['run', 'dppp', '--mapfile-in', inputMap, '--stepname', 'dp', '-j', 'dp_tolerant']);
    expect(result.code, result.stderr).to.equal(0);
    const address = new Map(p.cluster.hosts.map((host) => [host.alias, host.address]));
    const outDir = join(work, 'dp_tolerant');
    const lines = callLines();
    expect(lines).to.have.length(6);
    for (const [host, file] of entries) {
      const stem = file.replace(/\.MS$/, '');
      const line = lines.find((call) => call.args.includes(`msin=/data/${file}`));
      expect(line, file).to.not.equal(undefined);
      expect(line!.server, `${file} ran on ${host}`).to.equal(address.get(host));
      expect(line!.threads).to.equal('2');
      expect(line!.args).to.equal(`msin=/data/${file} msout=${outDir}/${stem}.dp`);
    }
    const mapPath = join(p.ws.jobDirectory('dp_tolerant'), 'mapfiles', 'dp.mapfile');
    expect(JSON.parse(result.stdout).mapfile).to.equal(mapPath);
    const text = readFileSync(mapPath, 'utf8');
    const out = DataMap.parse(text, mapPath);
    expect(out.entries.map((entry) => [entry.host, entry.file, entry.skip])).to.deep.equal(
      entries.map(([host, file]) => [host, `${outDir}/${file.replace(/\.MS$/, '')}.dp`, file.includes('bad')]),
    );
    // LOFAR's own repr, which its DataMap.load reads back.
    expect(text).to.equal(`[${entries.map(([host, file]) => `{'host': '${host}', 'file': '${outDir}/${file.replace(/\.MS$/, '')}.dp', 'skip': ${file.includes('bad') ? 'True' : 'False'}}`).join(', ')}]`);
    expect(result.stderr).to.match(/1 of 6 jobs failed; going on with those that succeeded/);
    expect(result.stderr).to.match(/node2#dp\.4 .*record\.sh: cannot read msin=\/data\/L1_SB004_bad\.MS/);
  });

  it('with error_tolerance off, one failed entry fails the step (exit 1) and writes no output map', async () => {
    const result = await p.ws.run(['run', 'dppp', '--mapfile-in', inputMap, '--stepname', 'dp', '--error-tolerance', 'false', '-j', 'dp_strict']);
    expect(result.code, result.stderr).to.equal(1);
    expect(result.stderr).to.include('1 of 6 jobs failed and error_tolerance is off: the step fails, no output map is written');
    expect(() => readFileSync(join(p.ws.jobDirectory('dp_strict'), 'mapfiles', 'dp.mapfile'))).to.throw();
  });

  it('entries already skipped in the input map run nowhere and stay skipped', async () => {
    const partial = join(work, 'partial.mapfile');
    writeFileSync(partial, `[{'host': 'node1', 'file': '/data/A.MS', 'skip': True}, {'host': 'node3', 'file': '/data/B.MS', 'skip': False}]`);
    const result = await p.ws.run(['run', 'dppp', '--mapfile-in', partial, '--stepname', 'dp', '-j', 'dp_partial']);
    expect(result.code, result.stderr).to.equal(0);
    expect(callLines().map((call) => call.args)).to.deep.equal([`msin=/data/B.MS msout=${join(work, 'dp_partial')}/B.dp`]);
    const out = DataMap.load(join(p.ws.jobDirectory('dp_partial'), 'mapfiles', 'dp.mapfile'));
    expect(out.entries.map((entry) => entry.skip)).to.deep.equal([true, false]);
  });

  it('copier: 6 paths to their target hosts on a shared filesystem; a missing source is skipped in the map it writes, which LOFAR reads', async () => {
    p.configure('globalfs = yes');
    try {
      const sources = join(work, 'instrument');
      mkdirSync(sources, { recursive: true });
      const names = entries.map(([, file]) => file.replace(/\.MS$/, '.instrument'));
      names.forEach((name, n) => {
        if (n === 2) return; // this one is missing: its copy fails
        mkdirSync(join(sources, name));
        writeFileSync(join(sources, name, 'table.dat'), `table ${n}\n`);
      });
      chmodSync(sources, 0o755);
      const targets = join(work, 'next-to-data');
      const sourceMap = join(work, 'instrument.mapfile');
      const targetMap = join(work, 'target.mapfile');
      writeFileSync(sourceMap, new DataMap(names.map((name, n) => ({ host: entries[(n + 1) % 6]![0], file: join(sources, name), skip: false }))).toString());
      writeFileSync(targetMap, new DataMap(names.map((name, n) => ({ host: entries[n]![0], file: join(targets, name), skip: false }))).toString());
      const result = await p.ws.run(['run', 'copier', '--mapfile-source', sourceMap, '--mapfile-target', targetMap, '-j', 'copy']);
      expect(result.code, result.stderr).to.equal(0);
      const written = JSON.parse(result.stdout).mapfile_target_copied as string;
      const out = DataMap.load(written);
      expect(out.entries.map((entry) => [entry.host, entry.file, entry.skip])).to.deep.equal(names.map((name, n) => [entries[n]![0], join(targets, name), n === 2]));
      names.forEach((name, n) => {
        if (n !== 2) expect(readFileSync(join(targets, name, 'table.dat'), 'utf8')).to.equal(`table ${n}\n`);
      });
      // Each copy ran on its target's host.
      names.forEach((name, n) => expect(result.stderr + readFileSync(join(p.ws.jobDirectory('copy'), 'journal.ndjson'), 'utf8')).to.match(new RegExp(`"job":"copier\\.${n}","key":"[^"]+","host":"${entries[n]![0]}"`)));
      expect(result.stderr).to.match(/1 of 6 copies failed; they are skipped in /);
    } finally {
      p.configure();
    }
  });
});

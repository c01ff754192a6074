/**
 * LOFAR's recipes over data maps on real sshd hosts. executable_args: each job runs on its entry's host
 * (the program sees the sshd of that host in SSH_CONNECTION), the program gets its input and
 * output files as LOFAR's keys, a failing entry is skipped in the output map, error_tolerance
 * decides the exit code, and the output map is in LOFAR's own format. copier: each path goes to
 * its target entry's host, and the map it writes skips the copies that failed.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';
import { TEST_USER } from '../../harness/ssh-hosts.js';
import { lofarPythonPath, noteNoLofar, readWithLofar } from '../../harness/lofar-data-map.js';
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

  /**
   * Runs copier over 6 instrument tables, each from another host than its target's, the third
   * missing and the fifth skipped in the source map; checks the target map (both skipped there),
   * the copies, and that each ran on its target's host. Returns the run's stderr, the names, the paths and the map it wrote.
   */
  async function copyTables(tag: string): Promise<{ stderr: string; names: string[]; sources: string; targets: string; written: string; out: DataMap }> {
    const sources = join(work, `instrument-${tag}`);
    mkdirSync(sources, { recursive: true, mode: 0o755 });
    chmodSync(sources, 0o755);
    const names = entries.map(([, file]) => file.replace(/\.MS$/, '.instrument'));
    names.forEach((name, n) => {
      if (n === 2) return; // missing: its copy fails
      mkdirSync(join(sources, name), { mode: 0o755 });
      writeFileSync(join(sources, name, 'table.dat'), `table ${n}\n`, { mode: 0o644 });
    });
    const targets = join(work, `next-to-data-${tag}`);
    mkdirSync(targets, { mode: 0o777 });
    chmodSync(targets, 0o777);
    const sourceMap = join(work, `instrument-${tag}.mapfile`);
    const targetMap = join(work, `target-${tag}.mapfile`);
    writeFileSync(sourceMap, new DataMap(names.map((name, n) => ({ host: entries[(n + 1) % 6]![0], file: join(sources, name), skip: n === 4 }))).toString());
    writeFileSync(targetMap, new DataMap(names.map((name, n) => ({ host: entries[n]![0], file: join(targets, name), skip: false }))).toString());
    const result = await p.ws.run(['run', 'copier', '--mapfile-source', sourceMap, '--mapfile-target', targetMap, '-j', `copy-${tag}`]);
    expect(result.code, result.stderr).to.equal(0);
    const written = JSON.parse(result.stdout).mapfile_target_copied as string;
    const out = DataMap.load(written);
    expect(out.entries.map((entry) => [entry.host, entry.file, entry.skip])).to.deep.equal(names.map((name, n) => [entries[n]![0], join(targets, name), n === 2 || n === 4]));
    names.forEach((name, n) => {
      if (n !== 2 && n !== 4) expect(readFileSync(join(targets, name, 'table.dat'), 'utf8')).to.equal(`table ${n}\n`);
    });
    expect(existsSync(join(targets, names[4]!)), 'the skipped source is not copied').to.equal(false);
    // Each copy ran on its target's host (copier.<n> is the n-th pair copied: the fifth entry has none).
    const journal = readFileSync(join(p.ws.jobDirectory(`copy-${tag}`), 'journal.ndjson'), 'utf8');
    [0, 1, 2, 3, 5].forEach((n, k) => expect(journal).to.match(new RegExp(`"job":"copier\\.${k}","key":"[^"]+","host":"${entries[n]![0]}"`)));
    expect(journal).to.not.match(/"job":"copier\.5"/);
    expect(result.stderr).to.match(/1 of 5 copies failed; they are skipped in /);
    const lofar = lofarPythonPath();
    if (lofar === undefined) noteNoLofar();
    else expect(readWithLofar(lofar, [written])[written]).to.deep.equal(out.entries.map((entry) => [entry.host, entry.file, entry.skip]));
    return { stderr: result.stderr, names, sources, targets, written, out };
  }

  it('copier: 6 paths to their target hosts on a shared filesystem; a missing source is skipped in the map it writes, which LOFAR reads', async () => {
    p.configure('globalfs = yes');
    try {
      const { stderr, names, sources, targets } = await copyTables('globalfs');
      names.forEach((name, n) => {
        if (n !== 2 && n !== 4) expect(stderr).to.include(`copied ${join(sources, name)} to ${join(targets, name)}`);
      });
    } finally {
      p.configure();
    }
  });

  it('copier without a shared filesystem: each path goes from its source host to its target host over rsync, the missing one skipped; the map reads back in LOFAR\'s format', async function () {
    if (!existsSync('/usr/bin/rsync')) {
      console.log('      skipped: rsync is missing (apt-get install rsync; .ci/run installs it)');
      this.skip();
    }
    // The hosts reach each other as a cluster's do: the hosts' user has the key, and rsync's ssh reads the cluster's ssh_config.
    const key = join(work, 'hosts-user-key');
    copyFileSync(p.cluster.userKeyPath, key);
    chmodSync(key, 0o600);
    if (process.getuid?.() === 0) chownSync(key, Number(execFileSync('id', ['-u', TEST_USER])), Number(execFileSync('id', ['-g', TEST_USER])));
    const sshConfig = join(work, 'hosts-ssh-config');
    writeFileSync(sshConfig, readFileSync(p.cluster.sshConfigPath, 'utf8').replaceAll(p.cluster.userKeyPath, key), { mode: 0o644 });
    const rsh = join(work, 'cluster-ssh');
    writeFileSync(rsh, `#!/bin/sh\nexec ssh -F ${sshConfig} "$@"\n`, { mode: 0o755 });
    p.configure(`environment = [RSYNC_RSH=${rsh}]`);
    try {
      const { stderr, names, sources, targets } = await copyTables('rsync');
      names.forEach((name, n) => {
        if (n !== 2 && n !== 4) expect(stderr).to.include(`copied ${entries[(n + 1) % 6]![0]}:${join(sources, name)} to ${join(targets, name)}`);
      });
      expect(stderr).to.match(/node3#copier\.2 rsync -r node1:\S+L1_SB002\.instrument\/ \S+ failed \(23\): .*No such file or directory/);
    } finally {
      p.configure();
    }
  });
});

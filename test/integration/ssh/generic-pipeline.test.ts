/**
 * A generic-pipeline parset over 3 real sshd hosts (issue 15): a task step over a data map of
 * the three hosts runs each entry on its host, the plugins and a loop around it run here, and
 * the maps it writes are LOFAR's format.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { DataMap, MultiDataMap } from '../../../support/lofar/data-map.js';
import { startSshPipeline, type SshPipeline } from '../../harness/ssh-pipeline.js';

describe('genericpipeline over 3 real sshd hosts', function () {
  this.timeout(120_000);
  let p: SshPipeline;
  before(async () => {
    p = await startSshPipeline({ hosts: 3 });
  });
  after(async () => {
    await p?.stop();
  });

  it('runs a map step on each entry\'s host, then the plugins and the loop here; the maps are LOFAR\'s', async () => {
    const work = join(p.cluster.dir, 'work');
    const data = join(work, 'gp-data');
    mkdirSync(data, { recursive: true });
    chmodSync(data, 0o777);
    const entries = ['node1', 'node2', 'node3', 'node1'].map((host, i) => ({ host, file: join(data, `L1_SB00${i}.MS`), skip: false }));
    for (const entry of entries) writeFileSync(entry.file, `visibilities of ${entry.host}\n`);
    // The step's outputs go to <working_directory>/<job name> (LOFAR's default), written there by the hosts' user.
    mkdirSync(join(work, 'gp'), { recursive: true });
    chmodSync(join(work, 'gp'), 0o777);
    const inputMap = join(work, 'gp-input.mapfile');
    new DataMap(entries).save(inputMap);
    // The stand-in for NDPPP: writes where it ran into its output.
    const program = join(work, 'gp-ndppp.sh');
    writeFileSync(program, '#!/bin/sh\n{ cat "$1"; echo "on $(echo $SSH_CONNECTION | cut -d" " -f3)"; } > "$2"\n');
    chmodSync(program, 0o755);
    p.ws.write('tasks.cfg', `[ndppp]\nrecipe = executable_args\nexecutable = ${program}\n`);
    const parset = p.ws.write('gp.parset', `! input_map = ${inputMap}
! inspection = ${join(p.ws.dir, 'inspection')}
pipeline.steps = [ndppp_prep, combine, inspect_dir, again]

ndppp_prep.control.type       = ndppp
ndppp_prep.control.mapfile_in = {{ input_map }}
ndppp_prep.control.inputkey   = msin
ndppp_prep.control.outputkey  = msout
ndppp_prep.control.arguments  = [msin, msout]

combine.control.kind        = plugin
combine.control.type        = createMapfile
combine.control.method      = mapfile_all_to_one
combine.control.mapfile_in  = ndppp_prep.output.mapfile
combine.control.mapfile_dir = input.output.mapfile_dir
combine.control.filename    = combined.mapfile

inspect_dir.control.kind      = plugin
inspect_dir.control.type      = makeDirectory
inspect_dir.control.directory = {{ inspection }}

again.control.kind      = loop
again.control.loopcount = 2
again.control.loopsteps = [split]
split.control.kind        = plugin
split.control.type        = createMapfile
split.control.method      = mapfile_split_list
split.control.listsize    = 1
split.control.mapfile_in  = ndppp_prep.output.mapfile
split.control.mapfile_dir = input.output.mapfile_dir
split.control.filename    = split.mapfile
`);
    const result = await p.ws.run(['run', 'genericpipeline', parset, '--job-name', 'gp']);
    expect(result.code, result.stderr.slice(-3000)).to.equal(0);
    const address = new Map(p.cluster.hosts.map((host) => [host.alias, host.address]));
    const outputs = DataMap.load(join(p.ws.jobDirectory('gp'), 'mapfiles', 'ndppp_prep.mapfile'));
    expect(outputs.entries.map((entry) => entry.host)).to.deep.equal(['node1', 'node2', 'node3', 'node1']);
    for (const [i, entry] of outputs.entries.entries()) {
      expect(readFileSync(entry.file, 'utf8')).to.equal(`visibilities of ${entries[i]!.host}\non ${address.get(entries[i]!.host)}\n`);
    }
    const combined = MultiDataMap.load(join(p.ws.jobDirectory('gp'), 'mapfiles', 'combined.mapfile'));
    expect(combined.entries.map((entry) => [entry.host, entry.file.length])).to.deep.equal([['node1', 2], ['node2', 1], ['node3', 1]]);
    expect(result.stderr.match(/loop again: round \d of 2/g)).to.have.length(2);
  });
});

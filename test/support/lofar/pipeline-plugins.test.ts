/** The generic pipeline's plugins write the maps LOFAR's would, read back by our DataMap (which reads LOFAR's format exactly). */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { DataMap, DataMapError, MultiDataMap } from '../../../support/lofar/data-map.js';
import { createMapfile, makeDirectory, mapfilenamesFromMapfiles } from '../../../support/lofar/pipeline-plugins.js';

describe('support/lofar/pipeline-plugins', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plugins-'));
    mkdirSync(join(dir, 'data'));
    for (const name of ['L1_SB002.MS', 'L1_SB000.MS', 'L1_SB001.MS', 'notes.txt']) writeFileSync(join(dir, 'data', name), '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('createMapfile mapfile_from_folder: the matching names, sorted, on localhost, written to mapfile_dir/filename', () => {
    const out = createMapfile({ method: 'mapfile_from_folder', folder: join(dir, 'data'), pattern: 'L*.MS', mapfile_dir: join(dir, 'maps'), filename: 'cal.mapfile' });
    expect(out).to.deep.equal({ mapfile: join(dir, 'maps', 'cal.mapfile') });
    expect(DataMap.load(out.mapfile!).entries.map((entry) => entry.file)).to.deep.equal(['L1_SB000.MS', 'L1_SB001.MS', 'L1_SB002.MS'].map((name) => `${join(dir, 'data')}/${name}`));
    expect(readFileSync(out.mapfile!, 'utf8')).to.match(/^\[\{'host': 'localhost', 'file': '.*L1_SB000\.MS', 'skip': False\}, /);
    const excluded = createMapfile({ method: 'mapfile_from_folder', folder: join(dir, 'data'), pattern: '*.MS', exclude_pattern: 'True', mapfile_dir: join(dir, 'maps'), filename: 'rest.mapfile' });
    expect(DataMap.load(excluded.mapfile!).entries.map((entry) => entry.file)).to.deep.equal([`${join(dir, 'data')}/notes.txt`]);
  });

  it('createMapfile mapfile_all_to_one and mapfile_split_list: one entry per host with its files not skipped, then in lists of listsize', () => {
    const map = join(dir, 'in.mapfile');
    new DataMap([
      { host: 'node1', file: '/d/a.MS', skip: false }, { host: 'node2', file: '/d/b.MS', skip: false },
      { host: 'node1', file: '/d/c.MS', skip: true }, { host: 'node1', file: '/d/d.MS', skip: false },
    ]).save(map);
    const one = createMapfile({ method: 'mapfile_all_to_one', mapfile_in: map, mapfile_dir: dir, filename: 'one.mapfile' });
    expect(MultiDataMap.load(one.mapfile!).entries.map((entry) => [entry.host, entry.file])).to.deep.equal([['node1', ['/d/a.MS', '/d/d.MS']], ['node2', ['/d/b.MS']]]);
    const split = createMapfile({ method: 'mapfile_split_list', listsize: '1', mapfile_in: map, mapfile_dir: dir, filename: 'split.mapfile' });
    expect(MultiDataMap.load(split.mapfile!).entries.map((entry) => entry.file)).to.deep.equal([['/d/a.MS'], ['/d/d.MS'], ['/d/b.MS']]);
  });

  it('makeDirectory makes a directory and its parents; mapfilenamesFromMapfiles gives the first file of each mapfile_<name>', () => {
    expect(makeDirectory({ directory: join(dir, 'a', 'b') })).to.deep.equal({});
    expect(statSync(join(dir, 'a', 'b')).isDirectory()).to.equal(true);
    const map = join(dir, 'sky.mapfile');
    new DataMap([{ host: 'localhost', file: '/models/3C196.skymodel', skip: false }]).save(map);
    expect(mapfilenamesFromMapfiles({ mapfile_FilePath: map, other: 'x' })).to.deep.equal({ FilePath: '/models/3C196.skymodel' });
  });

  it('refuses an unknown method and a missing key with the plugin and key named', () => {
    expect(() => createMapfile({ method: 'mapfile_from_nowhere' })).to.throw(DataMapError, /plugin createMapfile: unknown method "mapfile_from_nowhere"/);
    expect(() => createMapfile({ method: 'mapfile_from_folder', folder: join(dir, 'data') })).to.throw(DataMapError, /plugin createMapfile: needs mapfile_dir/);
    expect(() => createMapfile({ method: 'mapfile_from_folder', folder: join(dir, 'none'), mapfile_dir: dir, filename: 'x' })).to.throw(DataMapError, /cannot list .*none: ENOENT/);
  });
});

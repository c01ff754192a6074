import { expect } from 'chai';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, UsageError } from '../../../support/errors.js';
import {
  ClusterDescription,
  clusterComputeHosts,
  expandHostRange,
  MAX_HOSTS,
} from '../../../support/config/cluster-description.js';

/** The reconstructed LOFAR clusterdesc files (see their README.md). */
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'lofar', 'clusterdesc');

/** Runs `fn`, expects an error of `type` with a one-line message, and returns it. */
function thrown<T extends Error>(type: new (...args: never[]) => T, fn: () => unknown): T {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(type);
    expect((err as Error).message, 'one-line message').not.to.include('\n');
    return err as T;
  }
  expect.fail(`expected a ${type.name}`);
}

const CEP4 = `# CEP4 cluster description
ClusterName = cep4

Head.Nodes = [ head01 ]
Compute.Nodes = [ node001..016, locus[001..003], special ]
Compute.LocalDisks = [ /data1, /data2 ]
SubClusters = [ A, B ]
A.Compute.Nodes = [ a1..3 ]
B.Compute.Nodes = [ b01..02 ]
`;

describe('expandHostRange', () => {
  const nodes = (from: number, to: number, width: number, prefix = 'node'): string[] =>
    Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${String(from + i).padStart(width, '0')}`);

  it('expands NAME<from>..<to> keeping the zero padding', () => {
    expect(expandHostRange('node001..016', 'w')).to.deep.equal(nodes(1, 16, 3));
    expect(expandHostRange('node08..10', 'w')).to.deep.equal(['node08', 'node09', 'node10']);
    expect(expandHostRange('node001..16', 'w')).to.deep.equal(nodes(1, 16, 3));
  });

  it('does not pad ranges written without leading zeros', () => {
    expect(expandHostRange('a1..3', 'w')).to.deep.equal(['a1', 'a2', 'a3']);
    expect(expandHostRange('node8..11', 'w')).to.deep.equal(['node8', 'node9', 'node10', 'node11']);
    expect(expandHostRange('n0..2', 'w')).to.deep.equal(['n0', 'n1', 'n2']);
  });

  it('expands the bracket form NAME[<from>..<to>]', () => {
    expect(expandHostRange('locus[001..003]', 'w')).to.deep.equal(['locus001', 'locus002', 'locus003']);
    expect(expandHostRange('locus[1..2]', 'w')).to.deep.equal(['locus1', 'locus2']);
  });

  it('accepts lists, single numbers and a suffix inside the bracket form', () => {
    expect(expandHostRange('cn[01..02,07]-ib', 'w')).to.deep.equal(['cn01-ib', 'cn02-ib', 'cn07-ib']);
    expect(expandHostRange('cn[5]', 'w')).to.deep.equal(['cn5']);
  });

  it('expands comma-separated lists with optional outer brackets', () => {
    const want = ['node1', 'node2', 'node3'];
    expect(expandHostRange('[node1..3]', 'w')).to.deep.equal(want);
    expect(expandHostRange('[ node1..3 ]', 'w')).to.deep.equal(want);
    expect(expandHostRange('node1, node2,node3', 'w')).to.deep.equal(want);
    expect(expandHostRange('[ node001..016, locus[001..003], special ]', 'w')).to.deep.equal([
      ...nodes(1, 16, 3),
      'locus001',
      'locus002',
      'locus003',
      'special',
    ]);
    expect(expandHostRange('[locus[001..002]]', 'w')).to.deep.equal(['locus001', 'locus002']);
  });

  it('keeps plain names, including dotted host names and addresses', () => {
    expect(expandHostRange('localhost, head01.cep4.control.lofar, 127.0.0.2', 'w')).to.deep.equal([
      'localhost',
      'head01.cep4.control.lofar',
      '127.0.0.2',
    ]);
  });

  it('drops duplicates and empty items, keeping the first order', () => {
    expect(expandHostRange('b, a, node1..3, a, node2, , b,', 'w')).to.deep.equal(['b', 'a', 'node1', 'node2', 'node3']);
  });

  it('gives [] for an empty list', () => {
    expect(expandHostRange('', 'w')).to.deep.equal([]);
    expect(expandHostRange('[]', 'w')).to.deep.equal([]);
    expect(expandHostRange('[ ]', 'w')).to.deep.equal([]);
  });

  it('rejects a reversed range, naming the place and the item', () => {
    const e = thrown(UsageError, () => expandHostRange('a, node5..2', '--hosts'));
    expect(e.message).to.equal(
      '--hosts: bad host range "node5..2" (5 > 2): expected NAME<from>..<to> with from <= to, ' +
        'e.g. node001..016 or locus[001..003]',
    );
    expect(e).not.to.be.instanceOf(ConfigError);
  });

  it('rejects non-numeric and malformed ranges', () => {
    for (const bad of ['nodea..c', 'a..b', 'node1..', '..3', 'node[a..b]', 'n[]', 'n[1..3', 'a[1..2]b[3..4]', 'x[3..1]']) {
      const e = thrown(UsageError, () => expandHostRange(bad, '--hosts'));
      expect(e.message, bad).to.match(/^--hosts: bad host range ".*"( \(\d+ > \d+\))?: expected NAME<from>\.\.<to> with from <= to/);
      expect(e.message, bad).to.include(JSON.stringify(bad));
    }
  });

  it('rejects names with whitespace (a missing comma)', () => {
    const e = thrown(UsageError, () => expandHostRange('node1 node2', '--hosts'));
    expect(e.message).to.equal('--hosts: bad host name "node1 node2": expected host names separated by commas');
  });

  it(`caps the expansion at ${MAX_HOSTS} hosts`, () => {
    expect(expandHostRange('n1..100000', 'w')).to.have.length(MAX_HOSTS);
    const e = thrown(UsageError, () => expandHostRange('n0..100000', 'w'));
    expect(e.message).to.equal(
      'w: host list expands to more than 100000 hosts (at "n0..100000"); split it up or check the range',
    );
    // The cap is checked before generating, so a huge range fails fast.
    thrown(UsageError, () => expandHostRange('n0..99999999999999999999', 'w'));
    // ... and it applies to the whole list.
    thrown(UsageError, () => expandHostRange('a1..60000, b1..60000', 'w'));
  });
});

describe('ClusterDescription', () => {
  describe('a clusterdesc with subclusters', () => {
    const desc = ClusterDescription.parse(CEP4, '/opt/lofar/share/cep4.clusterdesc');

    it('reads the name and raw values', () => {
      expect(desc.name).to.equal('cep4');
      expect(desc.file).to.equal('/opt/lofar/share/cep4.clusterdesc');
      expect(desc.get('Compute.LocalDisks')).to.equal('[ /data1, /data2 ]');
      expect(desc.get('compute.localdisks')).to.equal(undefined);
      expect(desc.get('Nope')).to.equal(undefined);
      expect(desc.lineOf('Compute.Nodes')).to.equal(5);
      expect(desc.keys()).to.deep.equal([
        'ClusterName',
        'Head.Nodes',
        'Compute.Nodes',
        'Compute.LocalDisks',
        'SubClusters',
        'A.Compute.Nodes',
        'B.Compute.Nodes',
      ]);
    });

    it('expands Compute.Nodes', () => {
      const hosts = desc.computeNodes();
      expect(hosts).to.have.length(20);
      expect(hosts.slice(0, 2)).to.deep.equal(['node001', 'node002']);
      expect(hosts.slice(15)).to.deep.equal(['node016', 'locus001', 'locus002', 'locus003', 'special']);
    });

    it('returns a fresh array each time', () => {
      desc.computeNodes().push('mutated');
      expect(desc.computeNodes()).not.to.include('mutated');
    });

    it('gives the head nodes and subclusters', () => {
      expect(desc.headNodes()).to.deep.equal(['head01']);
      expect(desc.subClusters()).to.deep.equal(['A', 'B']);
    });

    it("gives a subcluster's compute nodes", () => {
      expect(desc.computeNodes('A')).to.deep.equal(['a1', 'a2', 'a3']);
      expect(desc.computeNodes('B')).to.deep.equal(['b01', 'b02']);
    });

    it('rejects an unknown subcluster, listing the known ones', () => {
      const e = thrown(ConfigError, () => desc.computeNodes('C'));
      expect(e.message).to.equal('/opt/lofar/share/cep4.clusterdesc: unknown subcluster "C"; known subclusters: A, B');
      expect(e.file).to.equal('/opt/lofar/share/cep4.clusterdesc');
    });
  });

  it('without top-level Compute.Nodes, returns the union of the subclusters (get_compute_nodes)', () => {
    const desc = ClusterDescription.parse(
      'ClusterName = split\nSubClusters = [ A, B, Empty ]\nA.Compute.Nodes = [ n1..3 ]\nB.Compute.Nodes = [ n3..4, x ]\n' +
        'A.Head.Nodes = [ ha ]\nB.Head.Nodes = [ hb ]\n',
      'split.clusterdesc',
    );
    expect(desc.computeNodes()).to.deep.equal(['n1', 'n2', 'n3', 'n4', 'x']);
    expect(desc.computeNodes('Empty')).to.deep.equal([]);
    expect(desc.headNodes()).to.deep.equal(['ha', 'hb']);
  });

  it('follows nested subclusters', () => {
    const desc = ClusterDescription.parse(
      'SubClusters = [ A ]\nA.SubClusters = [ X, Y ]\nA.X.Compute.Nodes = x1..2\nA.Y.Compute.Nodes = y1\n',
      'nested',
    );
    expect(desc.computeNodes()).to.deep.equal(['x1', 'x2', 'y1']);
    expect(desc.computeNodes('A')).to.deep.equal(['x1', 'x2', 'y1']);
  });

  it('gives [] when there are no nodes at all, and says so for subclusters', () => {
    const desc = ClusterDescription.parse('ClusterName = empty\n', 'empty.clusterdesc');
    expect(desc.computeNodes()).to.deep.equal([]);
    expect(desc.headNodes()).to.deep.equal([]);
    expect(desc.subClusters()).to.deep.equal([]);
    expect(thrown(ConfigError, () => desc.computeNodes('A')).message).to.equal(
      'empty.clusterdesc: unknown subcluster "A"; this file defines no SubClusters',
    );
    expect(ClusterDescription.parse('', 'e').name).to.equal(undefined);
  });

  it('reads the local.clusterdesc shipped with lofarpipe', () => {
    const desc = ClusterDescription.parse(
      'ClusterName = local\n\n# Compute nodes\nCompute.Nodes = [ localhost ]\nCompute.LocalDisks = [ /tmp ]\n\n' +
        '# Head nodes\nHead.Nodes = [ localhost ]\nHead.LocalDisks = [ /tmp ]\n',
      'local.clusterdesc',
    );
    expect(desc.name).to.equal('local');
    expect(desc.computeNodes()).to.deep.equal(['localhost']);
    expect(desc.headNodes()).to.deep.equal(['localhost']);
  });

  it('handles comments, blank lines, CRLF and backslash continuations', () => {
    const desc = ClusterDescription.parse(
      '  # indented comment\r\nClusterName = c # trailing comment\r\n\r\nCompute.Nodes = [ a1..2, \\\r\n   b1 ]\r\n' +
        'Note = "keep # this"\r\n',
      'c',
    );
    expect(desc.name).to.equal('c');
    expect(desc.computeNodes()).to.deep.equal(['a1', 'a2', 'b1']);
    expect(desc.get('Note')).to.equal('"keep # this"');
  });

  describe('errors', () => {
    it('rejects a line without "="', () => {
      const e = thrown(ConfigError, () => ClusterDescription.parse('ClusterName = x\nCompute.Nodes [ a ]\n', 'x.clusterdesc'));
      expect(e.message).to.equal('x.clusterdesc:2: expected "key = value" or a # comment, got "Compute.Nodes [ a ]"');
      expect(e.file).to.equal('x.clusterdesc');
    });

    it('rejects an empty key or a key with spaces', () => {
      expect(thrown(ConfigError, () => ClusterDescription.parse('= a\n', 'x')).message).to.equal(
        'x:1: bad key "": expected "key = value" with a key such as Compute.Nodes',
      );
      expect(thrown(ConfigError, () => ClusterDescription.parse('\nCompute Nodes = a\n', 'x')).message).to.match(
        /^x:2: bad key "Compute Nodes"/,
      );
    });

    it('rejects a duplicate key, naming both lines', () => {
      const e = thrown(ConfigError, () => ClusterDescription.parse('Compute.Nodes = a\n\nCompute.Nodes = b\n', 'x'));
      expect(e.message).to.equal('x:3: duplicate key Compute.Nodes (first defined on line 1); keep only one');
    });

    it('rejects a bad range when loading, with file, line and key', () => {
      const e = thrown(ConfigError, () =>
        ClusterDescription.parse('ClusterName = x\nSubClusters = [ A ]\nA.Compute.Nodes = [ a1, node5..2 ]\n', 'x.clusterdesc'),
      );
      expect(e.message).to.equal(
        'x.clusterdesc:3: A.Compute.Nodes: bad host range "node5..2" (5 > 2): expected NAME<from>..<to> with from <= to, ' +
          'e.g. node001..016 or locus[001..003]',
      );
      expect(e.file).to.equal('x.clusterdesc');
    });

    it('rejects a too large host list when loading', () => {
      const e = thrown(ConfigError, () => ClusterDescription.parse('Head.Nodes = h0..1000000\n', 'big'));
      expect(e.message).to.match(/^big:1: Head\.Nodes: host list expands to more than 100000 hosts/);
    });

    it('rejects bad subcluster names', () => {
      // A dotted entry such as "B.C" is now a subcluster file (see 'subcluster files'), not a bad name.
      for (const [list, bad] of [['[ A, B C ]', 'B C'], ['[ A, a[1] ]', 'a[1]']] as const) {
        const e = thrown(ConfigError, () => ClusterDescription.parse(`SubClusters = ${list}\n`, 'x'));
        expect(e.message).to.equal(
          `x:1: SubClusters: bad subcluster name ${JSON.stringify(bad)}: expected names without spaces or brackets, ` +
            'e.g. [ A, B ] or [ sub1.clusterdesc, sub2.clusterdesc ]',
        );
      }
    });
  });

  describe('load', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'clusterdesc-test-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('reads a file', async () => {
      const file = join(dir, 'cep4.clusterdesc');
      await writeFile(file, CEP4);
      const desc = await ClusterDescription.load(file);
      expect(desc.file).to.equal(file);
      expect(desc.computeNodes('B')).to.deep.equal(['b01', 'b02']);
    });

    it('turns an unreadable file into a ConfigError', async () => {
      const file = join(dir, 'missing.clusterdesc');
      try {
        await ClusterDescription.load(file);
        expect.fail('expected a ConfigError');
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        expect((err as Error).message.startsWith(`${file}: cannot read: `)).to.equal(true);
        expect((err as Error).message).to.include('ENOENT');
      }
    });
  });
});

describe('LOFAR clusterdesc files', () => {
  const cases: { file: string; count: number; first: string; last: string; head: string[] }[] = [
    { file: 'full.clusterdesc', count: 27, first: 'lce001', last: 'lce027', head: ['lfe001', 'lfe002'] },
    { file: 'production.clusterdesc', count: 18, first: 'lce010', last: 'lce027', head: ['lfe001', 'lfe002'] },
    { file: 'sub1.clusterdesc', count: 9, first: 'lce001', last: 'lce009', head: ['lfe001'] },
    { file: 'sub2.clusterdesc', count: 9, first: 'lce010', last: 'lce018', head: ['lfe001'] },
    { file: 'sub3.clusterdesc', count: 9, first: 'lce019', last: 'lce027', head: ['lfe002'] },
    { file: 'cep2.clusterdesc', count: 100, first: 'locus001', last: 'locus100', head: ['lhn001', 'lhn002'] },
    { file: 'local.clusterdesc', count: 1, first: 'localhost', last: 'localhost', head: ['localhost'] },
    { file: 'cep4-windows.clusterdesc', count: 36, first: 'cpu01', last: 'gpu04', head: ['head01'] },
  ];
  for (const { file, count, first, last, head } of cases) {
    it(`reads ${file}: ${count} compute nodes ${first} .. ${last}`, () => {
      const path = join(FIXTURES, file);
      const hosts = clusterComputeHosts(path);
      expect(hosts).to.have.length(count);
      expect(hosts[0]).to.equal(first);
      expect(hosts.at(-1)).to.equal(last);
      expect(new Set(hosts).size, 'no duplicates').to.equal(count);
      const desc = ClusterDescription.loadSync(path);
      expect(desc.computeNodes()).to.deep.equal(hosts);
      expect(desc.headNodes()).to.deep.equal(head);
    });
  }

  it('reads full.clusterdesc asynchronously too, with its subclusters named as written', async () => {
    const desc = await ClusterDescription.load(join(FIXTURES, 'full.clusterdesc'));
    expect(desc.name).to.equal('full');
    expect(desc.subClusters()).to.deep.equal(['sub1.clusterdesc', 'sub2.clusterdesc', 'sub3.clusterdesc']);
    expect(desc.computeNodes('sub2.clusterdesc')).to.deep.equal(Array.from({ length: 9 }, (_, i) => `lce0${10 + i}`));
    expect(desc.storageNodes()).to.deep.equal(['lse001', 'lse002', 'lse003', 'lse004', 'lse005', 'lse006', 'lse007', 'lse008', 'lse009']);
    // Only the file's own keys: the subclusters' keys stay in their files.
    expect(desc.keys()).to.deep.equal(['ClusterName', 'SubClusters']);
    expect(desc.lineOf('SubClusters')).to.equal(5);
  });

  it('reads the heterogeneous sub files by NodeType: storage and head nodes are not compute nodes', () => {
    const desc = ClusterDescription.loadSync(join(FIXTURES, 'sub1.clusterdesc'));
    expect(desc.get('NNodes')).to.equal('13');
    expect(desc.computeNodes()).not.to.include('lse001');
    expect(desc.storageNodes()).to.deep.equal(['lse001', 'lse002', 'lse003']);
    expect(desc.headNodes()).to.deep.equal(['lfe001']);
  });

  it('reads BOM, CRLF, tabs and a continuation line', () => {
    const desc = ClusterDescription.loadSync(join(FIXTURES, 'cep4-windows.clusterdesc'));
    expect(desc.name).to.equal('cep4');
    expect(desc.keys()[0]).to.equal('ClusterName');
    expect(desc.get('Compute.LocalDisks')).to.equal('[\t/data1,\t/data2\t]');
    expect(desc.computeNodes().slice(31)).to.deep.equal(['cpu32', 'gpu01', 'gpu02', 'gpu03', 'gpu04']);
    // Old Mac line ends (CR only) split lines too.
    expect(ClusterDescription.parse('\uFEFFClusterName = m\rCompute.Nodes =\t[ m1..2 ]\r', 'm').computeNodes()).to.deep.equal(['m1', 'm2']);
  });
});

describe('ClusterDescription: heterogeneous NodeN form', () => {
  const het = (text: string): ClusterDescription => ClusterDescription.parse(text, 'het.clusterdesc');

  it('iterates Node0, Node1, ... and takes Compute (the default) and Any nodes as compute nodes', () => {
    const desc = het(
      'ClusterName = cl\nNNodes = 5\nNode0.NodeName = node1\nNode0.NodeType = Any\nNode0.NodeFileSys = [fs0, fs1]\n' +
        'Node0.NodeMountPoints = [/auto/fs0, /fs1]\nNode1.NodeName = node2\nNode2.NodeName = "node3"\nNode2.NodeType = compute\n' +
        'Node3.NodeName = st1\nNode3.NodeType = Storage\nNode4.NodeName = hd1\nNode4.NodeType = HEAD\n',
    );
    expect(desc.computeNodes()).to.deep.equal(['node1', 'node2', 'node3']);
    expect(desc.storageNodes()).to.deep.equal(['st1']);
    expect(desc.headNodes()).to.deep.equal(['hd1']);
  });

  it('prefers Compute.Nodes over the NodeN nodes when a file has both', () => {
    const desc = het('Compute.Nodes = [ c1..2 ]\nNode0.NodeName = n0\nNode1.NodeName = h\nNode1.NodeType = Head\n');
    expect(desc.computeNodes()).to.deep.equal(['c1', 'c2']);
    expect(desc.headNodes()).to.deep.equal(['h']);
  });

  it('rejects a node past a gap in the numbering, which LOFAR would skip unseen', () => {
    const e = thrown(ConfigError, () => het('Node0.NodeName = a\nNode1.NodeName = b\nNode3.NodeName = d\n'));
    expect(e.message).to.equal(
      'het.clusterdesc:3: Node3.NodeName: there is no Node2.NodeName, so this node would be skipped; ' +
        'number the nodes Node0, Node1, ... without gaps, each with a NodeName',
    );
    expect(thrown(ConfigError, () => het('Node0.NodeType = Compute\n')).message).to.match(
      /^het\.clusterdesc:1: Node0\.NodeType: there is no Node0\.NodeName, so this node would be skipped/,
    );
  });

  it('rejects an NNodes that disagrees with the nodes', () => {
    expect(thrown(ConfigError, () => het('NNodes = 3\nNode0.NodeName = a\nNode1.NodeName = b\n')).message).to.equal(
      'het.clusterdesc:1: NNodes = 3 but the file defines 2 nodes (Node0..Node1)',
    );
    expect(thrown(ConfigError, () => het('Compute.Nodes = a\nNNodes = two\n')).message).to.equal(
      'het.clusterdesc:2: NNodes = two but the file defines no NodeN.NodeName',
    );
  });

  it('rejects an unknown NodeType, a bad NodeName and a node named twice', () => {
    expect(thrown(ConfigError, () => het('Node0.NodeName = a\nNode0.NodeType = Stroage\n')).message).to.equal(
      'het.clusterdesc:2: Node0.NodeType: unknown node type "Stroage": expected Compute, Storage, Head or Any',
    );
    expect(thrown(ConfigError, () => het('Node0.NodeName = a, b\n')).message).to.equal(
      'het.clusterdesc:1: Node0.NodeName: bad node name "a, b": expected one host name',
    );
    expect(thrown(ConfigError, () => het('Node0.NodeName = a\nNode1.NodeName = b\nNode2.NodeName = a\n')).message).to.equal(
      'het.clusterdesc:3: Node2.NodeName: node a is also Node0.NodeName (line 1); list each node once',
    );
  });
});

describe('ClusterDescription: homogeneous Nodes and Storage.Nodes', () => {
  it('takes Nodes (type Any) as the compute nodes when there is no Compute.Nodes', () => {
    const desc = ClusterDescription.parse('Nodes = [ n1..3 ]\nHead.Nodes = h\n', 'any');
    expect(desc.computeNodes()).to.deep.equal(['n1', 'n2', 'n3']);
    expect(desc.headNodes()).to.deep.equal(['h']);
  });

  it('does not add Nodes to Compute.Nodes, so the other machines get no jobs', () => {
    const desc = ClusterDescription.parse('Nodes = [ head01, w1..2 ]\nCompute.Nodes = [ w1..2 ]\n', 'both');
    expect(desc.computeNodes()).to.deep.equal(['w1', 'w2']);
  });

  it('does not take storage nodes as compute nodes', () => {
    const desc = ClusterDescription.parse('Storage.Nodes = [ lse001..3 ]\n', 'storage');
    expect(desc.computeNodes()).to.deep.equal([]);
    expect(desc.storageNodes()).to.deep.equal(['lse001', 'lse002', 'lse003']);
  });
});

describe('ClusterDescription: subcluster files', () => {
  let dir: string;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'clusterdesc-subs-')));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  };

  it('merges the subclusters in first-seen order, a node in two of them counting once', () => {
    write('a.clusterdesc', 'Compute.Nodes = [ n1..3 ]\nHead.Nodes = h1\n');
    write('b.clusterdesc', 'Compute.Nodes = [ n3, x, n1 ]\nHead.Nodes = h1\n');
    const desc = ClusterDescription.loadSync(write('top.clusterdesc', 'SubClusters = [ a.clusterdesc, b.clusterdesc ]\n'));
    expect(desc.computeNodes()).to.deep.equal(['n1', 'n2', 'n3', 'x']);
    expect(desc.headNodes()).to.deep.equal(['h1']);
  });

  it("resolves names against the parent's directory, through nested files and absolute paths", () => {
    write('deep/leaf.clusterdesc', 'Compute.Nodes = leaf1\n');
    write('deep/mid.clusterdesc', 'SubClusters = [ leaf.clusterdesc ]\n');
    const other = write('elsewhere/abs.clusterdesc', 'Compute.Nodes = abs1\n');
    const top = write('top.clusterdesc', `SubClusters = [ deep/mid.clusterdesc, ${other} ]\n`);
    // The working directory is not dir: the names resolve next to top.clusterdesc all the same.
    expect(clusterComputeHosts(top)).to.deep.equal(['leaf1', 'abs1']);
  });

  it('expands ~ and $VAR / ${VAR} in subcluster names', () => {
    write('home/sub.clusterdesc', 'Compute.Nodes = tilde1\n');
    write('vars/sub.clusterdesc', 'Compute.Nodes = var1\n');
    write('vars2/sub.clusterdesc', 'Compute.Nodes = var2\n');
    const saved = { HOME: process.env.HOME, CD_TEST_DIR: process.env.CD_TEST_DIR };
    process.env.HOME = join(dir, 'home');
    process.env.CD_TEST_DIR = 'vars';
    try {
      const top = write('top.clusterdesc', 'SubClusters = [ ~/sub.clusterdesc, $CD_TEST_DIR/sub.clusterdesc, ${CD_TEST_DIR}2/sub.clusterdesc ]\n');
      expect(clusterComputeHosts(top)).to.deep.equal(['tilde1', 'var1', 'var2']);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('takes a bare name as a file when it exists next to the parent and the parent has no keys for it', () => {
    write('sub1', 'Compute.Nodes = f1..2\n');
    const desc = ClusterDescription.loadSync(write('top.clusterdesc', 'SubClusters = [ sub1, Empty ]\n'));
    expect(desc.computeNodes()).to.deep.equal(['f1', 'f2']);
    expect(desc.computeNodes('sub1')).to.deep.equal(['f1', 'f2']);
    expect(desc.computeNodes('Empty')).to.deep.equal([]);
  });

  it('keeps a bare name with keys a named prefix, without reading a file of that name', () => {
    write('A', 'this is not a clusterdesc\n');
    const top = write('top.clusterdesc', 'SubClusters = [ A, b.clusterdesc ]\nA.Compute.Nodes = [ a1..2 ]\n');
    write('b.clusterdesc', 'Compute.Nodes = [ b1 ]\n');
    const desc = ClusterDescription.loadSync(top);
    expect(desc.subClusters()).to.deep.equal(['A', 'b.clusterdesc']);
    expect(desc.computeNodes()).to.deep.equal(['a1', 'a2', 'b1']);
  });

  it('accepts a quoted file name with spaces', () => {
    write('my subs/s.clusterdesc', 'Compute.Nodes = q1\n');
    expect(clusterComputeHosts(write('top.clusterdesc', 'SubClusters = [ "my subs/s.clusterdesc" ]\n'))).to.deep.equal(['q1']);
  });

  it('rejects a missing subcluster file, naming the parent, its line and the path', () => {
    const top = write('top.clusterdesc', 'ClusterName = top\nSubClusters = [ sub9.clusterdesc ]\n');
    const e = thrown(ConfigError, () => ClusterDescription.loadSync(top));
    expect(e.message).to.equal(`${top}:2: SubClusters: subcluster "sub9.clusterdesc": file ${join(dir, 'sub9.clusterdesc')} does not exist`);
    expect(e.file).to.equal(top);
    // parse() of given text resolves against dirname(file) the same way.
    const e2 = thrown(ConfigError, () => ClusterDescription.parse('SubClusters = [ B.C ]\n', join(dir, 'x.clusterdesc')));
    expect(e2.message).to.equal(`${join(dir, 'x.clusterdesc')}:1: SubClusters: subcluster "B.C": file ${join(dir, 'B.C')} does not exist`);
  });

  it('rejects a subcluster that is a directory, and an unset variable', () => {
    mkdirSync(join(dir, 'd.clusterdesc'));
    const top = write('top.clusterdesc', 'SubClusters = [ d.clusterdesc ]\n');
    expect(thrown(ConfigError, () => ClusterDescription.loadSync(top)).message).to.equal(
      `${top}:1: SubClusters: subcluster "d.clusterdesc": ${join(dir, 'd.clusterdesc')} is not a file`,
    );
    delete process.env.CD_TEST_UNSET_VARIABLE;
    const top2 = write('top2.clusterdesc', '\nSubClusters = [ $CD_TEST_UNSET_VARIABLE/s.clusterdesc ]\n');
    expect(thrown(ConfigError, () => ClusterDescription.loadSync(top2)).message).to.equal(
      `${top2}:2: SubClusters: subcluster "$CD_TEST_UNSET_VARIABLE/s.clusterdesc": environment variable CD_TEST_UNSET_VARIABLE is not set`,
    );
  });

  it('rejects a file that includes itself, directly or not, naming the cycle', () => {
    const self = write('self.clusterdesc', 'SubClusters = [ self.clusterdesc ]\n');
    expect(thrown(ConfigError, () => ClusterDescription.loadSync(self)).message).to.equal(
      `${self}:1: SubClusters: subcluster "self.clusterdesc": subclusters include each other: ${self} -> ${self}`,
    );
    const a = write('a.clusterdesc', 'SubClusters = [ b.clusterdesc ]\n');
    const b = write('b.clusterdesc', 'Compute.Nodes = b1\nSubClusters = [ ./a.clusterdesc ]\n');
    const top = write('top.clusterdesc', 'SubClusters = [ a.clusterdesc ]\n');
    const e = thrown(ConfigError, () => clusterComputeHosts(top));
    expect(e.message).to.equal(`${b}:2: SubClusters: subcluster "./a.clusterdesc": subclusters include each other: ${a} -> ${b} -> ${a}`);
    expect(e.file).to.equal(b);
  });

  it('reports an error inside a subcluster file with that file and line', () => {
    const sub = write('sub.clusterdesc', 'Compute.Nodes = a\nCompute.Nodes = b\n');
    const top = write('top.clusterdesc', 'SubClusters = [ sub.clusterdesc ]\n');
    expect(thrown(ConfigError, () => ClusterDescription.loadSync(top)).message).to.equal(
      `${sub}:2: duplicate key Compute.Nodes (first defined on line 1); keep only one`,
    );
  });
});

describe('clusterComputeHosts', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'clusterdesc-hosts-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a clusterdesc without compute nodes instead of falling back to localhost', () => {
    for (const text of ['ClusterName = empty\n', 'Head.Nodes = h\nStorage.Nodes = s1..2\n', 'Compute.Nodes = []\n', '']) {
      const file = join(dir, 'empty.clusterdesc');
      writeFileSync(file, text);
      const e = thrown(ConfigError, () => clusterComputeHosts(file));
      expect(e.message, JSON.stringify(text)).to.equal(
        `${file}: lists no compute nodes (expected Compute.Nodes = [...], Nodes = [...], NodeN.NodeName or SubClusters)`,
      );
      expect(e.file).to.equal(file);
    }
  });

  it('turns an unreadable file into a one-line ConfigError', () => {
    const file = join(dir, 'missing.clusterdesc');
    const e = thrown(ConfigError, () => clusterComputeHosts(file));
    expect(e.message.startsWith(`${file}: cannot read: `)).to.equal(true);
    expect(e.message).to.include('ENOENT');
  });
});

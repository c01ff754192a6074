import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, UsageError } from '../../../support/errors.js';
import { ClusterDescription, expandHostRange, MAX_HOSTS } from '../../../support/config/cluster-description.js';

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
      const e = thrown(ConfigError, () => ClusterDescription.parse('SubClusters = [ A, B.C ]\n', 'x'));
      expect(e.message).to.equal(
        'x:1: SubClusters: bad subcluster name "B.C": expected names without spaces, dots or brackets, e.g. [ A, B ]',
      );
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

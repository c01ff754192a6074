import { expect } from 'chai';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, type Line } from '../../../support/protocol/line-splitter.js';

/** A splitter that collects its lines. */
function collector(maxBytes?: number): { splitter: LineSplitter; lines: Line[]; texts: () => string[] } {
  const lines: Line[] = [];
  const splitter = new LineSplitter((line) => lines.push(line), maxBytes);
  return { splitter, lines, texts: () => lines.map((line) => line.text) };
}

describe('support/protocol/line-splitter', () => {
  it('caps lines at 64 KiB by default', () => {
    expect(DEFAULT_MAX_LINE_BYTES).to.equal(64 * 1024);
  });

  it('splits one chunk holding several lines', () => {
    const { splitter, lines } = collector();
    splitter.push(Buffer.from('one\ntwo\nthree\n'));
    expect(lines).to.deep.equal([
      { text: 'one', cutBytes: 0 },
      { text: 'two', cutBytes: 0 },
      { text: 'three', cutBytes: 0 },
    ]);
  });

  it('joins a line split across chunks', () => {
    const { splitter, texts } = collector();
    splitter.push(Buffer.from('hel'));
    expect(texts()).to.deep.equal([]);
    splitter.push(Buffer.from('lo\nwor'));
    expect(texts()).to.deep.equal(['hello']);
    splitter.push(Buffer.from('ld'));
    splitter.push(Buffer.from('\n'));
    expect(texts()).to.deep.equal(['hello', 'world']);
  });

  it('handles a stream delivered one byte at a time', () => {
    const { splitter, texts } = collector();
    for (const byte of Buffer.from('ab\ncd\n')) splitter.push(Buffer.from([byte]));
    expect(texts()).to.deep.equal(['ab', 'cd']);
  });

  it('keeps empty lines', () => {
    const { splitter, texts } = collector();
    splitter.push(Buffer.from('a\n\n\nb\n'));
    expect(texts()).to.deep.equal(['a', '', '', 'b']);
  });

  it('strips the \\r of CRLF line ends', () => {
    const { splitter, texts } = collector();
    splitter.push(Buffer.from('a\r\nb\r\n'));
    expect(texts()).to.deep.equal(['a', 'b']);
  });

  it('strips the \\r of CRLF when \\r and \\n arrive in different chunks', () => {
    const { splitter, texts } = collector();
    splitter.push(Buffer.from('first\r'));
    splitter.push(Buffer.from('\nsecond\r\n'));
    expect(texts()).to.deep.equal(['first', 'second']);
  });

  it('keeps a \\r inside a line', () => {
    const { splitter, texts } = collector();
    splitter.push(Buffer.from('progress 10%\rprogress 20%\n'));
    expect(texts()).to.deep.equal(['progress 10%\rprogress 20%']);
  });

  it('emits a final line without newline only at end()', () => {
    const { splitter, texts } = collector();
    splitter.push(Buffer.from('x\ny'));
    expect(texts()).to.deep.equal(['x']);
    splitter.end();
    expect(texts()).to.deep.equal(['x', 'y']);
  });

  it('emits a final line without newline ending in \\r without it', () => {
    const { splitter, texts } = collector();
    splitter.push(Buffer.from('last\r'));
    splitter.end();
    expect(texts()).to.deep.equal(['last']);
  });

  it('emits nothing at end() when the stream ended with a newline or was empty', () => {
    const a = collector();
    a.splitter.push(Buffer.from('x\n'));
    a.splitter.end();
    expect(a.texts()).to.deep.equal(['x']);
    const b = collector();
    b.splitter.end();
    expect(b.lines).to.deep.equal([]);
  });

  it('ignores empty chunks', () => {
    const { splitter, texts } = collector();
    splitter.push(Buffer.alloc(0));
    splitter.push(Buffer.from('a'));
    splitter.push(Buffer.alloc(0));
    splitter.push(Buffer.from('\n'));
    expect(texts()).to.deep.equal(['a']);
  });

  describe('the cap', () => {
    it('cuts a 1 MB line to exactly 64 KiB, counts the rest, and keeps the next line intact', () => {
      const cap = 64 * 1024;
      const total = 1024 * 1024;
      const { splitter, lines } = collector(cap);
      const chunk = Buffer.alloc(10_000, 'a');
      let sent = 0;
      while (sent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        splitter.push(piece);
        sent += piece.length;
      }
      splitter.push(Buffer.from('\nnext line\n'));
      expect(lines).to.have.length(2);
      expect(Buffer.byteLength(lines[0]!.text)).to.equal(cap);
      expect(lines[0]!.text).to.equal('a'.repeat(cap));
      expect(lines[0]!.cutBytes).to.equal(total - cap);
      expect(lines[1]).to.deep.equal({ text: 'next line', cutBytes: 0 });
    });

    it('cuts a 1 MB line arriving in one chunk with the default cap', () => {
      const { splitter, lines } = collector();
      splitter.push(Buffer.concat([Buffer.alloc(1024 * 1024, 'b'), Buffer.from('\nok\n')]));
      expect(lines).to.have.length(2);
      expect(lines[0]!.text).to.have.length(DEFAULT_MAX_LINE_BYTES);
      expect(lines[0]!.cutBytes).to.equal(1024 * 1024 - DEFAULT_MAX_LINE_BYTES);
      expect(lines[1]).to.deep.equal({ text: 'ok', cutBytes: 0 });
    });

    it('does not cut a line of exactly the cap', () => {
      const { splitter, lines } = collector(8);
      splitter.push(Buffer.from('12345678\n'));
      expect(lines).to.deep.equal([{ text: '12345678', cutBytes: 0 }]);
    });

    it('cuts one byte over the cap', () => {
      const { splitter, lines } = collector(8);
      splitter.push(Buffer.from('1234'));
      splitter.push(Buffer.from('56789\n'));
      expect(lines).to.deep.equal([{ text: '12345678', cutBytes: 1 }]);
    });

    it('reports a cut final line without newline at end()', () => {
      const { splitter, lines } = collector(4);
      splitter.push(Buffer.from('abcdefgh'));
      splitter.end();
      expect(lines).to.deep.equal([{ text: 'abcd', cutBytes: 4 }]);
    });

    it('starts counting afresh for each line', () => {
      const { splitter, lines } = collector(4);
      splitter.push(Buffer.from('abcdef\nabcdefg\nab\n'));
      expect(lines).to.deep.equal([
        { text: 'abcd', cutBytes: 2 },
        { text: 'abcd', cutBytes: 3 },
        { text: 'ab', cutBytes: 0 },
      ]);
    });
  });

  describe('UTF-8', () => {
    it('decodes a multi-byte character split across chunks', () => {
      const { splitter, texts } = collector();
      const bytes = Buffer.from('héllo € 日本 😀\n');
      // Split inside é (2 bytes), € (3 bytes) and 😀 (4 bytes).
      const cuts = [2, bytes.indexOf(Buffer.from('€')) + 1, bytes.indexOf(Buffer.from('€')) + 2, bytes.indexOf(Buffer.from('😀')) + 3];
      let start = 0;
      for (const cut of cuts) {
        splitter.push(bytes.subarray(start, cut));
        start = cut;
      }
      splitter.push(bytes.subarray(start));
      expect(texts()).to.deep.equal(['héllo € 日本 😀']);
    });

    it('decodes multi-byte characters sent one byte at a time', () => {
      const { splitter, texts } = collector();
      for (const byte of Buffer.from('ünïcødé\nzweite Zeile ✓\n')) splitter.push(Buffer.from([byte]));
      expect(texts()).to.deep.equal(['ünïcødé', 'zweite Zeile ✓']);
    });
  });
});

describe('LineSplitter: cutting on a character boundary', () => {
  it('never ends a cut line with half a UTF-8 character', () => {
    const lines: Line[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), 4);
    splitter.push(Buffer.from('abc€def\nok\n'));
    expect(lines).to.deep.equal([{ text: 'abc', cutBytes: 6 }, { text: 'ok', cutBytes: 0 }]);
  });
});

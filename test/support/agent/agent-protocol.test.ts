import { expect } from 'chai';
import { ProtocolError } from '../../../support/errors.js';
import { AGENT_PROTOCOL_VERSION, decodeAgentMessage, decodeMasterMessage, encodeAgentMessage } from '../../../support/agent/agent-protocol.js';

describe('support/agent/agent-protocol', () => {
  it('round-trips every message, and data in base64 carries any bytes exactly', () => {
    const bytes = Buffer.from([0, 10, 13, 27, 0x7f, 0x80, 0xc3, 0xff, 0x22, 0x5c]);
    const line = encodeAgentMessage({ t: 'data', id: 7, s: 2, d: bytes.toString('base64') });
    expect(line.endsWith('\n')).to.equal(true);
    expect(line.slice(0, -1)).to.not.include('\n');
    const decoded = decodeAgentMessage(line.slice(0, -1));
    expect(decoded.t === 'data' && Buffer.from(decoded.d, 'base64')).to.deep.equal(bytes);
    expect(decodeAgentMessage(encodeAgentMessage({ t: 'hello', v: AGENT_PROTOCOL_VERSION, pid: 12, node: 'v20' }))).to.deep.equal({ t: 'hello', v: 1, pid: 12, node: 'v20' });
    expect(decodeAgentMessage('{"t":"exit","id":3,"code":5,"signal":null,"usage":{"userSeconds":1,"systemSeconds":0.5,"peakRssBytes":100}}'))
      .to.deep.equal({ t: 'exit', id: 3, code: 5, signal: null, usage: { userSeconds: 1, systemSeconds: 0.5, peakRssBytes: 100 } });
    const start = { t: 'start' as const, id: 1, job: { kind: 'shell' as const, command: 'true', env: { A: 'b' }, mark: 'm' } };
    expect(decodeMasterMessage(encodeAgentMessage(start))).to.deep.equal(start);
    expect(decodeMasterMessage('{"t":"cancel","id":1}')).to.deep.equal({ t: 'cancel', id: 1, grace: 2000 });
    expect(decodeMasterMessage('{"t":"ack","id":1,"n":4096}')).to.deep.equal({ t: 'ack', id: 1, n: 4096 });
  });

  it('refuses what is not its protocol, saying what was wrong', () => {
    const refused: Array<[string, RegExp]> = [
      ['not json', /^not JSON$/],
      ['[1]', /^not a JSON object$/],
      ['{"t":"data","id":-1,"s":1,"d":""}', /malformed data/],
      ['{"t":"data","id":1,"s":4,"d":""}', /malformed data/],
      ['{"t":"data","id":1,"s":1,"d":5}', /malformed data/],
      ['{"t":"exit","id":"x"}', /exit without a job number/],
      ['{"t":"eval","code":"process.exit()"}', /unknown message "eval"/],
    ];
    for (const [line, message] of refused) expect(() => decodeAgentMessage(line), line).to.throw(ProtocolError, message);
    expect(() => decodeMasterMessage('{"t":"start","id":1,"job":{"kind":"perl","command":"x","env":{},"mark":"m"}}')).to.throw(ProtocolError, /kind, command, mark and env/);
    expect(() => decodeMasterMessage('{"t":"start","id":1,"job":{"kind":"shell","command":"x","env":{"A":1},"mark":"m"}}')).to.throw(ProtocolError, /kind, command, mark and env/);
    expect(() => decodeMasterMessage('{"t":"ack","id":1,"n":"lots"}')).to.throw(ProtocolError, /malformed ack/);
  });
});

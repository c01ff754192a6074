import { expect } from 'chai';
import { PipelineError, ProtocolError } from '../../../support/errors.js';
import {
  decodeNodeMessage, decodeStartMessage, encodeMessage, LOG_LEVELS, PROTOCOL_VERSION,
  type NodeMessage, type StartMessage,
} from '../../../support/protocol/messages.js';

/** Runs `fn`, expects a ProtocolError, and returns its message. */
function protocolError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ProtocolError);
    expect(err).to.be.instanceOf(PipelineError);
    expect((err as ProtocolError).reason).to.equal('protocol');
    return (err as ProtocolError).message;
  }
  expect.fail('expected a ProtocolError');
}

const decode = (value: unknown) => () => decodeNodeMessage(typeof value === 'string' ? value : JSON.stringify(value));

describe('support/protocol/messages', () => {
  it('is protocol version 1', () => {
    expect(PROTOCOL_VERSION).to.equal(1);
    expect(LOG_LEVELS).to.deep.equal(['error', 'warn', 'info', 'verbose', 'debug']);
  });

  describe('encodeMessage', () => {
    it('writes one JSON object per line, even when the text holds newlines', () => {
      const message: NodeMessage = { type: 'log', job: '1', level: 'info', message: 'two\nlines' };
      const line = encodeMessage(message);
      expect(line.endsWith('\n')).to.equal(true);
      expect(line.slice(0, -1)).not.to.include('\n');
      expect(decodeNodeMessage(line.slice(0, -1))).to.deep.equal(message);
    });

    it('round-trips a start message', () => {
      const start: StartMessage = { v: PROTOCOL_VERSION, type: 'start', job: 'j1', args: [1, 'two', { three: [3] }, null], logLevel: 'verbose' };
      expect(decodeStartMessage(encodeMessage(start).trimEnd())).to.deep.equal(start);
    });
  });

  describe('decodeNodeMessage', () => {
    it('accepts a log message, with and without meta', () => {
      expect(decodeNodeMessage('{"type":"log","job":"7","level":"warn","message":"careful"}'))
        .to.deep.equal({ type: 'log', job: '7', level: 'warn', message: 'careful' });
      expect(decodeNodeMessage(JSON.stringify({ type: 'log', job: '7', level: 'debug', message: 'm', meta: { file: 'a.MS', n: 3 } })))
        .to.deep.equal({ type: 'log', job: '7', level: 'debug', message: 'm', meta: { file: 'a.MS', n: 3 } });
    });

    it('accepts every log level', () => {
      for (const level of LOG_LEVELS) {
        expect(decodeNodeMessage(JSON.stringify({ type: 'log', job: '1', level, message: 'x' }))).to.include({ level });
      }
    });

    it('accepts an outputs message', () => {
      const message = { type: 'outputs', job: '2', outputs: { hostname: 'lce001', index: 2, list: [1, 2] } };
      expect(decodeNodeMessage(JSON.stringify(message))).to.deep.equal(message);
    });

    it('accepts an exception message', () => {
      const message = { type: 'exception', job: '3', name: 'TypeError', message: 'x is undefined', stack: 'TypeError: x is undefined\n    at run' };
      expect(decodeNodeMessage(JSON.stringify(message))).to.deep.equal(message);
    });

    it('fills in the name of an exception without one, and drops a stack that is not text', () => {
      expect(decodeNodeMessage(JSON.stringify({ type: 'exception', job: '3', message: 'boom', stack: 12 })))
        .to.deep.equal({ type: 'exception', job: '3', name: 'Error', message: 'boom', stack: undefined });
    });

    it('accepts a result message', () => {
      expect(decodeNodeMessage('{"type":"result","job":"4","returncode":0}')).to.deep.equal({ type: 'result', job: '4', returncode: 0 });
      expect(decodeNodeMessage('{"type":"result","job":"4","returncode":3}')).to.deep.equal({ type: 'result', job: '4', returncode: 3 });
    });

    it('keeps the usage a result or an exception carries', () => {
      const usage = { userSeconds: 2.04, systemSeconds: 0.25, peakRssBytes: 261_369_856 };
      expect(decodeNodeMessage(JSON.stringify({ type: 'result', job: '4', returncode: 0, usage }))).to.deep.equal({ type: 'result', job: '4', returncode: 0, usage });
      expect(decodeNodeMessage(JSON.stringify({ type: 'exception', job: '4', name: 'Error', message: 'boom', usage }))).to.deep.include({ type: 'exception', message: 'boom', usage });
      expect(decodeNodeMessage(JSON.stringify({ type: 'result', job: '4', returncode: 0, usage: { userSeconds: 0, systemSeconds: 0, peakRssBytes: 0 } })))
        .to.have.deep.property('usage', { userSeconds: 0, systemSeconds: 0, peakRssBytes: 0 });
    });

    it('drops a malformed usage and keeps the result or exception it came with', () => {
      const usage = { userSeconds: 1, systemSeconds: 1, peakRssBytes: 1024 };
      const malformed: unknown[] = [
        null, 3, 'lots', [1, 2, 3], {}, { userSeconds: 1, systemSeconds: 1 }, { ...usage, userSeconds: -0.5 }, { ...usage, peakRssBytes: '200 MB' }, { ...usage, systemSeconds: null },
      ];
      for (const bad of malformed) {
        expect(decodeNodeMessage(JSON.stringify({ type: 'result', job: '4', returncode: 3, usage: bad })), JSON.stringify(bad)).to.deep.equal({ type: 'result', job: '4', returncode: 3 });
        expect(decodeNodeMessage(JSON.stringify({ type: 'exception', job: '4', message: 'boom', usage: bad })), JSON.stringify(bad)).not.to.have.property('usage');
      }
      // 1e400 is JSON for a number JavaScript reads as Infinity
      expect(decodeNodeMessage('{"type":"result","job":"4","returncode":0,"usage":{"userSeconds":1e400,"systemSeconds":0,"peakRssBytes":0}}')).to.deep.equal({ type: 'result', job: '4', returncode: 0 });
      // extra keys are not passed on
      expect(decodeNodeMessage(JSON.stringify({ type: 'result', job: '4', returncode: 0, usage: { ...usage, secret: 'x' } }))).to.deep.equal({ type: 'result', job: '4', returncode: 0, usage });
    });

    it('rejects text that is not JSON', () => {
      expect(protocolError(decode('hello, I am a stray print'))).to.equal('not a JSON object');
      expect(protocolError(decode(''))).to.equal('not a JSON object');
      expect(protocolError(decode('{"type":"log",'))).to.equal('not a JSON object');
    });

    it('rejects JSON that is not an object', () => {
      expect(protocolError(decode('[1,2]'))).to.equal('not a JSON object');
      expect(protocolError(decode('[]'))).to.equal('not a JSON object');
      expect(protocolError(decode('"log"'))).to.equal('not a JSON object');
      expect(protocolError(decode('42'))).to.equal('not a JSON object');
      expect(protocolError(decode('null'))).to.equal('not a JSON object');
    });

    it('rejects a message without a job, or with a job that is not text', () => {
      expect(protocolError(decode({ type: 'log', level: 'info', message: 'x' }))).to.equal('message without a string "job"');
      expect(protocolError(decode({ type: 'result', job: 4, returncode: 0 }))).to.equal('message without a string "job"');
    });

    it('rejects an unknown or missing type, quoting it', () => {
      expect(protocolError(decode({ type: 'bogus', job: '1' }))).to.equal('unknown message type "bogus"');
      expect(protocolError(decode({ type: 'start', job: '1', args: [] }))).to.equal('unknown message type "start"');
      expect(protocolError(decode({ job: '1' }))).to.match(/^unknown message type/);
    });

    it('rejects a log message with a bad level', () => {
      expect(protocolError(decode({ type: 'log', job: '1', level: 'loud', message: 'x' }))).to.equal('log message with unknown level "loud"');
      expect(protocolError(decode({ type: 'log', job: '1', level: 'INFO', message: 'x' }))).to.equal('log message with unknown level "INFO"');
      expect(protocolError(decode({ type: 'log', job: '1', message: 'x' }))).to.match(/^log message with unknown level/);
    });

    it('rejects a log message without text', () => {
      expect(protocolError(decode({ type: 'log', job: '1', level: 'info' }))).to.equal('log message without a string "message"');
      expect(protocolError(decode({ type: 'log', job: '1', level: 'info', message: 5 }))).to.equal('log message without a string "message"');
    });

    it('rejects a log message whose meta is not an object', () => {
      for (const meta of [[1, 2], 'text', 3, null]) {
        expect(protocolError(decode({ type: 'log', job: '1', level: 'info', message: 'x', meta })), JSON.stringify(meta))
          .to.equal('log message whose "meta" is not an object');
      }
    });

    it('rejects an outputs message whose outputs are not an object', () => {
      for (const outputs of [undefined, [1], 'x', null]) {
        expect(protocolError(decode({ type: 'outputs', job: '1', outputs })), JSON.stringify(outputs))
          .to.equal('outputs message whose "outputs" is not an object');
      }
    });

    it('rejects an exception message without text', () => {
      expect(protocolError(decode({ type: 'exception', job: '1', name: 'Error' }))).to.equal('exception message without a string "message"');
    });

    it('rejects a result message without an integer return code', () => {
      for (const returncode of [undefined, '0', 1.5, null]) {
        expect(protocolError(decode({ type: 'result', job: '1', returncode })), JSON.stringify(returncode))
          .to.equal('result message without an integer "returncode"');
      }
    });
  });

  describe('decodeStartMessage', () => {
    it('accepts a start message', () => {
      expect(decodeStartMessage('{"v":1,"type":"start","job":"5","args":["a",2],"logLevel":"info"}'))
        .to.deep.equal({ v: 1, type: 'start', job: '5', args: ['a', 2], logLevel: 'info' });
    });

    it('defaults a missing or unknown log level to debug', () => {
      expect(decodeStartMessage('{"v":1,"type":"start","job":"5","args":[]}').logLevel).to.equal('debug');
      expect(decodeStartMessage('{"v":1,"type":"start","job":"5","args":[],"logLevel":"chatty"}').logLevel).to.equal('debug');
    });

    it('explains a protocol version mismatch', () => {
      expect(protocolError(() => decodeStartMessage('{"v":2,"type":"start","job":"5","args":[]}'))).to.equal(
        'master speaks protocol version 2, this node runtime speaks 1; deploy the same framework version on master and hosts',
      );
      expect(protocolError(() => decodeStartMessage('{"type":"start","job":"5","args":[]}'))).to.equal(
        'master speaks protocol version undefined, this node runtime speaks 1; deploy the same framework version on master and hosts',
      );
    });

    it('explains that a node script run by hand gets no start line', () => {
      expect(protocolError(() => decodeStartMessage('hello'))).to.equal(
        'the first line on stdin is not JSON; node scripts are started by the pipeline master',
      );
    });

    it('rejects JSON that is not a start message', () => {
      expect(protocolError(() => decodeStartMessage('{"v":1,"type":"log","job":"5"}'))).to.equal('the first line on stdin is not a start message');
      expect(protocolError(() => decodeStartMessage('[1]'))).to.equal('the first line on stdin is not a start message');
    });

    it('rejects a start message without job or args', () => {
      expect(protocolError(() => decodeStartMessage('{"v":1,"type":"start","args":[]}'))).to.equal('start message without "job" and "args"');
      expect(protocolError(() => decodeStartMessage('{"v":1,"type":"start","job":"5","args":"a b"}'))).to.equal('start message without "job" and "args"');
    });
  });
});

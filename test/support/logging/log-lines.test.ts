/** Log lines as people read them: nothing a node sends can pass for a record of its own or drive the terminal. */
import { expect } from 'chai';
import winston from 'winston';
import { consoleLine, fileLine, printable } from '../../../support/logging/log-lines.js';

const record = (message: string, more: Record<string, unknown> = {}) => ({ level: 'info', message, host: 'node1', job: 'j1', ...more }) as winston.Logform.TransformableInfo;
const colorizer = winston.format.colorize();

describe('support/logging/log-lines', () => {
  it('leaves ordinary text alone, tabs included', () => {
    expect(printable('disk 95% full\tsda', '\n | ')).to.equal('disk 95% full\tsda');
  });

  it('marks every line after the first of a message as a continuation, in the file and on the console', () => {
    const forged = 'innocent\r\n2026-12-02 19:00:00.000 INFO    node9#admin FORGED';
    const file = fileLine(record(forged)).split('\n');
    expect(file).to.have.length(2);
    expect(file[0]).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO    node1#j1 innocent$/);
    expect(file[1]).to.equal(`${' '.repeat(31)} | 2026-12-02 19:00:00.000 INFO    node9#admin FORGED`);
    const shown = consoleLine(record(forged), false, colorizer).split('\n');
    expect(shown[1]).to.equal(`${' '.repeat(16)} | 2026-12-02 19:00:00.000 INFO    node9#admin FORGED`);
  });

  it('writes ESC, CR and the other control characters as escapes, so they never reach the terminal', () => {
    const line = consoleLine(record('clear\x1b[2J\rover\x07\x00\x9b'), false, colorizer);
    expect(line).to.match(/ node1#j1 clear\\x1b\[2J\\rover\\x07\\x00\\x9b$/);
    expect(line).to.not.match(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/);
  });

  it('does the same for a host or job name', () => {
    expect(fileLine(record('m', { job: 'a\nb\x1b' }))).to.match(/ node1#a b\\x1b m$/);
  });
});

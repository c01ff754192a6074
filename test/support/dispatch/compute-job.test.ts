/** A ComputeJob refuses, at creation, what would be shell code on a host or would not arrive as given. */
import { expect } from 'chai';
import { ComputeJob } from '../../../support/dispatch/compute-job.js';
import { JobDefinitionError, UsageError } from '../../../support/errors.js';
import { assignments } from '../../../support/protocol/shell-words.js';
import type { JsonValue } from '../../../support/protocol/messages.js';

function refusal(create: () => unknown): JobDefinitionError {
  try {
    create();
  } catch (error) {
    expect(error).to.be.instanceOf(JobDefinitionError);
    expect(error).to.be.instanceOf(UsageError); // the CLI prints it as one line and exits 2
    expect((error as Error).message).to.not.include('\n');
    return error as JobDefinitionError;
  }
  return expect.fail('the job was created');
}

describe('support/dispatch/compute-job', () => {
  describe('environment names', () => {
    for (const name of ['X;touch /tmp/pwned_n1;Y', '$(touch /tmp/pwned_n2)', 'A=B', '1ABC', '', 'A B', 'A-B', 'é', 'A\nB']) {
      it(`refuses ${JSON.stringify(name)}, naming it and the job`, () => {
        const error = refusal(() => new ComputeJob('h1', 'echo ok', [], { name: 'probe', environment: { [name]: 'v' } }));
        expect(error.job).to.equal('probe');
        expect(error.message).to.equal(`job probe: environment variable name ${JSON.stringify(name)} is not a valid name (letters, digits and _, not starting with a digit)`);
      });
    }

    it('accepts variable names and refuses values that are not strings', () => {
      expect(new ComputeJob('h1', 'true', [], { environment: { _A1: 'x', lower_case: '', PATH: '/bin' } }).options.environment).to.have.keys('_A1', 'lower_case', 'PATH');
      const error = refusal(() => new ComputeJob('h1', 'true', [], { name: 'n', environment: { A: 3 as unknown as string } }));
      expect(error.message).to.equal('job n: environment variable A must be a string, got 3');
    });

    it('the shell words never write a name that is not a variable name, whoever asks', () => {
      expect(() => assignments({ 'X;touch /tmp/x': 'v' })).to.throw(TypeError, 'is not an environment variable name');
      expect(assignments({ A: "it's" })).to.deep.equal([`A='it'\\''s'`]);
    });
  });

  describe('arguments', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: Array<[string, unknown, string]> = [
      ['undefined', undefined, 'argument 1 is undefined'],
      ['a function', () => 1, 'argument 1 is a function'],
      ['NaN', Number.NaN, 'argument 1 is NaN'],
      ['Infinity', Number.POSITIVE_INFINITY, 'argument 1 is Infinity'],
      ['a Map', new Map([['a', 1]]), 'argument 1 is a Map'],
      ['a Set inside an object', { files: new Set(['a']) }, 'argument 1.files is a Set'],
      ['undefined inside an array', ['a', undefined], 'argument 1[1] is undefined'],
      ['a bigint', 10n, 'argument 1 is a bigint'],
      ['a cycle', cyclic, 'argument 1.self refers back to itself; arguments must be JSON (no cycles)'],
    ];
    for (const [what, value, message] of cases) {
      it(`refuses ${what}, naming the job and the argument`, () => {
        const error = refusal(() => new ComputeJob('h1', 'true', ['fine', value as JsonValue], { name: 'args' }));
        expect(error.message).to.include(`job args: ${message}`);
      });
    }

    it('accepts JSON values, shared (not cyclic) objects and dates', () => {
      const shared = { x: [1, 2] };
      const job = new ComputeJob('h1', 'true', ['s', 1.5, -0, true, null, [shared, shared], { nested: { deep: ['x'] } }, Object.create(null), new Date(0)]);
      expect(job.args).to.have.length(9);
    });
  });

  describe('staged files', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['an absolute stageOut path', { stageOut: ['/etc/passwd'] }, /stageOut\[0\] "\/etc\/passwd" must be a path inside the job's directory on its host/],
      ['a stageOut path climbing out', { stageOut: ['../x'] }, /stageOut\[0\] "..\/x" must be a path inside/],
      ['a stageIn `to` climbing out', { stageIn: [{ from: 'a', to: 'b/../../c' }] }, /stageIn\[0\]\.to "b\/..\/..\/c" must be a path inside/],
      ['a stageIn entry that is not a path', { stageIn: [42] }, /stageIn\[0\] must be a path or \{ from, to \}, got 42/],
      ['stageIn that is not a list', { stageIn: 'a.txt' }, /stageIn must be a list/],
    ];
    for (const [what, options, message] of cases) {
      it(`refuses ${what}, naming the job`, () => {
        const error = refusal(() => new ComputeJob('h', 'true', [], { name: 'staged', ...options } as never));
        expect(error.message).to.match(/staged/);
        expect(error.message).to.match(message);
      });
    }

    it('a stageIn path lands under its base name, absolute here; a job with files is staged, one without is not', () => {
      const job = new ComputeJob('h', 'true', [], { stageIn: ['data/in.ms', { from: '/x/cal', to: 'c/cal' }], stageOut: ['out.txt/'] });
      expect(job.options.stageIn).to.deep.equal([{ from: `${process.cwd()}/data/in.ms`, to: 'in.ms' }, { from: '/x/cal', to: 'c/cal' }]);
      expect(job.options.stageOut).to.deep.equal([{ from: 'out.txt' }]);
      expect(job.isStaged).to.equal(true);
      expect(new ComputeJob('h', 'true').isStaged).to.equal(false);
    });
  });
});

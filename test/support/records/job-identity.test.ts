import { expect } from 'chai';
import { ComputeJob, NodeScript } from '../../../support/dispatch/compute-job.js';
import { canonicalJson, JobIdentities } from '../../../support/records/job-identity.js';

describe('support/records/job-identity', () => {
  it('canonical JSON sorts object keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).to.equal('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it('gives the same job in two runs the same key, and different jobs different keys', () => {
    const script = new NodeScript('/x/nodes/a.js', 'a');
    const key = (job: ComputeJob, recipe = 'r') => new JobIdentities().keyOf(job, recipe);
    const base = key(new ComputeJob('n1', script, [1, { b: 2, a: 1 }]));
    expect(key(new ComputeJob('n1', script, [1, { a: 1, b: 2 }], { name: 'other name' }))).to.equal(base);
    expect(key(new ComputeJob('n2', script, [1, { a: 1, b: 2 }]))).not.to.equal(base);
    expect(key(new ComputeJob('n1', script, [2, { a: 1, b: 2 }]))).not.to.equal(base);
    expect(key(new ComputeJob('n1', script, [1, { a: 1, b: 2 }]), 'other recipe')).not.to.equal(base);
    expect(key(new ComputeJob('n1', 'a', [1, { a: 1, b: 2 }]))).not.to.equal(base);
  });

  it('keys a job created without a host by that, not by the host it was given', () => {
    const job = new ComputeJob(null, 'echo', ['x']);
    const before = new JobIdentities().keyOf(job, 'r');
    job.host = 'n7';
    expect(new JobIdentities().keyOf(job, 'r')).to.equal(before);
  });

  it('tells identical jobs of one run apart by their order', () => {
    const identities = new JobIdentities();
    const a = identities.keyOf(new ComputeJob('n1', 'echo', ['x']), 'r');
    const b = identities.keyOf(new ComputeJob('n1', 'echo', ['x']), 'r');
    expect(b).to.equal(`${a}#2`);
  });
});

/**
 * LOFAR's classic example: fan jobs out over the cluster's hosts, round robin; each job logs its arguments from the
 * host it runs on and reports where it ran.
 */
import { ComputeJob, RemoteCommand, field, recipe } from '../support/index.js';

// recipe() types this.inputs from the fields: `jobs` is a number, `maxPerNode` a number or undefined.
export default class ParallelExample extends RemoteCommand(recipe({
  description: 'fan jobs out over hosts; each logs its arguments from its host',
  inputs: {
    jobs: field.int({ help: 'how many jobs', default: 4 }),
    message: field.string({ help: 'what each job says', default: 'hello' }),
    sleep: field.float({ help: 'seconds each job waits before it ends', default: 0 }),
    maxPerNode: field.int({ help: 'jobs at a time per host (default: [remote] max_per_node)', optional: true }),
  },
})) {
  override async go(): Promise<number> {
    const { jobs: count, message, sleep, maxPerNode } = this.inputs;
    const hosts = this.hosts; // --hosts, or the clusterdesc's compute nodes
    const script = this.nodeScript('parallel_example');
    const jobs = Array.from({ length: count }, (_, i) => new ComputeJob(hosts[i % hosts.length], script, [i, message, sleep]));
    await this.scheduleJobs(jobs, { maxPerNode });
    this.outputs.jobs = jobs.map((job) => ({ job: job.id, host: job.results.host, state: job.results.state, ...job.results.outputs }));
    const failed = jobs.filter((job) => job.results.state === 'failed').length;
    this.logger.info(`${jobs.length - failed} of ${jobs.length} jobs succeeded`);
    return this.error.isSet() ? 1 : 0;
  }
}

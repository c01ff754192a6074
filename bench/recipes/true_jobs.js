// Benchmark row 4: --jobs plain `true` commands on localhost, --max-per-node at a time.
import { BaseRecipe, RemoteCommand, ComputeJob, field } from 'pipeline-framework';

export default class TrueJobs extends RemoteCommand(BaseRecipe) {
  static description = 'benchmark: many `true` jobs through the scheduler';
  static inputs = {
    jobs: field.int({ help: 'number of jobs', default: 100000 }),
    maxPerNode: field.int({ help: 'jobs at a time', default: 8 }),
  };

  async go() {
    const jobs = [];
    for (let i = 0; i < this.inputs.jobs; i++) jobs.push(new ComputeJob('localhost', 'true'));
    await this.scheduleJobs(jobs, { maxPerNode: this.inputs.maxPerNode });
    let succeeded = 0;
    for (const job of jobs) if (job.results.state === 'succeeded') succeeded++;
    this.outputs.succeeded = succeeded;
    return this.error.isSet() ? 1 : 0;
  }
}

/**
 * Runs an executable once per input (lofarpipe's executable_args): one job each, the input as
 * the last argument, spread over the cluster's hosts. Each job's return code and output lines come back.
 */
import { BaseRecipe, ComputeJob, RemoteCommand, field, shellQuote } from '../support/index.js';

export default class ExecutableArgs extends RemoteCommand(BaseRecipe) {
  static override description = 'run an executable once per input, one job each, outputs per job';
  static override inputs = {
    executable: field.string({ help: 'program to run (a path, or a name on PATH)' }),
    arguments: field.list({ help: 'arguments before the input, the same for every job', default: [] }),
    inputs: field.list({ help: 'one job per item; the item is the last argument' }),
    maxPerNode: field.int({ help: 'jobs at a time per host (default: [remote] max_per_node)', optional: true }),
    timeout: field.float({ help: 'seconds per job (default: [remote] job_timeout)', optional: true }),
  };

  override async go(): Promise<number> {
    const { executable, arguments: fixed, inputs, maxPerNode, timeout } = this.inputs;
    const command = shellQuote(executable);
    // No host given: each job goes to the least busy of the cluster's hosts.
    const jobs = (inputs as string[]).map((input) => new ComputeJob(null, command, [...fixed, input]));
    await this.scheduleJobs(jobs, { maxPerNode, timeout });
    this.outputs.results = jobs.map((job, i) => ({
      input: inputs[i],
      host: job.results.host,
      returncode: job.results.returncode,
      ...(job.results.failure ? { failure: job.results.failure, message: job.results.message } : {}),
      stdout: job.results.outputs.stdout ?? [],
    }));
    return this.error.isSet() ? 1 : 0;
  }
}

/**
 * Jobs over a LOFAR data map, as lofarpipe's recipes make them: one job per entry that is not
 * skipped, on the entry's host (the job runs where its data is), and an output map whose entries
 * are skipped where their job failed, so the next step leaves them out.
 */
import { ComputeJob, type ComputeJobOptions, type NodeScript } from '../dispatch/compute-job.js';
import type { JsonValue } from '../protocol/messages.js';
import type { DataMap, DataProduct, MultiDataMap, MultiDataProduct } from '../lofar/data-map.js';

/** What runs for one entry; its host is the entry's. */
export interface DataMapJobSpec {
  command: NodeScript | string;
  args?: JsonValue[];
  options?: ComputeJobOptions;
}

export interface DataMapJob<E extends DataProduct | MultiDataProduct = DataProduct> {
  job: ComputeJob;
  entry: E;
  /** The entry's place in the map, skipped entries counted: the same place in an aligned output map. */
  index: number;
}

/**
 * One job per entry of `map` that is not skipped, on the entry's host. `make` says what runs for
 * an entry, or undefined to leave it out (its partner in another map is skipped, say).
 */
export function dataMapJobs<E extends DataProduct | MultiDataProduct>(map: DataMap | MultiDataMap, make: (entry: E, index: number) => DataMapJobSpec | undefined): Array<DataMapJob<E>> {
  const jobs: Array<DataMapJob<E>> = [];
  (map.entries as E[]).forEach((entry, index) => {
    if (entry.skip) return;
    const spec = make(entry, index);
    if (spec) jobs.push({ job: new ComputeJob(entry.host, spec.command, spec.args ?? [], spec.options), entry, index });
  });
  return jobs;
}

/** Marks skipped, in `output` (a map aligned with the jobs' map), each entry whose job did not succeed; returns how many. */
export function skipFailed(output: DataMap | MultiDataMap, jobs: ReadonlyArray<DataMapJob<DataProduct | MultiDataProduct>>): number {
  let failed = 0;
  for (const { job, index } of jobs) {
    if (job.results.state === 'succeeded') continue;
    const entry = output.entries[index];
    if (entry) entry.skip = true;
    failed++;
  }
  return failed;
}

// Benchmark row 3: one job whose node script (bench/nodes/log_lines.js) logs --lines lines.
import { BaseRecipe, RemoteCommand, ComputeJob, field } from 'pipeline-framework';

export default class LogLines extends RemoteCommand(BaseRecipe) {
  static description = 'benchmark: one node script logging many lines';
  static inputs = { lines: field.int({ help: 'lines to log', default: 1000000 }) };

  async go() {
    const [job] = await this.scheduleJobs([new ComputeJob('localhost', this.nodeScript('log_lines'), [this.inputs.lines], { name: 'log' })]);
    this.outputs.state = job.results.state;
    this.outputs.duration = job.results.duration;
    return this.error.isSet() ? 1 : 0;
  }
}

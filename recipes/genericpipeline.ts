/**
 * LOFAR's generic pipeline: `pipeline run genericpipeline <file.parset>` runs the steps of a
 * generic-pipeline parset (prefactor's, for example) in order, each a tasks.cfg task over the data
 * maps of the steps before it, or a built-in plugin, or a loop of steps. See support/recipe/generic-pipeline.ts.
 */
import { BaseRecipe, field } from '../support/index.js';
import { readPipelineParset } from '../support/config/pipeline-parset.js';
import { TaskCatalog } from '../support/config/task-catalog.js';
import { PIPELINE_PLUGINS } from '../support/lofar/pipeline-plugins.js';
import { GenericPipeline } from '../support/recipe/generic-pipeline.js';

export default class GenericPipelineRecipe extends BaseRecipe {
  static override description = "run a LOFAR generic-pipeline parset's steps in order (genericpipeline.py)";
  static override inputs = {
    parset: field.file({ help: 'the pipeline parset (also as the argument after the recipe name)' }),
  };

  override async go(): Promise<number> {
    const tasks = await TaskCatalog.load(this.config);
    // Checked whole before the first step runs: a mistake on line 80 is not found an hour in.
    const parset = readPipelineParset(this.inputs.parset, { isTask: (name) => tasks.has(name), isPlugin: (name) => name in PIPELINE_PLUGINS });
    this.logger.info(`parset ${this.inputs.parset}: ${parset.order.length} steps: ${parset.order.join(', ')}`);
    const pipeline = new GenericPipeline(parset, {
      logger: this.logger,
      jobName: this.jobName,
      jobDirectory: this.jobDirectory,
      workingDirectory: this.config.workingDirectory,
      runtimeDirectory: this.config.runtimeDirectory,
      runTask: (name, overrides) => this.runTask(name, overrides),
      reportStep: (report) => this.reportStep(report),
    });
    return pipeline.run();
  }
}

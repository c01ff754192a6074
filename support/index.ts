/** The public API (DESIGN.md §3). */
export { BaseRecipe, type RecipeContext, type RecipeClass } from './recipe.js';
export { RemoteCommand } from './remote-command.js';
export { ComputeJob, NodeScript, type ComputeJobOptions, type JobResults, type JobState, type FailureReason } from './compute-job.js';
export { Node, type NodeLogger, type ExecOptions } from './node.js';
export { field, type Field, type FieldKind, type InputsOf } from './fields.js';
export { ErrorFlag } from './error-flag.js';
export type { ScheduleOptions } from './scheduler.js';
export { PipelineConfig } from './config/pipeline-config.js';
export * from './errors.js';
export type { JsonValue, LogLevel } from './protocol.js';
export { shellQuote } from './launch-command.js';

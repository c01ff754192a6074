/** The public API (DESIGN.md §3). */
export { BaseRecipe, type RecipeContext, type RecipeClass } from './recipe/base-recipe.js';
export { RemoteCommand } from './recipe/remote-command.js';
export { recipe, type RecipeBase } from './recipe/base-recipe.js';
export type { RemoteCommandMembers } from './recipe/remote-command.js';
export { ComputeJob, NodeScript, type ComputeJobOptions, type StagedFile } from './dispatch/compute-job.js';
export type { JobResults, JobState, FailureReason, TransferProblem } from './protocol/job-outcome.js';
export { Node, type NodeLogger, type ExecOptions } from './node/runtime.js';
export { field, type Field, type FieldKind, type InputsOf } from './recipe/fields.js';
export type { OptionalField, FieldFrom, FieldOptions } from './recipe/fields.js';
export { ErrorFlag } from './dispatch/error-flag.js';
export type { ScheduleOptions } from './dispatch/scheduler.js';
export { PipelineConfig } from './config/pipeline-config.js';
export * from './errors.js';
export type { JsonValue, LogLevel } from './protocol/messages.js';
export { shellQuote } from './protocol/shell-words.js';
export { DataMap, MultiDataMap, DataMapError, validateDataMaps, alignDataMaps, type DataProduct, type MultiDataProduct } from './lofar/data-map.js';
export { dataMapJobs, skipFailed, type DataMapJob, type DataMapJobSpec } from './recipe/data-map-jobs.js';

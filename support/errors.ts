/** Base of every error the framework raises on purpose; `reason` is a stable machine-readable tag. */
export class PipelineError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.reason = reason;
  }
}

/** Bad user input: configuration, recipe inputs, host lists. The CLI prints the message as one line and exits 2. */
export class UsageError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('usage', message, options);
  }
}

/** A configuration file that cannot be used; the message names the file and the line or key. */
export class ConfigError extends UsageError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.file = file;
  }
}

/** A recipe input that is missing or does not have the declared kind. */
export class InputError extends UsageError {
  readonly input: string;
  constructor(input: string, message: string) {
    super(message);
    this.input = input;
  }
}

/** A ComputeJob that cannot be run as created: an environment name that is not a variable name, an argument that is not JSON. */
export class JobDefinitionError extends UsageError {
  readonly job: string;
  constructor(job: string, message: string) {
    super(`job ${job}: ${message}`);
    this.job = job;
  }
}

/** A recipe or node script name that resolves to nothing. */
export class NotFoundError extends UsageError {}

/** A message from a node that breaks the wire protocol (not JSON, unknown type, wrong job). */
export class ProtocolError extends PipelineError {
  constructor(message: string) {
    super('protocol', message);
  }
}

/** The run was interrupted by a signal; `signal` decides the exit code, 128 + its number (130 SIGINT, 143 SIGTERM, 129 SIGHUP). */
export class InterruptedError extends PipelineError {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super('interrupted', `interrupted by ${signal}`);
    this.signal = signal;
  }

  get exitCode(): number {
    return 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Partial<Record<NodeJS.Signals, number>>)[this.signal]!;
  }
}

/** A recipe called through runTask returned non-zero; lofarpipe's PipelineRecipeFailed. */
export class RecipeFailedError extends PipelineError {
  readonly returncode: number;
  constructor(name: string, returncode: number) {
    super('recipe-failed', `recipe ${name} failed with return code ${returncode}`);
    this.returncode = returncode;
  }
}

/**
 * The run's records (journal, job files, log file) cannot be written: no space, a read-only
 * mount, no permission. `reason` names the cause; `directory` is where. Exit 2 when nothing ran.
 */
export class RecordsError extends PipelineError {
  readonly directory: string;
  readonly code: string;
  constructor(reason: RecordsFailureReason, directory: string, code: string, cause: unknown) {
    super(reason, `cannot write the run's records in ${directory}: ${RECORDS_FAILURE_TEXT[reason]} (${code}); ${RECORDS_FAILURE_HINT[reason]}`, { cause });
    this.directory = directory;
    this.code = code;
  }
}

export type RecordsFailureReason = 'no-space' | 'read-only' | 'no-permission' | 'io-error';

const RECORDS_FAILURE_TEXT: Record<RecordsFailureReason, string> = {
  'no-space': 'no space left on the device',
  'read-only': 'the file system is read-only',
  'no-permission': 'permission denied',
  'io-error': 'the file system failed',
};

const RECORDS_FAILURE_HINT: Record<RecordsFailureReason, string> = {
  'no-space': 'free space there, or point runtime_directory (pipeline.cfg [DEFAULT]) at another disk',
  'read-only': 'point runtime_directory (pipeline.cfg [DEFAULT]) at a writable disk',
  'no-permission': 'make it writable for this user, or point runtime_directory (pipeline.cfg [DEFAULT]) elsewhere',
  'io-error': 'check the disk, or point runtime_directory (pipeline.cfg [DEFAULT]) elsewhere',
};

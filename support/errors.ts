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

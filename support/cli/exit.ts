/** Ending the process: flush stdout and stderr first, map errors to one line and an exit code. */
import { PipelineError, UsageError, InterruptedError, RecordsError } from '../errors.js';

export async function exitWith(code: number): Promise<never> {
  // Exit only once what was written has left: stdout may be a pipe that a script reads.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof InterruptedError) return error.exitCode;
  if (error instanceof UsageError || error instanceof RecordsError) return 2;
  return 1;
}

/** One line for the user; a stack only for what is not ours to explain (an internal error). */
export function reportFatal(error: unknown): Promise<never> {
  const code = exitCodeFor(error);
  if (error instanceof PipelineError) process.stderr.write(`pipeline: ${error.message}\n`);
  else if (error instanceof Error && error.name === 'YError') process.stderr.write(`pipeline: ${error.message}\n`);
  else process.stderr.write(`pipeline: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
  return exitWith(error instanceof Error && error.name === 'YError' ? 2 : code);
}

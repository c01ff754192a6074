/**
 * A reader that goes away (`pipeline jobs | head -1`) closes stdout: writing to it then fails
 * with EPIPE, which Node reports as an unhandled 'error' event and a stack trace. Commands that
 * only print end quietly instead; a run goes on (its jobs, records and log do not need stdout)
 * and says once that its events and outputs are no longer printed.
 */
type Mode = 'exit' | 'keep-running';

let mode: Mode = 'exit';
let reported = false;

function onError(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  if (mode === 'exit') process.exit(0);
  if (!reported) {
    reported = true;
    process.stderr.write('pipeline: stdout was closed by its reader; the run goes on, its events and outputs are no longer printed\n');
  }
}

/** Installed once, before any command writes. */
export function watchStdout(): void {
  process.stdout.on('error', onError);
}

/** For `pipeline run` and `retry`: a closed stdout does not stop the run. */
export function keepRunningWithoutStdout(): void {
  mode = 'keep-running';
}

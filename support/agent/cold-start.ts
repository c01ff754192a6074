/**
 * A cold node script's process, started by the host's agent before its job arrives (issue 16):
 * a fresh Node process that has loaded nothing but this file, waiting on fd 4 for one line that
 * names its script, variables and directory. It then becomes that script, as `node <script>`
 * would have: the script is process.argv[1] and is imported as the main module, and its runtime
 * reads the start message from stdin, untouched until then. One job per process: isolation is
 * that of a cold start; only Node's own start-up (some 30 ms) has happened ahead of time.
 */
import { createReadStream } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { JOB_FD, type ColdStartJob } from './cold-start-job.js';

function readJob(): Promise<ColdStartJob | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const stream = createReadStream('', { fd: JOB_FD });
    stream.on('data', (chunk) => parts.push(chunk as Buffer));
    // The agent ended (or gave up on this process) without a job: nothing to do.
    stream.on('error', () => resolve(undefined));
    stream.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8').trim();
      resolve(text ? (JSON.parse(text) as ColdStartJob) : undefined);
    });
  });
}

const job = await readJob();
if (!job) process.exit(0);
Object.assign(process.env, job.env);
if (job.cwd) process.chdir(job.cwd);
process.argv[1] = job.script; // Node.main() runs the class of the module node was started with
try {
  await import(pathToFileURL(job.script).href);
} catch (error) {
  // As `node <script>` fails on a missing or broken module: the error on stderr, exit 1.
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
}

/**
 * Node script of executable_args (LOFAR's nodes/executable_args.py): runs one executable on one
 * input where the input is, its arguments built from the step's keys in the form the program
 * reads (`gnu` --k=v, `lofar` k=v, `argparse` --k v, `wsclean` -k v first, or a parset file),
 * its output lines into the log, its exit status as the job's. The step's environment is the
 * job's own (it reached this process on stdin), which the program inherits.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Node } from '../support/node/runtime.js';

const { signals } = osConstants;

export type ArgsFormat = 'gnu' | 'lofar' | 'argparse' | 'wsclean' | 'losoto';

export interface ExecutableArgsJob {
  infile: string;
  executable: string;
  /** Arguments before the keys (an input or output key among them is already replaced by its file). */
  args: string[];
  /** The step's keys: the parset's and the input and output keys, as the program's options. */
  kwargs: Record<string, string>;
  workDir: string;
  parsetAsFile: boolean;
  argsFormat: ArgsFormat;
}

/** The command line LOFAR's node script builds from the job (the parset file, when one is asked for, is written by run()). */
export function commandLine(job: ExecutableArgsJob, parsetFile?: string): string[] {
  const args = [...job.args];
  const keys = Object.entries(job.kwargs);
  if (parsetFile !== undefined) {
    if (job.argsFormat === 'losoto') args.push(parsetFile);
    else args.unshift(parsetFile);
  } else if (job.argsFormat === 'gnu') {
    for (const [k, v] of keys) args.push(`--${k}=${v}`);
  } else if (job.argsFormat === 'lofar') {
    for (const [k, v] of keys) args.push(`${k}=${v}`);
  } else if (job.argsFormat === 'argparse') {
    for (const [k, v] of keys) args.push(`--${k}`, v);
  } else if (job.argsFormat === 'wsclean') {
    // wsclean wants its options first and the measurement sets last; a [a, b] value is several words.
    const front: string[] = [];
    for (const [k, v] of keys) front.push(`-${k}`, ...(v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1).replace(/ /g, '').split(',') : v.split(' ')));
    args.unshift(...front);
  }
  return [job.executable, ...args];
}

/** A LOFAR parset of the keys, one `key=value` line each, as lofarpipe's Parset.writeFile writes it. */
export function parsetText(kwargs: Record<string, string>): string {
  return Object.entries(kwargs).map(([k, v]) => `${k}=${v}\n`).join('');
}

export class ExecutableArgsNode extends Node {
  override async run(job: ExecutableArgsJob): Promise<number> {
    this.logger.info(`processing ${job.infile}`);
    try {
      accessSync(job.executable, constants.X_OK);
    } catch {
      this.logger.error(`executable ${job.executable} not found or not executable on this host`);
      return 1;
    }
    mkdirSync(job.workDir, { recursive: true });
    let parsetFile: string | undefined;
    if (job.parsetAsFile) {
      parsetFile = join(job.workDir, `${basename(job.infile)}.parset`);
      writeFileSync(parsetFile, parsetText(job.kwargs));
    }
    const [program, ...args] = commandLine(job, parsetFile);
    this.logger.debug(`running ${[program, ...args].join(' ')} in ${job.workDir}`);
    const child = spawn(program!, args, { cwd: job.workDir, stdio: ['ignore', 'pipe', 'pipe'] });
    const name = basename(program!);
    createInterface({ input: child.stdout }).on('line', (line) => this.logger.info(`${name}: ${line}`));
    createInterface({ input: child.stderr }).on('line', (line) => this.logger.warn(`${name}: ${line}`));
    const code = await new Promise<number>((resolve) => {
      child.on('error', (error) => {
        this.logger.error(`${program} could not be started: ${error.message}`);
        resolve(1);
      });
      child.on('close', (status, signal) => resolve(status ?? 128 + (signal ? signals[signal] : 0)));
    });
    if (code !== 0) {
      this.logger.error(`${name} on ${job.infile} exited with status ${code}`);
      return code;
    }
    this.outputs.ok = true;
    return 0;
  }
}

Node.main(ExecutableArgsNode, import.meta);

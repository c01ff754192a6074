/**
 * Runs a generic-pipeline parset (config/pipeline-parset.ts) step by step, as LOFAR's
 * genericpipeline.py does: a recipe step runs its tasks.cfg task with the step's control keys as
 * inputs and its argument keys as the program's parset (`<job_directory>/parsets/<step>.parset`;
 * `argument.flags` as its arguments); a plugin step runs a built-in plugin; a loop runs its steps
 * up to loopcount times, until one of them outputs `break`; a sub-pipeline step gives its steps
 * (already brought in by the parset reader) its map. References to earlier steps' outputs
 * and `input.output.*` are filled in as each step starts. Each finished step is recorded with a
 * hash of what it ran with (`<job_directory>/steps.json`): a rerun skips it while that is the same
 * and nothing it refers to ran again, and says why a step runs again.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/run-log.js';
import { parseList } from '../config/ini.js';
import { OUTPUT_REFERENCE, type PipelineParset, type PipelineStep, type ParsetValue } from '../config/pipeline-parset.js';
import { PIPELINE_PLUGINS } from '../lofar/pipeline-plugins.js';
import type { StepReport } from '../records/run-events.js';

export interface GenericPipelineContext {
  logger: Logger;
  jobName: string;
  jobDirectory: string;
  workingDirectory: string;
  runtimeDirectory: string;
  runTask(name: string, overrides: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Told as each step starts and ends, so the run's events and its jobs carry the step. */
  reportStep(report: StepReport): void;
}

interface StepRecord {
  inputs: string;
  outputs: Record<string, string>;
}

/** Keys of a step's control that say how to run it, not what its task gets. */
const CONTROL_ONLY = new Set(['kind', 'type', 'loopcount', 'loopsteps']);

export class GenericPipeline {
  readonly #parset: PipelineParset;
  readonly #context: GenericPipelineContext;
  readonly #outputs = new Map<string, Record<string, string>>();
  /** Steps that ran in this run (not taken from an earlier one): what refers to them runs again too. */
  readonly #ran = new Set<string>();
  readonly #recordFile: string;
  readonly #records: Record<string, StepRecord>;
  /** The rounds of the loops whose steps run now, outermost first: a step's jobs in a later round are named apart from the round before. */
  #rounds: number[] = [];

  constructor(parset: PipelineParset, context: GenericPipelineContext) {
    this.#parset = parset;
    this.#context = context;
    this.#recordFile = join(context.jobDirectory, 'steps.json');
    this.#records = existsSync(this.#recordFile) ? (JSON.parse(readFileSync(this.#recordFile, 'utf8')) as Record<string, StepRecord>) : {};
  }

  /** Runs the steps in order; 0 when all succeeded, 1 at the first that failed (the steps after it do not run, and say so). */
  async run(): Promise<number> {
    const { logger } = this.#context;
    for (const name of this.#parset.order) {
      const failed = await this.#runStep(this.#parset.steps.get(name)!);
      if (failed) {
        const rest = this.#parset.order.slice(this.#parset.order.indexOf(name) + 1);
        if (rest.length > 0) logger.error(`steps not run, as they come after ${name}, which failed: ${rest.join(', ')}`);
        return 1;
      }
    }
    return 0;
  }

  /** True when the step failed. */
  async #runStep(step: PipelineStep): Promise<boolean> {
    const { logger } = this.#context;
    if (step.kind === 'loop') return this.#runLoop(step);
    const rounds = [...this.#rounds];
    const report = (state: StepReport['state'], message?: string) => this.#context.reportStep({ step: step.name, kind: step.kind, stepType: step.type, state, ...(rounds.length > 0 ? { rounds } : {}), ...(message ? { message } : {}) });
    let control: Record<string, string>;
    let args: Record<string, string>;
    try {
      control = this.#resolveAll(step, 'control', step.control);
      args = this.#resolveAll(step, 'argument', step.arguments);
    } catch (error) {
      // A reference to an output the step before did not give: the step cannot run.
      report('failed', (error as Error).message);
      throw error;
    }
    // A sub-pipeline's step also hangs on its parset's pipeline.mapfile, which its own keys do not show.
    const inputs = createHash('sha256').update(JSON.stringify({ kind: step.kind, type: step.type, control, args, ...(step.subPipeline ? { sub: step.subPipeline } : {}) })).digest('hex');
    const recorded = this.#records[step.name];
    const upstream = this.#references(step).filter((name) => this.#ran.has(name));
    if (recorded && recorded.inputs === inputs && upstream.length === 0) {
      logger.info(`step ${step.name}: finished in an earlier run with the same inputs; not run again`);
      this.#outputs.set(step.name, recorded.outputs);
      report('skipped');
      return false;
    }
    if (recorded) {
      logger.info(`step ${step.name}: runs again: ${upstream.length > 0 ? `step ${upstream.join(', ')}, which it uses, ran again` : 'its keys changed since the earlier run'}`);
    }
    logger.info(`step ${step.name} (${step.kind} ${step.type}) started`);
    report('started');
    let outputs: Record<string, string>;
    try {
      outputs = step.kind === 'plugin' ? PIPELINE_PLUGINS[step.type]!(control)
        : step.kind === 'pipeline' ? this.#subPipeline(step, control)
        : await this.#runRecipe(step, control, args);
    } catch (error) {
      logger.error(`step ${step.name} failed: ${(error as Error).message}`);
      report('failed', (error as Error).message);
      return true;
    }
    this.#outputs.set(step.name, outputs);
    this.#ran.add(step.name);
    this.#record(step.name, { inputs, outputs });
    logger.info(`step ${step.name} finished`);
    report('done');
    return false;
  }

  /** A sub-pipeline step runs nothing itself: its steps follow it; it gives them its parset and map (mapfile_in, else its parset's pipeline.mapfile). */
  #subPipeline(step: PipelineStep, control: Record<string, string>): Record<string, string> {
    const sub = step.subPipeline!;
    this.#context.logger.info(`sub-pipeline ${step.name}: ${sub.file}; its steps run next, named ${step.name}-<step>`);
    return { parset: sub.file, mapfile: control.mapfile_in ?? sub.mapfile ?? '' };
  }

  async #runLoop(step: PipelineStep): Promise<boolean> {
    const count = Number(step.control.get('loopcount')!.value);
    const inner = parseList(step.control.get('loopsteps')!.value);
    // A loop that finished is skipped as a whole, on what its own keys and its steps' keys are.
    const innerSteps = inner.map((name) => this.#parset.steps.get(name)!);
    const inputs = createHash('sha256').update(JSON.stringify({ loop: this.#resolveAll(step, 'control', step.control), steps: innerSteps.map((s) => [s.name, [...s.control], [...s.arguments]]) })).digest('hex');
    const upstream = innerSteps.flatMap((s) => this.#references(s)).filter((name) => this.#ran.has(name) && !inner.includes(name));
    const report = (state: StepReport['state'], message?: string) => this.#context.reportStep({ step: step.name, kind: 'loop', stepType: '', state, ...(message ? { message } : {}) });
    if (this.#records[step.name]?.inputs === inputs && upstream.length === 0) {
      this.#context.logger.info(`loop ${step.name}: finished in an earlier run with the same inputs; not run again`);
      for (const name of inner) this.#outputs.set(name, this.#records[`${step.name}/${name}`]?.outputs ?? {});
      report('skipped');
      return false;
    }
    const finish = () => {
      this.#ran.add(step.name);
      for (const name of inner) this.#records[`${step.name}/${name}`] = { inputs: '', outputs: this.#outputs.get(name) ?? {} };
      this.#record(step.name, { inputs, outputs: {} });
      report('done');
    };
    report('started');
    // The loop starts over: what its steps recorded in an earlier run is of some round of it, not
    // this one (their jobs of each round are still reused by their identity, which has the round).
    for (const name of inner) delete this.#records[name];
    this.#record(step.name, undefined);
    this.#rounds.push(0);
    try {
      return await this.#runRounds(step, count, inner, finish, report);
    } finally {
      this.#rounds.pop();
    }
  }

  async #runRounds(step: PipelineStep, count: number, inner: string[], finish: () => void, report: (state: StepReport['state'], message?: string) => void): Promise<boolean> {
    for (let round = 1; round <= count; round++) {
      this.#context.logger.info(`loop ${step.name}: round ${round} of ${count}`);
      this.#rounds[this.#rounds.length - 1] = round;
      for (const name of inner) {
        if (await this.#runStep(this.#parset.steps.get(name)!)) {
          report('failed', `step ${name} failed in round ${round}`);
          return true;
        }
        const brk = this.#outputs.get(name)?.break;
        if (brk !== undefined && brk.toLowerCase() === 'true') {
          this.#context.logger.info(`loop ${step.name}: step ${name} says break after round ${round}`);
          finish();
          return false;
        }
      }
      // A loop's steps run anew each round: their records are of the round before.
      for (const name of inner) delete this.#records[name];
    }
    finish();
    return false;
  }

  /** A recipe step: its task with the control keys as inputs, the argument keys as the program's parset, flags as its arguments. */
  async #runRecipe(step: PipelineStep, control: Record<string, string>, args: Record<string, string>): Promise<Record<string, string>> {
    const overrides: Record<string, unknown> = { stepname: step.name };
    for (const [key, value] of Object.entries(control)) if (!CONTROL_ONLY.has(key)) overrides[key] = value;
    const { flags, ...keys } = args;
    if (flags !== undefined) overrides.arguments = flags;
    if (Object.keys(keys).length > 0) {
      const dir = join(this.#context.jobDirectory, 'parsets');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${step.name}.parset`);
      writeFileSync(file, Object.entries(keys).map(([key, value]) => `${key} = ${value}\n`).join(''));
      overrides.parset = file;
    }
    const outputs = await this.#context.runTask(step.type, overrides);
    return Object.fromEntries(Object.entries(outputs).filter(([, value]) => typeof value === 'string').map(([key, value]) => [key, value as string]));
  }

  #resolveAll(step: PipelineStep, part: 'control' | 'argument', entries: Map<string, ParsetValue>): Record<string, string> {
    return Object.fromEntries([...entries].map(([key, entry]) => [key, this.#resolve(step, `${step.nameInFile}.${part}.${key}`, entry)]));
  }

  /** `input.output.*` and `<step>.output.<key>[.mapfile]` filled in from the pipeline and the steps that ran. */
  #resolve(step: PipelineStep, key: string, { value, line }: ParsetValue): string {
    const { jobDirectory } = this.#context;
    const input: Record<string, string> = {
      mapfile_dir: join(jobDirectory, 'mapfiles'),
      parset_dir: join(jobDirectory, 'parsets'),
      parset: this.#parset.file,
      working_directory: this.#context.workingDirectory,
      job_name: this.#context.jobName,
      job_directory: jobDirectory,
      runtime_directory: this.#context.runtimeDirectory,
      ...(this.#parset.mapfile !== undefined ? { mapfile: this.#parset.mapfile } : {}),
    };
    return value.replace(OUTPUT_REFERENCE, (whole, before: string, name: string, what: string) => {
      if (name === 'input') return before + (input[what] ?? whole);
      const outputs = this.#outputs.get(name);
      const found = outputs?.[what] ?? (what.endsWith('.mapfile') ? outputs?.[what.slice(0, -'.mapfile'.length)] : undefined);
      if (found === undefined) {
        throw new ConfigError(step.file, `${step.file}:${line}: ${key}: ${name}.output.${what} is not an output of step ${name} (its outputs: ${Object.keys(outputs ?? {}).join(', ') || 'none'})`);
      }
      return before + found;
    });
  }

  /** The steps this one refers to. */
  #references(step: PipelineStep): string[] {
    const names = new Set<string>();
    for (const entry of [...step.control.values(), ...step.arguments.values()]) {
      for (const match of entry.value.matchAll(OUTPUT_REFERENCE)) if (match[2] !== 'input') names.add(match[2]!);
    }
    return [...names];
  }

  /** Records a finished step (undefined: forgets it) and writes steps.json whole. */
  #record(name: string, record: StepRecord | undefined): void {
    if (record) this.#records[name] = record;
    else delete this.#records[name];
    mkdirSync(this.#context.jobDirectory, { recursive: true });
    writeFileSync(`${this.#recordFile}.draft`, JSON.stringify(this.#records, null, 2));
    renameSync(`${this.#recordFile}.draft`, this.#recordFile);
  }
}

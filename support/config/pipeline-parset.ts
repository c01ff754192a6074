/**
 * LOFAR's generic-pipeline parsets (genericpipeline.py, prefactor's Pre-Facet-Calibrator.parset),
 * read and checked before anything runs: `! name = value` definitions and `{{ name }}`
 * substitution, `pipeline.steps = [...]` with named sub-lists `pipeline.steps.<list>`, and per
 * step its `control.*` (kind, type, inputs of the task) and `argument.*` keys. A sub-pipeline step
 * (`kind = pipeline`) brings in its parset's steps here, named `<step>-<its step>` as LOFAR names
 * them. A mistake is one line naming the parset's file, line and key (exit 2). Running the steps is
 * not here.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { parseList } from './ini.js';
import { parsetLines } from './parset.js';
import { PIPELINE_PLUGINS } from '../lofar/pipeline-plugins.js';

export type StepKind = 'recipe' | 'plugin' | 'loop' | 'pipeline';
const KINDS: readonly StepKind[] = ['recipe', 'plugin', 'loop', 'pipeline'];

/** A parset value with the line it came from. */
export interface ParsetValue {
  value: string;
  line: number;
}

export interface PipelineStep {
  name: string;
  kind: StepKind;
  /** The task (tasks.cfg), plugin, or sub-pipeline parset it runs; for a loop, none. */
  type: string;
  /** `<step>.control.*` without the prefix, in file order. */
  control: Map<string, ParsetValue>;
  /** `<step>.argument.*` without the prefix, in file order. */
  arguments: Map<string, ParsetValue>;
  /** The line of its first key, in `file` (a sub-pipeline's steps are in their own parset). */
  line: number;
  file: string;
  /** Its name in `file`: a sub-pipeline's step is `<step>-<this>` in the pipeline. */
  nameInFile: string;
  /** For a sub-pipeline step: its parset, and its `pipeline.mapfile` (what it gets without a mapfile_in). */
  subPipeline?: { file: string; mapfile: string | undefined };
}

export interface PipelineParset {
  file: string;
  /** The steps in the order they run (sub-lists expanded; a loop's steps also appear in its `loopsteps`). */
  order: string[];
  steps: Map<string, PipelineStep>;
  /** `! name = value` (and `pipeline.replace.name = value`) after substitution. */
  definitions: Map<string, string>;
  /** `pipeline.mapfile`: the map `input.output.mapfile` names. */
  mapfile: string | undefined;
}

/** What the checker needs to know from outside: which task types and plugins exist. */
export interface StepTypes {
  isTask(name: string): boolean;
  isPlugin(name: string): boolean;
}

/** Built-in plugins of the generic pipeline (lofar/pipeline-plugins.ts). */
export const BUILTIN_PLUGINS = Object.keys(PIPELINE_PLUGINS);
/** What `input.output.<key>` may name (`mapfile` only with a pipeline.mapfile). */
export const INPUT_OUTPUTS = ['mapfile_dir', 'parset_dir', 'parset', 'working_directory', 'job_name', 'job_directory', 'runtime_directory', 'mapfile'];
/**
 * A reference to what a step produced: `<step>.output.mapfile`, `<step>.output.<key>.mapfile`,
 * `<step>.output.<key>`; groups: what comes before it, the step, the output.
 */
export const OUTPUT_REFERENCE = /(^|[\s,[=/])([A-Za-z_][\w-]*)\.output\.([\w-]+(?:\.mapfile)?)/g;

function fail(file: string, line: number, key: string, message: string): never {
  throw new ConfigError(file, `${file}:${line}: ${key}: ${message}`);
}

/** Replaces `{{ name }}` with its definition; an undefined name or a `{{` without `}}` is refused. */
function substitute(value: string, definitions: Map<string, string>, file: string, line: number, key: string): string {
  let out = '';
  let rest = value;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open < 0) return out + rest;
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) fail(file, line, key, `a {{ without its }} in ${JSON.stringify(value)}`);
    const name = rest.slice(open + 2, close).trim();
    const replacement = definitions.get(name);
    if (replacement === undefined) fail(file, line, key, `{{ ${name} }} has no definition; define it with a line "! ${name} = ..." before`);
    out += rest.slice(0, open) + replacement;
    rest = rest.slice(close + 2);
  }
}

export function parsePipelineParset(text: string, file: string, types: StepTypes): PipelineParset {
  const parset = parseSteps(text, file, types, { definitions: new Map(), overrides: new Map(), within: [] });
  checkReferences(parset.order, parset.steps, parset.mapfile !== undefined);
  return parset;
}

/** What a sub-pipeline's parset is read with: its parent's definitions, the step's arguments over its own, the parsets it is inside. */
interface Surroundings {
  definitions: Map<string, string>;
  overrides: Map<string, string>;
  within: string[];
}

function parseSteps(text: string, file: string, types: StepTypes, around: Surroundings): PipelineParset {
  const definitions = new Map(around.definitions);
  // A sub-pipeline step's argument keys replace the definitions they name, the calling parset's too (as LOFAR replaces every `! name`).
  for (const [name, value] of around.overrides) if (definitions.has(name)) definitions.set(name, value);
  const keys = new Map<string, ParsetValue>();
  for (const { line, lineno } of parsetLines(text)) {
    const bang = line.startsWith('!');
    const body = bang ? line.slice(1).trim() : line;
    const eq = body.indexOf('=');
    const key = eq < 0 ? '' : body.slice(0, eq).trim();
    if (key === '' || /\s/.test(key)) fail(file, lineno, 'line', `expected "key = value", "! name = value" or a # comment, got ${JSON.stringify(line.slice(0, 80))}`);
    // pipeline.replace.<name> is LOFAR's other spelling of ! <name>.
    const name = bang ? key : key.startsWith('pipeline.replace.') ? key.slice('pipeline.replace.'.length) : undefined;
    // A sub-pipeline step's argument keys replace the definitions of its parset that they name.
    const value = name !== undefined && around.overrides.has(name) ? around.overrides.get(name)! : substitute(body.slice(eq + 1).trim(), definitions, file, lineno, key);
    if (name !== undefined) definitions.set(name, value);
    else keys.set(key, { value, line: lineno });
  }

  const main = keys.get('pipeline.steps');
  if (!main) fail(file, 1, 'pipeline.steps', 'missing; expected the list of steps to run, e.g. pipeline.steps = [createmap, ndppp]');
  // Group the step keys: <step>.control.* and <step>.argument.*.
  const steps = new Map<string, PipelineStep>();
  for (const [key, entry] of keys) {
    const match = /^([^.]+)\.(control|argument)\.(.+)$/.exec(key);
    if (!match) {
      if (key.startsWith('pipeline.')) continue;
      fail(file, entry.line, key, 'expected <step>.control.<key>, <step>.argument.<key>, pipeline.steps or ! <name> = <value>');
    }
    const [, name, part, rest] = match as unknown as [string, string, 'control' | 'argument', string];
    let step = steps.get(name);
    if (!step) steps.set(name, (step = { name, kind: 'recipe', type: '', control: new Map(), arguments: new Map(), line: entry.line, file, nameInFile: name }));
    (part === 'control' ? step.control : step.arguments).set(rest, entry);
  }
  for (const step of steps.values()) checkStep(step, types, steps);

  // The run order: pipeline.steps with named sub-lists expanded in place, and each sub-pipeline's steps after it.
  const order: string[] = [];
  const expand = (listKey: string, entry: ParsetValue, seen: string[]) => {
    for (const name of parseList(entry.value)) {
      const sub = keys.get(`pipeline.steps.${name}`);
      if (sub) {
        if (seen.includes(name)) fail(file, sub.line, `pipeline.steps.${name}`, `the step list ${name} includes itself (${[...seen, name].join(' -> ')})`);
        expand(`pipeline.steps.${name}`, sub, [...seen, name]);
      } else if (!steps.has(name)) {
        fail(file, entry.line, listKey, `step ${name} is listed but has no ${name}.control.* or ${name}.argument.* keys, and no pipeline.steps.${name} list`);
      } else {
        order.push(name);
        const step = steps.get(name)!;
        if (step.kind === 'pipeline') order.push(...bringIn(step, steps, definitions, types, around.within));
      }
    }
  };
  expand('pipeline.steps', main, []);
  return { file, order, steps, definitions, mapfile: keys.get('pipeline.mapfile')?.value };
}

/**
 * Reads a sub-pipeline step's parset and adds its steps as `<step>-<name>`, their references to
 * each other renamed the same way and `<parset name>.output.*` (its mapfile) read from the step;
 * returns their order.
 */
function bringIn(step: PipelineStep, steps: Map<string, PipelineStep>, definitions: Map<string, string>, types: StepTypes, within: string[]): string[] {
  const typeKey = `${step.name}.control.type`;
  const typeLine = step.control.get('type')!.line;
  const subFile = resolve(dirname(step.file), step.type);
  if (within.includes(subFile) || subFile === resolve(step.file)) fail(step.file, typeLine, typeKey, `the sub-pipeline ${step.type} includes itself (${[...within, step.file, subFile].map((f) => basename(f)).join(' -> ')})`);
  let text: string;
  try {
    text = readFileSync(subFile, 'utf8');
  } catch (error) {
    fail(step.file, typeLine, typeKey, `cannot read the sub-pipeline parset ${subFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const overrides = new Map([...step.arguments].map(([key, entry]) => [key, entry.value]));
  const sub = parseSteps(text, subFile, types, { definitions, overrides, within: [...within, resolve(step.file)] });
  step.subPipeline = { file: subFile, mapfile: sub.mapfile };
  const prefix = `${step.name}-`;
  const own = basename(subFile, extname(subFile));
  const rename = (name: string) => (sub.steps.has(name) ? prefix + name : name === own ? step.name : name);
  const renamed = (entries: Map<string, ParsetValue>, loopsteps: boolean) => new Map([...entries].map(([key, entry]) => [key, {
    line: entry.line,
    value: loopsteps && key === 'loopsteps'
      ? `[${parseList(entry.value).map((name) => rename(name)).join(',')}]`
      : entry.value.replace(OUTPUT_REFERENCE, (_whole, before: string, name: string, what: string) => `${before}${rename(name)}.output.${what}`),
  }]));
  for (const inner of sub.steps.values()) {
    const name = prefix + inner.name;
    if (steps.has(name)) fail(inner.file, inner.line, name, `step ${inner.name} of the sub-pipeline ${step.name} is named ${name}, which ${basename(step.file)} already has`);
    steps.set(name, { ...inner, name, control: renamed(inner.control, inner.kind === 'loop'), arguments: renamed(inner.arguments, false) });
  }
  return sub.order.map((name) => prefix + name);
}

function checkStep(step: PipelineStep, types: StepTypes, steps: Map<string, PipelineStep>): void {
  const { file } = step;
  const kind = step.control.get('kind');
  if (kind) {
    if (!(KINDS as readonly string[]).includes(kind.value)) fail(file, kind.line, `${step.name}.control.kind`, `expected one of ${KINDS.join(', ')}, got ${JSON.stringify(kind.value)}`);
    step.kind = kind.value as StepKind;
  }
  const type = step.control.get('type');
  step.type = type?.value ?? '';
  const where = `${step.name}.control.type`;
  switch (step.kind) {
    case 'loop': {
      const count = step.control.get('loopcount');
      if (!count) fail(file, step.line, `${step.name}.control.loopcount`, 'a loop needs loopcount, the most times it runs its loopsteps');
      if (!/^\d+$/.test(count.value) || Number(count.value) < 1) fail(file, count.line, `${step.name}.control.loopcount`, `expected a whole number from 1 up, got ${JSON.stringify(count.value)}`);
      const inner = step.control.get('loopsteps');
      if (!inner || parseList(inner.value).length === 0) fail(file, inner?.line ?? step.line, `${step.name}.control.loopsteps`, 'a loop needs loopsteps, the steps it runs each time');
      for (const name of parseList(inner.value)) {
        if (!steps.has(name)) fail(file, inner.line, `${step.name}.control.loopsteps`, `step ${name} has no ${name}.control.* or ${name}.argument.* keys`);
        if (steps.get(name)!.control.get('kind')?.value === 'pipeline') fail(file, inner.line, `${step.name}.control.loopsteps`, `step ${name} is a sub-pipeline: a loop runs steps, not sub-pipelines (put the loop inside the sub-pipeline's parset)`);
      }
      return;
    }
    case 'plugin':
      if (!type) fail(file, step.line, where, 'a plugin step needs its type, e.g. createMapfile');
      if (!types.isPlugin(type.value)) fail(file, type.line, where, `unknown plugin ${JSON.stringify(type.value)}; the plugins are ${BUILTIN_PLUGINS.join(', ')}`);
      return;
    case 'pipeline':
      if (!type) fail(file, step.line, where, 'a pipeline step needs its type: the parset of the sub-pipeline (a path, relative to this parset)');
      return;
    case 'recipe':
      if (!type) fail(file, step.line, where, 'missing; expected a task of tasks.cfg (for example executable_args, or pythonplugin)');
      if (!types.isTask(type.value)) {
        const hint = type.value === 'pythonplugin' ? ' (LOFAR\'s tasks.cfg has [pythonplugin] with recipe = executable_args and nodescript = python_plugin; add it to yours)' : '';
        fail(file, type.line, where, `unknown task type ${JSON.stringify(type.value)}; expected a section of the task files${hint}`);
      }
      if (type.value === 'pythonplugin' && !step.control.get('executable')) fail(file, type.line, `${step.name}.control.executable`, 'a pythonplugin step needs the Python script whose main() it runs');
  }
}

/** A reference to a step's output must name a step that runs before it; `input.output.*` only what the pipeline gives. */
function checkReferences(order: string[], steps: Map<string, PipelineStep>, hasMapfile: boolean): void {
  const inputs = hasMapfile ? INPUT_OUTPUTS : INPUT_OUTPUTS.filter((key) => key !== 'mapfile');
  const position = new Map(order.map((name, i) => [name, i]));
  for (const step of steps.values()) {
    for (const [part, entries] of [['control', step.control], ['argument', step.arguments]] as const) {
      for (const [key, entry] of entries) {
        for (const match of entry.value.matchAll(OUTPUT_REFERENCE)) {
          const [, , name, what] = match as unknown as [string, string, string, string];
          const full = `${step.nameInFile}.${part}.${key}`;
          if (name === 'input') {
            if (!inputs.includes(what.split(/[/.]/)[0]!)) fail(step.file, entry.line, full, `input.output.${what}: expected one of ${inputs.map((o) => `input.output.${o}`).join(', ')}`);
            continue;
          }
          if (!steps.has(name)) fail(step.file, entry.line, full, `${name}.output.${what} refers to a step this parset does not have`);
          const from = position.get(name);
          const to = position.get(step.name);
          if (from !== undefined && to !== undefined && from >= to) fail(step.file, entry.line, full, `${name}.output.${what} refers to step ${name}, which runs after ${step.name} (or is ${step.name})`);
        }
      }
    }
  }
}

export function readPipelineParset(file: string, types: StepTypes): PipelineParset {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, `${file}: cannot read the parset: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  return parsePipelineParset(text, file, types);
}

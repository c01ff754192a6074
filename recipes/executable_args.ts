/**
 * LOFAR's executable_args: runs an executable once per input. Over a data map (`mapfile_in`,
 * `mapfiles_in`) each job runs on its entry's host, where its data is, with its input and output
 * files given as the program's keys; the output map marks the entries that failed as skipped,
 * and `error_tolerance` decides whether that fails the step. Without a map, `inputs` is a plain
 * list: one job each, the item as the last argument, on the least busy host.
 */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { BaseRecipe, ComputeJob, DataMap, RemoteCommand, alignDataMaps, dataMapJobs, field, shellQuote, skipFailed, validateDataMaps, type DataMapJob, type DataProduct } from '../support/index.js';
import { readParset } from '../support/config/parset.js';
import { InputError } from '../support/errors.js';
import type { ArgsFormat, ExecutableArgsJob } from '../nodes/executable_args.js';

const ARGS_FORMATS: readonly ArgsFormat[] = ['gnu', 'lofar', 'argparse', 'wsclean', 'losoto'];
const NODE_SCRIPTS = ['executable_args', 'python_plugin'];
/** Inputs of LOFAR's executable_args this one does not have. */
const NOT_IMPLEMENTED = ['stdout', 'mapfiles_as_string', 'skip_outfile', 'args_format_argument', 'args_format_option', 'args_format_longoption', 'args_format_option_argument'];

export default class ExecutableArgs extends RemoteCommand(BaseRecipe) {
  static override description = 'run an executable once per input, one job each, outputs per job (LOFAR\'s executable_args, over data maps)';
  static override inputs = {
    executable: field.string({ help: 'program to run (a path, or a name on PATH)' }),
    arguments: field.list({ help: 'arguments before the input, the same for every job; an input or output key among them is replaced by the file', default: [] }),
    inputs: field.list({ help: 'without a data map: one job per item, the item as the last argument', optional: true }),
    mapfile_in: field.string({ help: 'data map of the inputs: one job per entry that is not skipped, on its host', default: '' }),
    mapfiles_in: field.list({ help: 'several input data maps, aligned with the first', default: [] }),
    mapfile_out: field.string({ help: 'data map of the outputs (default: <working_directory>/<job>/<input>.<stepname>, written to <job_directory>/mapfiles/<stepname>.mapfile)', default: '' }),
    mapfiles_out: field.list({ help: 'several output data maps', default: [] }),
    inputkey: field.string({ help: 'the program\'s key for the input file (e.g. msin)', default: '' }),
    inputkeys: field.list({ help: 'keys for the files of each input map, in order', default: [] }),
    outputkey: field.string({ help: 'the program\'s key for the output file (e.g. msout)', default: '' }),
    outputkeys: field.list({ help: 'keys for the output files', default: [] }),
    parset: field.file({ help: 'a parset whose keys become the program\'s options', optional: true }),
    parsetasfile: field.bool({ help: 'pass the keys as a parset file rather than as options', default: false }),
    args_format: field.string({ help: `how keys become options: ${ARGS_FORMATS.join(', ')}`, default: 'gnu' }),
    skip_infile: field.bool({ help: 'do not give the input file to the program', default: false }),
    inplace: field.bool({ help: 'the program changes its input in place: the output map is the input map', default: false }),
    outputsuffixes: field.list({ help: 'more output maps, one per suffix', default: [] }),
    stepname: field.string({ help: 'names the output files and maps (default: the job name)', default: '' }),
    nthreads: field.int({ help: 'OMP_NUM_THREADS for each job', default: 8 }),
    environment: field.dict({ help: 'more environment variables for each job (k=v,k2=v2)', default: {} }),
    error_tolerance: field.bool({ help: 'go on with the entries that succeeded when some fail', default: true }),
    maxPerNode: field.int({ help: 'jobs at a time per host (0 or unset: [remote] max_per_node)', optional: true }),
    timeout: field.float({ help: 'seconds per job (default: [remote] job_timeout)', optional: true }),
    nodescript: field.string({ help: 'the node script that runs each job: executable_args (the executable as a program) or python_plugin (the executable a Python file whose main(*args, **kwargs) runs in the job, its returned dict the job\'s outputs)', default: 'executable_args' }),
    stage: field.bool({ help: 'the maps\' files are on the control node: each job\'s input files are copied to its host first, its output files back to the output map\'s paths', default: false }),
  };

  override async go(): Promise<number> {
    const inputs = this.inputs;
    // LOFAR's task files set these; they reach this.inputs as text, and nothing here reads them.
    const ignored = NOT_IMPLEMENTED.filter((key) => key in (inputs as Record<string, unknown>));
    if (ignored.length > 0) this.logger.warn(`executable_args: LOFAR's inputs ${ignored.join(', ')} are not implemented here and are ignored`);
    if (inputs.mapfile_in || inputs.mapfiles_in.length > 0) return this.#overDataMaps();
    if (!inputs.inputs) throw new InputError('inputs', 'executable_args needs --mapfile-in (a data map) or --inputs (a list)');
    return this.#overList(inputs.inputs as string[]);
  }

  /** Without a map: one shell job per item, on the least busy host. */
  async #overList(items: string[]): Promise<number> {
    const { executable, arguments: fixed, maxPerNode, timeout } = this.inputs;
    const command = shellQuote(executable);
    const jobs = items.map((item) => new ComputeJob(null, command, [...fixed, item]));
    await this.scheduleJobs(jobs, { maxPerNode: maxPerNode || undefined, timeout });
    this.outputs.results = jobs.map((job, i) => ({
      input: items[i],
      host: job.results.host,
      returncode: job.results.returncode,
      ...(job.results.failure ? { failure: job.results.failure, message: job.results.message } : {}),
      stdout: job.results.outputs.stdout ?? [],
    }));
    return this.error.isSet() ? 1 : 0;
  }

  async #overDataMaps(): Promise<number> {
    const i = this.inputs;
    if (!ARGS_FORMATS.includes(i.args_format)) throw new InputError('args_format', `input --args-format: expected one of ${ARGS_FORMATS.join(', ')}, got ${JSON.stringify(i.args_format)}`);
    const stepname: string = i.stepname || this.jobName;
    const mapfileDir = join(this.jobDirectory, 'mapfiles');
    const workDir = join(this.config.workingDirectory, this.jobName);
    const inList: string[] = [...(i.mapfile_in ? [i.mapfile_in] : []), ...i.mapfiles_in];
    const inMaps = inList.map((path) => DataMap.load(path));

    let outPaths: string[];
    let outMaps: DataMap[];
    if (i.mapfile_out) {
      outPaths = [i.mapfile_out];
      outMaps = [DataMap.load(i.mapfile_out)];
      alignDataMaps(inMaps[0]!, outMaps[0]!);
    } else if (i.mapfiles_out.length > 0) {
      outPaths = [...i.mapfiles_out];
      outMaps = outPaths.map((path) => DataMap.load(path));
    } else if (i.inplace) {
      outPaths = [inList[0]!];
      outMaps = [inMaps[0]!];
    } else {
      outPaths = [join(mapfileDir, `${stepname}.mapfile`)];
      outMaps = [renamed(inMaps[0]!, workDir, `.${stepname}`)];
    }
    // Every map goes entry by entry with the first (the output map too): an entry skipped in one is
    // skipped in all, so the files given to a job are all of its entry (LOFAR aligned only the first two).
    const maps = [...inMaps, ...outMaps];
    const odd = maps.findIndex((map) => !validateDataMaps(inMaps[0]!, map));
    if (odd >= 0) {
      this.logger.error(`the data map ${[...inList, ...outPaths][odd]} differs from ${inList[0]} in length or hosts; validation failed`);
      return 1;
    }
    const distinct = [...new Set(maps)];
    if (distinct.length > 1) alignDataMaps(...distinct);
    for (const suffix of i.outputsuffixes as string[]) {
      outMaps.push(renamed(inMaps[0]!, workDir, `.${stepname}${suffix}`));
      outPaths.push(join(mapfileDir, `${stepname}${suffix}.mapfile`));
    }

    const keys: Record<string, string> = i.parset ? Object.fromEntries(readParset(i.parset)) : {};
    const inputKeys: string[] = [...i.inputkeys];
    if (i.inputkey && !inputKeys.includes(i.inputkey)) inputKeys.unshift(i.inputkey);
    const outputKeys: string[] = i.outputkeys.length > 0 ? [...i.outputkeys] : i.outputkey ? [i.outputkey] : [];
    if (!i.skip_infile && inputKeys.length !== inMaps.length) {
      throw new InputError('inputkeys', `executable_args: ${inMaps.length} input data maps and ${inputKeys.length} input keys (--inputkey, --inputkeys); give one key per map, or --skip-infile`);
    }
    // Each key's file, entry by entry (over the entries that are not skipped, as the jobs are).
    const files = new Map<string, string[]>();
    if (!i.skip_infile) inputKeys.forEach((key, n) => files.set(key, [...inMaps[n]!].map((entry) => entry.file)));
    outputKeys.forEach((key, n) => outMaps[n] && files.set(key, [...outMaps[n]!].map((entry) => entry.file)));

    const environment: Record<string, string> = { ...(i.nthreads ? { OMP_NUM_THREADS: String(i.nthreads) } : {}), ...stringValues(i.environment) };
    const outputFiles = new Set(outputKeys.flatMap((key) => files.get(key) ?? []));
    // With inplace the output map is the input map: such a file goes in and comes back.
    const inputFiles = new Set([...(i.skip_infile ? [] : inputKeys.flatMap((key) => files.get(key) ?? []))]);
    if (!NODE_SCRIPTS.includes(i.nodescript)) throw new InputError('nodescript', `input --nodescript: expected one of ${NODE_SCRIPTS.join(', ')}, got ${JSON.stringify(i.nodescript)}`);
    const script = this.nodeScript(i.nodescript === 'python_plugin' ? 'python_plugin.py' : 'executable_args');
    let n = -1; // the entry's place among those not skipped, where the key lists have its files
    const mapJobs = dataMapJobs<DataProduct>(inMaps[0]!, (entry) => {
      n++;
      const args = [...(i.arguments as string[])];
      const kwargs = { ...keys };
      // Staged, the program sees each file under a name of its own in the job's directory on the host.
      const staged = i.stage ? stagedNames([...files.values()].map((list) => list[n]!)) : undefined;
      const name = (file: string) => staged?.get(file) ?? file;
      for (const [key, list] of files) {
        const at = args.indexOf(key);
        // A key written among the arguments is replaced there; else it becomes one of the program's options.
        if (at >= 0) args[at] = name(list[n]!);
        else if (Object.values(kwargs).includes(key)) for (const [k, v] of Object.entries(kwargs)) { if (v === key) kwargs[k] = name(list[n]!); }
        else kwargs[key] = name(list[n]!);
      }
      const job: ExecutableArgsJob = {
        infile: name(entry.file), executable: i.executable, args, kwargs, workDir: staged ? '.' : workDir, parsetAsFile: i.parsetasfile, argsFormat: i.args_format as ArgsFormat,
      };
      const staging = staged ? {
        stageIn: [...staged].filter(([file]) => inputFiles.has(file) || !outputFiles.has(file)).map(([from, to]) => ({ from, to })),
        stageOut: [...staged].filter(([file]) => outputFiles.has(file)).map(([to, from]) => ({ from, to })),
      } : {};
      return { command: script, args: [job as never], options: { name: `${stepname}.${n}`, environment, ...staging } };
    });
    const jobs = mapJobs.map(({ job }) => job);
    mkdirSync(workDir, { recursive: true });
    await this.scheduleJobs(jobs, { maxPerNode: i.maxPerNode || undefined, timeout: i.timeout });

    const failed = skipFailed(outMaps[0]!, mapJobs);
    if (failed > 0 && !i.error_tolerance) {
      this.logger.error(`${failed} of ${jobs.length} jobs failed and error_tolerance is off: the step fails, no output map is written`);
      return 1;
    }
    if (jobs.length > 0 && failed === jobs.length) {
      this.logger.error(`all ${jobs.length} jobs failed`);
      return 1;
    }
    if (failed > 0) this.logger.warn(`${failed} of ${jobs.length} jobs failed; going on with those that succeeded (their entries are skipped in ${outPaths[0]})`);
    mkdirSync(mapfileDir, { recursive: true });
    outMaps.forEach((map, n) => {
      this.logger.debug(`writing data map ${outPaths[n]}`);
      map.save(outPaths[n]!);
    });
    this.outputs.mapfile = outPaths[0];
    if ((i.outputsuffixes as string[]).length > 0) for (const path of outPaths) this.outputs[basename(path)] = path;
    this.#resultMaps(mapJobs, outMaps[0]!, stepname, mapfileDir);
    return 0;
  }

  /**
   * As LOFAR's executable_args does: each output the jobs gave (a python_plugin's returned dict)
   * becomes a map `<stepname>.<key>.mapfile` of the value per entry, named `<key>.mapfile` in the
   * step's outputs; a `break` a job gave is the step's, so a loop stops.
   */
  #resultMaps(mapJobs: Array<DataMapJob<DataProduct>>, outMap: DataMap, stepname: string, mapfileDir: string): void {
    const given = new Set(mapJobs.flatMap(({ job }) => Object.keys(job.results.outputs)).filter((key) => key !== 'ok'));
    // A key names a file here and is named by <step>.output.<key>.mapfile: nothing but a plain name.
    const keys = [...given].filter((key) => /^[\w-]+$/.test(key));
    const refused = [...given].filter((key) => !keys.includes(key));
    if (refused.length > 0) this.logger.warn(`outputs ${refused.map((key) => JSON.stringify(key)).join(', ')} of the jobs are not plain names (letters, digits, _ and -): no map is written for them`);
    for (const key of keys) {
      // One entry per job (as LOFAR writes them; the entries skipped in the input have none): a job that did not give the key is skipped.
      const entries = mapJobs.map(({ job, index }) => {
        const value = job.results.outputs[key];
        return { host: job.host, file: value === undefined ? '' : pythonText(value), skip: value === undefined || (outMap.entries[index]?.skip ?? false) };
      });
      const brk = key === 'break' ? [...entries].reverse().find((entry) => !entry.skip) : undefined;
      if (brk) this.outputs.break = brk.file;
      const path = join(mapfileDir, `${stepname}.${key}.mapfile`);
      new DataMap(entries).save(path);
      this.outputs[`${key}.mapfile`] = path;
    }
  }
}

/** Each file's name in a staged job's directory: its base name, with a number before it when two share one. */
function stagedNames(paths: string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const path of paths) {
    if (names.has(path)) continue;
    let name = basename(path);
    for (let k = 2; taken.has(name); k++) name = `${k}.${basename(path)}`;
    taken.add(name);
    names.set(path, name);
  }
  return names;
}

/** A copy of the map whose files are `<dir>/<input name without extension><suffix>`, as LOFAR names a step's outputs. */
function renamed(map: DataMap, dir: string, suffix: string): DataMap {
  return new DataMap(map.entries.map((entry) => ({ ...entry, file: join(dir, basename(entry.file, extname(entry.file)) + suffix) })));
}

/** A value as Python's str() writes it, as LOFAR's map of it holds it: True, None, 3, a/b.MS. */
function pythonText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function stringValues(dict: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

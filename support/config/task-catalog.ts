/**
 * lofarpipe's tasks (tasks.cfg): named presets of a recipe's inputs. Read as lofarpipe reads
 * them, `ConfigParser(config.defaults())` then `read(task_files)`: pipeline.cfg's [DEFAULT]
 * values interpolate in every task, the files merge in order (a later file's keys win, so
 * tasks.cfg.CEP4 overrides tasks.cfg), a section repeated within a file merges as Python 2 did.
 */
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { IniFile } from './ini.js';
import type { PipelineConfig } from './pipeline-config.js';

export interface TaskDefinition {
  name: string;
  recipe: string;
  /** The task's inputs (every key but `recipe`), interpolated, as text. */
  inputs: Record<string, string>;
  /** Where the task is defined: its first file and the line of its header. */
  file: string;
  line: number | undefined;
}

export class TaskCatalog {
  readonly #ini: IniFile;
  readonly #config: PipelineConfig;
  /** Task files named in pipeline.cfg that do not exist (Python's read() skips them too). */
  readonly missingFiles: string[];

  private constructor(ini: IniFile, config: PipelineConfig, missingFiles: string[]) {
    this.#ini = ini;
    this.#config = config;
    this.missingFiles = missingFiles;
  }

  static async load(config: PipelineConfig): Promise<TaskCatalog> {
    const files = config.taskFiles;
    const present = files.filter((file) => existsSync(file));
    const layers = await Promise.all(present.map((file) => IniFile.load(file, { duplicates: 'merge' })));
    const name = present.length === 1 ? present[0]! : `task_files (${present.join(', ')})`;
    return new TaskCatalog(IniFile.layered(name, layers, config.ini), config, files.filter((file) => !present.includes(file)));
  }

  /** Repeated sections or keys within a file, each one line naming the file and both lines. */
  get warnings(): readonly string[] {
    return this.#ini.warnings;
  }

  names(): string[] {
    return this.#ini.sections();
  }

  has(name: string): boolean {
    return this.#ini.hasSection(name);
  }

  /** The task, every value interpolated; undefined when no task file defines it. */
  task(name: string): TaskDefinition | undefined {
    if (!this.#ini.hasSection(name)) return undefined;
    const file = this.#ini.sectionFile(name);
    const line = this.#ini.sectionLine(name);
    const vars = this.#config.vars;
    const recipe = this.#ini.has(name, 'recipe') ? this.#ini.get(name, 'recipe', vars)!.trim() : '';
    if (!recipe) throw new UsageError(`${file}${line ? `:${line}` : ''}: task [${name}] has no "recipe = <name>" line; add the recipe it runs`);
    const inputs: Record<string, string> = {};
    // Only the task's own keys: pipeline.cfg's [DEFAULT] values are there to interpolate, not inputs.
    for (const key of this.#ini.ownKeys(name)) {
      if (key !== 'recipe') inputs[key] = this.#ini.get(name, key, vars) ?? '';
    }
    return { name, recipe, inputs, file, line };
  }
}

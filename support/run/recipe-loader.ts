/** Finds recipes by name or path, loads their classes, and reads tasks.cfg task definitions. */
import { existsSync, readdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NotFoundError, UsageError } from '../errors.js';
import { expandHome, type PipelineConfig } from '../config/pipeline-config.js';
import { shippedRecipeDirectory } from '../config/framework-paths.js';
import { BaseRecipe, type RecipeClass } from '../recipe/base-recipe.js';
import type { TaskCatalog, TaskDefinition } from '../config/task-catalog.js';

const RECIPE_EXTENSIONS = ['.js', '.mjs'];

export interface LoadedRecipe {
  name: string;
  path: string;
  RecipeClass: RecipeClass;
}

/** Recipe directories in lookup order: the configured ones, then the shipped recipes. */
export function recipeDirectories(config: PipelineConfig): string[] {
  return [...config.recipeDirectories, shippedRecipeDirectory];
}

export function looksLikePath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || RECIPE_EXTENSIONS.includes(extname(nameOrPath));
}

/**
 * The module file of a recipe given by name (searched in the recipe directories, and in their
 * `master/` subdirectories, where lofarpipe keeps its recipes) or path. `wantedBy` names what
 * asked for it (a task), for the message when it is not there.
 */
export function findRecipe(nameOrPath: string, config: PipelineConfig, wantedBy?: string): string {
  if (looksLikePath(nameOrPath)) {
    const path = resolve(expandHome(nameOrPath));
    if (!existsSync(path)) throw new NotFoundError(`recipe file ${nameOrPath} does not exist`);
    return path;
  }
  const directories = recipeDirectories(config);
  for (const dir of directories) {
    for (const sub of [dir, join(dir, 'master')]) {
      for (const ext of RECIPE_EXTENSIONS) {
        const path = join(sub, nameOrPath + ext);
        if (existsSync(path)) return path;
      }
    }
  }
  if (wantedBy) {
    throw new NotFoundError(`${wantedBy} runs recipe ${JSON.stringify(nameOrPath)}, which is not here: not found in ${directories.join(', ')}; `
      + 'write it as a recipe (see "Write a recipe") or run another task');
  }
  throw new NotFoundError(`unknown recipe or task ${JSON.stringify(nameOrPath)}: not found in ${directories.join(', ')} nor in the task files (pipeline list shows both)`);
}

function isRecipeClass(value: unknown): value is RecipeClass {
  return typeof value === 'function' && value.prototype instanceof BaseRecipe;
}

export async function loadRecipe(path: string): Promise<LoadedRecipe> {
  let module: { default?: unknown };
  try {
    module = await import(pathToFileURL(path).href);
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
    throw new UsageError(`recipe ${path} cannot be loaded: ${reason}`, { cause: error });
  }
  if (!isRecipeClass(module.default)) {
    throw new UsageError(`recipe ${path}: its default export must be a class that extends BaseRecipe`);
  }
  const name = basename(path, extname(path));
  return { name, path, RecipeClass: module.default };
}

/** Every recipe in the recipe directories (first one wins for a name), for `pipeline list`. */
export function listRecipeFiles(config: PipelineConfig): Array<{ name: string; path: string }> {
  const seen = new Map<string, string>();
  for (const dir of recipeDirectories(config).flatMap((dir) => [dir, join(dir, 'master')])) {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const entry of entries) {
      const ext = extname(entry);
      if (!RECIPE_EXTENSIONS.includes(ext)) continue;
      const name = basename(entry, ext);
      if (!seen.has(name)) seen.set(name, join(dir, entry));
    }
  }
  return [...seen].map(([name, path]) => ({ name, path }));
}

/** A recipe, and the tasks.cfg task it was asked for through, if it was. */
export interface ResolvedRecipe {
  recipe: LoadedRecipe;
  task?: TaskDefinition;
}

/** A task of that name (a task wins over a recipe of its name, as in lofarpipe), else a recipe by name or path. */
export async function loadRecipeOrTask(nameOrPath: string, config: PipelineConfig, tasks: TaskCatalog): Promise<ResolvedRecipe> {
  const task = looksLikePath(nameOrPath) ? undefined : tasks.task(nameOrPath);
  const wantedBy = task ? `task [${task.name}] of ${task.file}` : undefined;
  const recipe = await loadRecipe(findRecipe(task ? task.recipe : nameOrPath, config, wantedBy));
  return task ? { recipe, task } : { recipe };
}

/** Finds recipes by name or path, loads their classes, and reads tasks.cfg task definitions. */
import { existsSync, readdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NotFoundError, UsageError } from '../errors.js';
import { IniFile } from '../config/ini.js';
import { expandHome, type PipelineConfig } from '../config/pipeline-config.js';
import { shippedRecipeDirectory } from '../config/framework-paths.js';
import { BaseRecipe, type RecipeClass } from '../recipe/base-recipe.js';

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

function looksLikePath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || RECIPE_EXTENSIONS.includes(extname(nameOrPath));
}

/** The module file of a recipe given by name (searched in the recipe directories) or path. */
export function findRecipe(nameOrPath: string, config: PipelineConfig): string {
  if (looksLikePath(nameOrPath)) {
    const path = resolve(expandHome(nameOrPath));
    if (!existsSync(path)) throw new NotFoundError(`recipe file ${nameOrPath} does not exist`);
    return path;
  }
  const directories = recipeDirectories(config);
  for (const dir of directories) {
    for (const ext of RECIPE_EXTENSIONS) {
      const path = join(dir, nameOrPath + ext);
      if (existsSync(path)) return path;
    }
  }
  throw new NotFoundError(`unknown recipe ${JSON.stringify(nameOrPath)}: not found in ${directories.join(', ')} (pipeline list shows the recipes)`);
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
  for (const dir of recipeDirectories(config)) {
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

export interface TaskDefinition {
  name: string;
  recipe: string;
  /** Default inputs from the task file, as text. */
  inputs: Record<string, string>;
  file: string;
}

/** A task from the configured task files (`[name]\nrecipe = ...\ninput = value`), or undefined. */
export async function findTask(name: string, config: PipelineConfig): Promise<TaskDefinition | undefined> {
  for (const file of config.taskFiles) {
    if (!existsSync(file)) continue;
    const ini = await IniFile.load(file);
    if (!ini.hasSection(name)) continue;
    const recipe = ini.get(name, 'recipe');
    if (!recipe) throw new UsageError(`${file}: task [${name}] has no "recipe = <name>" line`);
    const inputs: Record<string, string> = {};
    for (const key of ini.keys(name)) {
      if (key === 'recipe' || !ini.has(name, key)) continue;
      inputs[key] = ini.get(name, key) ?? '';
    }
    return { name, recipe, inputs, file };
  }
  return undefined;
}

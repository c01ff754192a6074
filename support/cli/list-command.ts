/** `pipeline list`: every recipe in the recipe directories and every task of the task files, each with one line. */
import { loadConfig, PLACEHOLDER_VARS } from './load-config.js';
import { listRecipeFiles, loadRecipe } from '../run/recipe-loader.js';
import { TaskCatalog } from '../config/task-catalog.js';

export async function listCommand(args: Record<string, unknown>): Promise<number> {
  // Outside a run, a task's %(job_name)s and %(start_time)s show as what they stand for.
  const config = (await loadConfig(args)).withVars(PLACEHOLDER_VARS);
  const rows: Array<[string, string]> = [];
  for (const { name, path } of listRecipeFiles(config)) {
    let description: string;
    try {
      description = (await loadRecipe(path)).RecipeClass.description || '(no description)';
    } catch (error) {
      description = `(cannot be loaded: ${(error as Error).message})`;
    }
    rows.push([name, description]);
  }
  const tasks = await TaskCatalog.load(config);
  for (const warning of tasks.warnings) process.stderr.write(`pipeline: warning: ${warning}\n`);
  const taskRows: Array<[string, string]> = [];
  for (const name of tasks.names()) {
    let recipe: string;
    try {
      recipe = `task: recipe ${tasks.task(name)!.recipe}`;
    } catch (error) {
      recipe = `task: ${(error as Error).message}`;
    }
    taskRows.push([name, recipe]);
  }
  const width = Math.max(0, ...[...rows, ...taskRows].map(([name]) => name.length));
  const print = (list: Array<[string, string]>) => {
    for (const [name, text] of list) process.stdout.write(`${name.padEnd(width)}  ${text}\n`);
  };
  print(rows);
  if (taskRows.length > 0) {
    process.stdout.write(`\ntasks (${tasks.names().length === 1 ? 'from' : 'merged from'} ${config.taskFiles.filter((file) => !tasks.missingFiles.includes(file)).join(', ')}):\n`);
    print(taskRows);
  }
  return 0;
}

/** `pipeline describe <recipe or task>`: a recipe's description and inputs; for a task, with the task's values. */
import { loadConfig, PLACEHOLDER_VARS } from './load-config.js';
import { flagName, inputNameKey } from '../recipe/fields.js';
import { loadRecipeOrTask } from '../run/recipe-loader.js';
import { TaskCatalog } from '../config/task-catalog.js';

export async function describeCommand(args: Record<string, unknown>): Promise<number> {
  // Outside a run, a task's %(job_name)s and %(start_time)s show as what they stand for.
  const config = (await loadConfig(args)).withVars(PLACEHOLDER_VARS);
  const { recipe, task } = await loadRecipeOrTask(String(args.recipe), config, await TaskCatalog.load(config));
  const { name, path, RecipeClass } = recipe;
  const lines = task
    ? [`${task.name}: task of ${task.file}${task.line ? `:${task.line}` : ''}, runs recipe ${name}: ${RecipeClass.description || '(no description)'}`, `  recipe file: ${path}`, '', 'inputs:']
    : [`${name}: ${RecipeClass.description || '(no description)'}`, `  file: ${path}`, '', 'inputs:'];
  const fields = Object.entries(RecipeClass.inputs ?? {});
  const taskValues = new Map(Object.entries(task?.inputs ?? {}).map(([key, value]) => [inputNameKey(key), { key, value }]));
  if (fields.length === 0) lines.push('  (none)');
  for (const [input, spec] of fields) {
    const fromTask = taskValues.get(inputNameKey(input));
    taskValues.delete(inputNameKey(input));
    const presence = fromTask !== undefined ? `task sets ${JSON.stringify(fromTask.value)}`
      : spec.required ? 'required' : spec.default !== undefined ? `default ${JSON.stringify(spec.default)}` : 'optional';
    lines.push(`  ${flagName(input)} <${spec.kind}>  ${spec.help} (${presence})`);
  }
  if (taskValues.size > 0) {
    lines.push('', `passed on as text (the task sets them; recipe ${name} does not declare them):`);
    for (const { key, value } of taskValues.values()) lines.push(`  ${key} = ${value}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

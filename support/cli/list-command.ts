/** `pipeline list`: every recipe in the recipe directories with its one-line description. */
import { loadConfig } from './load-config.js';
import { listRecipeFiles, loadRecipe } from '../run/recipe-loader.js';

export async function listCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const recipes = listRecipeFiles(config);
  const width = Math.max(0, ...recipes.map((r) => r.name.length));
  for (const { name, path } of recipes) {
    let description: string;
    try {
      description = (await loadRecipe(path)).RecipeClass.description || '(no description)';
    } catch (error) {
      description = `(cannot be loaded: ${(error as Error).message})`;
    }
    process.stdout.write(`${name.padEnd(width)}  ${description}\n`);
  }
  return 0;
}

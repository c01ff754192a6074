/** `pipeline describe <recipe>`: a recipe's description and inputs. */
import { loadConfig } from './load-config.js';
import { flagName } from '../recipe/fields.js';
import { findRecipe, loadRecipe } from '../run/recipe-loader.js';

export async function describeCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const { name, path, RecipeClass } = await loadRecipe(findRecipe(String(args.recipe), config));
  const lines = [`${name}: ${RecipeClass.description || '(no description)'}`, `  file: ${path}`, '', 'inputs:'];
  const fields = Object.entries(RecipeClass.inputs ?? {});
  if (fields.length === 0) lines.push('  (none)');
  for (const [input, spec] of fields) {
    const presence = spec.required ? 'required' : spec.default !== undefined ? `default ${JSON.stringify(spec.default)}` : 'optional';
    lines.push(`  ${flagName(input)} <${spec.kind}>  ${spec.help} (${presence})`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** Where the framework itself is installed: its root, its shipped config, recipes and node scripts. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'pipeline-framework') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the pipeline-framework package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The package root (holds package.json, config/ and dist/). */
export const frameworkRoot = findRoot();
export const shippedConfigDirectory = join(frameworkRoot, 'config');
/** Built recipes and node scripts shipped with the framework. */
export const shippedRecipeDirectory = join(frameworkRoot, 'dist', 'recipes');
export const shippedNodeDirectory = join(frameworkRoot, 'dist', 'nodes');
/** The Python node runtime (lofarpipe_node.py), copied beside the built Node runtime by the build. */
export const pythonRuntimeDirectory = join(frameworkRoot, 'dist', 'support', 'node', 'python');
/** The host agent (issue 16): started once per host, under install_root there. */
export const agentScript = join(frameworkRoot, 'dist', 'support', 'agent', 'agent.js');
/** The `pipeline` command, as a batch script runs it (pipeline submit). */
export const cliPath = join(frameworkRoot, 'dist', 'support', 'cli', 'main.js');

// The built CLI must be executable for `npm link` / a checkout used in place.
import { chmodSync, cpSync } from 'node:fs';
chmodSync(new URL('../dist/support/cli/main.js', import.meta.url), 0o755);
// The Python node runtime is not compiled: it ships beside the Node one, so install_root holds both.
cpSync(new URL('../support/node/python/', import.meta.url), new URL('../dist/support/node/python/', import.meta.url), {
  recursive: true,
  filter: (source) => !source.includes('__pycache__'),
});
// Shipped Python node scripts (nodes/*.py) sit beside the built JavaScript ones, where nodeScript() looks.
cpSync(new URL('../nodes/', import.meta.url), new URL('../dist/nodes/', import.meta.url), {
  recursive: true,
  filter: (source) => !source.includes('__pycache__') && (source.endsWith('/nodes') || source.endsWith('/nodes/') || source.endsWith('.py')),
});

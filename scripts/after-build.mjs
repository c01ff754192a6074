// The built CLI must be executable for `npm link` / a checkout used in place.
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/support/cli/main.js', import.meta.url), 0o755);

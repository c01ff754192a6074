// dist/ is rebuilt from nothing: a file moved or deleted in the sources must not live on in it.
import { rmSync } from 'node:fs';
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

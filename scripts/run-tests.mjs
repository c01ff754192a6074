// Runs mocha with colour only for a terminal: mocha's colour library takes CI=true as a
// terminal, and `CI=true npm test > file` wrote escape codes into the file.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const env = { ...process.env };
if (!process.stdout.isTTY) env.NO_COLOR = '1';
const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const child = spawn(process.execPath, [mocha, ...process.argv.slice(2)], { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

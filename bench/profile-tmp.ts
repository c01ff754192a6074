import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { benchShellJobs } from './ssh-dispatch.js';
// temporary: profile row 1 with one host
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');
await benchShellJobs({ jobs: 2000, repeats: 1, quick: true, hostCounts: [1] } as never);
const { profile } = await session.post('Profiler.stop');
writeFileSync('/tmp/row1.cpuprofile', JSON.stringify(profile));
process.exit(0);

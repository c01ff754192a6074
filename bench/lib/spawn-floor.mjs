// Benchmark row 4, the floor: the least a master can do to run N `true` jobs, C at a time.
// node spawns `/bin/sh -c true` as the local launcher does (its own process group, stdin,
// stdout and stderr piped, output read to the end) and waits for each to close; nothing is
// logged or recorded. Usage: node --import ./usage-at-exit.mjs spawn-floor.mjs <jobs> <concurrency>
import { spawn } from 'node:child_process';

const jobs = Number(process.argv[2]);
const concurrency = Number(process.argv[3]);
let started = 0;
let succeeded = 0;

function runOne() {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', 'true'], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => {});
    child.stdout.on('data', () => {});
    child.stderr.on('data', () => {});
    child.on('close', (code) => {
      if (code === 0) succeeded++;
      resolve();
    });
  });
}

async function worker() {
  while (started < jobs) {
    started++;
    await runOne();
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, jobs) }, worker));
process.stdout.write(JSON.stringify({ succeeded }) + '\n');

// Preloaded into a measured process (node --import): at exit, writes the process's own CPU time
// and peak resident set size (getrusage RUSAGE_SELF: its children are not counted) to
// $BENCH_USAGE_FILE as JSON.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const file = process.env.BENCH_USAGE_FILE;
if (file) {
  process.on('exit', (code) => {
    const cpu = process.cpuUsage();
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({
      code, userMs: cpu.user / 1000, systemMs: cpu.system / 1000, maxRssKiB: usage.maxRSS, wallMs: performance.now(),
    }));
  });
}

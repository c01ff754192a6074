// Benchmark row 3, the floor's writer: the same bytes the node runtime sends for `count`
// this.logger.info() calls (one JSON log message per line, the same encoding), batched into
// 64 KiB synchronous writes as the runtime's channel does, but to stdout and with no start
// message, no protocol and no master-side parsing. Usage: node log-lines-floor.mjs <count>
import { writeSync } from 'node:fs';

const count = Number(process.argv[2]);
const pause = new Int32Array(new SharedArrayBuffer(4));
let pending = [];
let chars = 0;

function writeFully(data) {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(1, data, offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

function flush() {
  if (pending.length === 0) return;
  writeFully(Buffer.from(pending.join('')));
  pending = [];
  chars = 0;
}

for (let i = 1; i <= count; i++) {
  const line = JSON.stringify({ type: 'log', job: 'log', level: 'info', message: `bench line ${i}` }) + '\n';
  pending.push(line);
  chars += line.length;
  if (chars > 64 * 1024) flush();
}
flush();

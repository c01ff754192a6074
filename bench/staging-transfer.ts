/**
 * Benchmark row 8 (issue 19): a 200 MB stage-in over loopback, the framework's SFTP copy (the
 * one a staged job's stageIn makes: a new connection, draft name, rename) against OpenSSH's
 * `scp` and `sftp` of the same file to the same sshd test host, interleaved, in one run.
 *
 * `npx tsx bench/staging-transfer.ts [--quick]` runs the row on its own.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { putWhole } from '../support/launchers/host-files.js';
import { SshClientConfig } from '../support/launchers/ssh/client-config.js';
import { SshLauncher } from '../support/launchers/ssh/ssh-launcher.js';
import { startTestCluster } from '../test/harness/ssh-hosts.js';
import type { BenchOptions, BenchRow } from './bench-row.js';
import { interleaved, median, now, spread } from './measure.js';

const MB = 1024 * 1024;

function run(command: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(input ?? '');
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr}`))));
  });
}

export async function benchStageIn({ quick, progress }: BenchOptions): Promise<BenchRow[]> {
  const bytes = (quick ? 50 : 200) * MB;
  const repeats = quick ? 2 : 3;
  const cluster = await startTestCluster({ hosts: 1, separateHomes: true });
  const local = mkdtempSync(join(tmpdir(), 'bench-stage-'));
  try {
    const file = join(local, 'input.bin');
    const piece = randomBytes(MB);
    writeFileSync(file, Buffer.alloc(0));
    for (let written = 0; written < bytes; written += MB) writeFileSync(file, piece, { flag: 'a' });
    const host = cluster.hosts[0]!;
    const home = host.home!;
    const ssh = ['-F', cluster.sshConfigPath];
    const rate = async (copy: () => Promise<void>, target: string) => {
      rmSync(target, { force: true });
      const began = now();
      await copy();
      const seconds = (now() - began) / 1000;
      if (statSync(target).size !== bytes) throw new Error(`${target} arrived with ${statSync(target).size} bytes, not ${bytes}`);
      return bytes / MB / seconds;
    };
    const results = await interleaved(repeats, {
      framework: () => rate(async () => {
        // As a staged job's stage-in: the launcher's own connection, its SFTP session, a draft renamed into place.
        const launcher = new SshLauncher({
          clientConfig: new SshClientConfig(cluster.sshConfigPath, { acceptNewHostKeys: false, connectTimeout: 10 }),
          sessionsPerConnection: 10, connectionsPerHost: 1, keepaliveInterval: 5, keepaliveCountMax: 3, concurrentHandshakes: 8, handshakesPerHost: 8,
        });
        try {
          const files = await launcher.files(host.alias);
          await putWhole(files, file, `${home}/framework.bin`);
          files.close();
        } finally {
          await launcher.close();
        }
      }, `${home}/framework.bin`),
      scp: () => rate(() => run('scp', ['-q', ...ssh, file, `${host.alias}:${home}/scp.bin`]), `${home}/scp.bin`),
      sftp: () => rate(() => run('sftp', ['-q', ...ssh, '-b', '-', host.alias], `put ${file} ${home}/sftp.bin\n`), `${home}/sftp.bin`),
    }, (name, round, value) => progress(`8 stage-in ${bytes / MB} MB, ${name} round ${round + 1}: ${value.toFixed(0)} MB/s`));
    const framework = median(results.framework);
    const rows: BenchRow[] = [];
    for (const floor of ['scp', 'sftp'] as const) {
      const other = median(results[floor]);
      rows.push({
        row: floor === 'scp' ? '8a' : '8b',
        what: `stage-in of ${bytes / MB} MB over loopback vs OpenSSH ${floor} (MB/s, higher is better)`,
        framework, floor: other, unit: 'MB/s', ratio: framework / other,
        target: 'at least 0.8 of the floor', met: framework / other >= 0.8,
        note: `framework ${spread(results.framework, 0)}, ${floor} ${spread(results[floor], 0)}`,
      });
    }
    return rows;
  } finally {
    rmSync(local, { recursive: true, force: true });
    await cluster.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchStageIn({ quick: process.argv.includes('--quick'), progress: (line) => process.stderr.write(`${line}\n`) });
  for (const row of rows) process.stdout.write(`${row.row} ${row.what}: ${row.framework.toFixed(0)} vs ${row.floor.toFixed(0)} ${row.unit}, ratio ${row.ratio.toFixed(2)} (${row.note})\n`);
}

/**
 * The import rules of support/ (.dependency-cruiser.cjs), checked by dependency-cruiser: the
 * tree as it is keeps them, and a copy of it with rules broken on purpose is refused with the
 * file and the import named.
 */
import { execFile } from 'node:child_process';
import { cpSync, appendFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { dir } from 'tmp-promise';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const depcruise = join(repo, 'node_modules', '.bin', 'depcruise');

interface CruiseOutcome {
  code: number;
  output: string;
}

async function cruise(root: string): Promise<CruiseOutcome> {
  try {
    const { stdout, stderr } = await promisify(execFile)(depcruise, ['support', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: root });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('support/ import rules (dependency-cruiser)', function () {
  this.timeout(60_000);

  it('support/ as it stands keeps every rule', async () => {
    const { code, output } = await cruise(repo);
    expect(output, output).to.match(/no dependency violations found/);
    expect(code, output).to.equal(0);
  });

  it('a rule broken on purpose fails the check, naming the rule, the file and the import', async () => {
    const copy = await dir({ unsafeCleanup: true, prefix: 'import-rules-' });
    try {
      for (const entry of ['support', 'tsconfig.json', 'package.json', '.dependency-cruiser.cjs']) {
        cpSync(join(repo, entry), join(copy.path, entry), { recursive: true });
      }
      symlinkSync(join(repo, 'node_modules'), join(copy.path, 'node_modules'));
      const breakRule = (file: string, line: string) => appendFileSync(join(copy.path, 'support', file), `\n${line}\n`);
      breakRule('node/runtime.ts', "import type { ComputeJob } from '../dispatch/compute-job.js';\nexport type Borrowed = ComputeJob;");
      breakRule('records/run-events.ts', "export { LaunchError } from '../launchers/launcher.js';");
      breakRule('launchers/local.ts', "export type { RunEvent } from '../records/run-events.js';");
      breakRule('dispatch/fifo.ts', "export { exitCodeFor } from '../cli/exit.js';");

      const { code, output } = await cruise(copy.path);
      expect(code, output).to.not.equal(0);
      expect(output).to.include('node-side-stands-alone: support/node/runtime.ts → support/dispatch/compute-job.ts');
      expect(output).to.include('records-know-no-launchers: support/records/run-events.ts → support/launchers/launcher.ts');
      expect(output).to.include('launchers-know-no-jobs: support/launchers/local.ts → support/records/run-events.ts');
      expect(output).to.include('nothing-imports-the-cli: support/dispatch/fifo.ts → support/cli/exit.ts');
    } finally {
      await copy.cleanup();
    }
  });
});

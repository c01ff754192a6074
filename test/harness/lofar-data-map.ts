/**
 * LOFAR's own data_map.py, when this machine has it, to read back the maps the framework writes.
 * Its code is not part of this repository: LOFAR_PYTHONPATH (or PYTHONPATH) names a directory from
 * which python3 imports lofarpipe.support.data_map. Without it, tests read the maps with the
 * framework's reader, which test/support/lofar/data-map.test.ts checks against maps LOFAR wrote.
 */
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';

/** The PYTHONPATH under which python3 imports LOFAR's data_map.py, or undefined when it cannot. */
export function lofarPythonPath(): string | undefined {
  const candidates = [process.env.LOFAR_PYTHONPATH, process.env.PYTHONPATH].filter((dir): dir is string => Boolean(dir));
  for (const dir of [...candidates, '']) {
    const probe = spawnSync('python3', ['-c', 'import lofarpipe.support.data_map'], { env: { ...process.env, PYTHONPATH: dir } });
    if (probe.status === 0) return dir;
  }
  return undefined;
}

const READER = `import json, sys
from lofarpipe.support.data_map import DataMap, MultiDataMap
out = {}
for path in sys.argv[1:]:
    try:
        m = DataMap.load(path)
    except Exception:
        m = MultiDataMap.load(path)
    out[path] = [[e.host, e.file, e.skip] for e in m.data]
print(json.dumps(out))
`;

/** Each map as LOFAR's DataMap.load (or MultiDataMap.load) reads it: [host, file, skip] per entry, skipped ones too. */
export function readWithLofar(pythonPath: string, paths: readonly string[]): Record<string, Array<[string, string | string[], boolean]>> {
  const read = spawnSync('python3', ['-c', READER, ...paths], { env: { ...process.env, PYTHONPATH: pythonPath }, encoding: 'utf8' });
  expect(read.status, `LOFAR's data_map.py could not read the maps: ${read.stderr}`).to.equal(0);
  return JSON.parse(read.stdout) as Record<string, Array<[string, string | string[], boolean]>>;
}

/** Says, under the test, that LOFAR's reader was not there and what read the maps instead. */
export function noteNoLofar(): void {
  process.stderr.write('      (LOFAR\'s data_map.py is not on this machine (LOFAR_PYTHONPATH): the maps were read with this framework\'s reader, which test/support/lofar/data-map.test.ts checks against maps LOFAR wrote)\n');
}

/**
 * `[remote] method = custom_cmdline` (LOFAR's cmdline template, here wrapping each job in a stand-in
 * for `docker run`), and jobs counted in cores where a host's cores are known (`[cluster] cores`).
 */
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { projectPerTest, stderrLines } from '../harness/pipeline-cli.js';

interface Report {
  name: string;
  state: string;
  outputs: { stdout?: string[] };
}

function jobsOf(stdout: string): Map<string, Report> {
  return new Map((JSON.parse(stdout) as { jobs: Report[] }).jobs.map((job) => [job.name, job]));
}

describe('custom_cmdline: each job through LOFAR\'s [remote] cmdline template', function () {
  this.timeout(60_000);
  const project = projectPerTest();

  /** A stand-in for `docker run`: records how it was called, takes -e NAME=value into the environment, runs the rest. */
  function fakeDocker(): { path: string; calls: string } {
    const { ws } = project;
    const calls = join(ws.dir, 'docker-calls.txt');
    const path = ws.write('fakedocker', `#!/bin/sh
echo "$*" >> ${calls}
[ "$1" = run ] && shift
while [ "$1" = -e ]; do export "$2"; shift 2; done
image=$1; shift
DOCKER_IMAGE=$image exec "$@"
`);
    chmodSync(path, 0o755);
    return { path, calls };
  }

  it('{docker_env}, {image}, {nr_cores}, {job_name} and {host} arrive; the job runs through the template with its exit code and outputs', async () => {
    const { ws } = project;
    const docker = fakeDocker();
    ws.writeConfig([
      'method = custom_cmdline',
      `cmdline = ${docker.path} run {docker_env} {image} env NR_CORES={nr_cores} JOB_NAME={job_name} ON_HOST={host} /bin/sh -c {command}`,
      '',
      '[docker]',
      'image = lofar/pipeline:4.0',
    ].join('\n'));
    const result = await ws.run(['run', 'faults', '--jobs', JSON.stringify([
      { name: 'wrapped', host: 'nodeA', shell: 'echo "$GREETING|$DOCKER_IMAGE|$NR_CORES|$OMP_NUM_THREADS|$JOB_NAME|$ON_HOST"', environment: { GREETING: 'hello there' }, cores: 4 },
      { name: 'three', host: 'nodeB', shell: 'exit 3' },
      { name: 'script', host: 'nodeA', node: ['exit', 0] },
    ])]);
    expect(result.code, result.stderr).to.equal(1);
    const jobs = jobsOf(result.stdout);
    expect(jobs.get('wrapped')!.outputs.stdout).to.deep.equal(['hello there|lofar/pipeline:4.0|4|4|wrapped|nodeA']);
    expect(jobs.get('three')).to.deep.include({ state: 'failed', returncode: 3 });
    expect(jobs.get('script')).to.include({ state: 'succeeded' });
    // {docker_env} carried the job's variables as -e words, one value each.
    const call = readFileSync(docker.calls, 'utf8').split('\n').find((line) => line.includes('GREETING'))!;
    expect(call).to.include('-e OMP_NUM_THREADS=4 -e GREETING=hello there lofar/pipeline:4.0 env NR_CORES=4 JOB_NAME=wrapped ON_HOST=nodeA /bin/sh -c');
  });

  it('a template that wraps the command in sh -c gets the job\'s variables from {env} in its own environment', async () => {
    const { ws } = project;
    // The template itself, before the job's command runs, says what {env} gave it.
    ws.writeConfig(['method = custom_cmdline', `cmdline = env {env} ON_HOST={host} /bin/sh -c 'echo "template sees $GREETING on $ON_HOST" >&2; exec /bin/sh -c "$0"' {command}`].join('\n'));
    const result = await ws.run(['run', 'faults', '--jobs', JSON.stringify([{ name: 'viaenv', host: 'nodeC', shell: 'echo "job sees $GREETING"', environment: { GREETING: 'good day' } }])]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/nodeC#viaenv template sees good day on nodeC/);
    expect(jobsOf(result.stdout).get('viaenv')!.outputs.stdout).to.deep.equal(['job sees good day']);
  });

  const badTemplates: Array<[string, string, RegExp]> = [
    ['an unknown placeholder', 'ssh {host} {comand}', /\[remote\] cmdline: unknown placeholder \{comand\}; expected one of \{host\}, \{command\}/],
    ['no {command}', 'ssh {host}', /\[remote\] cmdline: the template has no \{command\}/],
    ['{image} without [docker] image', 'docker run {image} {command}', /\[remote\] cmdline: \{image\} needs \[docker\] image/],
    ['a lone brace', 'sh -c {command} }', /\[remote\] cmdline: a lone \} at \d+; write \{\{ or \}\} for a brace/],
    ['a placeholder inside quotes', 'ssh {host} "{command}"', /\[remote\] cmdline: \{command\} is inside quotes; write it bare/],
  ];
  for (const [what, template, message] of badTemplates) {
    it(`refuses a template with ${what}: exit 2, one line naming the key`, async () => {
      const { ws } = project;
      ws.writeConfig(['method = custom_cmdline', `cmdline = ${template}`].join('\n'));
      const result = await ws.run(['run', 'faults', '--jobs', JSON.stringify([{ name: 'x', host: 'h', shell: 'true' }])]);
      expect(result.code).to.equal(2);
      expect(stderrLines(result)).to.have.length(1);
      expect(result.stderr).to.match(message);
    });
  }

  it('refuses method custom_cmdline without a cmdline, and names the method key', async () => {
    const { ws } = project;
    ws.writeConfig('method = custom_cmdline');
    const result = await ws.run(['run', 'faults', '--jobs', '[]']);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/\[remote\] method: custom_cmdline needs \[remote\] cmdline/);
  });
});

describe('cores: a host whose cores are known runs jobs while their cores fit', function () {
  this.timeout(60_000);
  const project = projectPerTest();

  /** The most jobs that ran at once, from each job's start and end times (recorded by the job itself). */
  function mostAtOnce(lines: string[]): number {
    const events = lines.flatMap((line) => {
      const [start, end] = line.split(' ').map(Number);
      return [[start!, 1], [end!, -1]] as const;
    }).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let most = 0;
    for (const [, step] of events) most = Math.max(most, (now += step));
    return most;
  }

  for (const [cores, expected] of [[4, 1], [1, 4]] as const) {
    it(`${cores}-core jobs on a 4-core host run ${expected} at a time`, async () => {
      const { ws } = project;
      // --max-per-node 0 below: no count of jobs, the cores alone limit them.
      ws.writeConfig(['method = local', '', '[cluster]', 'cores = 4'].join('\n'));
      // Each job holds 0.4 s and reports when it ran (milliseconds), and the OMP_NUM_THREADS it got.
      const shell = 'a=$(date +%s%3N); sleep 0.4; b=$(date +%s%3N); echo "$a $b $OMP_NUM_THREADS"';
      const specs = Array.from({ length: 8 }, (_, i) => ({ name: `j${i}`, host: 'node1', shell, cores }));
      const result = await ws.run(['run', 'faults', '--jobs', JSON.stringify(specs), '--max-per-node', '0']);
      expect(result.code, result.stderr).to.equal(0);
      const lines = [...jobsOf(result.stdout).values()].map((job) => job.outputs.stdout![0]!);
      expect(lines.map((line) => line.split(' ')[2])).to.deep.equal(Array(8).fill(String(cores)));
      expect(mostAtOnce(lines)).to.equal(expected);
    });
  }
});

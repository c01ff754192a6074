import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeJob, NodeScript } from '../../../support/dispatch/compute-job.js';
import { buildCommand, environmentBlock, newJobMark, processGroupGuard, splitEnvironment, type CommandPlacement } from '../../../support/dispatch/launch-command.js';
import { shellQuote } from '../../../support/protocol/shell-words.js';
import { livingMembers, signalGroup } from '../../../support/protocol/process-group.js';

/** Runs a command string the way the launchers do: `/bin/sh -c`. */
function sh(command: string, input?: string): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', input: input ?? '', timeout: 20_000 });
  if (result.error) throw result.error;
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

const NASTY = [
  '',
  'plain',
  'two words',
  "it's",
  "''",
  "'",
  '"double quoted"',
  '$(echo pwned)',
  '`echo pwned`',
  '${HOME}',
  '$HOME',
  'line one\nline two',
  '\n',
  'tab\there',
  'héllo wörld ✓ 日本語 😀',
  'a;b && c || d | e > f < g',
  '*',
  '~',
  '~/x',
  '#not a comment',
  '!event',
  '\\backslash\\',
  ' leading and trailing ',
  '-n',
  '--help',
  'a=b',
  '%s %d',
  "mixed 'single' and \"double\" and $(cmd) and `cmd`",
];

describe('support/dispatch/launch-command', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'launch-command-test-'));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('shellQuote', () => {
    for (const value of NASTY) {
      it(`round-trips ${JSON.stringify(value)} through /bin/sh`, () => {
        const result = sh(`printf %s ${shellQuote(value)}`);
        expect(result.status).to.equal(0);
        expect(result.stdout).to.equal(value);
      });
    }

    it('passes a nasty string as exactly one word', () => {
      for (const value of NASTY) {
        const result = sh(`printf '%s|' ${shellQuote(value)} ${shellQuote(value)}`);
        expect(result.stdout, JSON.stringify(value)).to.equal(`${value}|${value}|`);
      }
    });

    it('leaves safe words unquoted and quotes the empty string', () => {
      expect(shellQuote('abc-1.2_x/y:z@h,p=q%+')).to.equal('abc-1.2_x/y:z@h,p=q%+');
      expect(shellQuote('')).to.equal("''");
      expect(shellQuote('a b')).to.equal("'a b'");
    });
  });

  describe('buildCommand for a node script', () => {
    const script = new NodeScript('/opt/pipeline/dist/nodes/greet.js', 'greet');
    const placement: CommandPlacement = {
      environment: { PATH: '/opt/pipe line/bin:/usr/bin', PIPELINE_ROOT: '/opt/pipe line', SHARED: 'from-placement' },
      nodeExecutable: '/usr/local/bin/node',
      scriptPath: (path) => '/remote' + path,
    };

    it('moves stdout aside, puts only the search paths on the command line and runs node on the mapped script path', () => {
      const job = new ComputeJob('lce001', script, ['secret-argument', { token: 'hunter2' }, 42], { environment: { JOB_VAR: 'x y', SHARED: 'from-job' } });
      const command = buildCommand(job, placement);
      expect(command).to.include('exec 3>&1 1>&2');
      expect(command).to.include("PATH='/opt/pipe line/bin:/usr/bin'");
      for (const hidden of ['PIPELINE_ROOT', 'JOB_VAR', 'x y', 'SHARED', 'from-job', 'from-placement']) expect(command).not.to.include(hidden);
      // the rest travels in the start message, the job's own winning
      expect(splitEnvironment(job, placement).stdin).to.deep.equal({ PIPELINE_ROOT: '/opt/pipe line', SHARED: 'from-job', JOB_VAR: 'x y' });
      expect(command).to.include('/usr/local/bin/node /remote/opt/pipeline/dist/nodes/greet.js');
      expect(command.indexOf('exec 3>&1 1>&2')).to.be.lessThan(command.indexOf('/usr/local/bin/node'));
    });

    it('never puts the arguments on the command line', () => {
      const job = new ComputeJob('lce001', script, ['secret-argument', { token: 'hunter2' }, 424242]);
      const command = buildCommand(job, placement);
      expect(command).not.to.include('secret-argument');
      expect(command).not.to.include('hunter2');
      expect(command).not.to.include('424242');
    });

    it('leaves out env when there is no environment', () => {
      const job = new ComputeJob('h', script, []);
      const command = buildCommand(job, { ...placement, environment: {} });
      expect(command).not.to.match(/\benv\b/);
      expect(command).to.include('exec /usr/local/bin/node /remote/opt/pipeline/dist/nodes/greet.js');
    });

    it('when run, sends fd 3 to the channel stdout and the script\'s own stdout to stderr, with the environment set', () => {
      // A stand-in for node: /bin/sh running a script that writes to fd 3 and to stdout.
      const fake = join(dir, 'fake node.sh');
      writeFileSync(fake, [
        'echo "message on fd 3" >&3',
        'echo "stray print on stdout"',
        'echo "stderr line" >&2',
        'echo "env=$PYTHONPATH|$JOB_VAR" >&3',
        'read first; echo "stdin=$first" >&3',
        'exit 5',
      ].join('\n'));
      const job = new ComputeJob('h', new NodeScript(fake, 'fake'), ['not-on-the-command-line'], { environment: { JOB_VAR: "it's" } });
      const command = buildCommand(job, { environment: { PYTHONPATH: '/opt/pipe line' }, nodeExecutable: '/bin/sh', scriptPath: (p) => p });
      const result = sh(command, '{"start":true}\n');
      // JOB_VAR is in the start message, which the real runtime applies before run()
      expect(result.stdout).to.equal(`message on fd 3\nenv=/opt/pipe line|\nstdin={"start":true}\n`);
      expect(result.stderr).to.equal('stray print on stdout\nstderr line\n');
      expect(result.status).to.equal(5);
    });

    it('creates and enters the working directory first', () => {
      const work = join(dir, "work dir's", 'deeper');
      const fake = join(dir, 'pwd.sh');
      writeFileSync(fake, 'pwd >&3\n');
      const job = new ComputeJob('h', new NodeScript(fake, 'pwd'), []);
      const result = sh(buildCommand(job, { workingDirectory: work, environment: {}, nodeExecutable: '/bin/sh', scriptPath: (p) => p }));
      expect(result.status).to.equal(0);
      expect(result.stdout).to.equal(work + '\n');
      expect(existsSync(work)).to.equal(true);
    });

    it('takes a ~ in the working directory as the home of the user the job runs as (HOME on the host)', () => {
      const home = join(dir, "a user's home");
      const fake = join(dir, 'pwd-home.sh');
      writeFileSync(fake, 'pwd >&3\n');
      const job = new ComputeJob('h', new NodeScript(fake, 'pwd'), []);
      const command = buildCommand(job, { workingDirectory: '~/work dir', environment: {}, nodeExecutable: '/bin/sh', scriptPath: (p) => p });
      const result = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', input: '', env: { ...process.env, HOME: home } });
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.equal(join(home, 'work dir') + '\n');
    });

    it('exits 126 when the working directory cannot be made', () => {
      const blocker = join(dir, 'a-file');
      writeFileSync(blocker, '');
      const fake = join(dir, 'never.sh');
      writeFileSync(fake, 'echo ran >&3\n');
      const job = new ComputeJob('h', new NodeScript(fake, 'never'), []);
      const result = sh(buildCommand(job, { workingDirectory: join(blocker, 'sub'), environment: {}, nodeExecutable: '/bin/sh', scriptPath: (p) => p }));
      expect(result.status).to.equal(126);
      expect(result.stdout).to.equal('');
    });

    it('exits 127 when the node executable does not exist', () => {
      const job = new ComputeJob('h', new NodeScript('/x.js', 'x'), []);
      const result = sh(buildCommand(job, { environment: {}, nodeExecutable: join(dir, 'no-such-node'), scriptPath: (p) => p }));
      expect(result.status).to.equal(127);
    });
  });

  describe('buildCommand for a plain command', () => {
    const placement: CommandPlacement = { environment: {}, nodeExecutable: process.execPath, scriptPath: (p) => p };

    it('appends the arguments quoted, each as one word', () => {
      const args = ["it's", '$(echo pwned)', '`id`', 'two words', 'line\nbreak', 'héllo ✓', ''];
      const job = new ComputeJob('h', "printf '<%s>\\n'", args);
      const result = sh(buildCommand(job, placement));
      expect(result.status).to.equal(0);
      expect(result.stdout).to.equal(args.map((arg) => `<${arg}>\n`).join(''));
    });

    it('passes JSON values other than strings as their JSON text', () => {
      const job = new ComputeJob('h', "printf '<%s>'", [3, true, null, { a: 'b c' }, [1, 'x']]);
      expect(sh(buildCommand(job, placement)).stdout).to.equal('<3><true><null><{"a":"b c"}><[1,"x"]>');
    });

    it('runs the command text itself as shell code', () => {
      const job = new ComputeJob('h', 'echo one; echo two >&2; exit 3', []);
      const command = buildCommand(job, placement);
      expect(command).not.to.include('exec 3>&1');
      const result = sh(command);
      expect(result.stdout).to.equal('one\n');
      expect(result.stderr).to.equal('two\n');
      expect(result.status).to.equal(3);
    });

    it('exports the environment it reads from stdin, the job\'s variables winning, none of it on the command line', () => {
      const job = new ComputeJob('h', 'printf "%s|%s" "$A" "$B"; sh -c \'printf "|%s" "$A"\'', [], { environment: { B: "job's $(value)" } });
      const withEnvironment = { ...placement, environment: { A: 'from placement', B: 'overridden' } };
      const mark = newJobMark();
      const command = buildCommand(job, withEnvironment, { mark });
      expect(command).not.to.include('from placement');
      const result = sh(command, environmentBlock(splitEnvironment(job, withEnvironment).stdin, mark));
      expect(result.stdout).to.equal("from placement|job's $(value)|from placement");
    });

    it('runs in the working directory, creating it', () => {
      const work = join(dir, 'plain work');
      const job = new ComputeJob('h', 'pwd', []);
      const result = sh(buildCommand(job, { ...placement, workingDirectory: work }));
      expect(result.stdout).to.equal(work + '\n');
    });

    it('runs an executable with a quoted path', () => {
      const exe = join(dir, 'my tool.sh');
      writeFileSync(exe, '#!/bin/sh\nprintf "[%s]" "$@"\n');
      chmodSync(exe, 0o755);
      const job = new ComputeJob('h', shellQuote(exe), ['a b', 'c']);
      let result = sh(buildCommand(job, placement));
      // A file just written can be "busy" to exec for a moment while a process forked meanwhile still holds it open (ETXTBSY).
      if (/Text file busy/.test(result.stderr)) result = sh(buildCommand(job, placement));
      expect(result.stdout, result.stderr).to.equal('[a b][c]');
    });
  });

  describe('the process-group guard of a plain command', () => {
    const placement: CommandPlacement = { environment: {}, nodeExecutable: process.execPath, scriptPath: (p) => p };
    const started: ChildProcess[] = [];
    afterEach(() => {
      for (const child of started.splice(0)) if (child.pid) signalGroup(child.pid, 'SIGKILL');
    });

    /** Starts a command the way the launchers do: its own process group, stdin a pipe kept open. */
    function launch(command: string): { child: ChildProcess; stdout: () => string; exited: Promise<[number | null, string | null]> } {
      const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
      started.push(child);
      let stdout = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
      return { child, stdout: () => stdout, exited };
    }

    async function until(condition: () => boolean, ms: number): Promise<boolean> {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (condition()) return true;
      return condition();
    }

    for (const [label, text] of [['an exit code', 'exit 3'], ['a signal', 'kill -USR1 $$'], ['a last command killed by a signal', 'true; sh -c "kill -KILL \\$\\$"'], ['success', 'echo ok']] as const) {
      it(`keeps ${label} exactly as sh -c reports it`, async () => {
        const guarded = launch(buildCommand(new ComputeJob('h', text, []), placement));
        const bare = launch(text);
        bare.child.stdin!.end();
        expect(await guarded.exited).to.deep.equal(await bare.exited);
        guarded.child.stdin!.end();
      });
    }

    it("does not make the command's own `wait` wait for the guard", async () => {
      const { exited, stdout, child } = launch(buildCommand(new ComputeJob('h', '(sleep 0.2; echo child) & wait; echo waited', []), placement));
      expect(await exited).to.deep.equal([0, null]);
      expect(stdout()).to.equal('child\nwaited\n');
      child.stdin!.end();
    });

    it('stops the whole group, TERM-proof members included, within the grace once stdin closes', async () => {
      const job = new ComputeJob('h', "trap '' TERM; sleep 300 & sleep 301 & echo ready; wait", []);
      const { child, stdout, exited } = launch(buildCommand(job, placement));
      expect(await until(() => stdout() === 'ready\n', 5000)).to.equal(true);
      const closedAt = Date.now();
      child.stdin!.end();
      expect(await until(() => livingMembers(child.pid!).length === 0, 5000)).to.equal(true);
      expect(Date.now() - closedAt).to.be.below(4500);
      expect((await exited)[1]).to.equal('SIGKILL');
    });

    it('stops a command that honours TERM at once', async () => {
      const { child, stdout, exited } = launch(buildCommand(new ComputeJob('h', 'echo ready; sleep 300', []), placement));
      expect(await until(() => stdout() === 'ready\n', 5000)).to.equal(true);
      child.stdin!.end();
      expect(await exited).to.deep.equal([null, 'SIGTERM']);
      expect(await until(() => livingMembers(child.pid!).length === 0, 3000)).to.equal(true);
    });

    it('clears away what a finished command left running when stdin closes', async () => {
      const { child, stdout, exited } = launch(buildCommand(new ComputeJob('h', 'sleep 300 >/dev/null 2>&1 & echo $!', []), placement));
      expect(await exited).to.deep.equal([0, null]);
      const leftover = Number(stdout().trim());
      expect(() => process.kill(leftover, 0)).not.to.throw();
      child.stdin!.end();
      expect(await until(() => livingMembers(child.pid!).length === 0, 4000)).to.equal(true);
    });

    it('takes values of several lines and quotes from stdin, and leaves the rest of stdin to the guard', async () => {
      const mark = newJobMark();
      const tricky = `line one\nline two\n'quoted' "double" $(not run) \\`;
      const job = new ComputeJob('h', 'printf "%s" "$SECRET"', [], { environment: { SECRET: tricky } });
      const command = buildCommand(job, placement, { mark });
      expect(command).not.to.include('quoted');
      const { child, stdout, exited } = launch(command);
      child.stdin!.write(environmentBlock(splitEnvironment(job, placement).stdin, mark));
      expect(await exited).to.deep.equal([0, null]);
      expect(stdout()).to.equal(tricky);
      child.stdin!.end();
    });

    it('scales its polling to the grace it is given', () => {
      expect(processGroupGuard('m', 500)).to.include('-lt 5 ]');
      expect(processGroupGuard('m', 50)).to.include('-lt 1 ]');
    });
  });
});

/**
 * The Python node runtime (support/node/python/lofarpipe_node.py) against the wire protocol: the
 * scripts under test/fixtures/python run in python3 with the fds the launch command gives a node
 * script (stdin a pipe the master keeps open, fd 3 the message channel, stdout and stderr), in a
 * process group of their own as sshd and the local launcher start them, and every message they
 * send must pass the master's own decoder.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { newJobMark } from '../../../support/dispatch/launch-command.js';
import {
  cutText, decodeNodeMessage, encodeMessage, MAX_LOG_MESSAGE_BYTES, PROTOCOL_VERSION,
  type JsonValue, type LogLevel, type LogMessage, type NodeMessage, type StartMessage,
} from '../../../support/protocol/messages.js';
import type { JobUsage } from '../../../support/protocol/job-usage.js';
import { JOB_MARK_VARIABLE, markedProcesses } from '../../../support/protocol/process-group.js';
import { isAlive, waitFor } from '../../harness/local-processes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'python');
const moduleDir = join(root, 'support', 'node', 'python');
const PYTHON = 'python3';

interface Running {
  child: ChildProcess;
  mark: string;
  /** Every line of fd 3, decoded as the master decodes it (a malformed line throws); the usage of a result or exception taken out into `usages`. */
  messages: NodeMessage[];
  usages: JobUsage[];
  stdout: () => string;
  stderr: () => string;
  /** Exit status, once the process has exited and its fds are drained; the master then closes stdin. */
  finished: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Running[] = [];

/** Starts a fixture the way a launcher starts a node script; sends `start` (a message, or raw text) unless null. */
function launch(script: string, start: StartMessage | string | null): Running {
  const mark = newJobMark();
  const child = spawn(PYTHON, [join(fixtures, script)], {
    detached: true, // its own process group, as sshd and the local launcher start a job
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONPATH: moduleDir, [JOB_MARK_VARIABLE]: mark },
  });
  const messages: NodeMessage[] = [];
  const usages: JobUsage[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  const channel = child.stdio[3] as Readable;
  channel.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const message = decodeNodeMessage(line);
      if ((message.type === 'result' || message.type === 'exception') && message.usage) {
        usages.push(message.usage);
        delete message.usage;
      }
      messages.push(message);
    }
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.on('error', () => {}); // the runtime may exit before reading all of a large start line
  // A child left running holds stdout and stderr open: wait for their end a little, not for ever.
  const ended = (stream: Readable) => Promise.race([once(stream, 'end'), new Promise((r) => setTimeout(r, 3000).unref())]);
  const finished = Promise.all([once(child, 'exit'), ended(channel), ended(child.stdout!), ended(child.stderr!)]).then(([[code, signal]]) => {
    child.stdin!.end();
    expect(partial, 'a message line without its newline').to.equal('');
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  if (start !== null) child.stdin!.write(typeof start === 'string' ? start : encodeMessage(start));
  const running = { child, mark, messages, usages, stdout: () => stdout, stderr: () => stderr, finished };
  started.push(running);
  return running;
}

function startMessage(job: string, args: JsonValue[], extra: { logLevel?: LogLevel; env?: Record<string, string> } = {}): StartMessage {
  return { v: PROTOCOL_VERSION, type: 'start', job, args, logLevel: extra.logLevel ?? 'debug', ...(extra.env ? { env: extra.env } : {}) };
}

const logs = (run: Running): LogMessage[] => run.messages.filter((m): m is LogMessage => m.type === 'log');

describe('support/node/python: the Python node runtime', function () {
  before(function () {
    const probe = spawnSync(PYTHON, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      console.log(`    skipped: ${PYTHON} is not available (${probe.error?.message ?? probe.stderr})`);
      this.skip();
    }
  });

  afterEach(() => {
    for (const run of started.splice(0)) {
      for (const pid of [run.child.pid!, ...markedProcesses(run.mark, [])]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      run.child.stdin!.destroy();
    }
  });

  it('passes arguments byte for byte: quotes, unicode, nested JSON, a lone surrogate, 1 MB', async () => {
    const large = 'λ'.repeat(300_000) + 'x'.repeat(400_000); // 1 MB of UTF-8
    const args: JsonValue[] = [
      '', "it's", '"double" and \\back\\slash', '$(echo pwned) `id` ${HOME}', 'line one\nline two\r\n\ttab', '\u0000nul',
      'héllo wörld ✓ 日本語 😀', '\u2028\u2029', 'lone \ud800 surrogate',
      { nested: { list: [1, 2.5, -3e30, true, false, null, 'x'], empty: {}, 'key with "quotes"': ['🎉'] } },
      [], 0, -1, 123456789012, null, true,
      large,
    ];
    const run = launch('echo_args.py', startMessage('job-args', args));
    const { code, signal } = await run.finished;
    expect([code, signal], run.stderr()).to.deep.equal([0, null]);
    const outputs = run.messages.find((m) => m.type === 'outputs');
    expect(outputs).to.not.equal(undefined);
    expect((outputs as { outputs: Record<string, JsonValue> }).outputs.args).to.deep.equal(args);
    expect(run.messages.at(-1)).to.deep.equal({ type: 'result', job: 'job-args', returncode: 0 });
  });

  it('sets the start message\'s env before run(), gives the job id, and keeps print() off the message channel', async () => {
    const tricky = "line one\nline two 'quoted' \"double\" $(not run) é";
    const run = launch('echo_args.py', startMessage('job-env', [], { env: { JOB_SECRET: 'hunter2', JOB_TRICKY: tricky } }));
    expect((await run.finished).code).to.equal(0);
    const outputs = run.messages.find((m) => m.type === 'outputs') as { outputs: Record<string, JsonValue> };
    expect(outputs.outputs.env).to.deep.equal({ JOB_SECRET: 'hunter2', JOB_TRICKY: tricky });
    expect(outputs.outputs.job_id).to.equal('job-env');
    expect(run.stdout()).to.equal('printed on stdout\n'); // fd 1, which the launch command points at stderr
  });

  it('sends each log level with its level and metadata, outputs, then the result; return 3 exits 3', async () => {
    const run = launch('log_levels.py', startMessage('job-levels', ['short']));
    expect(await run.finished).to.deep.equal({ code: 3, signal: null });
    const records = logs(run).map((m) => [m.level, m.message.split('\n')[0]]);
    expect(records).to.deep.equal([
      ['debug', 'a debug record'],
      ['verbose', 'a verbose record'],
      ['info', 'an info record with arguments'],
      ['warn', 'a warning record'],
      ['error', 'an error record'],
      ['error', 'a critical record'],
      ['error', 'a caught exception'],
      ['warn', 'a library warning'],
      ['info', 'short'],
    ]);
    expect(logs(run)[2]!.meta).to.deep.equal({ file: 'x.ms', n: 2 });
    expect(logs(run)[6]!.message).to.match(/Traceback[\s\S]*KeyError: 'missing'$/);
    for (const message of run.messages) expect(message.job).to.equal('job-levels');
    expect(run.messages.slice(-2)).to.deep.equal([
      { type: 'outputs', job: 'job-levels', outputs: { done: true } },
      { type: 'result', job: 'job-levels', returncode: 3 },
    ]);
  });

  it('drops records finer than the start message\'s logLevel at the source', async () => {
    const run = launch('log_levels.py', startMessage('job-warn', ['short'], { logLevel: 'warn' }));
    expect((await run.finished).code).to.equal(3);
    expect(logs(run).map((m) => m.level)).to.deep.equal(['warn', 'error', 'error', 'error', 'warn']);
  });

  it('cuts a log message over 64 KiB on a character boundary and marks the bytes cut, as the TS runtime does', async () => {
    const long = 'xy' + '日'.repeat(40_000) + 'é'.repeat(1000);
    const expected = cutText(long, MAX_LOG_MESSAGE_BYTES);
    expect(expected.cut).to.be.above(0);
    const run = launch('log_levels.py', startMessage('job-long', [long]));
    expect((await run.finished).code).to.equal(3);
    const record = logs(run).at(-1)!;
    expect(record.message).to.equal(expected.text);
    expect(record.cut).to.equal(expected.cut);
    expect(Buffer.byteLength(record.message)).to.be.at.most(MAX_LOG_MESSAGE_BYTES);
    expect(logs(run).slice(0, -1).every((m) => m.cut === undefined)).to.equal(true);
  });

  it('reports an exception with its traceback naming the script\'s line, and exits 1', async () => {
    const script = join(fixtures, 'raises.py');
    const line = readFileSync(script, 'utf8').split('\n').findIndex((text) => text.includes('the line the stack must name')) + 1;
    const run = launch('raises.py', startMessage('job-raise', [42]));
    expect(await run.finished).to.deep.equal({ code: 1, signal: null });
    const exception = run.messages.find((m) => m.type === 'exception');
    expect(exception).to.deep.include({ type: 'exception', job: 'job-raise', name: 'ValueError', message: 'bad value 42' });
    const stack = (exception as { stack?: string }).stack!;
    expect(stack).to.include(`File "${script}", line ${line}, in check`);
    expect(stack).to.match(/ValueError: bad value 42$/);
    expect(stack).not.to.include('lofarpipe_node.py'); // the stack starts in the script
    expect(run.messages.some((m) => m.type === 'result')).to.equal(false);
  });

  it('runs a LOFAR script ported with LOFARnodeTCP and sys.exit(...run_with_stored_arguments())', async () => {
    const run = launch('lofar_port.py', startMessage('job-lofar', ['in.MS', 'out.MS', 'NDPPP.parset']));
    expect((await run.finished).code).to.equal(0);
    expect(run.messages).to.deep.equal([
      { type: 'log', job: 'job-lofar', level: 'info', message: 'Processing in.MS' },
      { type: 'outputs', job: 'job-lofar', outputs: { ok: ['in.MS', 'out.MS', 'NDPPP.parset'] } },
      { type: 'result', job: 'job-lofar', returncode: 0 },
    ]);
  });

  it('sends the job\'s CPU and peak memory with its result: of a child it waited for, and of memory it held', async () => {
    const run = launch('usage.py', startMessage('job-usage', []));
    expect((await run.finished).code, run.stderr()).to.equal(0);
    expect(run.messages.at(-1)).to.deep.equal({ type: 'result', job: 'job-usage', returncode: 0 });
    expect(run.usages).to.have.length(1);
    const usage = run.usages[0]!;
    expect(usage.userSeconds + usage.systemSeconds).to.be.at.least(0.9).and.below(2);
    // The peak adds up resident sets: while subprocess forks, the child's copy of the 64 MiB (shared pages) counts again.
    // Measured 150 to 258 MiB; the bound says it is that job's memory, not a whole machine's.
    expect(usage.peakRssBytes).to.be.at.least(64 * 1024 * 1024).and.below(384 * 1024 * 1024);
  });

  it('refuses a start message of another protocol version with a ProtocolError, exit 1', async () => {
    const run = launch('echo_args.py', JSON.stringify({ v: 99, type: 'start', job: 'j', args: [], logLevel: 'info' }) + '\n');
    expect((await run.finished).code).to.equal(1);
    expect(run.messages).to.have.length(1);
    expect(run.messages[0]).to.deep.include({ type: 'exception', name: 'ProtocolError' });
    expect((run.messages[0] as { message: string }).message).to.include('protocol version 99');
  });

  it('exits 2 with a note when started without the message channel', () => {
    const result = spawnSync(PYTHON, [join(fixtures, 'echo_args.py')], { input: '', encoding: 'utf8', env: { ...process.env, PYTHONPATH: moduleDir } });
    expect(result.status).to.equal(2);
    expect(result.stderr).to.include('started by the pipeline master');
  });

  /** Starts sleeper.py and waits until its children run: the node, 3 children and a grandchild, all marked. */
  async function sleeperRunning(then: 'sleep' | 'return'): Promise<{ run: Running; marked: number[] }> {
    const run = launch('sleeper.py', startMessage(`job-${then}`, [then]));
    expect(await waitFor(() => logs(run).some((m) => m.message === 'pids'), 10_000), run.stderr()).to.equal(true);
    const pids = logs(run).find((m) => m.message === 'pids')!.meta!.pids as number[];
    expect(await waitFor(() => markedProcesses(run.mark, []).length >= 5, 5000), 'node, 3 children, the grandchild').to.equal(true);
    const marked = markedProcesses(run.mark, []);
    expect(marked).to.include.members([run.child.pid!, ...pids]);
    for (const pid of marked) expect(isAlive(pid), `pid ${pid}`).to.equal(true);
    return { run, marked };
  }

  async function expectAllGone(run: Running, marked: number[], since: number): Promise<void> {
    expect(await waitFor(() => marked.every((pid) => !isAlive(pid)), 5000), 'every process of the job gone').to.equal(true);
    expect(Date.now() - since).to.be.below(5000);
    expect(markedProcesses(run.mark, []).filter(isAlive)).to.deep.equal([]);
  }

  it('when stdin closes mid-run, stops its group and every marked process, TERM-proof ones included, within the grace, and exits 137', async () => {
    const { run, marked } = await sleeperRunning('sleep');
    const closedAt = Date.now();
    run.child.stdin!.end();
    expect(await run.finished).to.deep.equal({ code: 137, signal: null });
    await expectAllGone(run, marked, closedAt);
  });

  it('on TERM (a cancelled job), stops every marked process, then ends by TERM', async () => {
    const { run, marked } = await sleeperRunning('sleep');
    const signalledAt = Date.now();
    run.child.kill('SIGTERM');
    expect(await run.finished).to.deep.equal({ code: null, signal: 'SIGTERM' });
    await expectAllGone(run, marked, signalledAt);
  });

  it('after a normal end, leaves no process of the job running and keeps the return code', async () => {
    const { run, marked } = await sleeperRunning('return');
    expect(await run.finished).to.deep.equal({ code: 0, signal: null });
    expect(run.messages.at(-1)).to.deep.equal({ type: 'result', job: 'job-return', returncode: 0 });
    await expectAllGone(run, marked, Date.now());
  });
});

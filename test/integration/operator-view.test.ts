import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { shellQuote } from '../../support/protocol/shell-words.js';
import { cliPath, projectPerTest } from '../harness/pipeline-cli.js';
import { startSshPipeline, type SshPipeline } from '../harness/ssh-pipeline.js';

/** Runs a command under a pseudo-terminal (util-linux `script`); resolves with everything the terminal showed. */
function onTerminal(command: string[], cwd: string): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-q', '-e', '-c', command.map(shellQuote).join(' '), '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (screen += d));
    child.on('close', (code) => resolve({ code, screen }));
  });
}

const STATUS_LINE = /\d+ jobs: \d+ succeeded \/ \d+ running \/ \d+ failed \/ \d+ queued · \d+:\d\d elapsed/;

describe("the operator's view: --json, the status line, status, logs, jobs", function () {
  this.timeout(120_000);
  const project = projectPerTest();

  it('--json writes NDJSON events with the documented fields to stdout, the human log to stderr, no status line', async () => {
    const result = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '3', '--json']);
    expect(result.code, result.stderr).to.equal(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events[0]).to.include({ type: 'run-started', v: 1, jobName: 'markers', recipe: 'markers', fresh: false, pid: events[0]!.pid });
    expect(events[0]).to.have.all.keys('type', 'v', 'time', 'run', 'jobName', 'recipe', 'recipePath', 'inputs', 'inputsHash', 'hosts', 'pid', 'controlHost', 'fresh', 'logFile', 'configFile');
    expect(events[0]!.configFile).to.equal(project.ws.configPath);
    expect(events.at(-1)).to.include({ type: 'run-ended', returncode: 0, interrupted: null });
    expect(events.at(-1)!.outputs).to.have.property('results');
    const byType = (type: string) => events.filter((event) => event.type === type);
    expect(byType('job-queued')).to.have.length(3);
    expect(byType('job-queued')[0]).to.have.all.keys('type', 'time', 'run', 'job', 'key', 'host');
    expect(byType('job-started')).to.have.length(3);
    expect(byType('job-started')[0]).to.have.all.keys('type', 'time', 'run', 'job', 'key', 'host', 'attempt', 'command', 'args');
    expect(byType('job-started')[0]).to.include({ attempt: 1, host: 'localhost' });
    const ended = byType('job-ended');
    expect(ended).to.have.length(3);
    expect(ended[0]).to.include({ state: 'succeeded', returncode: 0, signal: null, retries: 0, host: 'localhost' });
    expect(ended[0]).to.include.all.keys('time', 'run', 'job', 'key', 'duration', 'outputs');
    for (const event of events) expect(event.run).to.equal(events[0]!.run);
    // each job is queued, then started, then ended
    for (const job of ['m1', 'm2', 'm3']) {
      const order = events.filter((event) => event.job === job).map((event) => event.type);
      expect(order, job).to.deep.equal(['job-queued', 'job-started', 'job-ended']);
    }
    expect(result.stderr).to.include('recipe markers completed');
    expect(result.stderr).not.to.match(STATUS_LINE);
    expect(result.stderr).not.to.include('\x1b[K');
  });

  it('draws the status line on a terminal and never when stdout is not one', async () => {
    const args = ['run', 'markers', '--markers', project.markers, '--count', '8', '--delay', '0.3', '--max-per-node', '2', '--config', project.ws.configPath];
    const terminal = await onTerminal([process.execPath, cliPath, ...args], project.ws.dir);
    expect(terminal.code, terminal.screen).to.equal(0);
    expect(terminal.screen).to.match(STATUS_LINE);
    expect(terminal.screen).to.include('\r\x1b[K');
    expect(terminal.screen).to.include('summary: 8 jobs: 8 succeeded');

    const piped = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '8', '--delay', '0.3', '--max-per-node', '2', '--fresh']);
    expect(piped.code, piped.stderr).to.equal(0);
    expect(piped.stderr).not.to.match(STATUS_LINE);
    expect(piped.stderr + piped.stdout).not.to.include('\x1b[K');
  });

  it('status, logs and jobs show what the records hold', async () => {
    const run = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '3']);
    expect(run.code, run.stderr).to.equal(0);
    const second = await project.ws.run(['run', 'greet', '--names', 'x', '--job-name', 'second']);
    expect(second.code, second.stderr).to.equal(0);

    const status = await project.ws.run(['status', 'markers']);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(/^job markers: succeeded in \d+:\d\d \(recipe markers, run \S+\)\n3 jobs: 3 succeeded\n/);
    expect(status.stdout).to.match(/\n {2}localhost +3 +3 +0 +[\d.]+ s\n/);

    const newest = await project.ws.run(['status']);
    expect(newest.stdout).to.match(/^job second: /);

    const jobs = await project.ws.run(['jobs']);
    expect(jobs.code).to.equal(0);
    const lines = jobs.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^job +status +recipe +started +jobs +failed$/);
    expect(lines[1]).to.match(/^second +\S+ +greet /);
    expect(lines[2]).to.match(/^markers +succeeded +markers +\S+ +3 +0$/);

    const log = await project.ws.run(['logs', 'markers']);
    expect(log.code).to.equal(0);
    expect(log.stdout).to.include('recipe markers completed');
    const jobLog = await project.ws.run(['logs', 'markers', '--job', 'm2']);
    expect(jobLog.code, jobLog.stderr).to.equal(0);
    expect(jobLog.stdout).to.match(/INFO +localhost#m2 job 2 output/);
    expect(jobLog.stdout).not.to.include('job 1 output');
    const dir = join(project.ws.jobDirectory('markers'), 'jobs', 'm2');
    for (const file of ['command.sh', 'job.log', 'result.json', 'exit_status']) expect(existsSync(join(dir, file)), file).to.equal(true);
    expect(existsSync(join(dir, 'args.json')), 'args.json of a job without arguments').to.equal(false);
    expect(readFileSync(join(dir, 'exit_status'), 'utf8')).to.equal('0\n');
    expect(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'))).to.include({ state: 'succeeded', job: 'm2' });

    const missing = await project.ws.run(['status', 'nosuchjob']);
    expect(missing.code).to.equal(2);
    expect(missing.stderr.trim()).to.match(/^pipeline: no run named nosuchjob: .* does not exist \(pipeline jobs lists the runs\)$/);
  });

  it('logs --follow prints the log as it grows and ends with the run', async () => {
    const first = await project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '1']);
    expect(first.code, first.stderr).to.equal(0);
    const running = project.ws.run(['run', 'markers', '--markers', project.markers, '--count', '6', '--delay', '0.4', '--max-per-node', '1', '--fresh']);
    // wait until the new run is recorded, then follow it
    const journal = join(project.ws.jobDirectory('markers'), 'journal.ndjson');
    while (readFileSync(journal, 'utf8').split('\n').filter((line) => line.includes('"run-started"')).length < 2) await new Promise((r) => setTimeout(r, 50));
    const follow = await project.ws.run(['logs', 'markers', '--follow']);
    const run = await running;
    expect(run.code, run.stderr).to.equal(0);
    expect(follow.code, follow.stderr).to.equal(0);
    expect(follow.stdout).to.include('localhost#m6 job 6 output');
    expect(follow.stdout).to.include('recipe markers completed');
  });

  describe('--dry-run against real sshd hosts', () => {
    let p: SshPipeline;
    before(async () => {
      p = await startSshPipeline({ hosts: 3 });
    });
    after(async () => {
      await p?.stop();
    });

    it('prints every job with its host, command, arguments, environment and working directory, and starts nothing anywhere', async () => {
      const sshdLogs = () => p.cluster.hosts.map((host) => readFileSync(host.logPath, 'utf8'));
      const before = sshdLogs();
      const result = await p.ws.run(['run', 'where', '--dry-run', '--per-host', '2']);
      expect(result.code, result.stderr).to.equal(0);
      const printed = result.stdout.split('\n').filter((line) => line.startsWith('dry-run: job'));
      expect(printed).to.have.length(6);
      for (const host of ['node1', 'node2', 'node3']) expect(printed.filter((line) => line.includes(` on ${host}: `))).to.have.length(2);
      expect(result.stdout).to.match(/ {2}command: .*where\.js/);
      expect(result.stdout).to.include('  arguments: [0,""]');
      expect(result.stdout).to.match(/ {2}environment: PATH=/);
      expect(result.stdout).to.match(/ {2}working directory: \//);
      expect(sshdLogs(), 'no connection reached any sshd').to.deep.equal(before);
      expect((await p.cluster.userProcesses()).filter((proc) => proc.ours)).to.deep.equal([]);
      expect(existsSync(join(p.ws.jobDirectory('where'), 'journal.ndjson')), 'a dry run records nothing').to.equal(false);
    });
  });
});

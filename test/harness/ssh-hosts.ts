/**
 * Test harness: real OpenSSH `sshd` processes as SSH test hosts.
 *
 * Every host is its own `sshd -D -e -f <config>` listening on one loopback
 * address (127.0.0.2, 127.0.0.3, ...) with its own ed25519 host key. Logins
 * are only possible as the unprivileged test user (default `pipetest`) with
 * the cluster's ed25519 user key. Everything (keys, configs, known_hosts,
 * ssh_config, logs) lives in one temp directory that `stop()` removes.
 *
 * Clean-up is strictly by PID: the sshd listeners this module spawned, the
 * processes below them in the /proc ppid tree, and test-user processes this
 * cluster caused (seen below one of our sshds, or carrying the cluster's
 * `SSH_TEST_CLUSTER` environment marker that our sshds set via `SetEnv`).
 * A synchronous process 'exit' handler (and SIGINT/SIGTERM/SIGHUP handlers)
 * SIGKILL whatever is still alive if a test run forgets `stop()` or dies.
 *
 * On Linux. As root it creates a dedicated test user the jobs log in as; as an ordinary user the
 * sshd processes run as that user, on high ports, and the jobs log in as that user.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

// ---------------------------------------------------------------------------
// Public API

export interface TestHost {
  alias: string;
  address: string;
  port: number;
  /** PID of the current sshd listener (0 while the host is stopped). */
  pid: number;
  /** `ssh-ed25519 AAAA...` (no comment). */
  hostKeyPublic: string;
  sshdConfigPath: string;
  /** sshd's stderr log (LogLevel VERBOSE); appended to across restarts. */
  logPath: string;
  /** With `separateHomes`: this host's own empty home directory, the `$HOME` of its sessions. */
  home?: string;
}

export interface UserProcess {
  pid: number;
  state: string;
  cmd: string;
  ppid: number;
  /** true when this cluster caused the process (below one of its sshds or carrying its env marker). */
  ours: boolean;
}

export interface KillHostSessionsOptions {
  /** Also SIGKILL the test-user processes below that host's sshd (default false: they are orphaned, like after an sshd crash). */
  includeUserProcesses?: boolean;
}

export interface TestCluster {
  /** temp directory holding everything (keys, configs, known_hosts, ssh_config, logs) */
  dir: string;
  /** the unprivileged test user name */
  user: string;
  /** private ed25519 key of the test user (no passphrase), mode 0600, owned by root */
  userKeyPath: string;
  /** known_hosts listing every host as `[127.0.0.X]:PORT ssh-ed25519 ...` */
  knownHostsPath: string;
  /** OpenSSH client config with one `Host <alias>` block per host */
  sshConfigPath: string;
  hosts: TestHost[];
  /** value of `SSH_TEST_CLUSTER` in every session started on this cluster's hosts */
  clusterId: string;
  /** SIGTERM that host's sshd listener, wait for it to be gone (SIGKILL after 3 s). Sessions keep running. */
  stopHost(alias: string): Promise<void>;
  /** SIGKILL the listener and all its per-connection sshd processes (simulates a dead host). */
  killHostSessions(alias: string, options?: KillHostSessionsOptions): Promise<void>;
  /**
   * SIGSTOP the listener and its sshd processes: the host hangs (TCP stays open, nothing answers),
   * as a host does that lost its network or froze. `thawHost` sends SIGCONT.
   */
  freezeHost(alias: string): void;
  thawHost(alias: string): void;
  /** (re)start a stopped host with the same keys/port; no-op when it is running. */
  startHost(alias: string): Promise<void>;
  /** live processes (state not Z) owned by the test user */
  userProcesses(): Promise<UserProcess[]>;
  /** stop every sshd this cluster started, kill leftover test-user processes it caused, remove dir */
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  /** number of hosts, default 3 */
  hosts?: number;
  /** sshd MaxSessions, default 10 */
  maxSessions?: number;
  /**
   * Extra sshd_config text. Global options are placed BEFORE the harness
   * defaults (sshd uses the first value it reads, so they override them);
   * a trailing `Match` section is appended at the end.
   */
  extraSshdConfig?: string;
  /** last octet of the first host address, default 2 (127.0.0.2) */
  firstAddress?: number;
  /** first port to try; default 22000 + random(0..19999) */
  portBase?: number;
  /**
   * Give each host its own empty home (`$HOME` of its sessions, through sshd's SetEnv), so that
   * nothing written under `~` on one host is seen on another: hosts without a shared filesystem.
   */
  separateHomes?: boolean;
}

/**
 * The user the jobs log in as. As root, a dedicated user (so jobs run as someone else, as on a
 * real cluster). As an ordinary user, that user: an unprivileged sshd on a high port accepts
 * logins only as the user that started it.
 */
export const TEST_USER = process.env.SSH_TEST_USER || (isRoot() ? 'pipetest' : os.userInfo().username);

// ---------------------------------------------------------------------------
// sshd / user provisioning

const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/sbin/sshd'];

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function findExecutable(name: string, extra: string[] = []): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => path.isAbsolute(d));
  for (const c of [...extra, ...dirs.map((d) => path.join(d, name)), `/usr/bin/${name}`, `/usr/sbin/${name}`]) {
    if (isExecutable(c)) return c;
  }
  return undefined;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function runInherit(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    // apt output goes to stderr so that it never mixes into a test reporter's stdout
    const child = spawn(cmd, args, { stdio: ['ignore', 2, 2], env });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

let sshdPromise: Promise<string> | undefined;

/** Absolute path of sshd; installs openssh-server with apt-get when missing and we are root. */
export function ensureSshd(): Promise<string> {
  sshdPromise ??= locateOrInstallSshd().catch((err: unknown) => {
    sshdPromise = undefined;
    throw err;
  });
  return sshdPromise;
}

async function locateOrInstallSshd(): Promise<string> {
  const found = () => findExecutable('sshd', SSHD_CANDIDATES);
  const keygen = () => findExecutable('ssh-keygen');
  let sshd = found();
  if (sshd && keygen()) return sshd;
  const aptGet = findExecutable('apt-get');
  if (!isRoot() || !aptGet) {
    throw new Error(
      'The SSH test hosts need OpenSSH sshd and ssh-keygen: install the openssh-server package (e.g. `sudo apt-get install -y openssh-server`)',
    );
  }
  process.stderr.write('installing openssh-server for the SSH test hosts\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runInherit(aptGet, ['update'], env);
  await runInherit(aptGet, ['install', '-y', 'openssh-server'], env);
  sshd = found();
  if (!sshd || !keygen()) {
    throw new Error('openssh-server was installed but sshd/ssh-keygen are still not found: install openssh-server manually');
  }
  return sshd;
}

function sshdMajorMinor(sshd: string): [number, number] | undefined {
  const r = spawnSync(sshd, ['-V'], { encoding: 'utf8', timeout: 5000 });
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${r.stderr ?? ''}${r.stdout ?? ''}`);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

interface PasswdEntry {
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function passwdEntry(user: string): PasswdEntry | undefined {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 7) {
      return { uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
    }
  }
  return undefined;
}

function shadowLocked(user: string): boolean {
  try {
    for (const line of fs.readFileSync('/etc/shadow', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user) return (f[1] ?? '').startsWith('!');
    }
  } catch {
    /* no shadow file: nothing is locked there */
  }
  return false;
}

function execFileP(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) {
        const e = err as Error & { stderr?: string };
        e.message = `${cmd} ${args.join(' ')}: ${e.message.trim()}${stderr ? `\n${stderr.trim()}` : ''}`;
        e.stderr = stderr;
        reject(e);
      } else resolve({ stdout, stderr });
    });
  });
}

let userPromise: Promise<PasswdEntry> | undefined;

function ensureTestUser(): Promise<PasswdEntry> {
  userPromise ??= (async () => {
    const user = TEST_USER;
    let entry = passwdEntry(user);
    if (!entry) {
      if (!isRoot()) throw new Error(`The SSH test hosts need the user ${user}: run the tests as root so it can be created`);
      try {
        await execFileP(findExecutable('useradd') ?? '/usr/sbin/useradd', ['-m', '-s', '/bin/sh', user]);
      } catch (err) {
        if (!passwdEntry(user)) throw err; // created concurrently by someone else: fine
      }
      entry = passwdEntry(user);
      if (!entry) throw new Error(`useradd did not create ${user}`);
    }
    if (entry.uid === 0) throw new Error(`test user ${user} must not be root`);
    if (!isRoot() && entry.uid !== process.getuid?.()) {
      throw new Error(`The SSH test hosts log in as ${user}, which only root can arrange for another user; run as root, or leave SSH_TEST_USER unset`);
    }
    // sshd refuses locked accounts ('!' password) even for public-key logins.
    if (isRoot() && shadowLocked(user)) {
      await execFileP(findExecutable('usermod') ?? '/usr/sbin/usermod', ['-p', '*', user]);
    }
    if (/(nologin|false)$/.test(entry.shell) && isRoot()) {
      await execFileP(findExecutable('usermod') ?? '/usr/sbin/usermod', ['-s', '/bin/sh', user]);
      entry = passwdEntry(user) ?? entry;
    }
    return entry;
  })().catch((err: unknown) => {
    userPromise = undefined;
    throw err;
  });
  return userPromise;
}

// ---------------------------------------------------------------------------
// /proc helpers

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
  /** start time in clock ticks since boot: identifies the process together with the pid */
  start: number;
  uid: number;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    // rest[0] = state (field 3), rest[1] = ppid (4), rest[19] = starttime (22)
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const uidMatch = /^Uid:\s+(\d+)/m.exec(status);
    return {
      pid,
      ppid: Number(rest[1]),
      state: rest[0] ?? '?',
      comm: stat.slice(open + 1, close),
      start: Number(rest[19]),
      uid: uidMatch ? Number(uidMatch[1]) : -1,
    };
  } catch {
    return undefined; // gone
  }
}

function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** All processes strictly below the given roots in the ppid tree. */
function descendantsOf(roots: Iterable<number>, procs: ProcInfo[]): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const out: ProcInfo[] = [];
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const c of children.get(pid) ?? []) {
      if (seen.has(c.pid)) continue;
      seen.add(c.pid);
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

function cmdlineOf(p: ProcInfo): string {
  try {
    const raw = fs.readFileSync(`/proc/${p.pid}/cmdline`);
    const s = raw.toString('utf8').replace(/\0+$/, '').split('\0').join(' ');
    return s || `[${p.comm}]`;
  } catch {
    return `[${p.comm}]`;
  }
}

function hasEnvMarker(pid: number, marker: Buffer): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`).includes(marker);
  } catch {
    return false;
  }
}

function isSshdProcess(p: ProcInfo): boolean {
  return p.comm.startsWith('sshd'); // sshd, sshd-session, sshd-auth (OpenSSH >= 9.8)
}

function isAlive(pid: number, start: number): boolean {
  const p = readProc(pid);
  return p !== undefined && p.start === start && p.state !== 'Z' && p.state !== 'X';
}

function killSafe(pid: number, start: number, signal: NodeJS.Signals): void {
  // re-check identity right before the kill so a recycled pid is never hit
  if (pid <= 1 || pid === process.pid || !isAlive(pid, start)) return;
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitGone(procs: { pid: number; start: number }[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (procs.every((p) => !isAlive(p.pid, p.start))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------
// emergency clean-up

const liveClusters = new Set<Cluster>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const c of liveClusters) c.killEverythingSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      for (const c of liveClusters) c.killEverythingSync();
      if (process.listenerCount(sig) === 1) {
        // we were the only listener: restore the default action and re-raise
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

// ---------------------------------------------------------------------------
// cluster implementation

interface HostState {
  host: TestHost;
  hostKeyPath: string;
  child?: ChildProcess;
  start: number;
  exited?: Promise<void>;
}

function tailOf(file: string, fromOffset = 0, lines = 25): string {
  try {
    const text = fs.readFileSync(file, 'utf8').slice(fromOffset);
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Resolves true once something at address:port greets with an SSH banner. */
function probeSsh(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length >= 4) done(buf.startsWith('SSH-'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

function chooseTmpRoot(): string {
  // the test user must be able to traverse to authorized_keys
  const traversable = (dir: string) => {
    let d = path.resolve(dir);
    for (;;) {
      try {
        if ((fs.statSync(d).mode & 0o001) === 0) return false;
      } catch {
        return false;
      }
      const parent = path.dirname(d);
      if (parent === d) return true;
      d = parent;
    }
  };
  return traversable(os.tmpdir()) ? os.tmpdir() : '/tmp';
}

class AddressInUse extends Error {}

class Cluster implements TestCluster {
  readonly hosts: TestHost[] = [];
  readonly user: string;
  readonly userKeyPath: string;
  readonly knownHostsPath: string;
  readonly sshConfigPath: string;
  readonly authorizedKeysPath: string;
  readonly clusterId = randomBytes(8).toString('hex');
  private readonly marker: Buffer;
  private readonly states = new Map<string, HostState>();
  /** test-user processes seen below our sshds: pid -> start time */
  private readonly caused = new Map<number, number>();
  private stopped = false;

  constructor(
    readonly dir: string,
    private readonly sshd: string,
    private readonly userEntry: PasswdEntry,
    private readonly maxSessions: number,
    private readonly extraConfig: string,
    private readonly sshdVersion: [number, number] | undefined,
  ) {
    this.user = TEST_USER;
    this.userKeyPath = path.join(dir, 'id_ed25519');
    this.knownHostsPath = path.join(dir, 'known_hosts');
    this.sshConfigPath = path.join(dir, 'ssh_config');
    this.authorizedKeysPath = path.join(dir, 'authorized_keys');
    this.marker = Buffer.from(`\0SSH_TEST_CLUSTER=${this.clusterId}\0`);
  }

  addHost(alias: string, address: string, hostKeyPath: string, hostKeyPublic: string): HostState {
    const hostDir = path.dirname(hostKeyPath);
    const host: TestHost = {
      alias,
      address,
      port: 0,
      pid: 0,
      hostKeyPublic,
      sshdConfigPath: path.join(hostDir, 'sshd_config'),
      logPath: path.join(hostDir, 'sshd.log'),
    };
    const st: HostState = { host, hostKeyPath, start: 0 };
    this.hosts.push(host);
    this.states.set(alias, st);
    return st;
  }

  private state(alias: string): HostState {
    const st = this.states.get(alias);
    if (!st) throw new Error(`unknown test host ${alias} (have ${[...this.states.keys()].join(', ')})`);
    return st;
  }

  writeSshdConfig(st: HostState): void {
    const extra = this.extraConfig.trim();
    const matchAt = extra.search(/^\s*Match\s/im);
    const extraGlobal = matchAt >= 0 ? extra.slice(0, matchAt) : extra;
    const extraMatch = matchAt >= 0 ? extra.slice(matchAt) : '';
    const [maj, min] = this.sshdVersion ?? [0, 0];
    const lines = [
      `# generated by test/harness/ssh-hosts.ts for ${st.host.alias}`,
      // first value wins in sshd_config: our marker, then the caller's overrides, then our defaults
      `SetEnv SSH_TEST_CLUSTER=${this.clusterId}${st.host.home ? ` HOME=${st.host.home}` : ''}`,
      extraGlobal.trim(),
      `ListenAddress ${st.host.address}:${st.host.port}`,
      `HostKey ${st.hostKeyPath}`,
      'PidFile none',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'HostbasedAuthentication no',
      `AuthorizedKeysFile ${this.authorizedKeysPath}`,
      'StrictModes no',
      'PermitRootLogin no',
      `AllowUsers ${this.user}`,
      `MaxSessions ${this.maxSessions}`,
      'MaxStartups 100:30:200',
      'MaxAuthTries 6',
      'LoginGraceTime 30',
      'LogLevel VERBOSE',
      'UseDNS no',
      'PrintMotd no',
      'PrintLastLog no',
      'X11Forwarding no',
      'AllowAgentForwarding no',
      'PermitUserEnvironment no',
      'Subsystem sftp internal-sftp',
      // OpenSSH >= 9.8 penalises sources with failed/aborted connections; every client here is 127.0.0.1
      ...(maj > 9 || (maj === 9 && min >= 8) ? ['PerSourcePenalties no'] : []),
      extraMatch.trim(),
      '',
    ];
    fs.writeFileSync(st.host.sshdConfigPath, lines.filter((l, i) => l !== '' || i === lines.length - 1).join('\n'), {
      mode: 0o644,
    });
  }

  /** Spawn sshd for the host and wait until it greets on its port. */
  private async launch(st: HostState): Promise<void> {
    this.writeSshdConfig(st);
    const logOffset = fs.existsSync(st.host.logPath) ? fs.statSync(st.host.logPath).size : 0;
    const logFd = fs.openSync(st.host.logPath, 'a', 0o644);
    let child: ChildProcess;
    try {
      child = spawn(this.sshd, ['-D', '-e', '-f', st.host.sshdConfigPath], {
        stdio: ['ignore', logFd, logFd],
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
      });
    } finally {
      fs.closeSync(logFd);
    }
    let exitInfo: string | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        exitInfo = `spawn error: ${err.message}`;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `killed by ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
    child.unref(); // a forgotten cluster must not keep mocha alive; the exit handler kills it
    const pid = child.pid ?? 0;
    const info = pid ? readProc(pid) : undefined;
    st.child = child;
    st.exited = exited;
    st.start = info?.start ?? 0;
    st.host.pid = pid;
    void exited.then(() => {
      if (st.child === child) {
        st.host.pid = 0;
        st.child = undefined;
      }
    });

    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exitInfo !== undefined) {
        const tail = tailOf(st.host.logPath, logOffset);
        if (/Address already in use/i.test(tail)) throw new AddressInUse(tail);
        throw new Error(
          `sshd for ${st.host.alias} (${st.host.address}:${st.host.port}) died during start-up (${exitInfo}); log ${st.host.logPath}:\n${tail}`,
        );
      }
      if (await probeSsh(st.host.address, st.host.port, 1000)) {
        if (exitInfo === undefined) return;
        continue; // someone else answered and ours died: report above
      }
      if (Date.now() >= deadline) {
        await this.terminate(st, 'SIGKILL', 0);
        throw new Error(
          `sshd for ${st.host.alias} did not accept connections on ${st.host.address}:${st.host.port} within 10 s; log:\n${tailOf(st.host.logPath, logOffset)}`,
        );
      }
      await sleep(50);
    }
  }

  /** First start: find a free port (starting at `port`), retry on a bind race. */
  async initialStart(st: HostState, port: number): Promise<void> {
    let candidate = port;
    for (let attempt = 0; attempt < 8; attempt++) {
      let tries = 0;
      while (!(await portFree(st.host.address, candidate))) {
        if (++tries > 500) throw new Error(`no free port found on ${st.host.address} from ${port}`);
        candidate = candidate >= 65535 ? 20000 : candidate + 1;
      }
      st.host.port = candidate;
      try {
        await this.launch(st);
        return;
      } catch (err) {
        if (!(err instanceof AddressInUse)) throw err;
        candidate++;
      }
    }
    throw new Error(`could not bind sshd for ${st.host.alias} on ${st.host.address}: ports kept being taken`);
  }

  /** Send `signal` to the listener and wait for its exit (SIGKILL after killAfterMs). */
  private async terminate(st: HostState, signal: NodeJS.Signals, killAfterMs: number): Promise<void> {
    const child = st.child;
    if (!child || !st.exited) return;
    const pid = st.host.pid;
    if (pid) killSafe(pid, st.start, signal);
    const exited = st.exited;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), killAfterMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      if (pid) killSafe(pid, st.start, 'SIGKILL');
      await Promise.race([exited, sleep(5000)]);
    }
  }

  private recordCaused(procs: ProcInfo[]): void {
    for (const p of procs) if (p.uid === this.userEntry.uid) this.caused.set(p.pid, p.start);
  }

  private listenerRoots(states: Iterable<HostState> = this.states.values()): number[] {
    const roots: number[] = [];
    for (const st of states) if (st.host.pid && isAlive(st.host.pid, st.start)) roots.push(st.host.pid);
    return roots;
  }

  async stopHost(alias: string): Promise<void> {
    const st = this.state(alias);
    this.recordCaused(descendantsOf(this.listenerRoots([st]), listProcs()));
    await this.terminate(st, 'SIGTERM', 3000);
  }

  async killHostSessions(alias: string, options: KillHostSessionsOptions = {}): Promise<void> {
    const st = this.state(alias);
    const roots = this.listenerRoots([st]);
    // collect the whole tree first: once the listener dies its children are reparented
    const tree = descendantsOf(roots, listProcs());
    this.recordCaused(tree);
    const victims = tree.filter((p) => isSshdProcess(p) || options.includeUserProcesses);
    if (st.host.pid) killSafe(st.host.pid, st.start, 'SIGKILL');
    for (const p of victims) killSafe(p.pid, p.start, 'SIGKILL');
    await this.terminate(st, 'SIGKILL', 3000);
    await waitGone(victims, 5000);
  }

  #sshdTree(alias: string): ProcInfo[] {
    const st = this.state(alias);
    const roots = this.listenerRoots([st]);
    const tree = descendantsOf(roots, listProcs()).filter(isSshdProcess);
    this.recordCaused(tree);
    const listener = st.host.pid ? readProc(st.host.pid) : undefined;
    return listener ? [listener, ...tree] : tree;
  }

  freezeHost(alias: string): void {
    for (const p of this.#sshdTree(alias)) killSafe(p.pid, p.start, 'SIGSTOP');
  }

  thawHost(alias: string): void {
    for (const p of this.#sshdTree(alias)) killSafe(p.pid, p.start, 'SIGCONT');
  }

  async startHost(alias: string): Promise<void> {
    if (this.stopped) throw new Error('cluster already stopped');
    const st = this.state(alias);
    if (st.child && st.host.pid && isAlive(st.host.pid, st.start)) return;
    if (!(await portFree(st.host.address, st.host.port))) {
      // e.g. the old listener is still closing; give it a moment
      const deadline = Date.now() + 3000;
      while (!(await portFree(st.host.address, st.host.port)) && Date.now() < deadline) await sleep(50);
    }
    await this.launch(st);
  }

  async userProcesses(): Promise<UserProcess[]> {
    const procs = listProcs();
    const below = descendantsOf(this.listenerRoots(), procs);
    this.recordCaused(below);
    const belowSet = new Set(below.map((p) => p.pid));
    return procs
      .filter((p) => p.uid === this.userEntry.uid && p.state !== 'Z' && p.state !== 'X')
      .map((p) => ({
        pid: p.pid,
        ppid: p.ppid,
        state: p.state,
        cmd: cmdlineOf(p),
        ours: belowSet.has(p.pid) || this.caused.get(p.pid) === p.start || hasEnvMarker(p.pid, this.marker),
      }));
  }

  /** Everything this cluster is responsible for that is still alive. */
  private victimsNow(): ProcInfo[] {
    const procs = listProcs();
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const out = new Map<number, ProcInfo>();
    for (const st of this.states.values()) {
      const p = st.host.pid ? byPid.get(st.host.pid) : undefined;
      if (p && p.start === st.start) out.set(p.pid, p);
    }
    for (const p of descendantsOf(out.keys(), procs)) out.set(p.pid, p);
    for (const p of procs) {
      if (p.uid !== this.userEntry.uid || out.has(p.pid)) continue;
      if (this.caused.get(p.pid) === p.start || hasEnvMarker(p.pid, this.marker)) {
        out.set(p.pid, p);
        for (const d of descendantsOf([p.pid], procs)) out.set(d.pid, d);
      }
    }
    return [...out.values()].filter((p) => p.state !== 'Z' && p.state !== 'X');
  }

  /** Synchronous last-resort clean-up (process 'exit' / signals). */
  killEverythingSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    liveClusters.delete(this);
    try {
      for (const p of this.victimsNow()) killSafe(p.pid, p.start, 'SIGKILL');
    } catch {
      /* best effort */
    }
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      // a few rounds: a process may fork between our /proc scan and the kill
      for (let round = 0; round < 5; round++) {
        const victims = this.victimsNow();
        if (victims.length === 0) break;
        for (const p of victims) killSafe(p.pid, p.start, 'SIGKILL');
        await waitGone(victims, 3000);
      }
      await Promise.all(
        [...this.states.values()].map((st) => (st.exited ? Promise.race([st.exited, sleep(3000)]) : undefined)),
      );
    } finally {
      liveClusters.delete(this);
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

async function keygen(file: string, comment: string): Promise<string> {
  const bin = findExecutable('ssh-keygen') ?? '/usr/bin/ssh-keygen';
  await execFileP(bin, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  fs.chmodSync(file, 0o600);
  fs.chmodSync(`${file}.pub`, 0o644);
  const pub = fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return `${pub[0]} ${pub[1]}`;
}

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const count = options.hosts ?? 3;
  const first = options.firstAddress ?? 2;
  if (!Number.isInteger(count) || count < 1) throw new Error(`hosts must be a positive integer, got ${count}`);
  if (!Number.isInteger(first) || first < 2 || first + count - 1 > 254) {
    throw new Error(`addresses 127.0.0.${first}..127.0.0.${first + count - 1} are out of range (2..254)`);
  }
  if (process.platform !== 'linux') throw new Error('the SSH test hosts need Linux (/proc and 127.0.0.0/8 on lo)');

  const sshd = await ensureSshd();
  const userEntry = await ensureTestUser();
  if (isRoot()) {
    // privilege separation's empty directory: only an sshd started by root uses it
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    fs.chmodSync('/run/sshd', 0o755);
  }
  installExitHandlers();

  const dir = fs.mkdtempSync(path.join(chooseTmpRoot(), 'ssh-hosts-'));
  fs.chmodSync(dir, 0o755); // sshd reads authorized_keys as the test user
  const cluster = new Cluster(
    dir,
    sshd,
    userEntry,
    options.maxSessions ?? 10,
    options.extraSshdConfig ?? '',
    sshdMajorMinor(sshd),
  );
  liveClusters.add(cluster);
  try {
    const userPub = await keygen(cluster.userKeyPath, `${TEST_USER}@ssh-hosts`);
    fs.writeFileSync(cluster.authorizedKeysPath, `${userPub} ${TEST_USER}@ssh-hosts\n`, { mode: 0o644 });
    fs.chmodSync(cluster.authorizedKeysPath, 0o644);

    const hostKeys = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const alias = `node${i + 1}`;
        const hostDir = path.join(dir, alias);
        fs.mkdirSync(hostDir, { mode: 0o755 });
        fs.chmodSync(hostDir, 0o755);
        const keyPath = path.join(hostDir, 'ssh_host_ed25519_key');
        return { alias, keyPath, pub: await keygen(keyPath, alias) };
      }),
    );
    // added in order (keygen finishes in any order): hosts[i] is node{i+1} on 127.0.0.{first+i}
    const states = hostKeys.map((k, i) => cluster.addHost(k.alias, `127.0.0.${first + i}`, k.keyPath, k.pub));
    if (options.separateHomes) {
      for (const st of states) {
        const home = path.join(path.dirname(st.hostKeyPath), 'home');
        fs.mkdirSync(home, { mode: 0o700 });
        if (isRoot()) fs.chownSync(home, userEntry.uid, userEntry.gid);
        st.host.home = home;
      }
    }
    // same starting port on every address; each host moves up if its port is taken
    const portBase = options.portBase ?? 22000 + Math.floor(Math.random() * 20000);
    await Promise.all(states.map((st) => cluster.initialStart(st, portBase)));

    fs.writeFileSync(
      cluster.knownHostsPath,
      cluster.hosts.map((h) => `[${h.address}]:${h.port} ${h.hostKeyPublic}\n`).join(''),
      { mode: 0o644 },
    );
    const blocks = cluster.hosts.map((h) =>
      [
        `Host ${h.alias}`,
        `  HostName ${h.address}`,
        `  Port ${h.port}`,
        `  User ${TEST_USER}`,
        `  IdentityFile ${cluster.userKeyPath}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${cluster.knownHostsPath}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  UpdateHostKeys no',
        '  HashKnownHosts no',
        '  CheckHostIP no',
        '  PasswordAuthentication no',
        '  KbdInteractiveAuthentication no',
        '  ConnectTimeout 5',
        '  LogLevel ERROR',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(cluster.sshConfigPath, blocks.join('\n'), { mode: 0o644 });
    return cluster;
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

"""
lofarpipe_node: the Python node runtime of the pipeline framework.

A node script is what the master starts on a compute host for one job. This module speaks the
same wire protocol as the TypeScript runtime (support/node/runtime.ts, DESIGN.md section 4), so
that LOFAR's Python node scripts (LOFARnodeTCP subclasses) run under the framework after a
change of base class and of their `__main__` lines. Standard library only, Python 3.7+.

The protocol, as the launch command sets it up (`exec 3>&1 1>&2`):
  stdin  one JSON line {"v": 1, "type": "start", "job", "args", "logLevel", "env"?}; then stdin
         stays open, and its end (the master finished, cancelled or died) stops the job.
  fd 3   messages, one JSON object a line: log, outputs, exception, result (the last two with
         the job's `usage`: CPU seconds and peak resident memory, as runtime.ts sends them).
  fd 1/2 both the channel's stderr: whatever the script prints is logged line by line.
  exit   the job's return code.

Public API
  Node (alias LOFARnodeTCP)   base class of a node script:
      run(self, *args)      does the work, gets the job's JSON arguments, returns the return
                            code (an int from 0 to 255; None is 0); sys.exit(n) inside counts
                            as returning n.
      self.logger           a logging.Logger ('node.<ClassName>'); its records reach the master
                            with their level (DEBUG: debug, VERBOSE (15): verbose, INFO: info,
                            WARNING: warn, ERROR and CRITICAL: error). Metadata travels as
                            `extra={'meta': {...}}`. Records of other loggers that reach the
                            root logger go too.
      self.outputs          a dict of JSON values, sent to the master with the result.
      self.job_id           the job id the master gave this run (a string).
      run_with_stored_arguments()   LOFAR's spelling of run_node(): runs the job and ends the
                            process; never returns.
  run_node(NodeClass)       runs NodeClass as the job and ends the process (main is an alias).
  VERBOSE                   the log level between DEBUG and INFO.

A script:

    from lofarpipe_node import Node, run_node

    class greet(Node):
        def run(self, name, count=1):
            self.logger.info('hello %s', name)
            self.outputs['greeted'] = name
            return 0

    if __name__ == '__main__':
        run_node(greet)

A LOFAR script ports by changing its import to `from lofarpipe_node import LOFARnodeTCP` and its
last lines from
    jobid, jobhost, jobport = sys.argv[1:4]
    sys.exit(dppp(jobid, jobhost, jobport).run_with_stored_arguments())
to
    sys.exit(dppp().run_with_stored_arguments())        (or: run_node(dppp))
The constructor still accepts LOFAR's (jobid, jobhost, jobport) and ignores them.

Arguments and messages are JSON only: nothing from the master is ever evaluated.

Where Python differs from the TS runtime: sys.exit(n) in run() is a return of n (outputs and
result are still sent); a script that installs its own SIGTERM handler replaces the runtime's,
so a TERM no longer stops the job's other processes (stdin's end still does); an exception in a
thread the script started is only printed, as Python does, and does not fail the job.
"""

import json
import logging
import os
import resource
import signal
import sys
import threading
import time
import traceback

__all__ = ['Node', 'LOFARnodeTCP', 'run_node', 'main', 'ProtocolError', 'VERBOSE']

PROTOCOL_VERSION = 1
MESSAGE_FD = 3
# The same caps and grace as support/protocol/messages.ts and process-group.ts.
MAX_LOG_MESSAGE_BYTES = 64 * 1024
KILL_GRACE_SECONDS = 2.0
JOB_MARK_VARIABLE = 'PIPELINE_JOB_MARK'

VERBOSE = 15
logging.addLevelName(VERBOSE, 'VERBOSE')
_THRESHOLDS = {'error': logging.ERROR, 'warn': logging.WARNING, 'info': logging.INFO, 'verbose': VERBOSE, 'debug': logging.DEBUG}


class ProtocolError(Exception):
    """The start message breaks the wire protocol; named like the TS runtime's error."""


def _protocol_level(levelno):
    if levelno >= logging.ERROR:
        return 'error'
    if levelno >= logging.WARNING:
        return 'warn'
    if levelno >= logging.INFO:
        return 'info'
    if levelno >= VERBOSE:
        return 'verbose'
    return 'debug'


def cut_text(text, max_bytes):
    """`text` cut to at most `max_bytes` of UTF-8 on a character boundary, and the bytes cut (messages.ts cutText)."""
    if len(text) * 4 <= max_bytes:  # a code point is at most 4 bytes: this short cannot be over
        return text, 0
    # surrogatepass: a lone surrogate counts 3 bytes, as in Buffer.from on the TS side
    data = text.encode('utf-8', 'surrogatepass')
    if len(data) <= max_bytes:
        return text, 0
    end = max_bytes
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end].decode('utf-8', 'surrogatepass'), len(data) - end


class _Channel(object):
    """Writes messages to fd 3 at once and whole, one lock for all threads, so none is lost or interleaved."""

    def __init__(self, fd):
        self._fd = fd
        self._lock = threading.RLock()
        self._broken = False

    def send(self, message, lenient=False):
        text = json.dumps(message, ensure_ascii=False, separators=(',', ':'), allow_nan=False, default=str if lenient else None)
        # A lone surrogate becomes the JSON escape \udXXX, as JSON.stringify writes it.
        data = memoryview((text + '\n').encode('utf-8', 'backslashreplace'))
        with self._lock:
            while data and not self._broken:
                try:
                    data = data[os.write(self._fd, data):]
                except BlockingIOError:
                    time.sleep(0.002)  # the master is slow to read: wait, do not drop
                except BrokenPipeError:
                    self._broken = True  # the master is gone; stdin's end stops the job


class _ChannelHandler(logging.Handler):
    """Sends log records as log messages: level mapped, long messages cut and marked with `cut`."""

    def __init__(self, channel, job, level):
        logging.Handler.__init__(self, level)
        self._channel = channel
        self._job = job

    def emit(self, record):
        try:
            text, cut = cut_text(self.format(record), MAX_LOG_MESSAGE_BYTES)  # message, traceback, stack
            message = {'type': 'log', 'job': self._job, 'level': _protocol_level(record.levelno), 'message': text}
            meta = getattr(record, 'meta', None)
            if isinstance(meta, dict):
                message['meta'] = meta
            if cut > 0:
                message['cut'] = cut
            self._channel.send(message, lenient=True)
        except Exception:
            self.handleError(record)


class Node(object):
    """Base class of node scripts: override run(); use self.logger and self.outputs."""

    def __init__(self, *lofar_arguments):
        # LOFARnodeTCP took (job_id, host, port) from argv; the job now comes on stdin.
        self.job_id = 'local'
        self.logger = logging.getLogger('node.' + type(self).__name__)
        self.outputs = {}

    def run(self, *args):
        raise NotImplementedError('a node script overrides run()')

    def run_with_stored_arguments(self):
        """LOFAR's entry point: runs this node as the job and ends the process."""
        _run_job(self)


LOFARnodeTCP = Node


def run_node(node_class):
    """Runs `node_class` as the job the master started this process for; ends the process."""
    _run_job(node_class)


main = run_node


# Taken by the one caller that stops the job: list.pop is atomic, even for a signal handler
# that interrupts the main thread inside another call.
_stop_token = [True]


def _stat_fields(pid):
    with open('/proc/%s/stat' % pid) as stat:
        text = stat.read()
    return text[text.rindex(')') + 2:].split(' ')  # after the command name, which may hold spaces


def _is_alive(pid):
    # Not a zombie: the script rarely waits for its Popen children (Node reaps them itself).
    try:
        return _stat_fields(pid)[0] != 'Z'
    except (OSError, ValueError, IndexError):
        return False


def _living_members(pgid):
    members = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                fields = _stat_fields(entry)
                if int(fields[2]) == pgid and fields[0] != 'Z':
                    members.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass  # ended while we looked
    return members


def _marked_processes(mark):
    """Processes whose environment holds PIPELINE_JOB_MARK=<mark> as a whole entry, this one excepted."""
    needle = ('%s=%s\0' % (JOB_MARK_VARIABLE, mark)).encode()
    me = os.getpid()
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open('/proc/%s/environ' % entry, 'rb') as environ:
                data = environ.read()
        except OSError:
            continue  # another user's process, or gone
        at = data.find(needle)
        while at != -1:
            if at == 0 or data[at - 1] == 0:
                found.append(int(entry))
                break
            at = data.find(needle, at + 1)
    return found


# The job's usage, as support/node/usage-sampler.ts measures it: exact for this process and the
# children it reaped (getrusage), sampled from /proc for what still runs below it and for marked
# processes outside that tree (scanned a second in, then at most once a second within 1 % of the time).
USAGE_SAMPLE_SECONDS = 0.2
MARK_SCAN_SECONDS = 1.0
MARK_SCAN_SHARE = 0.01
_CLOCK_TICKS = os.sysconf('SC_CLK_TCK')
# Indexes into _stat_fields(): proc(5) fields 4, 14, 15, 16, 17 and 22.
_PPID, _UTIME, _STIME, _CUTIME, _CSTIME, _STARTTIME = 1, 11, 12, 13, 14, 19


def _children_of(pid):
    """The children of every thread of `pid`: a child is listed under the thread that forked it."""
    try:
        tasks = os.listdir('/proc/%s/task' % pid)
    except OSError:
        return []
    children = []
    for task in tasks:
        try:
            with open('/proc/%s/task/%s/children' % (pid, task)) as listing:
                children.extend(int(word) for word in listing.read().split())
        except (OSError, ValueError):
            pass  # the thread or the process ended
    return children


def _memory_of(pid):
    """VmRSS and VmHWM of a process in bytes; zero for a zombie, which has neither."""
    rss = hwm = 0
    try:
        with open('/proc/%s/status' % pid) as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    hwm = int(line.split()[1]) * 1024
                elif line.startswith('VmRSS:'):
                    rss = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return rss, hwm


class _UsageSampler(object):
    """CPU and peak memory of the job (usage-sampler.ts): sampled in a thread, totalled at the job's end."""

    def __init__(self, mark):
        self._mark = mark
        self._began = time.time()
        self._next_scan = self._began + MARK_SCAN_SECONDS
        self._marked_roots = []
        self._seen = {}
        self._gone_user = self._gone_system = 0
        self._user = self._system = 0.0
        self._peak = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def start(self):
        self._sample_safely(False)
        sampler = threading.Thread(target=self._every_interval, name='usage-sampler')
        sampler.daemon = True
        sampler.start()
        return self

    def finish(self):
        """Stops sampling after a last sample; the totals as a usage message field."""
        self._stopped.set()
        self._sample_safely(time.time() - self._began >= MARK_SCAN_SECONDS)
        return {'userSeconds': round(self._user, 3), 'systemSeconds': round(self._system, 3), 'peakRssBytes': self._peak}

    def _every_interval(self):
        while not self._stopped.wait(USAGE_SAMPLE_SECONDS):
            self._sample_safely(False)

    def _sample_safely(self, scan):
        with self._lock:
            try:
                self._sample(scan)
            except Exception:
                pass  # measuring must never fail the job: this sample is skipped

    def _sample(self, scan):
        if self._mark and (scan or time.time() >= self._next_scan):
            began = time.time()
            self._marked_roots = _marked_processes(self._mark)
            self._next_scan = time.time() + max(MARK_SCAN_SECONDS, (time.time() - began) / MARK_SCAN_SHARE)
        me = os.getpid()
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss = _memory_of('self')[0]
        peak = max(own.ru_maxrss, reaped.ru_maxrss) * 1024  # kB on Linux; the largest reaped child's peak
        current = {}
        queue = _children_of('self') + list(self._marked_roots)
        visited = {me}
        while queue:
            pid = queue.pop()
            if pid in visited:
                continue
            visited.add(pid)
            try:
                fields = _stat_fields(pid)
                current[pid] = (fields[_STARTTIME], int(fields[_PPID]), int(fields[_UTIME]) + int(fields[_CUTIME]), int(fields[_STIME]) + int(fields[_CSTIME]))
            except (OSError, ValueError, IndexError):
                continue  # it ended while we looked
            process_rss, process_hwm = _memory_of(pid)
            rss += process_rss
            peak = max(peak, process_hwm)
            queue.extend(_children_of(pid))
        for pid, (started, parent, user, system) in self._seen.items():
            if pid in current and current[pid][0] == started:
                continue
            if parent == me or parent in current:
                continue  # reaped by this process or another of the job: its time is in that one's now
            self._gone_user += user
            self._gone_system += system
        self._seen = current
        user = self._gone_user + sum(seen[2] for seen in current.values())
        system = self._gone_system + sum(seen[3] for seen in current.values())
        # The totals never go down: a process whose parent ended before reaping it takes its ticks along.
        self._user = max(self._user, own.ru_utime + reaped.ru_utime + float(user) / _CLOCK_TICKS)
        self._system = max(self._system, own.ru_stime + reaped.ru_stime + float(system) / _CLOCK_TICKS)
        self._peak = max(self._peak, rss, peak)


def _signal_each(pids, signum):
    """Sends `signum` to each of `pids`; the ones still there."""
    left = []
    for pid in pids:
        try:
            os.kill(pid, signum)
            left.append(pid)
        except OSError:
            pass
    return left


def _kill_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except OSError:
        pass


def _stop_job_processes():
    """
    Stops everything the job started (runtime.ts stopJobProcesses): TERM to our process group and
    to every process carrying the job's mark, then KILL to what is still there after the grace.
    True when this call did it; False when another caller (thread or signal) already is.
    """
    try:
        _stop_token.pop()
    except IndexError:
        return False
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # our own group TERM must not cut this short
    me = os.getpid()
    pgid = os.getpgid(0)
    own_group = pgid == me  # else started by hand: not our group to clean
    mark = os.environ.get(JOB_MARK_VARIABLE)

    def marked():
        return _marked_processes(mark) if mark else []

    if own_group:
        _kill_group(pgid, signal.SIGTERM)
    left = _signal_each(marked(), signal.SIGTERM)
    # Group members carry the mark too: when no marked process is left, one pass was all it took.
    if not left:
        return True
    deadline = time.time() + KILL_GRACE_SECONDS
    while time.time() < deadline:
        if not any(_is_alive(pid) for pid in left) and not (own_group and any(pid != me for pid in _living_members(pgid))):
            break
        time.sleep(0.05)
    _signal_each(set(left) | set(marked()), signal.SIGKILL)  # and whatever was started meanwhile
    if own_group:
        _signal_each([pid for pid in _living_members(pgid) if pid != me], signal.SIGKILL)
    return True


def _on_terminate(signum, frame):
    # A TERM for the node (a cancelled or timed-out job) reaches what left the group too, then ends us by TERM.
    if _stop_job_processes():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _flush_stdio():
    # os._exit drops what is still buffered: what the script printed must reach the log.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    try:
        logging.shutdown()
    except Exception:
        pass


def _finish(code):
    """After a normal end no process of the job may outlive it; then exit with `code`."""
    _flush_stdio()
    if _stop_job_processes():
        os._exit(code)  # as process.exit: a thread the script left running cannot keep the job alive
    while True:  # the stdin watcher is stopping the job and ends the process
        time.sleep(60)


def _watch_stdin():
    """Reads stdin to its end: the master has gone, so take the job down and exit 137."""
    try:
        while os.read(0, 1 << 16):
            pass
    except OSError:
        pass
    if _stop_job_processes():
        os._exit(137)


def _read_start_line():
    data = bytearray()
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            raise ProtocolError('stdin closed before the start message arrived')
        newline = chunk.find(b'\n')
        if newline != -1:
            data += chunk[:newline]
            return data.decode('utf-8', 'replace')
        data += chunk


def _decode_start(line):
    """The start message, checked as messages.ts decodeStartMessage checks it."""
    try:
        value = json.loads(line)
    except ValueError:
        raise ProtocolError('the first line on stdin is not JSON; node scripts are started by the pipeline master')
    if not isinstance(value, dict) or value.get('type') != 'start':
        raise ProtocolError('the first line on stdin is not a start message')
    version = value.get('v')
    if isinstance(version, bool) or version != PROTOCOL_VERSION:
        raise ProtocolError('master speaks protocol version %s, this node runtime speaks %d; deploy the same framework version on master and hosts'
                            % (json.dumps(version), PROTOCOL_VERSION))
    if not isinstance(value.get('job'), str) or not isinstance(value.get('args'), list):
        raise ProtocolError('start message without "job" and "args"')
    env = value.get('env')
    if env is not None and not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
        raise ProtocolError('start message whose "env" is not an object of strings')
    level = value.get('logLevel')
    return {'job': value['job'], 'args': value['args'], 'logLevel': level if level in _THRESHOLDS else 'debug', 'env': env or {}}


def _exception_message(job, error):
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == _run_job.__code__.co_filename:
        tb = tb.tb_next  # the stack starts in the script, not in this runtime
    stack = ''.join(traceback.format_exception(type(error), error, tb)).rstrip('\n')
    try:
        text = str(error)
    except Exception:
        text = repr(error)
    return {'type': 'exception', 'job': job, 'name': type(error).__name__, 'message': text, 'stack': stack}


def _exit_code(exiting):
    """sys.exit(n) inside run() as Python itself reads it: None is 0, a number is the code, else 1."""
    if exiting.code is None or isinstance(exiting.code, int):
        return exiting.code
    sys.stderr.write('%s\n' % (exiting.code,))
    return 1


def _attach(node, job, channel, log_level):
    """Gives the node its job id, logger and outputs; its records go to the master from the root logger down."""
    node.job_id = job
    if not isinstance(getattr(node, 'outputs', None), dict):
        node.outputs = {}
    if not isinstance(getattr(node, 'logger', None), logging.Logger):
        node.logger = logging.getLogger('node.' + type(node).__name__)
    threshold = _THRESHOLDS[log_level]
    logging.getLogger().addHandler(_ChannelHandler(channel, job, threshold))
    node.logger.setLevel(threshold)  # finer records are dropped at the source, as the master asked


def _run_job(node):
    """Runs `node` (a Node subclass or instance) as the job; never returns."""
    try:
        os.fstat(MESSAGE_FD)
    except OSError:
        sys.stderr.write('this is a node script: it is started by the pipeline master (pipeline run), which gives it its arguments\n')
        sys.stderr.flush()
        os._exit(2)
    channel = _Channel(MESSAGE_FD)
    usage = _UsageSampler(os.environ.get(JOB_MARK_VARIABLE)).start()  # travels with the result or the exception
    job = 'unknown'
    signal.signal(signal.SIGTERM, _on_terminate)
    try:
        sys.stdout.reconfigure(line_buffering=True)  # print() reaches the log as it happens, as in Node
    except Exception:
        pass
    try:
        line = _read_start_line()
        watcher = threading.Thread(target=_watch_stdin, name='stdin-watcher')
        watcher.daemon = True
        watcher.start()
        start = _decode_start(line)
        job = start['job']
        os.environ.update(start['env'])
        if isinstance(node, type):
            node = node()
        _attach(node, job, channel, start['logLevel'])
        try:
            returned = node.run(*start['args'])
        except SystemExit as exiting:
            returned = _exit_code(exiting)
        returncode = 0 if returned is None else returned
        if isinstance(returncode, bool) or not isinstance(returncode, int) or not 0 <= returncode <= 255:
            node.logger.error('run() returned %r; a return code is an integer from 0 to 255', returned)
            returncode = 1
        if node.outputs:
            channel.send({'type': 'outputs', 'job': job, 'outputs': node.outputs})
        channel.send({'type': 'result', 'job': job, 'returncode': returncode, 'usage': usage.finish()})
    except BaseException as error:  # KeyboardInterrupt too: the master hears of every failure
        try:
            channel.send(dict(_exception_message(job, error), usage=usage.finish()), lenient=True)
        except Exception:
            pass
        _finish(1)
    _finish(returncode)

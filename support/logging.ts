/**
 * Central logging (DESIGN.md §6): one winston root logger per run, a child per job carrying
 * {host, job}. Transports: the console for people, a per-run text file, and JSON lines for
 * machines. `close()` waits until every line is on disk.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import winston, { type LogEntry } from 'winston';
import Transport from 'winston-transport';
import type { LogLevel } from './protocol.js';

export type Logger = winston.Logger;

export interface RunLogOptions {
  /** Most verbose level shown on the console. */
  consoleLevel: LogLevel;
  /** Where people read the log; default stderr, so stdout stays for outputs and --json. */
  console?: Writable;
  color?: boolean;
  /** Plain-text log of the run, at debug level. */
  logFile?: string;
  /** The same records as JSON lines. */
  jsonFile?: string;
  /** More transports (the per-job logs), closed with the rest. */
  transports?: winston.transport[];
  /** More streams whose backlog pauses job output, looked up each time (they come and go). */
  moreSinks?: () => Writable[];
}

/** Back-pressure from the log sinks: job output is read no faster than the log is written. */
export interface LogPressure {
  /** True while the console, a log file or the logger itself holds more unwritten output than it should. */
  readonly backlogged: boolean;
  /** Resolves once no sink is behind any more; at once for a sink that closed or failed. */
  drained(): Promise<void>;
}

export interface RunLog {
  logger: Logger;
  logFile?: string;
  jsonFile?: string;
  /** Job output pauses while this is backlogged, so a flooding node cannot fill the master's memory. */
  pressure: LogPressure;
  close(): Promise<void>;
}

/** Unwritten bytes the console or a log file may hold before job output is paused. */
export const LOG_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Records the logger may hold queued before job output is paused. */
const LOGGER_BACKLOG_RECORDS = 10_000;
/** A waiting sink is looked at again after this long, in case it went quiet without an event. */
const DRAIN_RECHECK_MS = 1000;

interface Sink {
  stream: Writable;
  /** writableLength above which the sink is behind: bytes, or records for an object-mode stream. */
  limit: number;
}

function isBehind(sink: Sink): boolean {
  return !sink.stream.destroyed && sink.stream.writableLength > sink.limit;
}

/** Resolves on the sink's next 'drain', 'finish' or 'close', or after DRAIN_RECHECK_MS. */
function nextChange(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const events = ['drain', 'finish', 'close'] as const;
    const done = () => {
      clearTimeout(timer);
      for (const event of events) stream.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, DRAIN_RECHECK_MS);
    for (const event of events) stream.on(event, done);
  });
}

class SinkPressure implements LogPressure {
  readonly #fixed: readonly Sink[];
  readonly #more: () => Writable[];
  /** One wait shared by every paused job, so a sink gets one set of listeners, not one per job. */
  #waiting: Promise<void> | undefined;

  constructor(sinks: readonly Sink[], more: () => Writable[] = () => []) {
    this.#fixed = sinks;
    this.#more = more;
  }

  get #sinks(): Sink[] {
    return [...this.#fixed, ...this.#more().map((stream) => ({ stream, limit: LOG_BACKLOG_BYTES }))];
  }

  get backlogged(): boolean {
    return this.#sinks.some(isBehind);
  }

  drained(): Promise<void> {
    this.#waiting ??= this.#wait().finally(() => {
      this.#waiting = undefined;
    });
    return this.#waiting;
  }

  async #wait(): Promise<void> {
    for (let sink = this.#sinks.find(isBehind); sink; sink = this.#sinks.find(isBehind)) await nextChange(sink.stream);
  }
}

const LEVEL_WIDTH = 7;
const HIDDEN_META = new Set(['host', 'job', 'level', 'message', 'timestamp', 'cut', 'stream']);

type Info = winston.Logform.TransformableInfo;

/** `INFO   `: a level as the log lines show it, made once per level. */
const levelLabels = new Map<string, string>();
function levelLabel(level: string): string {
  let label = levelLabels.get(level);
  if (label === undefined) {
    label = level.toUpperCase().padEnd(LEVEL_WIDTH);
    if (levelLabels.size < 64) levelLabels.set(level, label);
  }
  return label;
}

/** The time stamps of the log lines, made once per millisecond (a busy log writes many lines in one). */
let stampedAt = Number.NaN;
let fileStampText = '';
let clockText = '';
function stampNow(): void {
  const now = Date.now();
  if (now === stampedAt) return;
  stampedAt = now;
  const iso = new Date(now).toISOString();
  fileStampText = iso.replace('T', ' ').slice(0, 23);
  clockText = iso.slice(11, 19);
}

function prefix(info: Info): string {
  const host = info.host as string | undefined;
  const job = info.job as string | undefined;
  if (!host && !job) return '';
  return `${host ?? ''}${job ? '#' + job : ''} `;
}

function cutNote(info: Info): string {
  return info.cut ? ` [line cut: ${String(info.cut)} more bytes dropped]` : '';
}

function extraMeta(info: Info): string {
  let extra: Record<string, unknown> | undefined;
  for (const key of Object.keys(info)) {
    if (HIDDEN_META.has(key)) continue;
    extra ??= {};
    extra[key] = info[key];
  }
  return extra ? ' ' + JSON.stringify(extra) : '';
}

function consoleLine(info: Info, color: boolean, colorizer: winston.Logform.Colorizer): string {
  stampNow();
  const level = levelLabel(info.level);
  const shown = color ? colorizer.colorize(info.level, level) : level;
  return `${clockText} ${shown} ${prefix(info)}${String(info.message)}${cutNote(info)}`;
}

function formatFileLine(info: Info): string {
  stampNow();
  return `${fileStampText} ${levelLabel(info.level)} ${prefix(info)}${String(info.message)}${cutNote(info)}${extraMeta(info)}`;
}

/**
 * The record the run's log file formatted last, and its line: the transports after it (a job's
 * job.log) take that line instead of formatting the record again. Taken once, and only for
 * the very same record object.
 */
let formattedInfo: Info | undefined;
let formattedLine = '';

function logFileLine(info: Info): string {
  const line = formatFileLine(info);
  formattedInfo = info;
  formattedLine = line;
  return line;
}

/** A record as a line of a log file: time, level, host#job, message, metadata. */
export function fileLine(info: winston.Logform.TransformableInfo): string {
  if (info === formattedInfo) {
    formattedInfo = undefined;
    return formattedLine;
  }
  return formatFileLine(info);
}

/** Text a LineWriter holds before it writes without waiting for the end of the turn. */
const LINE_BATCH_CHARS = 64 * 1024;
/** What a LineWriter writes into: a stream, or anything that takes text. */
export interface TextSink {
  write(text: string): unknown;
}

/** Writers holding lines, so that a process exiting at once still writes them (synchronous streams: files, terminals). */
const holding = new Set<LineWriter<TextSink>>();
let exitHook = false;

/**
 * Lines for one stream, written together: at the end of the event-loop turn they were logged
 * in, or as soon as 64 KiB have gathered, or on flush(). One write of many lines instead of one
 * write per line: a busy job's lines arrive by the thousand per turn, and each write costs a
 * system call on a terminal or a file (process.stderr writes those synchronously) and a buffer
 * conversion everywhere. The order of the lines is kept.
 */
export class LineWriter<S extends TextSink = Writable> {
  readonly stream: S;
  #pending = '';
  #scheduled = false;

  constructor(stream: S) {
    this.stream = stream;
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const writer of holding) writer.flush();
      });
    }
  }

  /** Adds one line (without its newline). */
  write(line: string): void {
    this.#pending += line + '\n';
    if (this.#pending.length >= LINE_BATCH_CHARS) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      holding.add(this);
      setImmediate(() => this.flush());
    }
  }

  /** Hands what is held to the stream now. */
  flush(): void {
    this.#scheduled = false;
    holding.delete(this);
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    this.stream.write(text);
  }
}

/**
 * A transport whose log() is synchronous (it calls back before it returns) and takes the record
 * itself, not a formatted copy: a record can reach it directly (logRecord), without winston's
 * stream hops, and it is as if winston had passed it on.
 */
export abstract class SyncTransport extends Transport {}

/** triple-beam's LEVEL, which winston's log() sets on each record. */
const LEVEL = Symbol.for('level');
const DIRECT = Symbol('directLog');
type DirectLog = (info: LogEntry) => boolean;
type StreamState = { _writableState?: { ending?: boolean } };
const ignore = (): void => {};

/**
 * Logs a whole record on the run's logger, exactly as `logger.log(info)` does. For the lines of
 * a busy job: when winston would hand the record to the transports at once anyway (nothing
 * queued in the logger or any transport, every transport a SyncTransport of the run log, no
 * other listener), it goes to them directly, which spares four stream writes and their
 * callbacks per line; otherwise it takes winston's own path.
 */
export function logRecord(logger: Logger, info: LogEntry): void {
  const direct = (logger as Logger & { [DIRECT]?: DirectLog })[DIRECT];
  if (!direct?.(info)) logger.log(info);
}

function directLog(logger: Logger): DirectLog {
  const levels = logger.levels;
  const open = (stream: winston.transport | Logger) => !stream.destroyed && !(stream as unknown as StreamState)._writableState?.ending;
  // The transports last found to be all SyncTransports: looked at again when they change.
  let checked: readonly winston.transport[] = [];
  const unchanged = (transports: readonly winston.transport[]) => transports.length === checked.length && transports.every((transport, i) => transport === checked[i]);
  return (info) => {
    const rank = levels[info.level];
    if (rank === undefined || logger.silent || logger.writableLength > 0 || logger.readableLength > 0 || !open(logger)) return false;
    const transports = logger.transports;
    if (transports.length === 0 || logger.listenerCount('data') !== transports.length) return false;
    if (!unchanged(transports)) {
      if (!transports.every((transport) => transport instanceof SyncTransport && !transport.format)) return false;
      checked = [...transports];
    }
    for (const transport of transports) {
      if (transport.writableLength > 0 || !open(transport)) return false;
    }
    (info as LogEntry & { [LEVEL]?: string })[LEVEL] = info.level;
    // What winston-transport's _write decides for each transport.
    for (const transport of transports) {
      if (transport.silent || (info.exception === true && !transport.handleExceptions)) continue;
      const level = transport.level || logger.level;
      if (!level || levels[level]! >= rank) transport.log!(info, ignore);
    }
    return true;
  };
}

/**
 * Writes each record at `level` or above as one text line to a stream. Unlike winston's Stream
 * transport it neither copies the record for a format nor schedules a 'logged' event per
 * record, and it writes the lines of a turn together (LineWriter), which cost more than the
 * formatting when a node logs hundreds of thousands of lines.
 */
class LineTransport extends SyncTransport {
  readonly #writer: LineWriter;
  readonly #line: (info: Info) => string;

  constructor(stream: Writable, level: string, line: (info: Info) => string) {
    super({ level });
    this.#writer = new LineWriter(stream);
    this.#line = line;
  }

  override log(info: Info, callback: () => void): void {
    this.#writer.write(this.#line(info));
    callback();
  }

  /** Before 'finish': what the run log's close() waits for, before it ends the files. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#writer.flush();
    callback();
  }
}

/** The root logger's own format: none. Each transport formats; winston's default would JSON-encode every record for nobody. */
const passThrough: winston.Logform.Format = { transform: (info) => info };

const jsonFormat = winston.format.combine(winston.format.timestamp(), winston.format.json());

function fileStream(path: string): WriteStream {
  mkdirSync(dirname(path), { recursive: true });
  return createWriteStream(path, { flags: 'a' });
}

export function wantsColor(stream: Writable): boolean {
  return Boolean((stream as NodeJS.WriteStream).isTTY) && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
}

export function openRunLog(options: RunLogOptions): RunLog {
  const consoleStream = options.console ?? process.stderr;
  const color = options.color ?? wantsColor(consoleStream);
  const colorizer = winston.format.colorize();
  const transports: winston.transport[] = [
    new LineTransport(consoleStream, options.consoleLevel, (info) => consoleLine(info, color, colorizer)),
  ];
  const files: WriteStream[] = [];
  if (options.logFile) {
    const stream = fileStream(options.logFile);
    files.push(stream);
    transports.push(new LineTransport(stream, 'debug', logFileLine));
  }
  if (options.jsonFile) {
    const stream = fileStream(options.jsonFile);
    files.push(stream);
    transports.push(new winston.transports.Stream({ stream, level: 'debug', format: jsonFormat }));
  }
  transports.push(...(options.transports ?? []));
  // No defaultMeta on the root: it would override the {host, job} of the children.
  const logger = winston.createLogger({ level: 'debug', levels: winston.config.npm.levels, format: passThrough, transports, exitOnError: false });
  Object.defineProperty(logger, DIRECT, { value: directLog(logger) });
  // The console too: process.stderr on a pipe writes asynchronously and buffers without bound behind a slow reader.
  const pressure = new SinkPressure([
    { stream: logger, limit: LOGGER_BACKLOG_RECORDS },
    ...[consoleStream, ...files].map((stream) => ({ stream, limit: LOG_BACKLOG_BYTES })),
  ], options.moreSinks);
  let closing: Promise<void> | undefined;
  return {
    logger,
    logFile: options.logFile,
    jsonFile: options.jsonFile,
    pressure,
    close() {
      closing ??= (async () => {
        const finished = transports.map((transport) => once(transport, 'finish'));
        logger.end();
        await Promise.all(finished);
        await Promise.all(files.map(async (stream) => {
          stream.end();
          await once(stream, 'close');
        }));
      })();
      return closing;
    },
  };
}

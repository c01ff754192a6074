/** The fast path for a busy job's lines: straight to the run log's synchronous transports when winston would do the same. */
import type winston from 'winston';
import type { LogEntry } from 'winston';
import { SyncTransport } from './sync-transport.js';

type Logger = winston.Logger;

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


/** Lets logRecord() take the fast path on this logger. */
export function enableDirectLog(logger: Logger): void {
  Object.defineProperty(logger, DIRECT, { value: directLog(logger) });
}

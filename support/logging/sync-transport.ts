/** Transports that write a record before they return: the run log's line transports and the per-job logs. */
import type { Writable } from 'node:stream';
import Transport from 'winston-transport';
import { LineWriter } from './line-writer.js';
import type { Info } from './log-lines.js';

/**
 * A transport whose log() is synchronous (it calls back before it returns) and takes the record
 * itself, not a formatted copy: a record can reach it directly (logRecord), without winston's
 * stream hops, and it is as if winston had passed it on.
 */
export abstract class SyncTransport extends Transport {}

/**
 * Writes each record at `level` or above as one text line to a stream. Unlike winston's Stream
 * transport it neither copies the record for a format nor schedules a 'logged' event per
 * record, and it writes the lines of a turn together (LineWriter), which cost more than the
 * formatting when a node logs hundreds of thousands of lines.
 */
export class LineTransport extends SyncTransport {
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

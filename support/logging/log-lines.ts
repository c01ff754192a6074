/** How a log record reads as a line: on the console (clock time, colour) and in a log file (date, metadata). */
import type winston from 'winston';

const LEVEL_WIDTH = 7;
const HIDDEN_META = new Set(['host', 'job', 'level', 'message', 'timestamp', 'cut', 'stream']);

export type Info = winston.Logform.TransformableInfo;

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

/** Characters that would move the cursor, clear the screen or start a line of their own on a terminal or in a text log. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
/** Where a continuation line starts: under the message, after a bar, so no line of a message can pass for a record of its own. */
const CONSOLE_CONTINUATION = `\n${' '.repeat(8 + 1 + LEVEL_WIDTH)} | `;
const FILE_CONTINUATION = `\n${' '.repeat(23 + 1 + LEVEL_WIDTH)} | `;

function escapeControl(char: string): string {
  const code = char.charCodeAt(0);
  return code === 0x0d ? '\\r' : `\\x${code.toString(16).padStart(2, '0')}`;
}

/**
 * Text from a node (or any record) as it may appear in a text log: each line after the first
 * marked as a continuation, every other control character (ESC, CR, ...) written as an escape.
 * The JSON log keeps the text exactly.
 */
export function printable(text: string, continuation: string): string {
  if (!CONTROL.test(text)) return text; // the common case: one test, no copy
  return text.replace(/\r\n/g, '\n').replace(CONTROLS, escapeControl).split('\n').join(continuation);
}

function prefix(info: Info): string {
  const host = info.host as string | undefined;
  const job = info.job as string | undefined;
  if (!host && !job) return '';
  return printable(`${host ?? ''}${job ? '#' + job : ''} `, ' ');
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

export function consoleLine(info: Info, color: boolean, colorizer: winston.Logform.Colorizer): string {
  stampNow();
  const level = levelLabel(info.level);
  const shown = color ? colorizer.colorize(info.level, level) : level;
  return `${clockText} ${shown} ${prefix(info)}${printable(String(info.message), CONSOLE_CONTINUATION)}${cutNote(info)}`;
}

function formatFileLine(info: Info): string {
  stampNow();
  return `${fileStampText} ${levelLabel(info.level)} ${prefix(info)}${printable(String(info.message), FILE_CONTINUATION)}${cutNote(info)}${extraMeta(info)}`;
}

/**
 * The record the run's log file formatted last, and its line: the transports after it (a job's
 * job.log) take that line instead of formatting the record again. Taken once, and only for
 * the very same record object.
 */
let formattedInfo: Info | undefined;
let formattedLine = '';

export function logFileLine(info: Info): string {
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

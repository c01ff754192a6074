/**
 * LOFAR's `[remote] cmdline` template (method custom_cmdline): its placeholders, checked when
 * the configuration is read, and filled per job by launchers/custom-command.ts.
 */
import { ConfigError } from '../errors.js';

export const CMDLINE_PLACEHOLDERS = ['host', 'command', 'env', 'docker_env', 'uid', 'slurm_job_id', 'job_name', 'nr_cores', 'image'] as const;
type Placeholder = (typeof CMDLINE_PLACEHOLDERS)[number];

/** `{name}` and Python's `{{`, `}}`; anything else between braces is not a placeholder this fills. */
const FIELD = /\{\{|\}\}|\{([^{}]*)\}|[{}]/g;

/**
 * Checks a template as the configuration is read: every placeholder known, `{image}` only with a
 * `[docker] image`, and a command left once it is filled. `where` names the key for the message.
 */
export function checkTemplate(template: string, where: string, image: string | undefined): void {
  // Each value is filled as shell words of its own: inside quotes, a quoted value would be shell code again.
  const quoted = quotedRanges(template);
  for (const match of template.matchAll(FIELD)) {
    if (match[1] !== undefined && quoted.some(([from, to]) => match.index! > from && match.index! < to)) {
      throw new ConfigError(where, `${where}: {${match[1]}} is inside quotes; write it bare (each placeholder is filled as quoted shell words)`);
    }
    if (match[0] === '{{' || match[0] === '}}') continue;
    const name = match[1];
    if (name === undefined) throw new ConfigError(where, `${where}: a lone ${match[0]} at ${match.index}; write {{ or }} for a brace`);
    if (!(CMDLINE_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new ConfigError(where, `${where}: unknown placeholder {${name}}; expected one of ${CMDLINE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`);
    }
    if (name === 'image' && !image) throw new ConfigError(where, `${where}: {image} needs [docker] image`);
  }
  if (!/\{command\}/.test(template)) throw new ConfigError(where, `${where}: the template has no {command}, so no job would run`);
  if (fillTemplate(template, { host: '', command: '', env: '', docker_env: '', uid: '', slurm_job_id: '', job_name: '', nr_cores: '', image: '' }).trim() === '') {
    throw new ConfigError(where, `${where}: the template is empty once filled; expected a command line with {command}`);
  }
}

/** The template with each placeholder replaced by its value (already a shell word or words). */
export function fillTemplate(template: string, values: Record<Placeholder, string>): string {
  return template.replace(FIELD, (whole, name: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    return values[name as Placeholder];
  });
}

/** Where the template has '...' and "..." (start and end offsets), as a POSIX shell reads it. */
function quotedRanges(text: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let open: { quote: string; at: number } | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (open) {
      if (char === '\\' && open.quote === '"') i++;
      else if (char === open.quote) {
        ranges.push([open.at, i]);
        open = undefined;
      }
    } else if (char === '\\') i++;
    else if (char === "'" || char === '"') open = { quote: char, at: i };
  }
  if (open) ranges.push([open.at, text.length]);
  return ranges;
}

/**
 * Words of a POSIX sh command line: quoted values, `NAME=value` assignments and the way a node
 * process is started. Every command the master sends to a host (a job's launch command, a host
 * check, later an agent's start) is built from these, so quoting lives in one place.
 */

/** Quotes a string for POSIX sh: single quotes, with embedded single quotes closed and escaped. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A path for the host's shell, quoted: a leading `~` is the home of the user the job runs as there, not of the master's. */
export function hostPath(path: string): string {
  if (path === '~') return '"$HOME"';
  if (path.startsWith('~/')) return `"$HOME"/${shellQuote(path.slice(2))}`;
  return shellQuote(path);
}

/** A POSIX shell variable name: letters, digits and `_`, not starting with a digit. */
export function isVariableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** `NAME='value'` words for a shell command line. A name that is not a variable name is never written: it would be shell code. */
export function assignments(environment: Record<string, string>): string[] {
  return Object.entries(environment).map(([name, value]) => {
    if (!isVariableName(name)) throw new TypeError(`${JSON.stringify(name)} is not an environment variable name`);
    return `${name}=${shellQuote(value)}`;
  });
}

/** `exec [env K=V ...] 'node' args...`: how a job's node process is started, with its environment on the command line. */
export function execNode(nodeExecutable: string, environment: Record<string, string>, args: readonly string[]): string {
  const words = assignments(environment);
  const env = words.length > 0 ? `env ${words.join(' ')} ` : '';
  return `exec ${env}${[nodeExecutable, ...args].map(hostPath).join(' ')}`;
}

/**
 * Splits a command line into words as a POSIX shell would, without expanding anything: quotes
 * ('...', "...") and backslashes group and escape; undefined for an unclosed quote.
 */
export function splitShellWords(text: string): string[] | undefined {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += char;
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word ??= '';
      if (char === "'" || char === '"') quote = char;
      else if (char === '\\' && i + 1 < text.length) word += text[++i];
      else word += char;
    }
  }
  if (quote) return undefined;
  if (word !== undefined) words.push(word);
  return words;
}

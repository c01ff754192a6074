/**
 * Host-key verification against OpenSSH known_hosts files: plain and hashed (`|1|salt|hash`)
 * host patterns, `[host]:port` entries, wildcards and negation, `@revoked` markers.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type HostKeyStatus =
  | { status: 'known'; file: string; line: number }
  | { status: 'unknown' }
  | { status: 'changed'; file: string; line: number }
  | { status: 'revoked'; file: string; line: number };

interface Entry {
  file: string;
  line: number;
  marker: string | undefined;
  patterns: string[];
  keyType: string;
  key: string; // base64 blob
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function matchesHashed(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

/** OpenSSH's match_hostname: any positive pattern matches and no negated one does. */
function matchesHost(patterns: string[], names: string[]): boolean {
  let matched = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    const hit = names.some((name) => (pattern.startsWith('|') ? matchesHashed(pattern, name) : globToRegExp(pattern).test(name)));
    if (hit && negated) return false;
    if (hit) matched = true;
  }
  return matched;
}

export class KnownHosts {
  readonly files: string[];
  readonly #entries: Entry[] = [];

  constructor(files: string[]) {
    this.files = files;
    for (const file of files) this.#load(file);
  }

  #load(file: string): void {
    if (!existsSync(file)) return;
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((text, index) => {
      const trimmed = text.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      const fields = trimmed.split(/\s+/);
      const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
      if (fields.length < 3) return;
      this.#entries.push({ file, line: index + 1, marker, patterns: fields[0]!.split(','), keyType: fields[1]!, key: fields[2]! });
    });
  }

  /** Checks the key `blob` a server at host:port presented. `aliases` are further names to match (the ssh_config alias). */
  check(host: string, port: number, blob: Buffer, aliases: string[] = []): HostKeyStatus {
    const names = [knownHostsName(host, port), ...aliases.map((alias) => knownHostsName(alias, port))];
    const key = blob.toString('base64');
    const type = keyTypeOf(blob);
    const forHost = this.#entries.filter((entry) => entry.marker !== '@cert-authority' && matchesHost(entry.patterns, names));
    const revoked = this.#entries.find((entry) => entry.marker === '@revoked' && entry.key === key);
    if (revoked) return { status: 'revoked', file: revoked.file, line: revoked.line };
    const same = forHost.find((entry) => entry.marker === undefined && entry.key === key);
    if (same) return { status: 'known', file: same.file, line: same.line };
    const changed = forHost.find((entry) => entry.marker === undefined && entry.keyType === type);
    if (changed) return { status: 'changed', file: changed.file, line: changed.line };
    return { status: 'unknown' };
  }

  /** Records a newly accepted key (accept-new), in the first known_hosts file. */
  add(host: string, port: number, blob: Buffer): string {
    const file = this.files[0]!;
    mkdirSync(dirname(file), { recursive: true });
    const line = `${knownHostsName(host, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`;
    appendFileSync(file, line, { mode: 0o600 });
    this.#entries.push({ file, line: 0, marker: undefined, patterns: [knownHostsName(host, port)], keyType: keyTypeOf(blob), key: blob.toString('base64') });
    return file;
  }
}

/** SHA256 fingerprint as OpenSSH prints it. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/**
 * One host's deployment. Layout under install_root:
 *
 *   .objects/<sha256>[-x]      every file ever sent, named by its content (sent once)
 *   versions/<version>/        one bundle: hard links into .objects, and .manifest.json
 *   current -> versions/<v>    switched by one rename: a job sees the old version or the new
 *   dist, package.json, node_modules, projects -> current/...   the paths jobs use
 *
 * A deploying run uses its version's directory itself, so another master switching `current`
 * does not change its jobs; the KEEP_VERSIONS last deployed versions besides the current stay
 * for such runs. One deployment at a time per install_root (a lock directory).
 */
import { setTimeout as delay } from 'node:timers/promises';
import pLimit from 'p-limit';
import { DRAFT_MARK, draftName, HostFileError, makeDirectories, onHost, putWhole, removeTree, type HostFiles } from '../launchers/host-files.js';
import { objectName, type DeployBundle } from './deploy-bundle.js';

/** The versions kept besides the current one, for jobs that started on them. */
const KEEP_VERSIONS = 2;
/** Requests in flight to one host while linking a version together. */
const LINKS_IN_FLIGHT = 32;
/** Files sent to one host at once. */
const FILES_IN_FLIGHT = 4;
/** A draft this old is a killed deployment's: removed. */
const STALE_DRAFT_MS = 10 * 60 * 1000;
export const MANIFEST_FILE = '.manifest.json';
/** Held while a deployment runs. */
const LOCK_NAME = '.deploy-lock';
/** How long a deployment waits for another one to finish. */
const LOCK_WAIT_MS = 120_000;
/** The names under install_root that point into the current version. */
const ENTRY_LINKS = ['dist', 'package.json', 'node_modules', 'projects'];

export interface HostDeployResult {
  host: string;
  /** install_root as the host has it (`~` expanded). */
  root: string;
  version: string;
  /** The version that was current before; null on a first deployment. */
  previous: string | null;
  filesSent: number;
  bytesSent: number;
  /** Versions and objects removed as no longer kept. */
  removed: number;
}

interface Manifest {
  version: string;
  files: Array<{ path: string; object: string }>;
}

/** The version `current` points at on a host, or null when none is deployed there. */
export async function deployedVersion(files: HostFiles, installRoot: string): Promise<string | null> {
  const root = await onHost(files, installRoot);
  const target = await files.readlink(`${root}/current`);
  return target?.startsWith('versions/') ? target.slice('versions/'.length) : null;
}

export async function deployToHost(files: HostFiles, bundle: DeployBundle, installRoot: string): Promise<HostDeployResult> {
  const root = (await onHost(files, installRoot)).replace(/\/+$/, '');
  await makeDirectories(files, root);
  // One deployment at a time per install_root: another master's prune must not remove what this one counts on.
  await lock(files, `${root}/${LOCK_NAME}`);
  try {
    return await deployLocked(files, bundle, root);
  } finally {
    await files.rmdir(`${root}/${LOCK_NAME}`).catch(() => {});
  }
}

/** Takes the lock directory; one left by a deployment killed over STALE_DRAFT_MS ago is taken over. */
async function lock(files: HostFiles, path: string): Promise<void> {
  const giveUpAt = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    if (await files.tryMkdir(path)) return;
    const held = await files.stat(path);
    if (held && Date.now() - held.mtimeMs > STALE_DRAFT_MS) {
      await files.rmdir(path).catch(() => {});
      continue;
    }
    if (Date.now() > giveUpAt) throw new HostFileError(files.host, path, 'failed', `${files.host}:${path}: another deployment has held it for over ${LOCK_WAIT_MS / 1000} s; if none runs, remove it`);
    await delay(100 + Math.random() * 200);
  }
}

async function deployLocked(files: HostFiles, bundle: DeployBundle, root: string): Promise<HostDeployResult> {
  const result: HostDeployResult = { host: files.host, root, version: bundle.version, previous: null, filesSent: 0, bytesSent: 0, removed: 0 };
  await files.mkdir(`${root}/.objects`);
  await files.mkdir(`${root}/versions`);
  result.previous = await deployedVersion(files, root);
  const versionDir = `${root}/versions/${bundle.version}`;
  if (!(await files.stat(`${versionDir}/${MANIFEST_FILE}`))) {
    await sendObjects(files, bundle, root, result);
    await assembleVersion(files, bundle, root);
  }
  if (result.previous !== bundle.version) {
    const link = draftName(`${root}/current`);
    await files.symlink(`versions/${bundle.version}`, link);
    await files.rename(link, `${root}/current`);
  }
  await ensureEntryLinks(files, root);
  await files.touch(versionDir); // last deployed now: versions are kept by their last use, not their first
  result.removed = await prune(files, root, bundle.version);
  return result;
}

/** Sends the files whose content the host does not hold yet, each to a draft name renamed into place. */
async function sendObjects(files: HostFiles, bundle: DeployBundle, root: string, result: HostDeployResult): Promise<void> {
  const held = new Set((await files.list(`${root}/.objects`)).filter((entry) => entry.kind === 'file').map((entry) => entry.name));
  const wanted = new Map(bundle.files.filter((file) => !held.has(objectName(file))).map((file) => [objectName(file), file]));
  const limit = pLimit(FILES_IN_FLIGHT);
  await Promise.all([...wanted].map(([name, file]) => limit(async () => {
    await putWhole(files, file.source, `${root}/.objects/${name}`, { mode: file.executable ? 0o755 : 0o644 });
    result.filesSent++;
    result.bytesSent += file.size;
  })));
}

/** Links a version's tree together from the objects in a draft directory, then renames it into place. */
async function assembleVersion(files: HostFiles, bundle: DeployBundle, root: string): Promise<void> {
  const draft = draftName(`${root}/versions/${bundle.version}`);
  await files.mkdir(draft);
  const directories = new Set<string>();
  for (const entry of [...bundle.files, ...bundle.links]) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) directories.add(parts.slice(0, i).join('/'));
  }
  // Parents before children: sorted by depth.
  for (const dir of [...directories].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))) await files.mkdir(`${draft}/${dir}`);
  const limit = pLimit(LINKS_IN_FLIGHT);
  await Promise.all([
    ...bundle.files.map((file) => limit(() => files.link(`${root}/.objects/${objectName(file)}`, `${draft}/${file.path}`))),
    ...bundle.links.map((link) => limit(() => files.symlink(link.target, `${draft}/${link.path}`))),
  ]);
  const manifest: Manifest = { version: bundle.version, files: bundle.files.map((file) => ({ path: file.path, object: objectName(file) })) };
  await files.writeText(`${draft}/${MANIFEST_FILE}`, JSON.stringify(manifest));
  try {
    await files.rename(draft, `${root}/versions/${bundle.version}`);
  } catch (error) {
    // Another master deployed the same version meanwhile: theirs is as good.
    if (!(await files.stat(`${root}/versions/${bundle.version}/${MANIFEST_FILE}`))) throw error;
    await removeTree(files, draft);
  }
}

/** `dist`, `package.json`, `node_modules` and `projects` under install_root point into `current`; what else is there is refused. */
async function ensureEntryLinks(files: HostFiles, root: string): Promise<void> {
  for (const name of ENTRY_LINKS) {
    const path = `${root}/${name}`;
    const target = `current/${name}`;
    const entry = await files.stat(path);
    if (entry?.kind === 'symlink' && (await files.readlink(path)) === target) continue;
    if (entry && entry.kind !== 'symlink') {
      throw new HostFileError(files.host, path, 'failed', `${files.host}:${path} exists and was not made by pipeline deploy; move it away, or set [remote] install_root to an empty directory`);
    }
    const draft = draftName(path);
    await files.symlink(target, draft);
    await files.rename(draft, path);
  }
}

/** Removes versions beyond the current one and the KEEP_VERSIONS newest others, the objects no kept version uses, and stale drafts. */
async function prune(files: HostFiles, root: string, current: string): Promise<number> {
  let removed = 0;
  const now = Date.now();
  // Drafts a killed deployment left: of links under install_root, and of objects.
  for (const dir of [root, `${root}/.objects`]) {
    for (const entry of await files.list(dir)) {
      if (entry.name.includes(DRAFT_MARK) && now - entry.mtimeMs > STALE_DRAFT_MS) {
        await removeTree(files, `${dir}/${entry.name}`);
        removed++;
      }
    }
  }
  const entries = await files.list(`${root}/versions`);
  const drafts = entries.filter((entry) => entry.name.includes(DRAFT_MARK) && now - entry.mtimeMs > STALE_DRAFT_MS);
  const versions = entries.filter((entry) => entry.kind === 'directory' && !entry.name.includes(DRAFT_MARK) && entry.name !== current)
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  const dropped = [...versions.slice(KEEP_VERSIONS), ...drafts];
  for (const entry of dropped) await removeTree(files, `${root}/versions/${entry.name}`);
  removed += dropped.length;
  if (dropped.length === 0) return removed;
  const used = new Set<string>();
  for (const name of [current, ...versions.slice(0, KEEP_VERSIONS).map((entry) => entry.name)]) {
    const text = await files.readText(`${root}/versions/${name}/${MANIFEST_FILE}`);
    if (text === undefined) return removed; // a version without its manifest: keep every object rather than guess
    for (const file of (JSON.parse(text) as Manifest).files) used.add(file.object);
  }
  for (const entry of await files.list(`${root}/.objects`)) {
    if (!entry.name.includes(DRAFT_MARK) && !used.has(entry.name)) {
      await files.unlink(`${root}/.objects/${entry.name}`);
      removed++;
    }
  }
  return removed;
}

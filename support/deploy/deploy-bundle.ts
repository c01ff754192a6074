/**
 * What `pipeline deploy` puts on the hosts, and where: the framework's node-side files with the
 * modules they import (followed from the entry points, npm packages whole), and the user's node
 * scripts from the recipe directories. Each file is named by the hash of its content, so a
 * deployment sends only what the host does not hold; the bundle's version is the hash of it all.
 */
import { createHash } from 'node:crypto';
import { isBuiltin } from 'node:module';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError } from '../errors.js';
import { frameworkRoot, shippedRecipeDirectory } from '../config/framework-paths.js';

export interface BundleFile {
  /** Where it goes, relative to the version's directory on the host (`/`-separated). */
  path: string;
  /** Where it is on the control node. */
  source: string;
  sha256: string;
  size: number;
  executable: boolean;
}

export interface BundleLink {
  path: string;
  target: string;
}

export interface DeployBundle {
  /** The hash of every path, content and mode: equal bundles have equal versions. */
  version: string;
  files: BundleFile[];
  links: BundleLink[];
}

/** A directory of the user's whose node scripts are deployed under `projects/<key>/`. */
export interface UserProject {
  root: string;
  key: string;
  /** The directories of it that are deployed (the recipe directory, and `<root>/nodes`). */
  directories: string[];
}

/** The framework's files the hosts run: the node runtime, the agent and its workers, the shipped node scripts, the Python runtime. */
const FRAMEWORK_ENTRY_DIRECTORIES = ['dist/support/node', 'dist/support/agent', 'dist/nodes'];
/** What a user's node script may import as the framework. */
const FRAMEWORK_MAIN = 'dist/support/index.js';
/** Files of a user's directory that a job may run or read. */
const PROJECT_FILE = /\.(m?js|cjs|py|json|sh)$/;
/** Past this, a recipe directory is not a directory of scripts (a home directory listed by mistake). */
const MAX_PROJECT_FILES = 5000;
const MAX_PROJECT_BYTES = 200 * 1024 * 1024;

/** `import ... from 'x'`, `export ... from 'x'`, `import 'x'`, `import('x')` in built JavaScript. */
const IMPORT_SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"\n]+)\1/g;

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function fileOf(path: string, source: string): BundleFile {
  const stats = statSync(source);
  return { path, source, sha256: sha256File(source), size: stats.size, executable: (stats.mode & 0o111) !== 0 };
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Every file below `dir` (symlinks followed as the files they point at; node_modules of a package kept). */
function walk(dir: string, keep: (path: string) => boolean, skipDirectory: (name: string) => boolean = () => false): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    let stats;
    try {
      stats = statSync(path);
    } catch {
      continue; // a dangling symlink
    }
    if (stats.isDirectory()) {
      if (!skipDirectory(name)) found.push(...walk(path, keep, skipDirectory));
    } else if (stats.isFile() && keep(path)) found.push(path);
  }
  return found;
}

/** The framework's node-side files and the npm packages they import: where each goes in a version, and where it is here. */
function frameworkFiles(): Array<{ path: string; source: string }> {
  const files = new Set<string>(['package.json']);
  const packages = new Set<string>();
  const queue: string[] = [FRAMEWORK_MAIN];
  for (const dir of FRAMEWORK_ENTRY_DIRECTORIES) {
    const abs = join(frameworkRoot, dir);
    if (!existsSync(abs)) throw new ConfigError(abs, `${abs} does not exist: build the framework (npm run build) before deploying it`);
    for (const path of walk(abs, (p) => /\.(m?js|py)$/.test(p))) queue.push(relative(frameworkRoot, path));
  }
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!file.endsWith('.js')) continue;
    const text = readFileSync(join(frameworkRoot, file), 'utf8');
    for (const match of text.matchAll(IMPORT_SPECIFIER)) {
      const specifier = match[2]!;
      // Text that only looks like an import (`from ', '` in a message) names no module.
      if (specifier.startsWith('node:') || !/^(?:\.{1,2}\/|(?:@[\w.-]+\/)?[\w.-]+(?:\/|$))/.test(specifier)) continue;
      if (specifier.startsWith('.')) {
        const target = join(dirname(file), specifier);
        if (existsSync(join(frameworkRoot, target))) queue.push(target);
      } else if (packageName(specifier) !== 'pipeline-framework') {
        packages.add(packageName(specifier));
      }
    }
  }
  const placed = [...files].filter((file) => !file.endsWith('.d.ts') && !file.endsWith('.map')).map((path) => ({ path, source: join(frameworkRoot, path) }));
  // Each package under node_modules/<name> of the version, wherever npm put it here (hoisted above the framework, or inside it).
  for (const { name, dir } of packageDirectories([...packages])) {
    for (const source of walk(dir, () => true)) placed.push({ path: `node_modules/${name}/${relative(dir, source).split(sep).join('/')}`, source });
  }
  return placed.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The directories of the named npm packages and of everything they depend on, found as Node
 * finds them (node_modules of the importer, then of each directory above it). A dependency that
 * is not optional and not found is an error: the hosts would fail to import it.
 */
function packageDirectories(names: string[]): Array<{ name: string; dir: string }> {
  const found = new Map<string, { name: string; dir: string }>();
  const queue = names.map((name) => ({ name, from: frameworkRoot, optional: false }));
  while (queue.length > 0) {
    const { name, from, optional } = queue.pop()!;
    let dir: string | undefined;
    for (let at = from; ; at = dirname(at)) {
      const candidate = join(at, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) {
        dir = candidate;
        break;
      }
      if (dirname(at) === at) break;
    }
    if (!dir) {
      if (optional || isBuiltin(name)) continue;
      throw new ConfigError(from, `cannot deploy: ${name}, which the framework's node side needs, is not installed (looked in node_modules from ${from} upwards); run npm install`);
    }
    if (found.has(name)) continue; // one copy per name: the hosts resolve node_modules/<name> of the version
    found.set(name, { name, dir });
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: object; optionalDependencies?: object };
    for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push({ name: dep, from: dir, optional: false });
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, optional: true });
  }
  return [...found.values()];
}

/** The user directories a deployment carries: each recipe directory with its parent's `nodes/` (where `nodeScript()` looks). */
export function userProjects(recipeDirectories: readonly string[]): UserProject[] {
  const byRoot = new Map<string, UserProject>();
  for (const given of recipeDirectories) {
    const dir = resolve(given);
    if (dir === shippedRecipeDirectory || !existsSync(dir)) continue;
    const root = dirname(dir);
    let project = byRoot.get(root);
    if (!project) {
      const key = `${basename(root) || 'root'}-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
      project = { root, key, directories: [] };
      byRoot.set(root, project);
    }
    if (!project.directories.includes(dir)) project.directories.push(dir);
    if (existsSync(join(root, 'nodes')) && !project.directories.includes(join(root, 'nodes'))) project.directories.push(join(root, 'nodes'));
  }
  return [...byRoot.values()];
}

function projectFiles(project: UserProject): BundleFile[] {
  const sources = new Set<string>();
  const manifest = join(project.root, 'package.json');
  if (existsSync(manifest)) sources.add(manifest); // its "type": "module" makes the scripts ES modules there too
  let bytes = 0;
  for (const dir of project.directories) {
    for (const path of walk(dir, (p) => PROJECT_FILE.test(p), (name) => name === 'node_modules' || name.startsWith('.'))) {
      sources.add(path);
      bytes += lstatSync(path).size;
      if (sources.size > MAX_PROJECT_FILES || bytes > MAX_PROJECT_BYTES) {
        throw new ConfigError(dir, `recipe directory ${dir} holds over ${MAX_PROJECT_FILES} script files or ${MAX_PROJECT_BYTES / 1024 / 1024} MB; list the directory of your recipes, not one above it`);
      }
    }
  }
  return [...sources].sort().map((source) => fileOf(`projects/${project.key}/${relative(project.root, source).split(sep).join('/')}`, source));
}

/** The bundle for these user projects; reads and hashes every file (a few tens of ms for the framework). */
export function makeBundle(projects: readonly UserProject[]): DeployBundle {
  const files = frameworkFiles().map(({ path, source }) => fileOf(path, source));
  const links: BundleLink[] = [];
  for (const project of projects) {
    files.push(...projectFiles(project));
    // `import ... from 'pipeline-framework'` in a user's script finds the deployed framework, as a node_modules link does here.
    links.push({ path: `projects/${project.key}/node_modules/pipeline-framework`, target: '../../..' });
  }
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file.path}\0${file.sha256}\0${file.executable ? 'x' : '-'}\n`);
  for (const link of links) hash.update(`${link.path}\0->${link.target}\n`);
  return { version: hash.digest('hex').slice(0, 16), files, links };
}

/**
 * Where a node script of the control node is on hosts that run the deployed copy: under
 * install_root for the framework's and a deployed project's; unchanged for any other path.
 */
export function deployedPath(path: string, installRoot: string, projects: readonly UserProject[]): string {
  const inFramework = relative(frameworkRoot, path);
  if (!inFramework.startsWith('..') && !isAbsolute(inFramework)) return join(installRoot, inFramework);
  for (const project of projects) {
    const inProject = relative(project.root, path);
    if (inProject.startsWith('..') || isAbsolute(inProject)) continue;
    if (project.directories.some((dir) => !relative(dir, path).startsWith('..'))) return join(installRoot, 'projects', project.key, inProject);
  }
  return path;
}

/** A file's name in a host's object store: its content's hash, and whether it is executable (links share a mode). */
export function objectName(file: BundleFile): string {
  return file.executable ? `${file.sha256}-x` : file.sha256;
}

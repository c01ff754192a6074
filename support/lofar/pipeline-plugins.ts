/**
 * The generic pipeline's built-in plugins that prefactor uses, as LOFAR's PipelineStep_*.py do
 * them: createMapfile (mapfile_from_folder, mapfile_all_to_one, mapfile_split_list,
 * add_suffix_to_file, dummy), makeDirectory and mapfilenamesFromMapfiles. A plugin takes the
 * step's control keys and returns its outputs (`mapfile`: the map it wrote). Running them from a
 * parset is not here yet.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataMap, DataMapError, MultiDataMap } from './data-map.js';

export type PluginOutputs = Record<string, string>;
export type PluginArguments = Record<string, string>;

function required(args: PluginArguments, key: string, plugin: string): string {
  const value = args[key];
  if (value === undefined || value === '') throw new DataMapError(`plugin ${plugin}: needs ${key}`);
  return value;
}

/** LOFAR's pattern: `*` any text, `?` one character, `.` itself, matched against the whole name. */
function patternMatcher(pattern: string): RegExp {
  const source = pattern.trim().split('').map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`);
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value.toLowerCase() !== 'false';
}

/** Writes the map to `<mapfile_dir>/<filename>` and says so as the step's `mapfile` output. */
function saved(map: DataMap | MultiDataMap, args: PluginArguments, plugin: string): PluginOutputs {
  const dir = required(args, 'mapfile_dir', plugin);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, required(args, 'filename', plugin));
  map.save(path);
  return { mapfile: path };
}

/** Every entry not skipped, as one entry per host holding the list of its files (LOFAR's MultiDataMap of a DataMap). */
function allToOne(map: DataMap): MultiDataMap {
  const byHost = new Map<string, string[]>();
  for (const entry of map) byHost.set(entry.host, [...(byHost.get(entry.host) ?? []), entry.file]);
  return new MultiDataMap([...byHost].map(([host, file]) => ({ host, file, skip: false, file_skip: file.map(() => false) })));
}

export function createMapfile(args: PluginArguments): PluginOutputs {
  const plugin = 'createMapfile';
  const method = required(args, 'method', plugin);
  switch (method) {
    case 'mapfile_from_folder': {
      const folder = required(args, 'folder', plugin).replace(/\/+$/, '');
      const matcher = args.pattern ? patternMatcher(args.pattern) : undefined;
      const exclude = isTrue(args.exclude_pattern);
      let names: string[];
      try {
        names = readdirSync(folder).sort();
      } catch (error) {
        throw new DataMapError(`plugin createMapfile: cannot list ${folder}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, undefined, { cause: error });
      }
      const chosen = names.filter((name) => !matcher || matcher.test(name) !== exclude);
      const suffix = args.add_suffix ?? '';
      return saved(new DataMap(chosen.map((name) => ({ host: 'localhost', file: `${folder}/${name}${suffix}`, skip: false }))), args, plugin);
    }
    case 'mapfile_all_to_one':
      return saved(allToOne(DataMap.load(required(args, 'mapfile_in', plugin))), args, plugin);
    case 'mapfile_split_list': {
      const size = Number(required(args, 'listsize', plugin));
      if (!Number.isInteger(size) || size < 1) throw new DataMapError(`plugin createMapfile: listsize must be a whole number from 1 up, got ${JSON.stringify(args.listsize)}`);
      const chunks = allToOne(DataMap.load(required(args, 'mapfile_in', plugin))).entries.flatMap((entry) => {
        const parts = [];
        for (let i = 0; i < entry.file.length; i += size) parts.push(entry.file.slice(i, i + size));
        return parts.map((file) => ({ host: entry.host, file, skip: entry.skip, file_skip: file.map(() => entry.skip) }));
      });
      return saved(new MultiDataMap(chunks), args, plugin);
    }
    case 'add_suffix_to_file': {
      const suffix = required(args, 'add_suffix_to_file', plugin);
      const map = DataMap.load(required(args, 'mapfile_in', plugin));
      return saved(new DataMap(map.entries.map((entry) => ({ ...entry, file: entry.file + suffix }))), args, plugin);
    }
    case 'dummy': {
      const number = Number(required(args, 'number', plugin));
      if (!Number.isInteger(number) || number < 0) throw new DataMapError(`plugin createMapfile: number must be a whole number, got ${JSON.stringify(args.number)}`);
      return saved(new DataMap(Array.from({ length: number }, () => ({ host: 'localhost', file: 'dummy', skip: false }))), args, plugin);
    }
    default:
      throw new DataMapError(`plugin createMapfile: unknown method ${JSON.stringify(method)}; expected mapfile_from_folder, mapfile_all_to_one, mapfile_split_list, add_suffix_to_file or dummy`);
  }
}

/** Makes `directory` (and its parents) when missing; no outputs. */
export function makeDirectory(args: PluginArguments): PluginOutputs {
  mkdirSync(required(args, 'directory', 'makeDirectory'), { recursive: true });
  return {};
}

/** For each `mapfile_<name>`: the output `<name>` is the file of the map's first entry not skipped (prefactor: a skymodel's path). */
export function mapfilenamesFromMapfiles(args: PluginArguments): PluginOutputs {
  const outputs: PluginOutputs = {};
  for (const [key, path] of Object.entries(args)) {
    if (!key.startsWith('mapfile_')) continue;
    const first = [...DataMap.load(path)][0];
    if (!first) throw new DataMapError(`plugin mapfilenamesFromMapfiles: ${path} (${key}) has no entry that is not skipped`);
    outputs[key.slice('mapfile_'.length)] = first.file;
  }
  return outputs;
}

export const PIPELINE_PLUGINS: Record<string, (args: PluginArguments) => PluginOutputs> = { createMapfile, makeDirectory, mapfilenamesFromMapfiles };

/**
 * LOFAR's copier: brings each path of a source data map to the host of the matching entry of a
 * target map (instrument tables next to the measurement sets they calibrate). One job per pair,
 * on the target's host; the map it writes is the target map with the pairs that failed skipped.
 */
import { basename, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { BaseRecipe, DataMap, RemoteCommand, dataMapJobs, field, skipFailed, type DataProduct } from '../support/index.js';

export default class Copier extends RemoteCommand(BaseRecipe) {
  static override description = 'copy each path of a source data map to the host of its target entry (LOFAR\'s copier)';
  static override inputs = {
    mapfile_source: field.string({ help: 'data map of the paths to copy' }),
    mapfile_target: field.string({ help: 'data map of where they go, entry by entry' }),
    allow_rename: field.bool({ help: 'a target may have another file name than its source', default: true }),
    allow_move: field.bool({ help: 'accepted for LOFAR\'s tasks; the copier always copies', default: true }),
    mapfiles_dir: field.string({ help: 'where the output map goes when --mapfile is not given (default <job_directory>/mapfiles)', default: '' }),
    mapfile: field.string({ help: 'the output map: the target map, failed copies skipped (default <mapfiles_dir>/copier.mapfile)', default: '' }),
  };

  override async go(): Promise<number> {
    const i = this.inputs;
    const source = DataMap.load(i.mapfile_source);
    const target = DataMap.load(i.mapfile_target);
    if (source.length !== target.length) {
      this.logger.error(`${i.mapfile_source} has ${source.length} entries and ${i.mapfile_target} has ${target.length}; they must pair up`);
      return 1;
    }
    const pairs = source.entries.map((from, n) => ({ from, to: target.entries[n]! })).filter(({ from, to }) => !from.skip && !to.skip);
    if (!i.allow_rename) {
      const renamed = pairs.find(({ from, to }) => basename(from.file) !== basename(to.file));
      if (renamed) {
        this.logger.error(`${renamed.from.file} would be renamed to ${basename(renamed.to.file)} and allow_rename is off`);
        return 1;
      }
    }
    const globalfs = this.config.getBool('remote', 'globalfs', false);
    const script = this.nodeScript('copier');
    // One job per pair, on its target's host; a pair whose source is skipped is left out.
    let n = -1;
    const mapJobs = dataMapJobs<DataProduct>(target, (to, index) => {
      const from = source.entries[index]!;
      if (from.skip) {
        to.skip = true; // nothing comes there: the next step must not read it
        return undefined;
      }
      return { command: script, args: [from.host, from.file, to.file, globalfs], options: { name: `copier.${++n}` } };
    });
    const jobs = mapJobs.map(({ job }) => job);
    await this.scheduleJobs(jobs);
    const failed = skipFailed(target, mapJobs);
    if (jobs.length > 0 && failed === jobs.length) {
      this.logger.error('every copy failed');
      return 1;
    }
    const mapfile: string = i.mapfile || join(i.mapfiles_dir || join(this.jobDirectory, 'mapfiles'), 'copier.mapfile');
    mkdirSync(join(mapfile, '..'), { recursive: true });
    target.save(mapfile);
    this.outputs.mapfile_target_copied = mapfile;
    if (failed > 0) this.logger.warn(`${failed} of ${jobs.length} copies failed; they are skipped in ${mapfile}`);
    return 0;
  }
}

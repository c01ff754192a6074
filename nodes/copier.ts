/**
 * Node script of copier (LOFAR's nodes/copier.py): brings one path to this host. On a shared
 * filesystem (`[remote] globalfs`) or from this host itself it is a local copy; from another
 * host it is `rsync -r <host>:<path>/ <target>`, over the hosts' own SSH, as LOFAR does.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { Node } from '../support/node/runtime.js';

export class CopierNode extends Node {
  override async run(sourceHost: string, sourcePath: string, targetPath: string, globalfs: boolean): Promise<number> {
    mkdirSync(dirname(targetPath), { recursive: true });
    const local = globalfs || sourceHost === 'localhost' || sourceHost === hostname();
    if (local) {
      if (!existsSync(sourcePath)) {
        this.logger.error(`source ${sourcePath} does not exist on ${hostname()}`);
        return 1;
      }
      cpSync(sourcePath, targetPath, { recursive: true, force: true });
      this.logger.info(`copied ${sourcePath} to ${targetPath}${statSync(sourcePath).isDirectory() ? ' (a directory)' : ''}`);
    } else {
      const code = await this.#rsync(`${sourceHost}:${sourcePath}/`, targetPath);
      if (code !== 0) return code;
      this.logger.info(`copied ${sourceHost}:${sourcePath} to ${targetPath}`);
    }
    this.outputs.copied = targetPath;
    return 0;
  }

  #rsync(from: string, to: string): Promise<number> {
    return new Promise((resolve) => {
      const child = spawn('rsync', ['-r', from, to], { stdio: ['ignore', 'inherit', 'pipe'] });
      let errors = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (errors += text));
      child.on('error', (error) => {
        this.logger.error(`rsync could not be started: ${error.message}`);
        resolve(1);
      });
      child.on('close', (code) => {
        if (code !== 0) this.logger.error(`rsync -r ${from} ${to} failed (${code}): ${errors.trim()}`);
        resolve(code ?? 1);
      });
    });
  }
}

Node.main(CopierNode, import.meta);

/** Node script of parallel_example: logs its arguments from its host and reports where it ran. */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Node } from '../support/node/runtime.js';

export class ParallelExampleNode extends Node {
  override async run(index: number, message: string, seconds: number): Promise<number> {
    this.logger.info(`job ${index} on ${hostname()} (pid ${process.pid}) says: ${message}`);
    if (seconds > 0) await sleep(seconds * 1000);
    this.outputs.hostname = hostname();
    this.outputs.pid = process.pid;
    this.outputs.index = index;
    return 0;
  }
}

Node.main(ParallelExampleNode, import.meta);

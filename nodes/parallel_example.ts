/** Node script of parallel_example: logs its arguments from its host and reports where it ran. */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Node } from '../support/node/runtime.js';

// The arguments the recipe's ComputeJobs pass, and what arrives in their results.outputs.
export class ParallelExampleNode extends Node<[index: number, message: string, seconds: number], { hostname: string; pid: number; index: number }> {
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

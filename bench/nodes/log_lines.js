// Benchmark row 3: logs `count` lines through this.logger, as fast as the node runtime sends them.
import { Node } from 'pipeline-framework/node';

export class LogLinesNode extends Node {
  async run(count) {
    for (let i = 1; i <= count; i++) this.logger.info(`bench line ${i}`);
    return 0;
  }
}

Node.main(LogLinesNode, import.meta);

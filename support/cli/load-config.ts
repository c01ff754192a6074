/** pipeline.cfg as every command finds it (--config, ./pipeline.cfg, ~/.pipeline.cfg, the shipped one), its unknown keys warned about. */
import { locateConfig, PipelineConfig } from '../config/pipeline-config.js';

export async function loadConfig(args: Record<string, unknown>): Promise<PipelineConfig> {
  const config = await PipelineConfig.load(locateConfig(args.config as string | undefined));
  for (const warning of config.unknownKeyWarnings()) process.stderr.write(`pipeline: warning: ${warning}\n`);
  return config;
}

/** What a run's own variables read as where there is no run (list, describe). */
export const PLACEHOLDER_VARS = { job_name: '<job_name>', start_time: '<start_time>' } as const;

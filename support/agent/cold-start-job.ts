/** What a host's agent hands a Node process it started ahead of a cold job (cold-start.ts), and on which descriptor. */
export interface ColdStartJob {
  script: string;
  env: Record<string, string>;
  cwd?: string;
}

/** fd 3 is the script's message channel; the job comes on fd 4. */
export const JOB_FD = 4;

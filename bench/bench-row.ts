/** One line of the benchmark table: the framework's figure against a floor measured in the same run. */
export interface BenchRow {
  /** Row number and case, e.g. "1a". */
  row: string;
  /** What was measured, and which direction is better. */
  what: string;
  framework: number;
  floor: number;
  unit: string;
  /** framework / floor. */
  ratio: number;
  /** The target, in words; '-' for a row shown for context. */
  target: string;
  /** Whether the target was met; absent for a context row, which has none. */
  met?: boolean;
  note?: string;
}

export interface BenchOptions {
  /** A run under a minute: fewer jobs and repeats. */
  quick: boolean;
  /** Progress lines (stderr). */
  progress: (line: string) => void;
}

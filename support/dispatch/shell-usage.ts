/**
 * A plain command's CPU and peak memory (issue 20), measured on its host with nothing but the
 * login shell's builtins and /proc: no Node there, and no GNU time on many hosts.
 *
 * The command keeps its `exec /bin/sh -c`, so its exit status stays exact (a shell that waited
 * for it could not tell `exit 138` from a death by SIGUSR1). Its guard, already in the
 * background to clean up after it, also measures it (when the command is built to: the
 * scheduler's are): every line the master writes to the job's stdin (one at the start, then one
 * every USAGE_SAMPLE_MS while it runs) makes the guard read the command's
 * process tree (the command and its descendants, which includes what `setsid` or `timeout` moved
 * out of the group while their parent lives) from /proc: CPU ticks of each process and of the
 * children it reaped, VmRSS summed, each one's own peak VmHWM. No line, no work: a `true` job
 * costs a sample or two. When stdin closes the guard takes a last sample and writes one line,
 * `<mark> usage <user ticks> <system ticks> <summed VmRSS kB> <largest VmHWM kB>`, to the
 * channel's stderr, which the master takes out of the job's log; only then does it close its
 * copy of stderr and clear away the job's leftovers.
 *
 * Sampled, not exact: CPU used after the last sample before the command ended (at most one
 * interval's worth) is not counted, nor an orphan's (re-parented to init, it is no longer in the
 * tree), and a peak of several processes at once between two samples is missed (a single
 * process's peak is not: VmHWM keeps it).
 */
import { CLOCK_TICKS_PER_SECOND, type JobUsage } from '../protocol/job-usage.js';

/**
 * Shell code for the guard: `s` takes one sample of the tree under the command ($$), skipping the
 * guard's own subtree, and keeps the largest totals in U (user ticks), Y (system ticks), R (VmRSS
 * sum, kB) and H (largest VmHWM, kB). Builtins only: a sample forks nothing.
 */
export function shellUsageSampler(): string {
  return [
    'U=0; Y=0; R=0; H=0; g=',
    's() { [ -n "$g" ] || read -r g _ </proc/self/stat; q=$$; u=0; y=0; r=0',
    'while [ -n "$q" ]; do q=${q# }; p=${q%% *}; q=${q#"$p"}',
    '[ -n "$p" ] && [ "$p" != "$g" ] && read -r z </proc/$p/stat || continue',
    // Fields after the command name (which may hold spaces): ${12} to ${15} are utime, stime, cutime, cstime.
    'set -- ${z##*) }; u=$((u+${12}+${14})); y=$((y+${13}+${15}))',
    'for t in /proc/$p/task/*/children; do k=; read -r k <$t; q="$q $k"; done',
    'while read -r k v _; do case $k in VmHWM:) [ $v -gt $H ] && H=$v;; VmRSS:) r=$((r+v)); break;; esac; done </proc/$p/status',
    'done; [ $u -gt $U ] && U=$u; [ $y -gt $Y ] && Y=$y; [ $r -gt $R ] && R=$r; }',
  ].join('; ');
}

/**
 * Shell code for the guard once stdin has closed: a last sample and the report line on fd 8 (its
 * copy of the channel's stderr); then fd 8 closed, so that the channel can close while the guard
 * goes on clearing away leftovers. SIGPIPE ignored: a master that went away must not cost the
 * job its clean-up.
 */
export function shellUsageReport(mark: string): string {
  return `s; trap '' PIPE; printf '%s usage %s %s %s %s\\n' ${mark} $U $Y $R $H >&8; exec 8>&-`;
}

/** What the master writes to a plain command's stdin to have its guard take a sample. */
export const SAMPLE_REQUEST = '\n';

/**
 * The guard's report in a line of the job's stderr: its usage, and what came before it on the
 * line (a last line of the command's own that did not end in a newline); undefined when the line
 * is no report for `mark`.
 */
export function readUsageReport(line: string, mark: string): { before: string; usage: JobUsage } | undefined {
  const at = line.lastIndexOf(`${mark} usage `);
  if (at === -1) return undefined;
  const match = /^(\d+) (\d+) (\d+) (\d+)$/.exec(line.slice(at + mark.length + 7));
  if (!match) return undefined;
  const [user, system, rssKiB, hwmKiB] = match.slice(1).map(Number) as [number, number, number, number];
  return {
    before: line.slice(0, at),
    usage: { userSeconds: user / CLOCK_TICKS_PER_SECOND, systemSeconds: system / CLOCK_TICKS_PER_SECOND, peakRssBytes: Math.max(rssKiB, hwmKiB) * 1024 },
  };
}

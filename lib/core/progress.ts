// Progress of slow work (building a data cache, decoding images, training epochs, search generations), reported to a
// callback; the default prints to stderr with the rate and the time left.

export interface Progress {
  /** What is being done, e.g. 'fashion-mnist: converting JSON'. */
  task: string;
  done: number;
  total: number;
  /** Shown after the counts, e.g. the latest loss; changing it does not start a new task. */
  detail?: string;
}

export type ProgressCallback = (p: Progress) => void;

/**
 * The default reporter: a line on stderr when a task announces its start (done = 0), then at most one per interval
 * (rewritten in place on a terminal, a new line every 2 s in logs and notebooks), and a last one when it finishes.
 * Quick tasks that do not announce themselves print nothing.
 */
export function stderrProgress(): ProgressCallback {
  const tty = Boolean(process.stderr.isTTY);
  const interval = tty ? 100 : 2000;
  let task = '';
  let since = 0;
  let started = 0;
  let shown = false;
  return (p) => {
    const now = Date.now();
    if (p.task !== task) [task, since, started, shown] = [p.task, now, now, false];
    const finished = p.done >= p.total;
    if (!(p.done === 0 || now - since >= interval || (finished && shown))) return;
    since = now;
    shown = !finished;
    const elapsed = (now - started) / 1000;
    const eta = p.done > 0 && !finished ? `, ${formatSeconds((elapsed * (p.total - p.done)) / p.done)} left` : '';
    const line = `${p.task}: ${p.done}/${p.total} (${Math.floor((100 * p.done) / Math.max(p.total, 1))}%, ${formatSeconds(elapsed)}${eta})${p.detail ? ` ${p.detail}` : ''}`;
    process.stderr.write(tty ? `\r${line}${finished ? '\n' : ''}` : `${line}\n`);
  };
}

/** 75 -> "1m15s", 3700 -> "1h01m", 8.2 -> "8.2s". */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

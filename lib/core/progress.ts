// Progress of slow work (building a data cache, decoding images, training epochs, search generations), reported to a
// callback: on stderr with the rate and the time left in the CLI, one display updated in place per task in notebooks
// (lib/notebook/search-run.ts).

export interface Progress {
  /** What is being done, e.g. 'fashion-mnist: converting JSON'. */
  task: string;
  done: number;
  total: number;
  /** Shown after the counts, e.g. the latest loss; changing it does not start a new task. */
  detail?: string;
}

export type ProgressCallback = (p: Progress) => void;

/** A shown progress line, and whether it starts a task or ends one. */
export interface ProgressLine {
  line: string;
  task: string;
  first: boolean;
  finished: boolean;
}

/**
 * Throttles progress to lines: one when a task announces its start (its first call, with done = 0), then at most one
 * per `interval` ms, and a last one when it finishes; null for the calls in between. The interval runs across tasks:
 * quick tasks that follow each other (2-step epochs) show a line per interval, while a lone quick task that does not
 * announce itself shows nothing.
 */
export function progressLines(interval: number): (p: Progress) => ProgressLine | null {
  let task = '';
  let since = Date.now();
  let started = 0;
  let shown = false;
  return (p) => {
    const now = Date.now();
    const first = p.task !== task;
    if (first) [task, started, shown] = [p.task, now, false];
    const finished = p.done >= p.total;
    // A pool's tally stays at 0 until its first task ends: only the first call announces the start.
    if (!((first && p.done === 0) || now - since >= interval || (finished && shown))) return null;
    since = now;
    shown = !finished;
    const elapsed = (now - started) / 1000;
    const eta = p.done > 0 && !finished ? `, ${formatSeconds((elapsed * (p.total - p.done)) / p.done)} left` : '';
    const line = `${p.task}: ${p.done}/${p.total} (${Math.floor((100 * p.done) / Math.max(p.total, 1))}%, ${formatSeconds(elapsed)}${eta})${p.detail ? ` ${p.detail}` : ''}`;
    return { line, task: p.task, first, finished };
  };
}

/** The CLI's reporter: lines on stderr, rewritten in place on a terminal, a new line every 2 s in logs. */
export function stderrProgress(): ProgressCallback {
  const tty = Boolean(process.stderr.isTTY);
  const lines = progressLines(tty ? 100 : 2000);
  return (p) => {
    const l = lines(p);
    if (l) process.stderr.write(tty ? `\r${l.line}${l.finished ? '\n' : ''}` : `${l.line}\n`);
  };
}

/** 75 -> "1m15s", 3700 -> "1h01m", 8.2 -> "8.2s". */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

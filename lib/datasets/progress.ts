// Progress of slow data work (building a cache, decoding a folder of images), reported to a callback.

export interface Progress {
  /** What is being done, e.g. 'fashion-mnist: converting JSON'. */
  task: string;
  done: number;
  total: number;
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
  let shown = false;
  return (p) => {
    const now = Date.now();
    if (p.task !== task) [task, since, shown] = [p.task, now, false];
    const finished = p.done >= p.total;
    if (!(p.done === 0 || now - since >= interval || (finished && shown))) return;
    since = now;
    shown = !finished;
    const line = `${p.task}: ${p.done}/${p.total}`;
    process.stderr.write(tty ? `\r${line}${finished ? '\n' : ''}` : `${line}\n`);
  };
}

// The local executor: a pool of `glit worker --serve` processes on this machine, each with its own backend (one core
// each: tfjs-wasm runs one thread), handed one task at a time over IPC. A worker that dies (kill -9, out of memory)
// is replaced and its task handed out again, where it resumes from its last saved state; so is one that reports
// nothing on its task for `stallMinutes` (hung: killed first); a task that throws fails its step. One progress line
// covers the whole step.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unlessInterrupted } from '../core/interrupt';
import { backendInfo } from '../kernels/backend';
import type { Progress } from '../core/progress';
import type { FromWorker, ToWorker } from './worker';
import type { Executor, ExecutorHooks, ExecutorOptions } from './executor';
import { readOutput, taskFiles } from './task-files';

const GLIT = path.resolve(__dirname, '..', '..', 'bin', 'glit.js');

interface Job {
  run: string;
  id: string;
  attempts: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Worker {
  child: ChildProcess;
  ready: boolean;
  job?: Job;
  progress?: Progress;
  /** When it last sent a message about its job (or was handed it). */
  heard: number;
  /** Killed for sending nothing for too long. */
  stalled?: boolean;
}

export function createLocalExecutor(hooks: ExecutorHooks, options: ExecutorOptions): Executor {
  const size = options.workers ?? os.availableParallelism();
  if (!Number.isInteger(size) || size < 1) throw new Error(`--workers must be a positive integer, got ${size}`);
  const retries = options.retries ?? 2;
  const stallMs = (options.stallMinutes ?? 30) * 60_000;
  const stallText = stallMs >= 60_000 ? `${stallMs / 60_000} min` : `${stallMs / 1000} s`;
  const queue: Job[] = [];
  const workers = new Set<Worker>();
  let closed = false;

  const logTo = (job: Job, line: string) => {
    fs.appendFileSync(taskFiles(job.run, job.id).log, `${line}\n`);
    hooks.log(line);
  };

  function start(): void {
    // Workers run the driver's backend (a notebook may have chosen it in a cell, not in the environment), and none of
    // the driver's node flags (a test runner's or a kernel's would come along by default).
    const env = { ...process.env, GLIT_BACKEND: backendInfo().backend };
    const w: Worker = {
      child: fork(GLIT, ['worker', '--serve'], { env, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
      ready: false,
      heard: Date.now(),
    };
    workers.add(w);
    w.child.on('message', (m: FromWorker) => {
      w.heard = Date.now();
      if (m.type === 'ready') w.ready = true;
      else if (m.type === 'log' && w.job) logTo(w.job, m.line);
      else if (m.type === 'progress') w.progress = m.progress;
      else if (m.type === 'busy') {
        // Another live worker holds the claim (one of an interrupted run, still exiting): ask again shortly.
        const job = w.job!;
        w.job = w.progress = undefined;
        setTimeout(() => (queue.push(job), dispatch()), 1000);
      } else if (m.type === 'done' || m.type === 'failed') {
        const job = w.job!;
        w.job = w.progress = undefined;
        if (m.type === 'done') job.resolve();
        else {
          logTo(job, `task ${job.id} failed: ${m.error}`);
          job.reject(new Error(`task ${job.id} failed: ${m.error} (log: ${taskFiles(job.run, job.id).log})`));
        }
      }
      dispatch();
    });
    w.child.on('exit', (code, signal) => {
      workers.delete(w);
      if (!w.ready && !closed) {
        // A worker that cannot start (no backend, a broken install) would be replaced forever: fail what waits.
        const error = new Error(
          `a worker (${GLIT} worker --serve) exited with ${signal ?? `code ${code}`} before it was ready; its message is above`,
        );
        queue.splice(0).forEach((job) => job.reject(error));
        return;
      }
      const job = w.job;
      if (job && !closed) {
        const why = w.stalled
          ? `its worker (PID ${w.child.pid}) sent nothing for ${stallText} and was killed`
          : `its worker (PID ${w.child.pid}) exited with ${signal ?? `code ${code}`}`;
        if (job.attempts < retries) {
          logTo(job, `task ${job.id}: ${why}; handing it out again`);
          job.attempts++;
          queue.unshift(job);
        } else
          job.reject(
            new Error(`task ${job.id}: ${why}, ${retries + 1} times (log: ${taskFiles(job.run, job.id).log})`),
          );
      }
      dispatch();
    });
  }

  function dispatch(): void {
    if (closed) return;
    for (const w of workers) {
      if (!w.ready || w.job || queue.length === 0) continue;
      w.job = queue.shift()!;
      w.heard = Date.now();
      w.child.send({ type: 'task', run: w.job.run, id: w.job.id } satisfies ToWorker);
    }
    // Workers start when there is work for them, up to the pool's size.
    const busy = [...workers].filter((w) => w.job).length;
    while (workers.size < Math.min(size, busy + queue.length)) start();
  }

  // One progress line for the pool, over every step in flight (rows of a table run theirs at once): tasks finished of
  // those handed out, and what each busy worker is at.
  const tally = { done: 0, total: 0, steps: 0, ticker: undefined as NodeJS.Timeout | undefined };
  const show = () =>
    hooks.progress?.({
      task: `tasks on ${size} local workers`,
      done: tally.done,
      total: tally.total,
      detail: [...workers]
        .flatMap((w) =>
          w.job && w.progress ? [`${w.progress.task.split(': ').pop()} ${w.progress.done}/${w.progress.total}`] : [],
        )
        .join(', '),
    });

  // A worker that is alive but silent on its task (hung: it happened once, at converge scale, for 44 min) is killed;
  // its exit hands the task out again like any other death.
  const watch = () => {
    show();
    if (stallMs <= 0) return;
    for (const w of workers)
      if (w.job && !w.stalled && Date.now() - w.heard > stallMs) {
        w.stalled = true;
        w.child.kill('SIGKILL');
      }
  };

  return {
    kind: 'local',
    parallelism: size,
    async runStep(run, _step, ids) {
      const jobs = ids.map(
        (id) =>
          new Promise<void>((resolve, reject) => {
            fs.mkdirSync(taskFiles(run, id).dir, { recursive: true });
            if (readOutput(run, id) !== undefined) return resolve();
            tally.total++;
            queue.push({ run, id, attempts: 0, resolve: () => (tally.done++, resolve()), reject });
          }),
      );
      dispatch();
      tally.steps++;
      if (tally.steps === 1) tally.ticker = setInterval(watch, 1000);
      show();
      try {
        const settled = await unlessInterrupted(Promise.allSettled(jobs));
        const failed = settled.find((s) => s.status === 'rejected');
        if (failed) throw (failed as PromiseRejectedResult).reason;
      } finally {
        if (--tally.steps === 0) clearInterval(tally.ticker);
        show();
      }
    },
    async close() {
      closed = true;
      for (const w of workers) w.child.kill();
      workers.clear();
    },
  };
}

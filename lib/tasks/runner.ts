// What the search pipeline and the ablations hand their parallel steps to: a TaskRunner runs a step's tasks and gives
// back their outputs, either in this process (inline: the single-process run) or through an executor (lib/tasks/
// executor.ts), which runs them in workers from their spec files in the run folder.
import * as fs from 'node:fs';
import { backendInfo, type BackendInfo } from '../kernels/backend';
import type { DatasetSplits } from '../data/datasets';
import type { ProgressCallback } from '../core/progress';
import type { SearchLog } from '../search/pipeline';
import type { Executor } from './executor';
import { runTask, type Task, type TaskOutput, type TaskSpec } from './task';
import { readOutput, taskFiles, writeSpec, writeStep } from './task-files';

export interface TaskRunner {
  /** The run folder: tasks' ids and folders are relative to it. */
  readonly run: string;
  /** How many tasks run at once. */
  readonly parallelism: number;
  /** Tasks run in this process: a search then scores on the supernet in memory rather than by tasks. */
  readonly inProcess: boolean;
  /** Runs a step's tasks (those finished before are read back) and resolves with their outputs, in order. */
  runStep<S extends TaskSpec>(step: string, tasks: Task<S>[]): Promise<TaskOutput<S>[]>;
  close(): Promise<void>;
}

/** A spec file: the task, and the backend whose results a worker must reproduce. */
export interface TaskFile {
  version: 1;
  backend: Pick<BackendInfo, 'backend' | 'gemm'>;
  spec: TaskSpec;
}

/** The kernels that decide a task's numbers: a worker must run these to give the same results bit for bit. */
export const kernelsOf = (info: Pick<BackendInfo, 'backend' | 'gemm'>) =>
  info.backend === 'wasm' ? `wasm with ${info.gemm?.split(' ')[0] ?? 'XNNPACK'} GEMM` : info.backend;

/**
 * `f` of every item, in order: one after the other when `runner` runs tasks in this process, all at once when workers
 * run them (their tasks then share the workers).
 */
export async function eachUnit<T, R>(runner: TaskRunner, items: T[], f: (item: T) => Promise<R>): Promise<R[]> {
  if (!runner.inProcess) return Promise.all(items.map(f));
  const out: R[] = [];
  for (const item of items) out.push(await f(item));
  return out;
}

/** Every task in this process, one after the other. */
export function inlineRunner(
  run: string,
  context: { data: DatasetSplits; log: SearchLog; progress?: ProgressCallback },
): TaskRunner {
  return {
    run,
    parallelism: 1,
    inProcess: true,
    async runStep<S extends TaskSpec>(_step: string, tasks: Task<S>[]) {
      const outputs: TaskOutput<S>[] = [];
      for (const t of tasks) outputs.push(await runTask(t.spec, { run, ...context }));
      return outputs;
    },
    close: async () => {},
  };
}

/**
 * Tasks through `executor`: each spec written to its file, the step's tasks without an output run by it, every output
 * read back. A task already running for another caller (two table rows sharing a search) is waited for, not run twice.
 */
export function executorRunner(run: string, executor: Executor): TaskRunner {
  const running = new Map<string, Promise<unknown>>();
  const { backend, gemm } = backendInfo();
  return {
    run,
    parallelism: executor.parallelism,
    inProcess: false,
    async runStep<S extends TaskSpec>(step: string, tasks: Task<S>[]) {
      const fresh = tasks.filter((t) => !running.has(t.id));
      for (const t of fresh) {
        const file: TaskFile = { version: 1, backend: { backend, gemm }, spec: t.spec };
        writeSpec(run, t.id, file);
      }
      const todo = fresh.filter((t) => readOutput(run, t.id) === undefined).map((t) => t.id);
      if (todo.length > 0) {
        writeStep(run, step, todo);
        const done = executor.runStep(run, step, todo).finally(() => todo.forEach((id) => running.delete(id)));
        for (const id of todo) running.set(id, done);
      }
      await Promise.all(tasks.map((t) => running.get(t.id)));
      return tasks.map((t) => {
        const output = readOutput<TaskOutput<S>>(run, t.id);
        if (output === undefined) {
          const log = taskFiles(run, t.id).log;
          throw new Error(`task ${t.id} ended without output${fs.existsSync(log) ? `: see ${log}` : ''}`);
        }
        return output;
      });
    },
    close: () => executor.close(),
  };
}

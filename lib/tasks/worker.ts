// A worker's side of a task: claim it (its folder's lock: a worker killed with kill -9 leaves a lock that the next
// taker on the host, or the same Slurm job requeued, takes over), check it was made for the kernels this process
// runs, run it on the run's data and write its output atomically. `glit worker` (lib/cli/worker.ts) calls this.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backendInfo } from '../kernels/backend';
import { loadDataset, type DatasetSplits } from '../data/datasets';
import type { Progress, ProgressCallback } from '../core/progress';
import { readSettings, runFiles } from '../io/run-folder';
import { lockRunFolder, RunFolderBusyError } from '../io/run-lock';
import { kernelsOf, type TaskFile } from './runner';
import { runTask } from './task';
import { readOutput, readSpec, taskFiles, writeOutput } from './task-files';

/** Messages between the local executor (lib/tasks/local.ts) and a worker it started with `glit worker --serve`. */
export type ToWorker = { type: 'task'; run: string; id: string };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'log'; id: string; line: string }
  | { type: 'progress'; id: string; progress: Progress }
  | { type: 'done'; id: string }
  | { type: 'busy'; id: string }
  | { type: 'failed'; id: string; error: string };

/** The data of each run this process worked for, loaded once as the run's config.json says. */
const datasets = new Map<string, Promise<DatasetSplits>>();

function runData(run: string): Promise<DatasetSplits> {
  if (!datasets.has(run)) {
    const settings = readSettings(run);
    if (!settings)
      throw new Error(
        `${runFiles(run).config} does not exist: a worker loads the run's data from it (start the run with glit search or glit reproduce, or use --executor inline)`,
      );
    datasets.set(run, loadDataset(settings.dataset, { seed: settings.config.seed, limit: settings.limit }));
  }
  return datasets.get(run)!;
}

/**
 * Runs task `id` of run folder `run` here, unless it has its output ('done') or a live worker holds it ('busy').
 * Throws what the task threw.
 */
export async function work(
  run: string,
  id: string,
  hooks: { log: (line: string) => void; progress?: ProgressCallback },
): Promise<'ran' | 'done' | 'busy'> {
  if (readOutput(run, id) !== undefined) return 'done';
  const files = taskFiles(run, id);
  if (!fs.existsSync(files.spec)) throw new Error(`${files.spec} does not exist: no task '${id}' in ${run}`);
  let lock;
  try {
    lock = lockRunFolder(files.dir, `worker ${id}`);
  } catch (e) {
    if (e instanceof RunFolderBusyError) return 'busy';
    throw e;
  }
  try {
    if (readOutput(run, id) !== undefined) return 'done'; // finished by another worker before the claim
    const file = readSpec<TaskFile>(run, id);
    const [made, here] = [kernelsOf(file.backend), kernelsOf(backendInfo())];
    if (made !== here)
      throw new Error(
        `task ${id} was made on ${made} and must run on the same for the same results; this worker runs ${here} (set GLIT_BACKEND and GLIT_BLAS as the driver has them)`,
      );
    const output = await runTask(file.spec, { run: path.resolve(run), data: await runData(run), ...hooks });
    writeOutput(run, id, output);
    return 'ran';
  } finally {
    lock.release();
  }
}

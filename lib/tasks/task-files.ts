// Where a run's tasks live, so that any worker on a shared filesystem (a local process, a Slurm array task, a
// Kubernetes pod) finds them from the run folder alone:
//   <run>/tasks/<id>/task.json    the spec (what to run; lib/tasks/task.ts)
//   <run>/tasks/<id>/output.json  its result, written atomically when it finished: a task with one is never redone
//   <run>/tasks/<id>/log.txt      what its worker printed (Slurm and exported steps)
//   <run>/tasks/<id>/.lock        the claim of the worker running it (lib/io/run-lock.ts: a dead holder's is taken over)
//   <run>/tasks/steps/<step>.txt  the ids of one parallel step, one a line: array index i runs line i
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic-files';
import { readJsonFile } from '../io/read-file';

export const tasksDir = (run: string) => path.join(run, 'tasks');

export const taskFiles = (run: string, id: string) => {
  const dir = path.join(tasksDir(run), id);
  return {
    dir,
    spec: path.join(dir, 'task.json'),
    output: path.join(dir, 'output.json'),
    log: path.join(dir, 'log.txt'),
  };
};

export const stepFile = (run: string, step: string) => path.join(tasksDir(run), 'steps', `${step}.txt`);

/** A task id names its unit of work in the run, e.g. `stage1.retrain.rank2`: letters, digits and `.-_` only. */
export function checkTaskId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new Error(`task id '${id}': use letters, digits and . - _`);
  return id;
}

export function writeStep(run: string, step: string, ids: string[]): string {
  const file = stepFile(run, step);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, ids.map((id) => `${checkTaskId(id)}\n`).join(''));
  return file;
}

export function readStep(run: string, step: string): string[] {
  const file = stepFile(run, step);
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist: no step '${step}' in ${run}`);
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(checkTaskId);
}

export function writeSpec(run: string, id: string, spec: unknown): void {
  const files = taskFiles(run, checkTaskId(id));
  fs.mkdirSync(files.dir, { recursive: true });
  writeJsonAtomic(files.spec, spec);
}

export const readSpec = <T>(run: string, id: string): T => readJsonFile(taskFiles(run, id).spec) as T;

export const writeOutput = (run: string, id: string, output: unknown) =>
  writeJsonAtomic(taskFiles(run, id).output, output);

/** The task's output, or undefined while it has none. */
export function readOutput<T>(run: string, id: string): T | undefined {
  const file = taskFiles(run, id).output;
  return fs.existsSync(file) ? (readJsonFile(file) as T) : undefined;
}

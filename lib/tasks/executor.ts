// How a run's parallel steps get executed. The driver (glit search, glit reproduce, a notebook) walks the pipeline;
// at each parallel step it writes the step's task specs (lib/tasks/task-files.ts) and hands their ids to an executor:
//   inline  in this process, one after the other (the single-process run every other executor must equal)
//   local   a pool of worker processes on this machine (lib/tasks/local.ts)
//   slurm   one Slurm job array per step (lib/tasks/slurm.ts)
//   external  any other scheduler: each step as a Kubernetes Indexed Job manifest and a plain command list, handed to a
//           submit command or to the user, and waited for (lib/tasks/external.ts)
// A worker runs a task with `glit worker --run RUN --step STEP --index I` (lib/cli/worker.ts).
import type { Progress } from '../core/progress';

export const EXECUTORS = ['inline', 'local', 'slurm', 'external'] as const;
export type ExecutorKind = (typeof EXECUTORS)[number];

export interface Executor {
  readonly kind: ExecutorKind;
  /** How many tasks run at once (the driver splits the EA's scoring into this many parts). */
  readonly parallelism: number;
  /**
   * Runs the tasks `ids` of step `step` of run folder `run` (their specs written and the step listed), until every one
   * has its output; one that already has one is not run again. Rejects with an error that names a task that failed
   * for good and its log.
   */
  runStep(run: string, step: string, ids: string[]): Promise<void>;
  /** Stops the executor's workers (the run is over or failed). */
  close(): Promise<void>;
}

/** What an executor reports to its driver. */
export interface ExecutorHooks {
  log: (line: string) => void;
  progress?: (p: Progress) => void;
}

/** The options of every executor, as the CLI's flags and notebooks' parameters give them. */
export interface ExecutorOptions {
  executor: ExecutorKind;
  /** local: worker processes (default: this machine's cores); slurm: the array's throttle (default: no limit). */
  workers?: number;
  /** Times a task whose worker died (a failed or cancelled Slurm task) is handed out again before its step fails
   * (default 2). */
  retries?: number;
  /** local: minutes a worker may send nothing on its task before it is killed as hung and the task handed out again
   * (a retry; default 30; 0: never). */
  stallMinutes?: number;
  slurm?: SlurmOptions;
  external?: ExternalOptions;
}

export interface SlurmOptions {
  partition?: string;
  account?: string;
  /** --time, e.g. 01:00:00. */
  time?: string;
  /** --mem, e.g. 8G. */
  mem?: string;
  /** --gres=gpu:N. */
  gpus?: number;
  cpusPerTask?: number;
  /** Extra `#SBATCH` lines, without the prefix, e.g. ['--qos=long']. */
  extra?: string[];
}

export interface ExternalOptions {
  /** Run for each step with {manifest}, {commands}, {run} and {step} replaced, e.g. 'kubectl apply -f {manifest}';
   * without one the driver prints where the step's files are and waits. */
  submit?: string;
  /** The container image of the Kubernetes manifest (it must hold this repo and its node_modules). */
  image?: string;
  /** The PersistentVolumeClaim that holds the run folder, mounted at the run folder's own path in every pod. */
  volumeClaim?: string;
}

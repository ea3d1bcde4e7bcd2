// One Slurm job array per step. The step's script (RUN/tasks/steps/STEP.sbatch, bash: --wrap would run under dash)
// looks up its task by $SLURM_ARRAY_TASK_ID in the step's list and appends everything to RUN/tasks/<id>/log.txt, so a
// requeued or resubmitted task keeps its earlier attempts' lines. The driver submits the tasks without output as one
// array (throttled to --workers), polls squeue until none is left, and resubmits those that still have no output
// (failed, cancelled, timed out, node failure) up to `retries` times before the step fails naming their logs.
// The driver may run on a login node or inside a job of its own: it needs only sbatch, squeue and scancel, and a
// filesystem it shares with the compute nodes (this repo, node, the run folder, at the same paths).
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { interruptPoint } from '../core/interrupt';
import { writeFileAtomic } from '../io/atomic-files';
import { LOCK_FILE } from '../io/run-lock';
import type { Executor, ExecutorHooks, ExecutorOptions, SlurmOptions } from './executor';
import {
  type CommandPlace,
  failedTasksError,
  lookUpTask,
  missingOutputs,
  progressTally,
  shellQuote,
  taskLog,
  thisPlace,
  waitForOutputs,
  workerArgs,
  workerEnv,
} from './external';
import { readStep, stepFile, taskFiles } from './task-files';

// States in which an array task will not run again (any other state, e.g. PENDING or REQUEUED, is waited for).
const ENDED = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'BOOT_FAIL',
  'DEADLINE',
  'PREEMPTED',
  'REVOKED',
  'SPECIAL_EXIT',
]);

const FIX =
  "install Slurm's client commands (Debian: slurm-wlm), point SLURM_CONF at your cluster's slurm.conf, or use --executor local";

/** Runs a Slurm command; its stdout, or an error naming it and what it printed. */
function slurm(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing ? `Slurm not found: '${command}' is not on PATH; ${FIX}` : `${command}: ${result.error.message}`,
    );
  }
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

/** sbatch's environment: the driver's own job's SLURM_* variables would leak into the array's (SLURM_CONF stays). */
function submitEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLURM_') || k === 'SLURM_CONF'));
}

/** `0-3,5,7-8` for [0, 1, 2, 3, 5, 7, 8]. */
export function arrayRanges(indices: number[]): string {
  const sorted = [...indices].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i];
    while (sorted[i + 1] === sorted[i] + 1) i++;
    ranges.push(start === sorted[i] ? `${start}` : `${start}-${sorted[i]}`);
  }
  return ranges.join(',');
}

/** The `#SBATCH` lines of the pass-through options, checked (one option a line). */
function sbatchOptions(options: SlurmOptions): string[] {
  const lines = [
    options.partition && `--partition=${options.partition}`,
    options.account && `--account=${options.account}`,
    options.time && `--time=${options.time}`,
    options.mem && `--mem=${options.mem}`,
    options.gpus !== undefined && `--gres=gpu:${options.gpus}`,
    options.cpusPerTask !== undefined && `--cpus-per-task=${options.cpusPerTask}`,
  ].filter((line): line is string => typeof line === 'string');
  for (const line of options.extra ?? []) {
    if (!line.trim().startsWith('-'))
      throw new Error(`--slurm-extra '${line}': give sbatch options such as --qos=long`);
    lines.push(line.trim());
  }
  for (const line of lines) if (/[\n\r]/.test(line)) throw new Error(`Slurm option '${line}' spans lines`);
  return lines;
}

/** The step's batch script: array task i runs the worker on line i, appending to that task's log. */
export function stepScript(run: string, step: string, options: SlurmOptions, place: CommandPlace): string {
  const env = workerEnv(place.env).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  return [
    '#!/bin/bash',
    `# Step ${step} of run ${run}, written by glit (lib/tasks/slurm.ts): array task i runs line i of its list.`,
    `#SBATCH --job-name=${shellQuote(`glit-${step}`)}`,
    '#SBATCH --requeue',
    '#SBATCH --open-mode=append',
    // What happens before the task's log is known (a missing line) goes to one file for the step.
    `#SBATCH --output=${shellQuote(stepFile(run, step).replace(/\.txt$/, '.slurm-out.txt'))}`,
    ...sbatchOptions(options).map((line) => `#SBATCH ${line}`),
    'set -euo pipefail',
    lookUpTask(run, step, 'SLURM_ARRAY_TASK_ID'),
    `[ -n "$id" ] || { echo "job $SLURM_JOB_ID: no line $SLURM_ARRAY_TASK_ID in ${stepFile(run, step)}"; exit 1; }`,
    `exec >> ${taskLog(run)} 2>&1`,
    'echo "== Slurm job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname), $(date -Is), restart ${SLURM_RESTART_COUNT:-0}"',
    ...env,
    `cd ${shellQuote(place.cwd)}`,
    `exec ${shellQuote(place.node)} ${shellQuote(place.glit)} ${workerArgs(run, step, '"$SLURM_ARRAY_TASK_ID"')}`,
    '',
  ].join('\n');
}

/** Polls often while a step starts (tests, short tasks), then every 10 s so that a long step spares the controller. */
const pollInterval = (since: number) => (Date.now() - since < 60_000 ? 1000 : 10_000);

/** `place`: where the worker's command runs (tests give a stand-in worker). */
export function createSlurmExecutor(
  hooks: ExecutorHooks,
  options: ExecutorOptions,
  place: CommandPlace = thisPlace(),
): Executor {
  const settings = options.slurm ?? {};
  sbatchOptions(settings);
  slurm('sbatch', ['--version']);
  // Its exit status also counts a backup controller that is down: one that answers is enough.
  const ping = spawnSync('scontrol', ['ping'], { encoding: 'utf8' });
  if (!/ is UP/.test(ping.stdout ?? '')) {
    const said = `${ping.stdout ?? ''}${ping.stderr ?? ''}`
      .split('\n')
      .find((line) => /\w/.test(line) && !/^\*/.test(line));
    const conf = process.env.SLURM_CONF ? `SLURM_CONF=${process.env.SLURM_CONF}` : 'SLURM_CONF is not set';
    throw new Error(
      `Slurm's controller does not answer (scontrol ping: ${said?.trim() ?? ping.error?.message}; ${conf}): ${FIX}`,
    );
  }
  const retries = options.retries ?? 2;
  const active = new Set<string>();
  const tally = progressTally(hooks, 'tasks on Slurm');
  let closed = false;

  /** Submits the array of `indices`; its job id. */
  function submit(run: string, step: string, indices: number[]): string {
    const script = stepFile(run, step).replace(/\.txt$/, '.sbatch');
    writeFileAtomic(script, stepScript(run, step, settings, place));
    const throttle = options.workers ? `%${options.workers}` : '';
    const out = slurm('sbatch', ['--parsable', `--array=${arrayRanges(indices)}${throttle}`, script], submitEnv());
    const job = out.trim().split(';')[0];
    active.add(job);
    hooks.log(`slurm: step ${step}: job ${job}, an array of ${indices.length} task(s) (${script})`);
    return job;
  }

  /** Whether any task of `job` may still run (squeue forgets a job MinJobAge after it ended). Not blocking: a busy
   * controller can take seconds to answer. */
  async function running(job: string): Promise<boolean> {
    const squeue = await new Promise<{ error: Error | null; stdout: string; stderr: string }>((resolve) =>
      execFile('squeue', ['-h', '-j', job, '-t', 'all', '-o', '%T'], (error, stdout, stderr) =>
        resolve({ error, stdout, stderr }),
      ),
    );
    if (squeue.error) {
      if (/Invalid job id/i.test(squeue.stderr)) return false;
      hooks.log(`slurm: job ${job}: squeue failed, trying again (${(squeue.stderr || squeue.error.message).trim()})`);
      return true;
    }
    return squeue.stdout.split('\n').some((state) => state.trim() && !ENDED.has(state.trim()));
  }

  async function runStep(run: string, step: string, ids: string[]): Promise<void> {
    // Listening for Ctrl-C before the first sbatch: a SIGINT while arrays are submitted must cancel them, not kill
    // the driver and leave them running.
    await interruptPoint();
    run = path.resolve(run);
    const lines = readStep(run, step);
    const indexOf = new Map(lines.map((id, i) => [id, i]));
    for (const id of ids) if (!indexOf.has(id)) throw new Error(`task ${id} is not in ${stepFile(run, step)}`);
    for (let attempt = 0; ; attempt++) {
      const missing = missingOutputs(run, ids);
      if (!missing.length) return;
      if (attempt === 0) tally.add(missing.length);
      if (closed) throw failedTasksError(run, step, missing, '(the executor was closed)');
      if (attempt > retries) {
        throw failedTasksError(run, step, missing, `after ${retries} resubmission(s) (failed, cancelled or timed out)`);
      }
      if (attempt > 0) {
        hooks.log(`slurm: step ${step}: resubmitting ${missing.length} task(s) (${attempt} of ${retries})`);
        // The array that ran them has ended, so their claims are stale; one left on another node by a killed task
        // would never be taken over (run-lock cannot check another host's processes).
        for (const id of missing) fs.rmSync(path.join(taskFiles(run, id).dir, LOCK_FILE), { force: true });
      }
      const indices = missing.map((id) => indexOf.get(id)!);
      const job = submit(run, step, indices);
      const since = Date.now();
      const waiting = async () => !closed && (await running(job));
      await waitForOutputs(run, ids, tally, () => pollInterval(since), waiting);
      active.delete(job);
    }
  }

  return {
    kind: 'slurm',
    // How many parts the EA's scoring is split into: the throttle, else the partition's CPUs over a task's.
    parallelism: options.workers ?? partitionSlots(settings),
    runStep,
    async close() {
      closed = true;
      const jobs = [...active];
      active.clear();
      // A job that ended meanwhile makes scancel complain; the others are cancelled all the same.
      if (jobs.length) spawnSync('scancel', jobs, { stdio: 'ignore' });
    },
  };
}

/** How many tasks of `cpusPerTask` CPUs the partition (else the default one) holds, from sinfo, capped at 64. */
function partitionSlots(settings: SlurmOptions): number {
  const partitions = slurm('sinfo', ['-h', '-o', '%P %C']).trim().split('\n');
  const line = partitions.find((l) =>
    settings.partition ? l.split(' ')[0] === settings.partition : /^\S+\* /.test(l),
  );
  const total = Number(line?.split(' ')[1]?.split('/')[3]);
  return Math.max(1, Math.min(64, Math.floor((Number.isFinite(total) ? total : 1) / (settings.cpusPerTask ?? 1))));
}

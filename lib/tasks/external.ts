// Steps for any other scheduler. For each step this writes, next to its list of ids (RUN/tasks/steps/STEP.txt):
//   STEP.commands.txt  one shell command per task, line i running line i (GNU parallel, HTCondor, xargs, a shell)
//   STEP.k8s.yaml      a Kubernetes batch/v1 Indexed Job: pod i runs line i (with --k8s-image and --k8s-volume)
// then runs the submit command (with {manifest}, {commands}, {run} and {step} replaced) or says where the files are
// and how to start them, and waits until every task has its output.json.
// What the driver can see of an exported task is only its output appearing, so it waits with no timeout: a task
// that failed is retried by its scheduler (backoffLimitPerIndex in the manifest) or rerun by hand from its line in
// the command list. Every minute it logs how many tasks are missing and the log of the first. A submit command that
// exits non-zero fails the step at once (e.g. xargs: a command failed), naming the tasks without output.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unlessInterrupted } from '../core/interrupt';
import { writeFileAtomic } from '../io/atomic-files';
import type { Executor, ExecutorHooks, ExecutorOptions } from './executor';
import { readStep, stepFile, taskFiles } from './task-files';

/** The environment variables that choose a worker's backend: every worker runs on the driver's. */
export const WORKER_ENV = [
  'GLIT_BACKEND',
  'GLIT_BLAS',
  'GLIT_BLAS_LIBRARY',
  'GLIT_WEBGPU_ADAPTER',
  'GLIT_DAWN_TOGGLES',
];

const GLIT_JS = path.resolve(__dirname, '../../bin/glit.js');

export const shellQuote = (s: string) => (/^[\w./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** WORKER_ENV's variables that are set in `env`, in that order. */
export const workerEnv = (env: NodeJS.ProcessEnv) =>
  WORKER_ENV.filter((name) => env[name] !== undefined).map((name) => [name, env[name]!] as const);

/** The worker's arguments after `node bin/glit.js`; `index` is shell text (a number or a quoted variable). */
export const workerArgs = (run: string, step: string, index: string) =>
  `worker --run ${shellQuote(run)} --step ${shellQuote(step)} --index ${index}`;

/** Shell lines of an array task: set `id` to line $indexVar of the step's list, and its log. */
export const lookUpTask = (run: string, step: string, indexVar: string) =>
  `id=$(sed -n "$((${indexVar} + 1))p" ${shellQuote(stepFile(run, step))})`;
export const taskLog = (run: string) => `${shellQuote(path.join(run, 'tasks'))}/"$id"/log.txt`;

/** Where a command line runs: the driver's folder (relative dataset paths), its node and this repo's bin/glit.js. */
export interface CommandPlace {
  cwd: string;
  node: string;
  glit: string;
  env: NodeJS.ProcessEnv;
}

export const thisPlace = (): CommandPlace => ({
  cwd: process.cwd(),
  node: process.execPath,
  glit: GLIT_JS,
  env: process.env,
});

/** One full shell command per task of the step (`lines`: its list), line i for line i, each appending to its log. */
export function stepCommands(run: string, step: string, lines: string[], place: CommandPlace): string {
  const env = workerEnv(place.env).map(([name, value]) => `${name}=${shellQuote(value)} `);
  return lines
    .map((id, i) => {
      const worker = `${shellQuote(place.node)} ${shellQuote(place.glit)} ${workerArgs(run, step, String(i))}`;
      return `cd ${shellQuote(place.cwd)} && ${env.join('')}${worker} >> ${shellQuote(taskFiles(run, id).log)} 2>&1\n`;
    })
    .join('');
}

/** A Kubernetes object name for the step: lower-case, with a hash of the run folder so that two runs never clash. */
export function jobName(run: string, step: string): string {
  const hash = createHash('sha256').update(path.resolve(run)).digest('hex').slice(0, 8);
  const base = `glit-${step.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`.slice(0, 63 - 9).replace(/-+$/, '');
  return `${base}-${hash}`;
}

/** The step as an Indexed Job (JSON strings are YAML strings): pod i looks up line i and appends to its log. */
export function stepManifest(
  run: string,
  step: string,
  completions: number,
  options: ExecutorOptions,
  env: NodeJS.ProcessEnv,
): string {
  const { image, volumeClaim } = options.external ?? {};
  if (!image || !volumeClaim) throw new Error('the Kubernetes manifest needs --k8s-image and --k8s-volume');
  const q = JSON.stringify;
  const script =
    `${lookUpTask(run, step, 'JOB_COMPLETION_INDEX')} && ` +
    `exec node bin/glit.js ${workerArgs(run, step, '"$JOB_COMPLETION_INDEX"')} >> ${taskLog(run)} 2>&1`;
  const envLines = workerEnv(env).flatMap(([name, value]) => [
    `            - name: ${name}`,
    `              value: ${q(value)}`,
  ]);
  return [
    `# Step ${step} of run ${run}, written by glit (lib/tasks/external.ts). Pod i runs line i of ${stepFile(run, step)}`,
    `# and appends its output to ${path.join(run, 'tasks')}/<id>/log.txt. The image's working directory must hold this`,
    `# repository with its node_modules; the claim ${volumeClaim} holds the run folder, mounted at the same path.`,
    `# backoffLimitPerIndex needs Kubernetes >= 1.29; on older clusters replace it by backoffLimit.`,
    'apiVersion: batch/v1',
    'kind: Job',
    'metadata:',
    `  name: ${jobName(run, step)}`,
    '  labels:',
    '    app.kubernetes.io/name: glit',
    `    glit/step: ${q(step.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63))}`,
    'spec:',
    '  completionMode: Indexed',
    `  completions: ${completions}`,
    `  parallelism: ${options.workers ?? completions}`,
    `  backoffLimitPerIndex: ${options.retries ?? 2}`,
    '  template:',
    '    spec:',
    '      restartPolicy: Never',
    '      containers:',
    '        - name: worker',
    `          image: ${q(image)}`,
    `          command: ["/bin/sh", "-c", ${q(script)}]`,
    ...(envLines.length ? ['          env:', ...envLines] : []),
    '          volumeMounts:',
    '            - name: run',
    `              mountPath: ${q(path.resolve(run))}`,
    '      volumes:',
    '        - name: run',
    '          persistentVolumeClaim:',
    `            claimName: ${q(volumeClaim)}`,
    '',
  ].join('\n');
}

/** The ids among `ids` whose task has no output yet. */
export const missingOutputs = (run: string, ids: string[]) =>
  ids.filter((id) => !fs.existsSync(taskFiles(run, id).output));

/** The last `count` lines of a file, or undefined if it does not exist. */
function lastLines(file: string, count: number): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
}

/** The error of a step whose tasks `failed` have no output: their logs, and the end of the first one. */
export function failedTasksError(run: string, step: string, failed: string[], why: string): Error {
  const logs = failed.map((id) => `  ${id}: ${taskFiles(run, id).log}`);
  const first = taskFiles(run, failed[0]).log;
  const tail = lastLines(first, 15);
  const end =
    tail === undefined ? `${first} does not exist (the task never started)` : `last lines of ${first}:\n${tail}`;
  return new Error(`step ${step}: ${failed.length} task(s) without output ${why}:\n${logs.join('\n')}\n${end}`);
}

/** Tasks finished of those handed out, over every step in flight (a table's rows run theirs at once): one line. */
export function progressTally(hooks: ExecutorHooks, task: string) {
  const tally = { done: 0, total: 0 };
  const show = () => hooks.progress?.({ task, ...tally });
  return {
    add: (count: number) => ((tally.total += count), show()),
    finished: (count: number) => ((tally.done += count), show()),
  };
}

/**
 * Polls until `run`'s tasks `ids` all have outputs, counting those that appear; stops early when `check` says so, or
 * throws Interrupted at a SIGINT (the driver then closes its executor). The ids still without output.
 */
export async function waitForOutputs(
  run: string,
  ids: string[],
  tally: ReturnType<typeof progressTally>,
  intervalMs: () => number,
  check: (missing: string[]) => Promise<boolean>,
): Promise<string[]> {
  let [left, interrupted] = [missingOutputs(run, ids).length, false];
  const poll = async () => {
    for (;;) {
      const missing = missingOutputs(run, ids);
      if (missing.length < left) tally.finished(left - missing.length);
      left = missing.length;
      if (interrupted || !missing.length || !(await check(missing))) return missing;
      await new Promise((resolve) => setTimeout(resolve, intervalMs()));
    }
  };
  try {
    return await unlessInterrupted(poll());
  } catch (e) {
    interrupted = true;
    throw e;
  }
}

const REMINDER_MS = 60_000;

/** `place`: where the command list's lines run (tests give a stand-in worker). */
export function createExternalExecutor(
  hooks: ExecutorHooks,
  options: ExecutorOptions,
  place: CommandPlace = thisPlace(),
): Executor {
  const { submit, image, volumeClaim } = options.external ?? {};
  if (submit?.includes('{manifest}') && !(image && volumeClaim)) {
    throw new Error(
      `--submit '${submit}' uses {manifest}: give the pods' image (--k8s-image) and run volume (--k8s-volume)`,
    );
  }
  const running = new Set<ChildProcess>();
  const tally = progressTally(hooks, submit ? 'tasks through the submit command' : 'tasks on another scheduler');
  let closed = false;

  async function runStep(run: string, step: string, ids: string[]): Promise<void> {
    run = path.resolve(run);
    const todo = missingOutputs(run, ids).length;
    if (!todo) return;
    tally.add(todo);
    const base = stepFile(run, step).replace(/\.txt$/, '');
    const files = { commands: `${base}.commands.txt`, manifest: `${base}.k8s.yaml` };
    const lines = readStep(run, step);
    writeFileAtomic(files.commands, stepCommands(run, step, lines, place));
    if (image && volumeClaim)
      writeFileAtomic(files.manifest, stepManifest(run, step, lines.length, options, place.env));
    let failure: Error | undefined;
    if (submit) {
      const fill = { ...files, run, step };
      const command = submit.replace(/\{(manifest|commands|run|step)\}/g, (_, k: keyof typeof fill) =>
        shellQuote(fill[k]),
      );
      hooks.log(`external: step ${step}: ${command}`);
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      running.add(child);
      let stderr = '';
      const show = (d: Buffer) =>
        String(d)
          .trimEnd()
          .split('\n')
          .forEach((line) => hooks.log(`external: ${line}`));
      child.stdout!.on('data', show);
      child.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d).slice(-4000);
        show(d);
      });
      child.on('close', (code, signal) => {
        running.delete(child);
        if (code !== 0 && !closed)
          failure = new Error(`the submit command exited with ${code ?? signal}${stderr && `: ${stderr.trim()}`}`);
      });
    } else {
      const manifest = image && volumeClaim ? `kubectl apply -f ${files.manifest}, or ` : '';
      hooks.log(
        `external: step ${step}: start its ${ids.length} tasks with ${manifest}e.g. parallel < ${files.commands}`,
      );
    }
    let reminded = Date.now();
    const missing = await waitForOutputs(
      run,
      ids,
      tally,
      () => 1000,
      async (missing) => {
        if (closed || failure) return false;
        if (Date.now() - reminded >= REMINDER_MS) {
          reminded = Date.now();
          hooks.log(
            `external: step ${step}: waiting for ${missing.length} of ${ids.length} tasks (${missing[0]}: ${taskFiles(run, missing[0]).log})`,
          );
        }
        return true;
      },
    );
    if (missing.length)
      throw failedTasksError(run, step, missing, closed ? '(the executor was closed)' : `(${failure!.message})`);
  }

  return {
    kind: 'external',
    // How many parts the EA's scoring is split into; the scheduler decides what really runs at once.
    parallelism: options.workers ?? os.availableParallelism(),
    runStep,
    async close() {
      closed = true;
      for (const child of running) if (child.pid) process.kill(-child.pid, 'SIGTERM');
    },
  };
}

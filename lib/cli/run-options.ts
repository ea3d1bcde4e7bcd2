// The command-line flags that `glit search`, `supernet`, `evolve` and `reproduce` share, turned into a run's settings
// (lib/config/run-settings.ts: the scale's config and overrides), recorded in its folder's config.json
// (lib/io/run-folder.ts) so that `--resume` continues a run exactly as it was started.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend, type BackendInfo } from '../kernels/backend';
import { DATASET_SPEC_HELP, DEFAULT_DATASET, loadDataset, parseLimit, type DatasetSplits } from '../data/datasets';
import { applyDiff, parseScale, SCALE_CONFIGS, SCALES, type Scale } from '../config/scales';
import { scaleSettings, type RunSettings } from '../config/run-settings';
import { checkRange, checkSearchConfig, ConfigError, SEED_RANGE } from '../config/validate';
import { sweepTemporaries } from '../io/atomic-files';
import { FileError, readJsonFile } from '../io/read-file';
import { readSettings, runFiles, writeSettings } from '../io/run-folder';
import { LOCK_FILE, lockRunFolder, RunFolderBusyError } from '../io/run-lock';
import { flags, numberOption, UsageError } from './command';
import { parseWeightSharing, type WeightSharing } from '../search/supernet';
import { EXECUTORS, type ExecutorKind, type ExecutorOptions } from '../tasks/executor';

export const RUN_OPTIONS = flags(
  ['out', 'scale', 'preset', 'dataset', 'limit', 'seed', 'config', 'weight-sharing'],
  ['resume', 'json'],
);

/** Where a run's parallel steps run (lib/tasks): `glit search` and `glit reproduce` take these besides RUN_OPTIONS. */
export const EXECUTOR_OPTIONS = flags([
  'executor',
  'workers',
  'retries',
  'stall-minutes',
  'slurm-partition',
  'slurm-account',
  'slurm-time',
  'slurm-mem',
  'slurm-gpus',
  'slurm-cpus',
  'slurm-extra',
  'submit',
  'k8s-image',
  'k8s-volume',
]);

export const EXECUTOR_HELP = `  --executor inline|local|slurm|external
                   where the parallel steps' tasks (retrainings, the EA's scoring, table rows x seeds) run:
                   inline: in this process, one after the other (default); local: --workers worker processes;
                   slurm: one job array per step; external: a Kubernetes Indexed Job manifest and a command list
                   per step, for another scheduler (see environment.md). Every executor gives the same numbers.
  --workers N      local: worker processes (default: this machine's cores); slurm, external: tasks at once
  --retries N      times a task whose worker died (or Slurm task failed) is handed out again (default 2)
  --stall-minutes M
                   local: a worker that reports nothing on its task for M minutes is taken as hung, killed, and
                   its task handed out again (a retry; it resumes from its last saved epoch); default 30, 0: never
  --slurm-partition P, --slurm-account A, --slurm-time T, --slurm-mem M, --slurm-gpus N, --slurm-cpus N
                   passed to sbatch; --slurm-extra 'LINE;LINE' adds #SBATCH lines
  --submit CMD     external: run for each step, {manifest} {commands} {run} {step} replaced
  --k8s-image IMG, --k8s-volume CLAIM
                   external: the manifest's container image and the PersistentVolumeClaim holding the run folder
A resumed run may use another executor than the one it started with.`;

type ExecutorValues = { [K in keyof typeof EXECUTOR_OPTIONS]?: string };

/** The executor options from the flags, each checked (a bad one names its flag). */
export function executorOptions(values: ExecutorValues): ExecutorOptions {
  const executor = values.executor ?? 'inline';
  if (!(EXECUTORS as readonly string[]).includes(executor))
    throw new UsageError(`--executor '${executor}' is not one of ${EXECUTORS.join(', ')}`);
  const count = (flag: keyof ExecutorValues, min: number) => {
    const n = numberOption(values[flag], flag);
    if (n !== undefined && !(Number.isInteger(n) && n >= min))
      throw new UsageError(`--${flag} must be an integer of at least ${min}, got ${values[flag]}`);
    return n;
  };
  const used = (prefix: string, allowed: string) =>
    Object.keys(values).forEach((k) => {
      if (k.startsWith(prefix) && values[k as keyof ExecutorValues] !== undefined && executor !== allowed)
        throw new UsageError(`--${k} is for --executor ${allowed}, not ${executor}`);
    });
  used('slurm-', 'slurm');
  used('k8s-', 'external');
  used('submit', 'external');
  if (executor !== 'local' && values['stall-minutes'] !== undefined)
    throw new UsageError(`--stall-minutes is for --executor local, not ${executor}`);
  const stallMinutes = numberOption(values['stall-minutes'], 'stall-minutes');
  if (stallMinutes !== undefined && !(stallMinutes >= 0))
    throw new UsageError(`--stall-minutes must be a number of minutes of at least 0, got ${values['stall-minutes']}`);
  if (executor === 'inline' && values.workers !== undefined)
    throw new UsageError('--workers needs --executor local, slurm or external (inline runs in this process)');
  return {
    executor: executor as ExecutorKind,
    workers: count('workers', 1),
    slurm: {
      partition: values['slurm-partition'],
      account: values['slurm-account'],
      time: values['slurm-time'],
      mem: values['slurm-mem'],
      gpus: count('slurm-gpus', 0),
      cpusPerTask: count('slurm-cpus', 1),
      extra: values['slurm-extra']
        ?.split(';')
        .map((l) => l.trim())
        .filter(Boolean),
    },
    retries: count('retries', 0),
    stallMinutes,
    external: { submit: values.submit, image: values['k8s-image'], volumeClaim: values['k8s-volume'] },
  };
}

/** The scales, one a line indented by `indent`, for a flag's help. */
export const scaleHelp = (indent: number) =>
  SCALES.map((s) => `${s}: ${SCALE_CONFIGS[s].description}`).join(`\n${' '.repeat(indent)}`);

export const RUN_HELP = `  --out DIR        the run folder (default: a new runs/<command>-<date>-<time>)
  --resume         continue the run in DIR from where it stopped (its config.json decides everything else)
  --scale SCALE    ${scaleHelp(19)}
                   (default cpu)
  --preset SCALE   the old spelling of --scale (deprecated: 'preset' means an architecture)
  --dataset SPEC   ${DATASET_SPEC_HELP} (default ${DEFAULT_DATASET})
  --limit SPEC     images per split, e.g. 2000 or train=2000,val=500,test=1000 (overrides the scale's)
  --seed N         (default 0)
  --config FILE    a JSON object overriding any field, at any depth, of the scale's search config (SearchConfig
                   in lib/search/pipeline.ts), e.g. {"baseline": "my-arch.json", "evolution": {"generations": 10}}
  --weight-sharing separate|sliced
                   the supernets' weights: each candidate its own (SPOS, default) or slices of one largest set
                   per block (AutoFormer); sets weightSharing of the search config
  --json           print the result as JSON on stdout
The backend comes from GLIT_BACKEND (see environment.md).`;

/** The flags and help of the commands whose steps run in parallel (`glit search`, `glit reproduce`). */
export const PARALLEL_RUN_OPTIONS = { ...RUN_OPTIONS, ...EXECUTOR_OPTIONS };
export const PARALLEL_RUN_HELP = `${RUN_HELP}\n${EXECUTOR_HELP}`;

type RunValues = {
  [K in keyof typeof RUN_OPTIONS]?: (typeof RUN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

function readJson(file: string): unknown {
  if (!fs.existsSync(file)) throw new UsageError(`--config: ${file} does not exist`);
  try {
    return readJsonFile(file);
  } catch (e) {
    throw e instanceof FileError ? new UsageError(`--config: ${e.message}`) : e;
  }
}

/**
 * The run folder: --out, or a new runs/<command>-<date>-<time>; a new run's must be empty, a resumed one given. This
 * process takes its lock (one writer per folder) and, on a resume, sweeps the temporaries a killed writer left.
 */
export function runFolder(values: { out?: string; resume?: boolean }, command: string): string {
  if (!values.out && values.resume) throw new UsageError('--resume needs --out DIR: the run folder to continue');
  const out = path.resolve(
    values.out ??
      path.join('runs', `${command}-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`),
  );
  if (values.resume && !fs.existsSync(runFiles(out).config)) {
    throw new UsageError(`--resume: ${out}/config.json does not exist: start the run without --resume`);
  }
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory())
    throw new UsageError(`--out ${out} is a file, not a folder`);
  try {
    lockRunFolder(out, command);
  } catch (e) {
    throw e instanceof RunFolderBusyError ? new UsageError(e.message) : e;
  }
  if (values.resume) {
    const swept = sweepTemporaries(out);
    if (swept.length > 0) console.error(`glit ${command}: removed ${swept.length} temporary file(s) a killed run left`);
  } else if (fs.readdirSync(out).some((f) => f !== LOCK_FILE)) {
    throw new UsageError(`${out} is not empty: pass --resume to continue the run in it, or choose a new --out`);
  }
  opened = { command, out };
  return out;
}

let opened: { command: string; out: string } | undefined;

/** How to continue the run folder this process opened, for the message of an interrupted or failed run. */
export const resumeHint = (): string | undefined =>
  opened && `continue it with: npx glit ${opened.command} --out ${opened.out} --resume`;

/** A value checked by lib/config/validate.ts, its error a usage error (it names the flag or file at fault). */
export function configOption<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  }
}

/** A resumed run takes its settings from config.json: any of these flags is an error. */
export function refuseWithResume(values: Record<string, unknown>, flags: readonly string[], out: string): void {
  for (const flag of flags) {
    if (values[flag] !== undefined)
      throw new UsageError(`--resume takes its settings from ${out}/config.json: drop --${flag}`);
  }
}

/** --scale, or its old spelling --preset (with a note on stderr); default cpu. */
export function scaleOption(values: { scale?: string; preset?: string }): Scale {
  if (values.preset !== undefined) {
    if (values.scale !== undefined) throw new UsageError('--preset is the old spelling of --scale: give only --scale');
    console.error(`glit: --preset ${values.preset} is the old spelling of --scale ${values.preset}`);
  }
  try {
    return parseScale(values.scale ?? values.preset ?? 'cpu', values.scale !== undefined ? '--scale' : '--preset');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The run's settings: read back from DIR/config.json with --resume, else resolved from the flags (DIR must be empty). */
export function resolveRun(
  values: RunValues,
  command: string,
  fields?: Pick<RunSettings, 'space' | 'seeds'>,
): { out: string; run: RunSettings; resumed: boolean } {
  if (values.resume) {
    const out = runFolder(values, command);
    refuseWithResume(values, ['scale', 'preset', 'dataset', 'limit', 'seed', 'config', 'weight-sharing'], out);
    return { out, run: readSettings(out)!, resumed: true };
  }
  // The flags are checked before the folder is made or locked: a mistyped flag leaves nothing behind.
  const scale = scaleOption(values);
  let sharing: WeightSharing | undefined;
  try {
    const flag = values['weight-sharing'];
    sharing = flag === undefined ? undefined : parseWeightSharing(flag, '--weight-sharing');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let config = values.config
    ? applyDiff(SCALE_CONFIGS[scale].search, readJson(values.config), `--config ${values.config}`)
    : undefined;
  if (sharing) config = { ...(config ?? SCALE_CONFIGS[scale].search), weightSharing: sharing };
  const run = scaleSettings(scale, {
    dataset: values.dataset ?? DEFAULT_DATASET,
    seed: configOption(() => checkRange(numberOption(values.seed, 'seed') ?? 0, SEED_RANGE, '--seed')),
    limit: values.limit ? parseLimit(values.limit) : undefined,
    config,
    ...fields,
  });
  configOption(() => checkSearchConfig(run.config, values.config ? `--config ${values.config}` : `scale ${scale}`));
  return { out: runFolder(values, command), run, resumed: false };
}

/** Starts the backend, records the settings in a new run's config.json, and loads the data; says what it does. */
export async function openRun(
  command: string,
  out: string,
  run: RunSettings,
  resumed: boolean,
): Promise<{ backend: BackendInfo; data: DatasetSplits }> {
  const backend = await initBackend();
  console.error(`glit ${command}: ${describeBackend(backend)}`);
  if (!resumed) writeSettings(out, command, run, backend);
  const data = await loadDataset(run.dataset, { seed: run.config.seed, limit: run.limit });
  console.error(
    `glit ${command}: ${data.name} (train ${data.train.count}, val ${data.val.count}, test ${data.test.count}), scale ${run.scale}, ${resumed ? 'resuming' : 'out'} ${out}`,
  );
  return { backend, data };
}

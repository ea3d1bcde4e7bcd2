// Notebook parameters. Each notebook's first cell sets them as code, notebookParams({ scale: 'cpu', seed: 0, ... }):
// edit the cell and rerun the cells below. An environment variable, when set, overrides the cell's value (how CI runs
// every notebook as a seconds-long smoke test, GLIT_SCALE=smoke) and the result says which did. A value that is not
// allowed is an error, not a guess.
import { optionsFromEnv, type BackendOptions, type BackendRequest } from '../kernels/backend';
import { parseScale, type Scale } from '../config/scales';
import { checkRange, SEED_RANGE } from '../config/validate';
import { parseWeightSharing, type WeightSharing } from '../search/supernet';
import { EXECUTORS, type ExecutorKind, type ExecutorOptions } from '../tasks/executor';

export interface NotebookParams {
  /** The run size (GLIT_SCALE), default cpu. */
  scale: Scale;
  /** The dataset spec given to loadDataset (GLIT_DATASET), default fashion-mnist. */
  dataset: string;
  /** The seed every random choice in the notebook derives from (GLIT_SEED), default 0. */
  seed: number;
  /** The backend (GLIT_BACKEND; GLIT_WEBGPU_ADAPTER and GLIT_DAWN_TOGGLES as in lib/kernels/backend.ts), default auto. */
  backend: BackendOptions;
  /** The search notebooks' supernets (GLIT_WEIGHT_SHARING), separate (default) or sliced (lib/search/supernet.ts). */
  weightSharing: WeightSharing;
  /**
   * Continue a notebook's run folder even when it was made by other code or settings (GLIT_REUSE=1); by default such a
   * folder is moved aside and the run starts afresh, so that a tweak never silently brings the old numbers back.
   */
  reuse: boolean;
  /**
   * Where the runs' parallel steps go (GLIT_EXECUTOR: inline, the default, or local; GLIT_WORKERS, default this
   * machine's cores): lib/tasks/executor.ts.
   */
  executor: ExecutorOptions;
  /** The environment variables that overrode the cell's values. */
  overriddenBy?: string[];
}

/** What a notebook's first cell sets; anything left out takes its default. */
export interface CellParams {
  scale?: Scale;
  dataset?: string;
  seed?: number;
  backend?: BackendRequest | 'auto';
  weightSharing?: WeightSharing;
  reuse?: boolean;
  executor?: ExecutorKind;
  workers?: number;
}

export function notebookParams(cell: CellParams = {}, env: NodeJS.ProcessEnv = process.env): NotebookParams {
  const overriddenBy: string[] = [];
  /** The variable's trimmed value when it is set, else the cell's (as text), else the default. */
  const pick = (variable: string, field: keyof CellParams, fallback: string): [string, string] => {
    const value = cell[field];
    const fromEnv = env[variable]?.trim();
    if (fromEnv) {
      if (value !== undefined && String(value) !== fromEnv) overriddenBy.push(variable);
      return [fromEnv, variable];
    }
    return [value === undefined ? fallback : String(value), `the cell's ${field}`];
  };
  const [scaleText, scaleSource] = pick('GLIT_SCALE', 'scale', 'cpu');
  const [seedText, seedSource] = pick('GLIT_SEED', 'seed', '0');
  const [sharingText, sharingSource] = pick('GLIT_WEIGHT_SHARING', 'weightSharing', 'separate');
  const [backend] = pick('GLIT_BACKEND', 'backend', 'auto');
  const [dataset] = pick('GLIT_DATASET', 'dataset', 'fashion-mnist');
  const [reuse, reuseSource] = pick('GLIT_REUSE', 'reuse', 'false');
  const [executor, executorSource] = pick('GLIT_EXECUTOR', 'executor', 'inline');
  const [workers, workersSource] = pick('GLIT_WORKERS', 'workers', '');
  if (!(EXECUTORS as readonly string[]).includes(executor))
    throw new Error(`${executorSource}='${executor}' is not one of ${EXECUTORS.join(', ')}`);
  if (!['true', 'false', '1', '0'].includes(reuse)) throw new Error(`${reuseSource}='${reuse}' is not true or false`);
  return {
    scale: parseScale(scaleText, scaleSource),
    dataset,
    seed: checkRange(Number(seedText), SEED_RANGE, `${seedSource}='${seedText}'`),
    backend: optionsFromEnv({ ...env, GLIT_BACKEND: backend }),
    weightSharing: parseWeightSharing(sharingText, sharingSource),
    reuse: reuse === 'true' || reuse === '1',
    executor: {
      executor: executor as ExecutorKind,
      ...(workers
        ? { workers: checkRange(Number(workers), { integer: true, min: 1 }, `${workersSource}='${workers}'`) }
        : {}),
    },
    ...(overriddenBy.length > 0 ? { overriddenBy } : {}),
  };
}

// Notebook parameters. Every notebook reads them from environment variables in its first cell, so the same notebook
// runs as a seconds-long smoke test (GLIT_SCALE=smoke, what the tests use), on a laptop CPU, or at paper scale on a GPU
// without editing cells. Unset variables take the defaults below; a value that is not allowed is an error, not a guess.
import { optionsFromEnv, type BackendOptions } from '../kernels/backend';
import { parseScale, type Scale } from '../config/scales';
import { parseWeightSharing, type WeightSharing } from '../search/supernet';

export interface NotebookParams {
  /** GLIT_SCALE, default cpu. */
  scale: Scale;
  /** GLIT_DATASET: the dataset spec given to loadDataset, default fashion-mnist. */
  dataset: string;
  /** GLIT_SEED: the seed every random choice in the notebook derives from, default 0. */
  seed: number;
  /** GLIT_BACKEND, GLIT_WEBGPU_ADAPTER and GLIT_DAWN_TOGGLES, read by lib/kernels/backend.ts (default auto). */
  backend: BackendOptions;
  /** GLIT_WEIGHT_SHARING: the search notebooks' supernets, separate (default) or sliced (lib/search/supernet.ts). */
  weightSharing: WeightSharing;
}

export function notebookParams(env: NodeJS.ProcessEnv = process.env): NotebookParams {
  const scale = parseScale(setting(env, 'GLIT_SCALE', 'cpu'), 'GLIT_SCALE');
  const seedText = setting(env, 'GLIT_SEED', '0');
  const seed = Number(seedText);
  if (!Number.isSafeInteger(seed)) throw new Error(`GLIT_SEED='${seedText}' is not an integer`);
  const weightSharing = parseWeightSharing(setting(env, 'GLIT_WEIGHT_SHARING', 'separate'), 'GLIT_WEIGHT_SHARING');
  return {
    scale,
    dataset: setting(env, 'GLIT_DATASET', 'fashion-mnist'),
    seed,
    backend: optionsFromEnv(env),
    weightSharing,
  };
}

/** A variable's trimmed value, or the default when it is unset or blank. */
function setting(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  return env[name]?.trim() || fallback;
}

// How much work a run does, as named scales: the same CLI command or notebook runs as a seconds-long smoke test,
// minutes on a 2-core CPU, or hours on a GPU. The defaults are written once (the library's training recipe and SPOS's
// EA); each scale is the difference from them. Command-line flags and --config override a scale's fields.
// ('Preset' is the word for architectures: deit-proxy, glit-tiny...; `--preset SCALE` is the CLI's old spelling.)
import type { SplitLimit } from '../data/datasets';
import { EVOLUTION_DEFAULTS } from '../search/evolution';
import type { SearchConfig } from '../search/pipeline';
import { TRAIN_DEFAULTS, type TrainConfig } from '../train/train';

export const SCALES = ['smoke', 'cpu', 'converge', 'gpu', 'paper'] as const;
export type Scale = (typeof SCALES)[number];

export interface ScaleConfig {
  description: string;
  /** Images per split (a seeded subset); undefined = the whole split. */
  limit: SplitLimit | undefined;
  /** `glit train`: one architecture. */
  train: TrainConfig;
  /** `glit search` and the commands built on it: the hierarchical pipeline (supernets, EAs, retraining). */
  search: SearchConfig;
}

/** A difference from a config: any field, at any depth, left out or replaced (arrays and limits are replaced whole). */
export type ConfigDiff<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? ConfigDiff<T[K]> : T[K];
};

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * `base` with the fields of `diff` replaced, objects merged field by field (an object replaces a field that was
 * undefined). A field that `base` does not have is an error naming `source` and the fields it has.
 */
export function applyDiff<T>(base: T, diff: unknown, source: string): T {
  if (!isRecord(diff)) throw new Error(`${source} must hold a JSON object`);
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(diff)) {
    if (!(key in out))
      throw new Error(`${source}: unknown field '${key}'; the fields are ${Object.keys(out).join(', ')}`);
    out[key] = isRecord(out[key]) && isRecord(value) ? applyDiff(out[key], value, `${source}.${key}`) : value;
  }
  return out as T;
}

const DEFAULTS: ScaleConfig = {
  description: '',
  limit: undefined,
  train: TRAIN_DEFAULTS,
  search: {
    baseline: 'deit-proxy',
    maxFlopsRatio: 1.1,
    stage2Grid: 'official',
    weightSharing: 'separate',
    seed: 0,
    supernet: { ...TRAIN_DEFAULTS, dropPath: 0 },
    evolution: EVOLUTION_DEFAULTS,
    scoring: { valImages: 2000, recalibrationBatches: 4, batchSize: 128 },
    stage1Retrain: 5,
    retrain: TRAIN_DEFAULTS,
  },
};

/** The same recipe for `glit train`, the supernets and the retrainings of a scale. */
const recipe = (r: ConfigDiff<TrainConfig>): ConfigDiff<ScaleConfig> => ({
  train: r,
  search: { supernet: r, retrain: r },
});

/** A search sized for a CPU: a short EA, scoring on a small val subset, the best two distributions retrained. */
const cpuSearch = (generations: number, population: number, children: number, valImages: number) => ({
  search: {
    evolution: { generations, population, topK: population / 2, mutations: children, crossovers: children },
    scoring: { valImages, recalibrationBatches: 1, batchSize: 64 },
    stage1Retrain: 2,
  },
});

const SCALE_DIFFS: Record<Scale, ConfigDiff<ScaleConfig>[]> = {
  smoke: [
    recipe({ epochs: 1, batchSize: 64, warmupEpochs: 0 }),
    { description: 'seconds: a few hundred images, one epoch (tests, CI)', limit: { train: 512, val: 256, test: 512 } },
    cpuSearch(2, 4, 1, 128),
  ],
  cpu: [
    recipe({ epochs: 2, batchSize: 64, warmupEpochs: 0.5 }),
    {
      description: 'minutes on a 2-core CPU: 2,000 training images, a few epochs (search: about 15 minutes)',
      limit: { train: 2000, val: 500, test: 1000 },
      train: { epochs: 5 },
    },
    cpuSearch(5, 8, 3, 200),
  ],
  // Where the DeiT-proxy baseline is past 80% test accuracy on Fashion-MNIST (82.1% after 10 epochs) and its val curve
  // flattens (docs/performance.md, round 8): where the ablation tables can be decided; hours per model on a CPU core.
  converge: [
    recipe({ epochs: 20, batchSize: 64, warmupEpochs: 0.5 }),
    {
      description: 'hours on a CPU: 20,000 training images, 20 epochs, where DeiT-proxy is past 80% on Fashion-MNIST',
      limit: { train: 20000, val: 2000, test: 5000 },
    },
    cpuSearch(5, 8, 3, 500),
  ],
  gpu: [
    recipe({ epochs: 30, batchSize: 128, warmupEpochs: 3 }),
    { description: 'the whole embedded dataset, 30 epochs (a GPU backend)' },
  ],
  paper: [
    recipe({ epochs: 300, batchSize: 512, lr: 5e-4, minLr: 1e-5, warmupEpochs: 5 }),
    {
      description: "DeiT's recipe: 300 epochs, batch 512, lr 5e-4 * batch / 512, 5 warm-up epochs",
      search: {
        supernet: { epochs: 120 },
        scoring: { valImages: 10000, recalibrationBatches: 20, batchSize: 256 },
      },
    },
  ],
};

export const SCALE_CONFIGS = Object.fromEntries(
  SCALES.map((s) => [
    s,
    SCALE_DIFFS[s].reduce<ScaleConfig>((config, diff) => applyDiff(config, diff, `scale ${s}`), DEFAULTS),
  ]),
) as Record<Scale, ScaleConfig>;

export function parseScale(value: string, source = 'scale'): Scale {
  if (!(SCALES as readonly string[]).includes(value))
    throw new Error(`${source} '${value}' is not a scale: use one of ${SCALES.join(', ')}`);
  return value as Scale;
}

// How much work a run does, as named presets: the same CLI command or notebook runs as a seconds-long smoke test,
// minutes on a 2-core CPU, or hours on a GPU. Every preset is plain data; command-line flags override its fields.
import type { SplitLimit } from '../data/datasets';
import type { SearchConfig } from '../search/pipeline';
import { TRAIN_DEFAULTS, type TrainConfig } from '../train/train';

export const SCALES = ['smoke', 'cpu', 'gpu', 'paper'] as const;
export type Scale = (typeof SCALES)[number];

export interface ScalePreset {
  description: string;
  /** Images per split (a seeded subset); undefined = the whole split. */
  limit?: SplitLimit;
  /** `glit train`: one architecture. */
  train: TrainConfig;
  /** `glit search`: the hierarchical pipeline (supernets, EAs, retraining). */
  search: SearchConfig;
}

const SEARCH_BASE = { baseline: 'deit-proxy', maxFlopsRatio: 1.1, stage2Grid: 'official' as const, weightSharing: 'separate' as const, seed: 0 };

export const SCALE_PRESETS: Record<Scale, ScalePreset> = {
  smoke: {
    description: 'seconds: a few hundred images, one epoch (tests, CI)',
    limit: { train: 512, val: 256, test: 512 },
    train: { ...TRAIN_DEFAULTS, epochs: 1, batchSize: 64, warmupEpochs: 0 },
    search: {
      ...SEARCH_BASE,
      supernet: { ...TRAIN_DEFAULTS, epochs: 1, batchSize: 64, warmupEpochs: 0, dropPath: 0 },
      evolution: { generations: 2, population: 4, topK: 2, mutations: 1, crossovers: 1, mutationProbability: 0.1 },
      scoring: { valImages: 128, recalibrationBatches: 1, batchSize: 64 },
      stage1Retrain: 2,
      retrain: { ...TRAIN_DEFAULTS, epochs: 1, batchSize: 64, warmupEpochs: 0 },
    },
  },
  cpu: {
    description: 'minutes on a 2-core CPU: 2,000 training images, a few epochs (search: about 15 minutes)',
    limit: { train: 2000, val: 500, test: 1000 },
    train: { ...TRAIN_DEFAULTS, epochs: 5, batchSize: 64, warmupEpochs: 0.5 },
    search: {
      ...SEARCH_BASE,
      supernet: { ...TRAIN_DEFAULTS, epochs: 2, batchSize: 64, warmupEpochs: 0.5, dropPath: 0 },
      evolution: { generations: 5, population: 8, topK: 4, mutations: 3, crossovers: 3, mutationProbability: 0.1 },
      scoring: { valImages: 200, recalibrationBatches: 1, batchSize: 64 },
      stage1Retrain: 2,
      retrain: { ...TRAIN_DEFAULTS, epochs: 2, batchSize: 64, warmupEpochs: 0.5 },
    },
  },
  gpu: {
    description: 'the whole embedded dataset, 30 epochs (a GPU backend)',
    train: { ...TRAIN_DEFAULTS, epochs: 30, batchSize: 128, warmupEpochs: 3 },
    search: {
      ...SEARCH_BASE,
      supernet: { ...TRAIN_DEFAULTS, epochs: 30, batchSize: 128, warmupEpochs: 3, dropPath: 0 },
      evolution: { generations: 20, population: 50, topK: 10, mutations: 25, crossovers: 25, mutationProbability: 0.1 },
      scoring: { valImages: 2000, recalibrationBatches: 4, batchSize: 128 },
      stage1Retrain: 5,
      retrain: { ...TRAIN_DEFAULTS, epochs: 30, batchSize: 128, warmupEpochs: 3 },
    },
  },
  paper: {
    description: "DeiT's recipe: 300 epochs, batch 512, lr 5e-4 * batch / 512, 5 warm-up epochs",
    train: { ...TRAIN_DEFAULTS, epochs: 300, batchSize: 512, lr: 5e-4, minLr: 1e-5, warmupEpochs: 5 },
    search: {
      ...SEARCH_BASE,
      supernet: { ...TRAIN_DEFAULTS, epochs: 120, batchSize: 512, lr: 5e-4, warmupEpochs: 5, dropPath: 0 },
      evolution: { generations: 20, population: 50, topK: 10, mutations: 25, crossovers: 25, mutationProbability: 0.1 },
      scoring: { valImages: 10000, recalibrationBatches: 20, batchSize: 256 },
      stage1Retrain: 5,
      retrain: { ...TRAIN_DEFAULTS, epochs: 300, batchSize: 512, lr: 5e-4, minLr: 1e-5, warmupEpochs: 5 },
    },
  },
};

export function parseScale(value: string, source = 'scale'): Scale {
  if (!(SCALES as readonly string[]).includes(value)) throw new Error(`${source} '${value}' is not a scale: use one of ${SCALES.join(', ')}`);
  return value as Scale;
}

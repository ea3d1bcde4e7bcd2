// Every config value's range, in one place, checked wherever a config comes in: CLI flags, --config files, config.json
// on resume, notebooks and code calling the library. A value out of range is refused naming the field (or the flag)
// and what it must be; nothing trains on a negative learning rate or stops at "epoch 2/1.5".
import { showValue } from '../core/show-value';
import type { EvolutionConfig } from '../search/evolution';
import type { SearchConfig } from '../search/pipeline';
import type { TrainConfig } from '../train/train';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface Range {
  integer?: boolean;
  min: number;
  /** `min` itself is not allowed. */
  above?: boolean;
  max?: number;
  /** `max` itself is not allowed. */
  below?: boolean;
}

/** Rng seeds are unsigned 32-bit: a larger one would silently equal a smaller one. */
export const SEED_RANGE: Range = { integer: true, min: 0, max: 2 ** 32 - 1 };

const TRAIN_RANGES: Record<Exclude<keyof TrainConfig, 'augment'>, Range> = {
  epochs: { integer: true, min: 1 },
  batchSize: { integer: true, min: 1 },
  lr: { min: 0, above: true },
  minLr: { min: 0 },
  warmupEpochs: { min: 0 },
  weightDecay: { min: 0 },
  labelSmoothing: { min: 0, max: 1, below: true },
  clipNorm: { min: 0 },
  dropPath: { min: 0, max: 1, below: true },
  seed: SEED_RANGE,
};

const EVOLUTION_RANGES: Record<keyof EvolutionConfig, Range> = {
  generations: { integer: true, min: 1 },
  population: { integer: true, min: 1 },
  topK: { integer: true, min: 1 },
  mutations: { integer: true, min: 0 },
  crossovers: { integer: true, min: 0 },
  mutationProbability: { min: 0, max: 1 },
  retries: { integer: true, min: 1 },
  randomTries: { integer: true, min: 1 },
};

const SCORING_RANGES: Record<keyof SearchConfig['scoring'], Range> = {
  valImages: { integer: true, min: 1 },
  recalibrationBatches: { integer: true, min: 0 },
  batchSize: { integer: true, min: 1 },
};

function describe(r: Range): string {
  const kind = r.integer ? 'an integer' : 'a number';
  const low = `${r.above ? '>' : '>='} ${r.min}`;
  if (r.max === undefined) return `${kind} ${low}`;
  return `${kind} ${low} and ${r.below ? '<' : '<='} ${r.max}`;
}

/** `value` if it is in `range`, else a ConfigError naming `name` (a field path or a flag). */
export function checkRange(value: unknown, range: Range, name: string): number {
  const n = value as number;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(n) &&
    (!range.integer || Number.isInteger(n)) &&
    (range.above ? n > range.min : n >= range.min) &&
    (range.max === undefined || (range.below ? n < range.max : n <= range.max));
  if (!ok) throw new ConfigError(`${name}: must be ${describe(range)}, got ${showValue(value)}`);
  return n;
}

function checkFields<T extends object>(config: T, ranges: Record<string, Range>, at: (field: string) => string): T {
  for (const [field, range] of Object.entries(ranges))
    checkRange((config as Record<string, unknown>)[field], range, at(field));
  return config;
}

/** `at` names a field in errors: its path in a config file by default, or the CLI flag that set it. */
export function checkTrainConfig(config: TrainConfig, source: string, at = (field: string) => `${source}.${field}`) {
  checkFields(config, TRAIN_RANGES, at);
  if (config.warmupEpochs > config.epochs) {
    throw new ConfigError(`${at('warmupEpochs')}: ${config.warmupEpochs} is more than the ${config.epochs} epochs`);
  }
  checkRange(config.augment?.padCrop, { integer: true, min: 0 }, at('augment.padCrop'));
  if (typeof config.augment.flip !== 'boolean') {
    throw new ConfigError(`${at('augment.flip')}: must be true or false, got ${showValue(config.augment.flip)}`);
  }
  return config;
}

export function checkEvolutionConfig(config: EvolutionConfig, source: string): EvolutionConfig {
  return checkFields(config, EVOLUTION_RANGES, (field) => `${source}.${field}`);
}

export function checkSearchConfig(config: SearchConfig, source: string): SearchConfig {
  checkRange(config.seed, SEED_RANGE, `${source}.seed`);
  checkRange(config.maxFlopsRatio, { min: 0, above: true }, `${source}.maxFlopsRatio`);
  checkRange(config.stage1Retrain, { integer: true, min: 1 }, `${source}.stage1Retrain`);
  checkTrainConfig(config.supernet, `${source}.supernet`);
  checkTrainConfig(config.retrain, `${source}.retrain`);
  checkEvolutionConfig(config.evolution, `${source}.evolution`);
  checkFields(config.scoring, SCORING_RANGES, (field) => `${source}.scoring.${field}`);
  return config;
}

// What decides a run, resolved once when it starts: the scale, the dataset, the search config (for `glit train`, the
// architecture and its recipe) and what a command adds. Recorded in the run folder's config.json (lib/io/run-folder.ts)
// so that `--resume`, or a notebook rerun, continues the run exactly as it began.
import type { Architecture } from '../model/arch';
import type { SplitLimit } from '../data/datasets';
import { EVOLUTION_DEFAULTS } from '../search/evolution';
import type { SearchConfig } from '../search/pipeline';
import type { TrainConfig } from '../train/train';
import { SCALE_CONFIGS, type Scale } from './scales';

export interface RunSettings {
  dataset: string;
  scale: Scale;
  limit?: SplitLimit;
  config: SearchConfig;
  /** `glit supernet` and `glit evolve`: the space searched (a spec for spaceFromSpec). */
  space?: string;
  /** `glit reproduce`: seeds per row, counting up from config.seed. */
  seeds?: number;
}

/** `glit train`: one architecture and its training recipe. */
export interface TrainSettings {
  dataset: string;
  scale: Scale;
  limit?: SplitLimit;
  arch: Architecture;
  config: TrainConfig;
}

/** How runs before `space` and `seeds` were fields recorded them: as strings in `extra`. */
export interface LegacyExtra {
  extra?: { space?: string; seeds?: string };
}

export type CommandFields = Pick<RunSettings, 'space' | 'seeds'>;

function commandFields(o: CommandFields & LegacyExtra): CommandFields {
  const space = o.space ?? o.extra?.space;
  const seeds = o.seeds ?? (o.extra?.seeds === undefined ? undefined : Number(o.extra.seeds));
  return { ...(space === undefined ? {} : { space }), ...(seeds === undefined ? {} : { seeds }) };
}

/** A new run's settings: the scale's search config (or `config`, made from it), with one seed for every stage. */
export function scaleSettings(
  scale: Scale,
  o: { dataset: string; seed: number; limit?: SplitLimit; config?: SearchConfig } & CommandFields,
): RunSettings {
  const scaleConfig = SCALE_CONFIGS[scale];
  // A copy: the settings are edited (and saved) by their holder, and must not change the scale's defaults.
  const base = structuredClone(o.config ?? scaleConfig.search);
  const config = {
    ...base,
    seed: o.seed,
    supernet: { ...base.supernet, seed: o.seed },
    retrain: { ...base.retrain, seed: o.seed },
  };
  return { dataset: o.dataset, scale, limit: o.limit ?? scaleConfig.limit, config, ...commandFields(o) };
}

/**
 * Settings as a config.json holds them, this version's or an older one's: `extra` becomes `space` and `seeds`, and an
 * EA config without `retries` and `randomTries` (they were not fields) gets the defaults it ran with.
 */
export function settingsFromJson(json: RunSettings & LegacyExtra): RunSettings {
  const { extra: _, ...run } = json;
  const config = { ...run.config, evolution: { ...EVOLUTION_DEFAULTS, ...run.config.evolution } };
  return { ...run, config, ...commandFields(json) };
}

// A run folder's settings (its config.json): the preset, the dataset and everything that decides a search, resolved
// once when the run starts, so that `--resume` (or a notebook rerun) continues the run exactly as it began.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendInfo } from '../kernels/backend';
import type { SplitLimit } from '../data/datasets';
import { writeJsonAtomic } from '../io/atomic-files';
import { SCALE_PRESETS, type Scale } from './scales';
import type { SearchConfig } from '../search/pipeline';

export interface RunSettings {
  dataset: string;
  scale: Scale;
  limit?: SplitLimit;
  config: SearchConfig;
  /** Command-specific settings (e.g. the space `glit supernet` trains over); none for `glit search`. */
  extra?: Record<string, string>;
}

/** The preset with the fields of `overrides` replaced (objects such as evolution or retrain are merged one level). */
export function overrideConfig(preset: SearchConfig, overrides: unknown, source = 'overrides'): SearchConfig {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new Error(`${source} must hold a JSON object`);
  const out: Record<string, unknown> = { ...preset };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in preset)) throw new Error(`${source}: unknown field '${key}'; the fields are ${Object.keys(preset).join(', ')}`);
    const current = (preset as unknown as Record<string, unknown>)[key];
    out[key] = typeof current === 'object' && current !== null ? { ...current, ...(value as object) } : value;
  }
  return out as unknown as SearchConfig;
}

/** A new run's settings: the scale's preset, optionally overridden, with one seed for every stage. */
export function presetSettings(scale: Scale, o: { dataset: string; seed: number; limit?: SplitLimit; config?: SearchConfig; extra?: Record<string, string> }): RunSettings {
  const preset = SCALE_PRESETS[scale];
  const base = o.config ?? preset.search;
  const config = { ...base, seed: o.seed, supernet: { ...base.supernet, seed: o.seed }, retrain: { ...base.retrain, seed: o.seed } };
  return { dataset: o.dataset, scale, limit: o.limit ?? preset.limit, config, ...(o.extra ? { extra: o.extra } : {}) };
}

const configFile = (dir: string) => path.join(dir, 'config.json');

/** The settings recorded in `dir`/config.json, or null when there is none. */
export function readSettings(dir: string): RunSettings | null {
  const file = configFile(dir);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')).run as RunSettings) : null;
}

export function writeSettings(dir: string, command: string, run: RunSettings, backend: BackendInfo): void {
  writeJsonAtomic(configFile(dir), { command, run, backend, started: new Date().toISOString() });
}

/** Replaces the command-specific settings of an existing run (e.g. more seeds for `glit reproduce --resume`). */
export function updateExtra(dir: string, extra: Record<string, string>): void {
  const saved = JSON.parse(fs.readFileSync(configFile(dir), 'utf8'));
  writeJsonAtomic(configFile(dir), { ...saved, run: { ...saved.run, extra: { ...saved.run.extra, ...extra } } });
}

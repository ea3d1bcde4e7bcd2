// How notebooks 03 and 04 get their search run: by default they run the hierarchical search's stages live, one at a
// time, in a run folder of their own under runs/notebooks/ (the same layout and config.json as `glit search`, so
// `glit search --out <it> --resume` can finish it); with GLIT_RUN=<folder> they only read a run made elsewhere (a long
// `glit search` on a GPU machine, say) and plot it. Reruns resume: finished parts are read back, not redone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadArchitecture } from './arch';
import { describeBackend, initBackend } from './backend';
import { loadDataset, type DatasetSplits, type SplitLimit } from './data';
import type { EvolutionState } from './evolution';
import { writeJsonAtomic } from './files';
import type { NotebookParams } from './notebook';
import { stderrProgress, type ProgressCallback } from './progress';
import { readSettings, type RunSettings, type Stage1Result } from './runs';
import { SCALE_PRESETS } from './scale';
import { budgetFor, retrain, searchSupernet, trainSupernet, type RetrainResult, type SearchConfig, type SearchLog } from './search';
import { decode, stage1Space, type SearchSpace } from './space';
import { disposeSupernet } from './supernet';
import type { TrainConfig } from './train';

/** The repository root (realpath: notebooks reach lib/ through a symlink). */
const ROOT = path.resolve(fs.realpathSync(__dirname), '..');

/** Images per split for live stages at smoke scale: two training steps per epoch, so every step of a stage runs in seconds. */
const SMOKE_LIMIT: SplitLimit = { train: 128, val: 64, test: 64 };

export interface NotebookSearch {
  dir: string;
  /** False with GLIT_RUN: the notebook reads the folder and trains nothing. */
  live: boolean;
  /** The folder has a config.json already: a live notebook continues it. */
  resumed: boolean;
  settings: RunSettings;
}

/**
 * The run a notebook shows: GLIT_RUN (absolute, or relative to the repository root) when set, else
 * runs/notebooks/search-<scale>-seed<seed>-<dataset>, made with the scale's preset (and a smaller data limit at
 * smoke scale) or continued from its config.json. Delete that folder to start the notebooks' search over.
 */
export function notebookSearch(params: NotebookParams, env: NodeJS.ProcessEnv = process.env): NotebookSearch {
  const given = env.GLIT_RUN?.trim();
  if (given) {
    const dir = path.resolve(ROOT, given);
    const settings = readSettings(dir);
    if (!settings) throw new Error(`GLIT_RUN=${given}: ${dir} has no config.json, so it is not a run folder of \`glit search\``);
    return { dir, live: false, resumed: true, settings };
  }
  const dataset = params.dataset.replace(/[^A-Za-z0-9.-]+/g, '_');
  const dir = path.join(ROOT, 'runs', 'notebooks', `search-${params.scale}-seed${params.seed}-${dataset}`);
  const saved = readSettings(dir);
  return { dir, live: true, resumed: saved !== null, settings: saved ?? newSettings(params) };
}

/**
 * What `glit search --preset <scale> --seed <seed> --dataset <dataset>` would record (lib/cli/run-folder.ts's
 * resolveRun; that module does not compile under tslab), with a smaller data limit at smoke scale.
 */
function newSettings(params: NotebookParams): RunSettings {
  const preset = SCALE_PRESETS[params.scale];
  const seed = params.seed;
  const config = { ...preset.search, seed, supernet: { ...preset.search.supernet, seed }, retrain: { ...preset.search.retrain, seed } };
  return { dataset: params.dataset, scale: params.scale, limit: params.scale === 'smoke' ? SMOKE_LIMIT : preset.limit, config, extra: {} };
}

/**
 * For a live notebook: starts the backend, records a new run's settings in its config.json (as `glit search` does,
 * so the CLI can resume the folder) and loads the data.
 */
export async function openNotebookSearch(search: NotebookSearch, params: NotebookParams): Promise<DatasetSplits> {
  const backend = await initBackend(params.backend);
  console.log(describeBackend(backend));
  if (!search.resumed) writeJsonAtomic(path.join(search.dir, 'config.json'), { command: 'search', run: search.settings, backend, started: new Date().toISOString() });
  return loadDataset(search.settings.dataset, { seed: search.settings.config.seed, limit: search.settings.limit });
}

/**
 * The pipeline's log (a line per epoch, generation or retraining, on stdout: under the cell that runs it) and progress
 * (within a step, on stderr every few seconds), with paths relative to the run folder.
 */
export function notebookLoggers(search: NotebookSearch): { log: SearchLog; progress: ProgressCallback } {
  const relative = (text: string) => text.split(search.dir + path.sep).join('');
  const progress = stderrProgress();
  return { log: (line) => console.log(relative(line)), progress: (p) => progress({ ...p, task: relative(p.task) }) };
}

/**
 * The end of stage 1 as hierarchicalSearch does it: retrain the EA's best `config.stage1Retrain` distributions
 * (stage1/retrain/rankN), keep the best by val accuracy (the first on a tie) and write stage1/result.json.
 */
export async function retrainStage1(
  out: string,
  evolution: EvolutionState,
  space: SearchSpace,
  data: DatasetSplits,
  config: SearchConfig,
  log: SearchLog,
  progress?: ProgressCallback,
): Promise<Stage1Result> {
  const retrained: RetrainResult[] = [];
  for (const [rank, top] of evolution.topK.slice(0, config.stage1Retrain).entries()) {
    const name = `stage1-rank${rank + 1}`;
    retrained.push(await retrain(path.join(out, 'stage1', 'retrain', `rank${rank + 1}`), name, decode(space, top.code), data, config.retrain, log, progress));
  }
  const best = retrained.reduce((a, b) => (b.valAccuracy > a.valAccuracy ? b : a));
  const result: Stage1Result = {
    distribution: best.arch.blocks.map((g) => g.globalHeads),
    best: best.name,
    retrained: retrained.map(({ name, valAccuracy, flops, params }) => ({ name, valAccuracy, flops, params })),
  };
  writeJsonAtomic(path.join(out, 'stage1', 'result.json'), result);
  log(`stage 1: head distribution G per block = [${result.distribution}] (${best.name}, val ${(100 * best.valAccuracy).toFixed(2)}%)`);
  return result;
}

/** All of stage 1 in `out` (supernet, EA, retraining), continuing whatever is there. */
export async function runStage1(out: string, data: DatasetSplits, config: SearchConfig, log: SearchLog, progress?: ProgressCallback): Promise<Stage1Result> {
  const space = stage1Space(loadArchitecture(config.baseline).model);
  const budget = budgetFor(config);
  const net = await trainSupernet(path.join(out, 'stage1', 'supernet'), space, data, config.supernet, budget, log, progress);
  const evolution = await searchSupernet(path.join(out, 'stage1', 'evolution'), 'evolution', space, net, data, config, budget, log, progress);
  disposeSupernet(net);
  return retrainStage1(out, evolution, space, data, config, log, progress);
}

/** The run's settings as rows of a table: what a reader needs to judge its numbers. */
export function describeSettings(settings: RunSettings): { setting: string; value: string }[] {
  const c = settings.config;
  const training = (t: TrainConfig) => `${t.epochs} epoch(s), batch ${t.batchSize}, lr ${t.lr}, warm-up ${t.warmupEpochs} epoch(s)`;
  const limit = settings.limit ? ` (at most ${Object.entries(settings.limit).map(([split, n]) => `${n} ${split}`).join(', ')} images)` : '';
  const e = c.evolution;
  return [
    { setting: 'preset (GLIT_SCALE)', value: settings.scale },
    { setting: 'dataset', value: settings.dataset + limit },
    { setting: 'seed', value: String(c.seed) },
    { setting: 'baseline (model config, budget, comparison)', value: c.baseline },
    { setting: 'FLOPs budget', value: `${c.maxFlopsRatio} x the baseline's: ${(budgetFor(c).maxFlops! / 1e6).toFixed(2)}M (official count)` },
    { setting: 'supernet training', value: training(c.supernet) },
    { setting: 'EA', value: `${e.generations} generations of ${e.population}: top-${e.topK} parents, ${e.mutations} mutations (p ${e.mutationProbability}), ${e.crossovers} crossovers` },
    { setting: 'scoring a candidate', value: `val accuracy on the first ${c.scoring.valImages} val images (at most) after BN recalibration on ${c.scoring.recalibrationBatches} training batch(es)` },
    { setting: 'stage 1 retrains', value: `the EA's best ${c.stage1Retrain}` },
    { setting: 'stage 2 grid', value: c.stage2Grid },
    { setting: 'retraining', value: training(c.retrain) },
  ];
}

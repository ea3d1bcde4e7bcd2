// How notebooks 03 and 04 get their search run: by default they run the hierarchical search's stages live, one at a
// time, in a run folder of their own under runs/notebooks/ (the same layout and config.json as `glit search`, so
// `glit search --out <it> --resume` can finish it); with GLIT_RUN=<folder> they only read a run made elsewhere (a long
// `glit search` on a GPU machine, say) and plot it. Reruns resume: finished parts are read back, not redone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../kernels/backend';
import { loadDataset, type DatasetSplits, type SplitLimit } from '../data/datasets';
import type { NotebookParams } from './params';
import { progressLines, stderrProgress, type ProgressCallback } from '../core/progress';
import { sweepTemporaries } from '../io/atomic-files';
import { LOCK_FILE, lockRunFolder } from '../io/run-lock';
import { codeFingerprint } from '../core/fingerprint';
import { scaleSettings, type CommandFields, type RunSettings } from '../config/run-settings';
import { readProvenance, readSettings, writeSettings } from '../io/run-folder';
import { SCALE_CONFIGS } from '../config/scales';
import { budgetFor, hierarchicalSearch, type SearchLog } from '../search/pipeline';
import type { ExecutorOptions } from '../tasks/executor';
import { openRunner } from '../tasks/open';
import type { TaskRunner } from '../tasks/runner';
import type { TrainConfig } from '../train/train';

/** The repository root (realpath: notebooks reach lib/ through a symlink). */
export const ROOT = path.resolve(fs.realpathSync(__dirname), '..', '..');

/** Images per split for live runs at smoke scale: two training steps per epoch, so every step of a stage runs in seconds. */
const SMOKE_LIMIT: SplitLimit = { train: 128, val: 64, test: 64 };

export interface NotebookSearch {
  dir: string;
  /** False with GLIT_RUN: the notebook reads the folder and trains nothing. */
  live: boolean;
  /** The folder has a config.json already: a live notebook continues it. */
  resumed: boolean;
  settings: RunSettings;
  /** Where its parallel steps run (the parameters cell's executor and workers). */
  executor: ExecutorOptions;
}

/**
 * The run a notebook shows: GLIT_RUN (absolute, or relative to the repository root) when set, else
 * runs/notebooks/search-<scale>-seed<seed>-<dataset>, made with the scale's config (and a smaller data limit at
 * smoke scale) or continued from its config.json. Delete that folder to start the notebooks' search over.
 */
export function notebookSearch(params: NotebookParams, env: NodeJS.ProcessEnv = process.env): NotebookSearch {
  const given = env.GLIT_RUN?.trim();
  if (given) {
    const dir = path.resolve(ROOT, given);
    const settings = readSettings(dir);
    if (!settings)
      throw new Error(`GLIT_RUN=${given}: ${dir} has no config.json, so it is not a run folder of \`glit search\``);
    return { dir, live: false, resumed: true, settings, executor: params.executor };
  }
  return liveRun('search', params);
}

/**
 * A live notebook run folder, runs/notebooks/<command>-<scale>-seed<seed>-<dataset>[-sliced]: continued from its
 * config.json, or new with the scale's config (the smaller data limit at smoke scale) and GLIT_WEIGHT_SHARING.
 */
export function liveRun(command: string, params: NotebookParams, fields: CommandFields = {}): NotebookSearch {
  const dir = liveRunDir(command, params);
  // One writer per folder: a second kernel (or a `glit search --resume` on it) is refused while this one lives.
  lockRunFolder(dir, `${command} (notebook)`);
  const limit = params.scale === 'smoke' ? SMOKE_LIMIT : undefined;
  const config = { ...SCALE_CONFIGS[params.scale].search, weightSharing: params.weightSharing };
  const fresh = scaleSettings(params.scale, { dataset: params.dataset, seed: params.seed, limit, config, ...fields });
  let saved = readSettings(dir);
  const stale = saved ? staleness(dir, saved, fresh) : [];
  if (saved && stale.length > 0 && !params.reuse) {
    // Kept, not lost: the old folder moves aside and this run starts afresh.
    const aside = `${dir}-before-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
    fs.renameSync(dir, aside);
    fs.rmSync(path.join(aside, LOCK_FILE), { force: true });
    lockRunFolder(dir, `${command} (notebook)`);
    console.log(
      `${dir} was made by other code or settings (${stale.join('; ')}): moved to ${aside}; starting afresh ` +
        '(set reuse: true in the parameters cell to continue a run regardless)',
    );
    saved = null;
  } else if (saved && stale.length > 0) {
    console.log(`reusing ${dir} although ${stale.join('; ')} (reuse: true)`);
  }
  if (saved) sweepTemporaries(dir);
  return { dir, live: true, resumed: saved !== null, settings: saved ?? fresh, executor: params.executor };
}

/** The folder of a live notebook run, runs/notebooks/<command>-<scale>-seed<seed>-<dataset>[-sliced] (not locked). */
export function liveRunDir(command: string, params: NotebookParams): string {
  const dataset = params.dataset.replace(/[^A-Za-z0-9.-]+/g, '_');
  const sharing = params.weightSharing === 'separate' ? '' : `-${params.weightSharing}`;
  return path.join(ROOT, 'runs', 'notebooks', `${command}-${params.scale}-seed${params.seed}-${dataset}${sharing}`);
}

/** How a saved run differs from what this notebook would start now: the library's code, or its settings. */
function staleness(dir: string, saved: RunSettings, fresh: RunSettings): string[] {
  const provenance = readProvenance(dir);
  const code = codeFingerprint();
  const out: string[] = [];
  if (provenance?.code !== code) {
    out.push(`lib/ is not the code that started it${provenance?.started ? ` on ${provenance.started}` : ''}`);
  }
  const a = saved as unknown as Record<string, unknown>;
  const b = fresh as unknown as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (key === 'config') continue;
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) out.push(`its ${key} differs`);
  }
  const [sc, fc] = [
    saved.config as unknown as Record<string, unknown>,
    fresh.config as unknown as Record<string, unknown>,
  ];
  for (const key of Object.keys(fc)) {
    if (JSON.stringify(sc[key]) !== JSON.stringify(fc[key])) out.push(`config.${key} differs`);
  }
  return out;
}

/**
 * For a live notebook: starts the backend, records a new run's settings in its config.json (as `glit search` does,
 * so the CLI can resume the folder) and loads the data.
 */
export async function openNotebookSearch(
  search: NotebookSearch,
  params: NotebookParams,
  command = 'search',
): Promise<DatasetSplits> {
  const backend = await initBackend(params.backend);
  console.log(describeBackend(backend));
  if (!search.resumed) writeSettings(search.dir, command, search.settings, backend);
  return loadDataset(search.settings.dataset, {
    seed: search.settings.config.seed,
    limit: search.settings.limit,
    onProgress: notebookProgress(), // building the data cache on first use: in place too, not stderr lines
  });
}

/**
 * Runs `work` with the run's task runner (inline, or workers that are stopped when it ends, also on an interrupt).
 */
export async function withRunner<T>(
  search: NotebookSearch,
  data: DatasetSplits,
  work: (runner: TaskRunner, loggers: { log: SearchLog; progress: ProgressCallback }) => Promise<T>,
): Promise<T> {
  const loggers = notebookLoggers(search);
  const runner = openRunner(search.dir, search.executor, { data, ...loggers });
  try {
    return await work(runner, loggers);
  } finally {
    await runner.close();
  }
}

/** The whole hierarchical search in the notebook's run folder (what `glit search` runs), finished parts read back. */
export const runNotebookSearch = (search: NotebookSearch, data: DatasetSplits) =>
  withRunner(search, data, (runner, { log, progress }) =>
    hierarchicalSearch(search.dir, { data, config: search.settings.config, log, progress, runner }),
  );

/**
 * The pipeline's log (a line per epoch, generation or retraining, on stdout: under the cell that runs it) and progress
 * (within a step, on stderr every few seconds), with paths relative to the run folder.
 */
export function notebookLoggers(search: NotebookSearch): { log: SearchLog; progress: ProgressCallback } {
  const relative = (text: string) => text.split(search.dir + path.sep).join('');
  const progress = notebookProgress();
  return { log: (line) => console.log(relative(line)), progress: (p) => progress({ ...p, task: relative(p.task) }) };
}

/**
 * Progress in a notebook: one output per cell run, rewritten in place (twice a second at most) as tasks (epochs,
 * stages) follow each other, instead of a stderr line every 2 s; outside a tslab kernel (tests, scripts), the CLI's
 * stderr lines.
 */
export function notebookProgress(): ProgressCallback {
  const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData?: unknown };
  if (!jupyter.lastWriteDisplayData) return stderrProgress();
  const { newDisplay } = require('tslab') as typeof import('tslab');
  const lines = progressLines(500);
  // One display per cell run, shared by every callback that reports in it (building the data cache, then training);
  // on globalThis, since tslab reloads this module when lib/ changes.
  const shared = ((globalThis as { glitProgressDisplay?: SharedDisplay }).glitProgressDisplay ??= {});
  return (p) => {
    const l = lines(p);
    if (!l) return;
    // tslab gives each cell run its own writer, and a display shows under the run that made it: a later cell gets a
    // display of its own.
    if (!shared.display || shared.shownUnder !== jupyter.lastWriteDisplayData) {
      shared.display = newDisplay();
      shared.shownUnder = jupyter.lastWriteDisplayData;
    }
    shared.display.text(l.line);
  };
}

interface SharedDisplay {
  display?: { text(s: string): void };
  shownUnder?: unknown;
}

/** The run's settings as rows of a table: what a reader needs to judge its numbers. */
export function describeSettings(settings: RunSettings): { setting: string; value: string }[] {
  const c = settings.config;
  const training = (t: TrainConfig) =>
    `${t.epochs} epoch(s), batch ${t.batchSize}, lr ${t.lr}, warm-up ${t.warmupEpochs} epoch(s)`;
  const limit = settings.limit
    ? ` (at most ${Object.entries(settings.limit)
        .map(([split, n]) => `${n} ${split}`)
        .join(', ')} images)`
    : '';
  const e = c.evolution;
  return [
    { setting: 'scale (GLIT_SCALE)', value: settings.scale },
    { setting: 'dataset', value: settings.dataset + limit },
    { setting: 'seed', value: String(c.seed) },
    { setting: 'baseline (model config, budget, comparison)', value: c.baseline },
    {
      setting: 'FLOPs budget',
      value: `${c.maxFlopsRatio} x the baseline's: ${(budgetFor(c).maxFlops! / 1e6).toFixed(2)}M (official count)`,
    },
    { setting: 'supernet training', value: training(c.supernet) },
    {
      setting: 'supernet weights (GLIT_WEIGHT_SHARING)',
      value:
        c.weightSharing === 'sliced'
          ? 'sliced: slices of one largest set per block'
          : 'separate: each candidate its own',
    },
    {
      setting: 'EA',
      value: `${e.generations} generations of ${e.population}: top-${e.topK} parents, ${e.mutations} mutations (p ${e.mutationProbability}), ${e.crossovers} crossovers`,
    },
    {
      setting: 'scoring a candidate',
      value: `val accuracy on the first ${c.scoring.valImages} val images (at most) after BN recalibration on ${c.scoring.recalibrationBatches} training batch(es)`,
    },
    { setting: 'stage 1 retrains', value: `the EA's best ${c.stage1Retrain}` },
    { setting: 'stage 2 grid', value: c.stage2Grid },
    { setting: 'retraining', value: training(c.retrain) },
  ];
}

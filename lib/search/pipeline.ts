// The hierarchical search (the paper's Section 3) as resumable stages (lib/search/stages.ts), each writing to its own
// folder of the run (the layout and its files: lib/io/run-folder.ts):
//   stage1/  supernet over the head distributions (low-level choices fixed) -> EA -> retrain the top few -> best
//            distribution N*
//   stage2/  supernet over the low-level choices with N* fixed -> EA -> retrain the best -> test accuracy
//   baseline/ the DeiT-style model retrained with the same budget, for comparison
// A stage that finished is read back from its folder; one that was killed resumes from its last saved state (the
// supernet's last epoch, the EA's last evaluation, a retraining's last epoch).
import * as path from 'node:path';
import { loadArchitecture } from '../model/arch';
import { modelCost } from '../model/flops';
import { writeBestArch, writeSearchResult, writeStage1Result } from '../io/run-folder';
import type { ProgressCallback } from '../core/progress';
import type { DatasetSplits } from '../data/datasets';
import type { TrainConfig } from '../train/train';
import type { EvolutionConfig, EvolutionState } from './evolution';
import type { RetrainResult, SearchResult, Stage1Result } from './records';
import { decode, stage1Space, stage2Space, type Budget, type SearchSpace, type Stage2Grid } from './space';
import { retrain, searchSupernet, trainSupernet } from './stages';
import { disposeSupernet, type WeightSharing } from './supernet';

export interface SearchConfig {
  seed: number;
  /** The hand-designed baseline (a preset or an architecture .json): every candidate shares its model config (width,
   * heads, depth, image size...), and it is retrained for comparison. */
  baseline: string;
  supernet: TrainConfig;
  /** How the supernet's candidates hold weights: 'separate' (each its own; SPOS, the official pattern) or 'sliced'
   * (slices of one largest set per block; AutoFormer). See lib/search/supernet.ts. */
  weightSharing: WeightSharing;
  evolution: EvolutionConfig;
  /** Candidates are scored on at most this many val images, after BN recalibration on this many training batches. */
  scoring: { valImages: number; recalibrationBatches: number; batchSize: number };
  /** FLOPs budget (official count) as a multiple of the baseline's: candidates above it are never sampled or scored. */
  maxFlopsRatio: number;
  /** Stage 1 retrains this many of the EA's best distributions (the paper: 5) and keeps the best by val accuracy. */
  stage1Retrain: number;
  stage2Grid: Stage2Grid;
  retrain: TrainConfig;
}

export const budgetFor = (config: SearchConfig): Budget => ({
  maxFlops: Math.round(modelCost(loadArchitecture(config.baseline)).flops * config.maxFlopsRatio),
});

/** Logs what the pipeline does, one line at a time (the CLI prints them; notebooks can collect them). */
export type SearchLog = (line: string) => void;

/**
 * The end of stage 1: retrain the EA's best `config.stage1Retrain` distributions (stage1/retrain/rankN), keep the best
 * by val accuracy (the first on a tie) and write stage1/result.json.
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
    retrained.push(
      await retrain(
        path.join(out, 'stage1', 'retrain', `rank${rank + 1}`),
        name,
        decode(space, top.code),
        data,
        config.retrain,
        log,
        progress,
      ),
    );
  }
  const best = retrained.reduce((a, b) => (b.valAccuracy > a.valAccuracy ? b : a));
  const result: Stage1Result = {
    distribution: best.arch.blocks.map((g) => g.globalHeads),
    best: best.name,
    retrained: retrained.map(({ name, valAccuracy, flops, params }) => ({ name, valAccuracy, flops, params })),
  };
  writeStage1Result(out, result);
  log(
    `stage 1: head distribution G per block = [${result.distribution}] (${best.name}, val ${(100 * best.valAccuracy).toFixed(2)}%)`,
  );
  return result;
}

/** Stage 1 in `out`: which blocks get how many global heads (supernet, EA, retraining the best few). */
export async function stage1(
  out: string,
  data: DatasetSplits,
  config: SearchConfig,
  log: SearchLog,
  progress?: ProgressCallback,
): Promise<Stage1Result> {
  const space = stage1Space(loadArchitecture(config.baseline).model);
  const budget = budgetFor(config);
  const net = await trainSupernet(path.join(out, 'stage1', 'supernet'), space, data, config, budget, log, progress);
  const evolution = await searchSupernet(
    path.join(out, 'stage1', 'evolution'),
    'evolution',
    space,
    net,
    data,
    config,
    budget,
    log,
    progress,
  );
  disposeSupernet(net);
  return retrainStage1(out, evolution, space, data, config, log, progress);
}

/** Runs (or resumes) the whole hierarchical search in `out`. */
export async function hierarchicalSearch(
  out: string,
  data: DatasetSplits,
  config: SearchConfig,
  log: SearchLog,
  progress?: ProgressCallback,
): Promise<SearchResult> {
  const baselineArch = loadArchitecture(config.baseline);
  const budget = budgetFor(config);
  const at = (...parts: string[]) => path.join(out, ...parts);
  const { distribution } = await stage1(out, data, config, log, progress);

  // Stage 2: the low-level choices of every block, the distribution fixed.
  const space2 = stage2Space(baselineArch.model, distribution, config.stage2Grid);
  const net2 = await trainSupernet(at('stage2', 'supernet'), space2, data, config, budget, log, progress);
  const evo2 = await searchSupernet(
    at('stage2', 'evolution'),
    'evolution',
    space2,
    net2,
    data,
    config,
    budget,
    log,
    progress,
  );
  disposeSupernet(net2);
  const found = await retrain(
    at('stage2', 'retrain'),
    'glit-found',
    decode(space2, evo2.topK[0].code),
    data,
    config.retrain,
    log,
    progress,
  );
  writeBestArch(out, found.arch);

  const baseline = await retrain(
    at('baseline'),
    baselineArch.name ?? 'baseline',
    baselineArch,
    data,
    config.retrain,
    log,
    progress,
  );
  const result: SearchResult = { distribution, found, baseline };
  writeSearchResult(out, result);
  return result;
}

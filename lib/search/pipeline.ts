// The hierarchical search (the paper's Section 3) as resumable stages, each writing to its own folder of the run (the
// layout and its files: lib/io/run-folder.ts):
//   stage1/  supernet over the head distributions (low-level choices fixed) -> EA -> retrain the top few -> best
//            distribution N*
//   stage2/  supernet over the low-level choices with N* fixed -> EA -> retrain the best -> test accuracy
//   baseline/ the DeiT-style model retrained with the same budget, for comparison
// A stage that finished is read back from its folder; one that was killed resumes from its last saved state (the
// supernet's last epoch, the EA's last evaluation, a retraining's last epoch).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadArchitecture, type Architecture } from '../model/arch';
import { backendInfo } from '../kernels/backend';
import { saveCheckpoint } from '../io/checkpoint';
import type { DatasetSplits, ImageSet } from '../data/datasets';
import { evolve, randomSearch, type EvolutionConfig, type EvolutionState } from './evolution';
import {
  appendGeneration,
  appendRetrainEpoch,
  appendSupernetEpoch,
  appendSupernetStep,
  readRetrainResult,
  readSearchState,
  retrainFiles,
  supernetFiles,
  writeBestArch,
  writeRetrainArch,
  writeRetrainResult,
  writeSearchResult,
  writeSearchState,
  writeStage1Result,
  writeTop,
} from '../io/run-folder';
import type { RetrainResult, SearchResult, Stage1Result } from './records';
import { modelCost } from '../model/flops';
import type { ProgressCallback } from '../core/progress';
import { disposeModel, initModel } from '../model/model';
import { createAdamW, disposeAdamW } from '../train/optimizer';
import {
  decode,
  sampleWithin,
  stage1Space,
  stage2Space,
  type Budget,
  type SearchSpace,
  type Stage2Grid,
} from './space';
import {
  createSavedVariables,
  createSupernet,
  disposeSupernet,
  pathModel,
  scorePath,
  supernetVariables,
  type Supernet,
  type WeightSharing,
} from './supernet';
import { evaluate, fixedModel, trainLoop, type TrainConfig } from '../train/train';
import { loadTrainState, saveTrainState } from '../train/train-state';

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

/** A training loop's onStep hook that reports steps within the epoch, when there is a progress callback. */
const stepProgress = (task: string, config: TrainConfig, progress?: ProgressCallback) =>
  progress &&
  ((s: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) =>
    progress({
      task: `${task} epoch ${s.epoch + 1}/${config.epochs}`,
      done: s.step - s.epoch * s.stepsPerEpoch,
      total: s.stepsPerEpoch,
      detail: `loss ${s.loss.toFixed(3)}`,
    }));

// --- stages --------------------------------------------------------------------------------------------------------

/**
 * Trains a supernet (search.supernet's recipe, search.weightSharing's weights), one uniformly sampled path (within the
 * budget) per step, saving its state after every epoch to `dir` and resuming from it. Returns the trained supernet
 * (the caller disposes it).
 */
export async function trainSupernet(
  dir: string,
  space: SearchSpace,
  data: DatasetSplits,
  search: SearchConfig,
  budget: Budget,
  log: SearchLog,
  progress?: ProgressCallback,
): Promise<Supernet> {
  const config = search.supernet;
  const net = createSupernet(space, config.seed, search.weightSharing);
  const stateFile = supernetFiles(dir).state;
  const optimizer = createAdamW({ weightDecay: config.weightDecay });
  let from;
  if (fs.existsSync(stateFile)) {
    const variablesFor = (names: string[]) => {
      createSavedVariables(net, names);
      return supernetVariables(net);
    };
    from = loadTrainState(stateFile, variablesFor, optimizer).progress;
    log(`${dir}: resuming the supernet after epoch ${from.epoch}/${config.epochs}`);
  }
  if (!from || from.epoch < config.epochs) {
    const supernetProgress = stepProgress(`${dir}: supernet`, config, progress);
    await trainLoop({
      data,
      config,
      optimizer,
      from,
      modelForStep: (rng) => pathModel(net, sampleWithin(space, rng, budget)),
      hooks: {
        onStep: (s) => {
          appendSupernetStep(dir, { step: s.step, epoch: s.epoch, loss: s.loss });
          supernetProgress?.(s);
        },
        onEpoch: (end) => {
          saveTrainState(stateFile, supernetVariables(net), optimizer, end.progress);
          appendSupernetEpoch(dir, {
            epoch: end.progress.epoch,
            step: end.progress.step,
            trainLoss: end.trainLoss,
            lr: end.lr,
            seconds: end.seconds,
          });
          log(
            `${dir}: supernet epoch ${end.progress.epoch}/${config.epochs}, train loss ${end.trainLoss.toFixed(4)} (${end.seconds.toFixed(0)}s)`,
          );
        },
      },
    });
  }
  disposeAdamW(optimizer);
  return net;
}

/** The first `count` images of a split: scoring uses a fixed val subset so every candidate sees the same images. */
const firstImages = (set: ImageSet, count: number): ImageSet => {
  const n = Math.min(count, set.count);
  const size = set.height * set.width * set.channels;
  return { ...set, images: set.images.subarray(0, n * size), labels: set.labels.subarray(0, n), count: n };
};

/**
 * Evolutionary (or random) search over a trained supernet: fitness = val accuracy of the path after BN recalibration.
 * Its state is written after every evaluation to `dir/evolution.json`, and every generation to generations.jsonl.
 */
export async function searchSupernet(
  dir: string,
  method: 'evolution' | 'random',
  space: SearchSpace,
  net: Supernet,
  data: DatasetSplits,
  config: SearchConfig,
  budget: Budget,
  log: SearchLog,
  progress?: ProgressCallback,
): Promise<EvolutionState> {
  const resumeFrom = readSearchState(dir, method) ?? undefined;
  const scoringData = {
    train: data.train,
    val: firstImages(data.val, config.scoring.valImages),
    mean: data.mean,
    std: data.std,
  };
  const e = config.evolution;
  const callbacks = {
    seed: config.seed,
    budget,
    onEvaluation: (state: EvolutionState) => {
      writeSearchState(dir, state);
      const done =
        state.history.reduce((n, g) => n + g.population.length, 0) +
        (state.pending ?? []).filter((c) => c.score !== null).length;
      progress?.({ task: `${dir}: ${method}`, done, total: state.settings.evaluations });
    },
    onGeneration: (state: EvolutionState) => {
      writeSearchState(dir, state);
      const g = state.history[state.history.length - 1];
      appendGeneration(dir, method, g);
      log(
        `${dir}: ${method} generation ${g.generation + 1}/${state.settings.generations}: best ${(100 * g.best).toFixed(2)}%, mean ${(100 * g.mean).toFixed(2)}%, best so far ${(100 * g.bestSoFar).toFixed(2)}%`,
      );
    },
  };
  const fitness = (arch: Architecture) => scorePath(net, arch, scoringData, config.scoring);
  if (resumeFrom) log(`${dir}: resuming the ${method} search after ${resumeFrom.history.length} generations`);
  const state =
    method === 'evolution'
      ? await evolve(space, fitness, { ...e, ...callbacks }, resumeFrom)
      : await randomSearch(
          space,
          fitness,
          {
            ...callbacks,
            evaluations: e.generations * e.population,
            population: e.population,
            topK: e.topK,
            randomTries: e.randomTries,
          },
          resumeFrom,
        );
  writeTop(
    dir,
    method,
    state.topK.map((t) => ({ ...t, arch: decode(space, t.code) })),
  );
  return state;
}

/**
 * Trains `arch` from scratch with the retraining recipe, saving its state after every epoch; writes arch.json,
 * model.safetensors (PyTorch names) and result.json. A finished retraining is read back from result.json.
 */
export async function retrain(
  dir: string,
  name: string,
  arch: Architecture,
  data: DatasetSplits,
  config: TrainConfig,
  log: SearchLog,
  progress?: ProgressCallback,
): Promise<RetrainResult> {
  const finished = readRetrainResult(dir);
  if (finished) return finished;
  writeRetrainArch(dir, { ...arch, name });
  const started = Date.now();
  const params = initModel(arch, config.seed);
  const model = fixedModel(params, arch);
  const optimizer = createAdamW({ weightDecay: config.weightDecay });
  const files = retrainFiles(dir);
  const stateFile = files.state;
  const from = fs.existsSync(stateFile) ? loadTrainState(stateFile, model.variables, optimizer).progress : undefined;
  await trainLoop({
    data,
    config,
    optimizer,
    from,
    modelForStep: () => model,
    hooks: {
      onStep: stepProgress(`${dir}: ${name}`, config, progress),
      onEpoch: async (end) => {
        saveTrainState(stateFile, model.variables, optimizer, end.progress);
        const val = await evaluate(model, data.val, data);
        appendRetrainEpoch(dir, { epoch: end.progress.epoch, trainLoss: end.trainLoss, val, seconds: end.seconds });
        log(
          `${dir}: ${name} epoch ${end.progress.epoch}/${config.epochs}, train loss ${end.trainLoss.toFixed(4)}, val ${(100 * val.accuracy).toFixed(2)}%`,
        );
      },
    },
  });
  const cost = modelCost(arch);
  const { backend, device } = backendInfo();
  const result: RetrainResult = {
    name,
    arch: { ...arch, name },
    params: cost.params,
    flops: cost.flops,
    macs: cost.macs,
    valAccuracy: (await evaluate(model, data.val, data)).accuracy,
    testAccuracy: (await evaluate(model, data.test, data)).accuracy,
    seconds: (Date.now() - started) / 1000,
    backend,
    device,
  };
  await saveCheckpoint(files.model, params, arch);
  writeRetrainResult(dir, result);
  fs.rmSync(stateFile, { force: true });
  disposeAdamW(optimizer);
  disposeModel(params);
  return result;
}

// --- the pipeline ----------------------------------------------------------------------------------------------------

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

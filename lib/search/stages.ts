// The stages the hierarchical search (lib/search/pipeline.ts) and the ablations are made of, each resumable in its own
// folder: training a supernet, searching it, retraining an architecture. A stage saves its state after every epoch
// (or evaluation) and appends its logs after the state: on a resume the logs are rewritten from the state, so a kill
// between the two neither loses nor repeats a line, and the run ends exactly as an uninterrupted one.
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { Architecture, BlockGene, ModelConfig } from '../model/arch';
import { blockBatchNorms } from '../model/block';
import { modelCost } from '../model/flops';
import { disposeModel, initModel, namedVariables } from '../model/model';
import { backendInfo } from '../kernels/backend';
import { saveCheckpoint } from '../io/checkpoint';
import {
  appendGeneration,
  appendRetrainEpoch,
  appendSupernetEpoch,
  appendSupernetStep,
  readRetrainResult,
  readSearchState,
  retrainFiles,
  rewriteGenerations,
  rewriteRetrainEpochs,
  rewriteSupernetLog,
  supernetFiles,
  writeRetrainArch,
  writeRetrainResult,
  writeSearchState,
  writeTop,
} from '../io/run-folder';
import type { ProgressCallback } from '../core/progress';
import type { DatasetSplits, ImageSet } from '../data/datasets';
import { createAdamW, disposeAdamW, type AdamWState } from '../train/optimizer';
import { evaluate, fixedModel, trainLoop, type TrainConfig, type Trainable } from '../train/train';
import type { BatchNorm } from '../model/layers';
import { loadTrainState, saveTrainState } from '../train/train-state';
import { checkStepMemory, estimateStepMemory } from '../train/memory';
import { evolve, randomSearch, type BatchFitness, type EvolutionState } from './evolution';
import type { SearchConfig, SearchLog } from './pipeline';
import type { RetrainEpoch, RetrainResult, SupernetEpoch } from './records';
import { decode, sampleWithin, type Budget, type SearchSpace } from './space';
import {
  createSavedVariables,
  createSupernet,
  disposeSupernet,
  pathModel,
  scorePath,
  supernetBatchNorms,
  supernetVariables,
  type Supernet,
} from './supernet';

const stepBytes = (model: ModelConfig, gene: BlockGene): number => {
  const e = estimateStepMemory({ model, blocks: [gene] }, 1);
  return e.parameterBytes + e.activationBytes;
};

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
  // The costliest path a step can sample: per block the candidate with the largest estimate.
  const costliest = space.choices.map((genes) =>
    genes.reduce((a, b) => (stepBytes(space.model, b) > stepBytes(space.model, a) ? b : a)),
  );
  checkStepMemory(
    { name: `${dir}'s supernet`, model: space.model, blocks: costliest },
    config.batchSize,
    backendInfo().backend,
  );
  const optimizer = createAdamW({ weightDecay: config.weightDecay });
  const { net, from, epochs } = restoreSupernet(dir, space, search, optimizer);
  const stateFile = supernetFiles(dir).state;
  if (from) log(`${dir}: resuming the supernet after epoch ${from.epoch}/${config.epochs}`);
  rewriteSupernetLog(dir, epochs, from?.step ?? 0);
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
          const record = {
            epoch: end.progress.epoch,
            step: end.progress.step,
            trainLoss: end.trainLoss,
            lr: end.lr,
            seconds: end.seconds,
          };
          epochs.push(record);
          saveTrainState(
            stateFile,
            supernetVariables(net),
            optimizer,
            end.progress,
            { epochs },
            supernetBatchNorms(net),
          );
          appendSupernetEpoch(dir, record);
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

/** The supernet of `dir` as its last saved state left it (a new one where there is none), and where it stopped. */
function restoreSupernet(dir: string, space: SearchSpace, search: SearchConfig, optimizer: AdamWState) {
  const net = createSupernet(space, search.supernet.seed, search.weightSharing);
  const stateFile = supernetFiles(dir).state;
  if (!fs.existsSync(stateFile)) return { net, epochs: [] as SupernetEpoch[] };
  const variablesFor = (names: string[]) => {
    createSavedVariables(net, names);
    return supernetVariables(net);
  };
  const saved = loadTrainState(stateFile, variablesFor, optimizer, () => supernetBatchNorms(net));
  return { net, from: saved.progress, epochs: (saved.extra.epochs as SupernetEpoch[] | undefined) ?? [] };
}

/** The trained supernet of `dir` (a worker scoring candidates on it), or an error when its training is not finished. */
export function loadSupernet(dir: string, space: SearchSpace, search: SearchConfig): Supernet {
  const optimizer = createAdamW({ weightDecay: search.supernet.weightDecay });
  const { net, from } = restoreSupernet(dir, space, search, optimizer);
  disposeAdamW(optimizer);
  if (!from || from.epoch < search.supernet.epochs) {
    disposeSupernet(net);
    throw new Error(
      `${dir}: the supernet is not trained (${from ? `${from.epoch} of ${search.supernet.epochs} epochs` : 'no saved state'}): train it first`,
    );
  }
  return net;
}

/** The first `count` images of a split: scoring uses a fixed val subset so every candidate sees the same images. */
const firstImages = (set: ImageSet, count: number): ImageSet => {
  const n = Math.min(count, set.count);
  const size = set.height * set.width * set.channels;
  return { ...set, images: set.images.subarray(0, n * size), labels: set.labels.subarray(0, n), count: n };
};

/** What candidates are scored on: the training set (BatchNorm recalibration) and the first of the val images. */
export const scoringSet = (data: DatasetSplits, config: SearchConfig) => ({
  train: data.train,
  val: firstImages(data.val, config.scoring.valImages),
  mean: data.mean,
  std: data.std,
});

/**
 * Evolutionary (or random) search over a trained supernet: fitness = val accuracy of the path after BN recalibration,
 * on `net` in this process or by `net` as a batch fitness (tasks scoring on the saved supernet: lib/tasks). Its state
 * is written after every evaluation to `dir/evolution.json`, and every generation to generations.jsonl.
 */
export async function searchSupernet(
  dir: string,
  method: 'evolution' | 'random',
  space: SearchSpace,
  net: Supernet | BatchFitness,
  data: DatasetSplits,
  config: SearchConfig,
  budget: Budget,
  log: SearchLog,
  progress?: ProgressCallback,
): Promise<EvolutionState> {
  const resumeFrom = readSearchState(dir, method) ?? undefined;
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
  const scoring = scoringSet(data, config);
  const fitness =
    typeof net === 'function' ? { batch: net } : (arch: Architecture) => scorePath(net, arch, scoring, config.scoring);
  rewriteGenerations(dir, method, resumeFrom?.history ?? []);
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
  const files = retrainFiles(dir);
  const finished = readRetrainResult(dir);
  if (finished) {
    fs.rmSync(files.state, { force: true });
    return finished;
  }
  checkStepMemory({ ...arch, name }, config.batchSize, tf.getBackend());
  writeRetrainArch(dir, { ...arch, name });
  const params = initModel(arch, config.seed);
  const cost = modelCost(arch);
  const target = {
    model: fixedModel(params, arch),
    variables: namedVariables(params),
    norms: () => params.blocks.flatMap(blockBatchNorms),
  };
  const trained = await trainInFolder(dir, name, target, data, config, log, progress);
  const result: RetrainResult = {
    name,
    arch: { ...arch, name },
    params: cost.params,
    flops: cost.flops,
    macs: cost.macs,
    ...trained,
  };
  await saveCheckpoint(files.model, params, arch);
  writeRetrainResult(dir, result);
  fs.rmSync(files.state, { force: true });
  disposeModel(params);
  return result;
}

/** What a retraining trains: a model, every variable its state holds (BatchNorm's running statistics too), its norms. */
export interface RetrainTarget {
  model: Trainable;
  variables: Map<string, tf.Variable>;
  norms: () => BatchNorm[];
}

/**
 * Trains `target` from scratch in `dir` (or on from the state saved there), saving its state and a log line after
 * every epoch; then evaluates it on val and test. The caller writes the model and result.json, then drops the state.
 */
export async function trainInFolder(
  dir: string,
  name: string,
  target: RetrainTarget,
  data: DatasetSplits,
  config: TrainConfig,
  log: SearchLog,
  progress?: ProgressCallback,
): Promise<Pick<RetrainResult, 'valAccuracy' | 'testAccuracy' | 'seconds' | 'backend' | 'device' | 'valCurve'>> {
  const { state } = retrainFiles(dir);
  const { model, variables, norms } = target;
  const started = Date.now();
  const optimizer = createAdamW({ weightDecay: config.weightDecay });
  try {
    let from;
    let epochs: RetrainEpoch[] = [];
    if (fs.existsSync(state)) {
      const saved = loadTrainState(state, variables, optimizer, norms);
      from = saved.progress;
      epochs = (saved.extra.epochs as RetrainEpoch[] | undefined) ?? [];
      log(`${dir}: resuming ${name} after epoch ${from.epoch}/${config.epochs}`);
    }
    rewriteRetrainEpochs(dir, epochs);
    await trainLoop({
      data,
      config,
      optimizer,
      from,
      modelForStep: () => model,
      hooks: {
        onStep: stepProgress(`${dir}: ${name}`, config, progress),
        onEpoch: async (end) => {
          const val = await evaluate(model, data.val, data);
          const record = { epoch: end.progress.epoch, trainLoss: end.trainLoss, val, seconds: end.seconds };
          epochs.push(record);
          saveTrainState(state, variables, optimizer, end.progress, { epochs }, norms());
          appendRetrainEpoch(dir, record);
          log(
            `${dir}: ${name} epoch ${end.progress.epoch}/${config.epochs}, train loss ${end.trainLoss.toFixed(4)}, val ${(100 * val.accuracy).toFixed(2)}%`,
          );
        },
      },
    });
    const { backend, device } = backendInfo();
    return {
      valAccuracy: (await evaluate(model, data.val, data)).accuracy,
      testAccuracy: (await evaluate(model, data.test, data)).accuracy,
      seconds: (Date.now() - started) / 1000,
      backend,
      device,
      valCurve: epochs.map((e) => e.val.accuracy),
    };
  } finally {
    disposeAdamW(optimizer);
  }
}

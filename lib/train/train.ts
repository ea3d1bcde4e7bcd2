// Training and evaluation: label-smoothed cross-entropy, one optimizer step, accuracy on a split, and the epoch loop.
// Plain training and the supernet (one sampled path per step) share trainStep.
import * as tf from '@tensorflow/tfjs';
import type { Architecture } from '../model/arch';
import { batches } from '../data/batches';
import type { DatasetSplits, ImageSet } from '../data/datasets';
import type { ForwardContext } from '../model/layers';
import { forward, trainableVariables, type ModelParams } from '../model/model';
import { adamWStep, clipByGlobalNorm, learningRate, type AdamWState, type ScheduleConfig } from './optimizer';
import { Rng } from '../core/random';
import { checkTrainConfig } from '../config/validate';
import { interruptPoint } from '../core/interrupt';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  /** Peak learning rate (after warm-up). DeiT uses 5e-4 * batch / 512 for 300 epochs; short proxy runs use more. */
  lr: number;
  minLr: number;
  warmupEpochs: number;
  weightDecay: number;
  labelSmoothing: number;
  /** Global gradient-norm clip (0 = off). */
  clipNorm: number;
  /** Stochastic depth rate of the last block. */
  dropPath: number;
  /** Random crop after zero padding by this many pixels (0 = off), and horizontal flips. */
  augment: { padCrop: number; flip: boolean };
  seed: number;
}

export const TRAIN_DEFAULTS: TrainConfig = {
  epochs: 10,
  batchSize: 128,
  lr: 1e-3,
  minLr: 1e-5,
  warmupEpochs: 1,
  weightDecay: 0.05,
  labelSmoothing: 0.1,
  clipNorm: 1.0,
  dropPath: 0.1,
  augment: { padCrop: 2, flip: false },
  seed: 0,
};

/** Mean over the batch of the cross-entropy against (1 - s) * one-hot + s / classes. */
export function smoothedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, smoothing: number): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const target = tf.add(tf.mul(tf.oneHot(tf.cast(labels, 'int32'), classes), 1 - smoothing), smoothing / classes);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), -1))) as tf.Scalar;
  });
}

/** What training needs of a model: its trainable variables under stable, unique names, and its logits. */
export interface Trainable {
  variables: Map<string, tf.Variable>;
  logits(x: tf.Tensor4D, options: ForwardContext): tf.Tensor2D;
}

/** One fixed architecture as a Trainable (a supernet path is another; see lib/search/supernet.ts). */
export const fixedModel = (params: ModelParams, arch: Architecture): Trainable => ({
  variables: trainableVariables(params),
  logits: (x, options) => forward(params, x, arch, options),
});

export interface StepInput {
  model: Trainable;
  optimizer: AdamWState;
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  lr: number;
  config: Pick<TrainConfig, 'labelSmoothing' | 'clipNorm' | 'dropPath'>;
  rng: Rng;
}

/**
 * Forward, backward and AdamW on the model's variables that the loss touches. Returns the loss as a scalar tensor
 * (the caller reads it when it wants to, and disposes it), so a step forces no GPU-to-CPU sync.
 */
export function trainStep(s: StepInput): tf.Scalar {
  const nameOf = new Map([...s.model.variables].map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(
    () =>
      smoothedCrossEntropy(
        s.model.logits(s.x, { training: true, dropPath: s.config.dropPath, rng: s.rng }),
        s.y,
        s.config.labelSmoothing,
      ),
    [...s.model.variables.values()],
  );
  // variableGrads leaves out variables the loss did not touch: exactly the single-path update SPOS needs.
  const named = new Map(Object.entries(grads).map(([id, g]) => [nameOf.get(id)!, g]));
  if (s.config.clipNorm > 0) {
    const { grads: clipped, norm } = clipByGlobalNorm(named, s.config.clipNorm);
    adamWStep(s.optimizer, s.model.variables, clipped, s.lr);
    tf.dispose([...clipped.values(), norm]);
  } else {
    adamWStep(s.optimizer, s.model.variables, named, s.lr);
  }
  tf.dispose(Object.values(grads));
  return value;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
}

/** Loss and top-1 accuracy in eval mode (BatchNorm on running statistics), batched; one read at the end. */
export async function evaluate(
  model: Pick<Trainable, 'logits'>,
  set: ImageSet,
  norm: { mean: number[]; std: number[] },
  batchSize = 256,
): Promise<EvalResult> {
  let lossSum = tf.scalar(0);
  let correct = tf.scalar(0, 'int32');
  for (const { x, y } of batches(set, { batchSize, mean: norm.mean, std: norm.std })) {
    const [nextLoss, nextCorrect] = tf.tidy(() => {
      const logits = model.logits(x, { training: false });
      const loss = tf.add(lossSum, tf.mul(smoothedCrossEntropy(logits, y, 0), x.shape[0]));
      const hits = tf.add(correct, tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(y, 'int32')), 'int32')));
      return [loss, hits];
    });
    tf.dispose([x, y, lossSum, correct]);
    lossSum = nextLoss as tf.Scalar;
    correct = nextCorrect as tf.Scalar;
  }
  const [loss, hits] = [(await lossSum.data())[0], (await correct.data())[0]];
  tf.dispose([lossSum, correct]);
  return { loss: loss / set.count, accuracy: hits / set.count, count: set.count };
}

export function stepsPerEpoch(trainCount: number, batchSize: number): number {
  return Math.floor(trainCount / batchSize);
}

export function scheduleFor(config: TrainConfig, trainCount: number): ScheduleConfig {
  const perEpoch = stepsPerEpoch(trainCount, config.batchSize);
  return {
    baseLr: config.lr,
    minLr: config.minLr,
    warmupSteps: Math.round(config.warmupEpochs * perEpoch),
    totalSteps: config.epochs * perEpoch,
  };
}

/** Where a training run stands between epochs: enough, with the variables and the optimizer, to resume it exactly. */
export interface TrainProgress {
  /** Epochs finished. */
  epoch: number;
  step: number;
  /** State of the Rng that draws drop-path masks and supernet paths. */
  rngState: number;
}

export interface EpochEnd {
  progress: TrainProgress;
  trainLoss: number;
  lr: number;
  seconds: number;
}

export interface LoopHooks {
  /** After every step, with the step's loss read back (cheap on CPU backends; on GPU it costs a sync). */
  onStep?: (info: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void;
  /** After every epoch: evaluate, log and checkpoint here (awaited before the next epoch starts). */
  onEpoch?: (end: EpochEnd) => Promise<void> | void;
}

/**
 * The epoch loop shared by plain training and supernet training: `modelForStep` gives the model to train at each step
 * (a fixed model, or a freshly sampled supernet path, drawing from `rng`). Each epoch's data order comes from the seed
 * and the epoch number alone, so a run resumed from `from` continues exactly as an uninterrupted one would.
 */
export async function trainLoop(opts: {
  data: DatasetSplits;
  config: TrainConfig;
  optimizer: AdamWState;
  modelForStep: (rng: Rng) => Trainable;
  hooks?: LoopHooks;
  from?: TrainProgress;
}): Promise<TrainProgress> {
  const { data, config, optimizer, hooks = {} } = opts;
  checkTrainConfig(config, 'training config');
  const perEpoch = stepsPerEpoch(data.train.count, config.batchSize);
  if (perEpoch < 1)
    throw new Error(
      `the training split has ${data.train.count} images, fewer than one batch of ${config.batchSize}: lower the batch size`,
    );
  const schedule = scheduleFor(config, data.train.count);
  const rng = new Rng(config.seed);
  if (opts.from) rng.state = opts.from.rngState;
  let step = opts.from?.step ?? 0;
  await interruptPoint(); // listening for SIGINT from before the first step, which the hooks may announce
  for (let epoch = opts.from?.epoch ?? 0; epoch < config.epochs; epoch++) {
    const started = Date.now();
    let lossSum = 0;
    const order = new Rng(config.seed).fork(`epoch ${epoch}`);
    for (const { x, y } of batches(data.train, {
      batchSize: config.batchSize,
      rng: order,
      augment: config.augment,
      mean: data.mean,
      std: data.std,
      dropLast: true,
    })) {
      const lr = learningRate(schedule, step);
      const loss = trainStep({ model: opts.modelForStep(rng), optimizer, x, y, lr, config, rng });
      const value = (await loss.data())[0];
      tf.dispose([x, y, loss]);
      if (!Number.isFinite(value))
        throw new Error(
          `training diverged at epoch ${epoch + 1}, step ${step}: loss ${value} (lower the learning rate)`,
        );
      lossSum += value;
      step++;
      hooks.onStep?.({ epoch, step, stepsPerEpoch: perEpoch, loss: value });
      await interruptPoint();
    }
    const progress = { epoch: epoch + 1, step, rngState: rng.state };
    await hooks.onEpoch?.({
      progress,
      trainLoss: lossSum / perEpoch,
      lr: learningRate(schedule, step),
      seconds: (Date.now() - started) / 1000,
    });
  }
  return { epoch: config.epochs, step, rngState: rng.state };
}

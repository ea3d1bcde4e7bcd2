// Training and evaluation: label-smoothed cross-entropy, one optimizer step, accuracy on a split, and the epoch loop.
// Plain training and the supernet (one sampled path per step) share trainStep.
import * as tf from '@tensorflow/tfjs';
import type { Architecture } from './arch';
import { batches } from './batches';
import type { DatasetSplits, ImageSet } from './data';
import { forward, trainableVariables, type ModelParams } from './model';
import { adamWStep, clipByGlobalNorm, createAdamW, disposeAdamW, learningRate, type AdamWState, type ScheduleConfig } from './optimizer';
import { Rng } from './random';

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

export interface StepInput {
  params: ModelParams;
  arch: Architecture;
  optimizer: AdamWState;
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  lr: number;
  config: Pick<TrainConfig, 'labelSmoothing' | 'clipNorm' | 'dropPath'>;
  rng: Rng;
}

/**
 * Forward, backward and AdamW on the variables the architecture uses. Returns the loss as a scalar tensor (the caller
 * reads it when it wants to, and disposes it), so a step forces no GPU-to-CPU sync.
 */
export function trainStep(s: StepInput): tf.Scalar {
  const variables = trainableVariables(s.params);
  const nameOf = new Map([...variables].map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(
    () => smoothedCrossEntropy(forward(s.params, s.x, s.arch, { training: true, dropPath: s.config.dropPath, rng: s.rng }), s.y, s.config.labelSmoothing),
    [...variables.values()],
  );
  // variableGrads leaves out variables the loss did not touch: exactly the single-path update SPOS needs.
  const named = new Map(Object.entries(grads).map(([id, g]) => [nameOf.get(id)!, g]));
  if (s.config.clipNorm > 0) {
    const { grads: clipped, norm } = clipByGlobalNorm(named, s.config.clipNorm);
    adamWStep(s.optimizer, variables, clipped, s.lr);
    tf.dispose([...clipped.values(), norm]);
  } else {
    adamWStep(s.optimizer, variables, named, s.lr);
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
export async function evaluate(params: ModelParams, arch: Architecture, set: ImageSet, norm: { mean: number[]; std: number[] }, batchSize = 256): Promise<EvalResult> {
  let lossSum = tf.scalar(0);
  let correct = tf.scalar(0, 'int32');
  for (const { x, y } of batches(set, { batchSize, mean: norm.mean, std: norm.std })) {
    const [nextLoss, nextCorrect] = tf.tidy(() => {
      const logits = forward(params, x, arch, { training: false });
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

export interface EpochLog {
  epoch: number;
  step: number;
  lr: number;
  trainLoss: number;
  val: EvalResult;
  seconds: number;
}

export interface TrainHooks {
  /** After every step, with the step's loss read back (cheap on CPU backends; on GPU it costs a sync). */
  onStep?: (info: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void;
  onEpoch?: (log: EpochLog) => void;
}

export function stepsPerEpoch(trainCount: number, batchSize: number): number {
  return Math.floor(trainCount / batchSize);
}

export function scheduleFor(config: TrainConfig, trainCount: number): ScheduleConfig {
  const perEpoch = stepsPerEpoch(trainCount, config.batchSize);
  return { baseLr: config.lr, minLr: config.minLr, warmupSteps: Math.round(config.warmupEpochs * perEpoch), totalSteps: config.epochs * perEpoch };
}

/** Trains `params` on data.train for config.epochs, scoring data.val after each epoch. */
export async function trainModel(params: ModelParams, arch: Architecture, data: DatasetSplits, config: TrainConfig, hooks: TrainHooks = {}): Promise<EpochLog[]> {
  const perEpoch = stepsPerEpoch(data.train.count, config.batchSize);
  if (perEpoch < 1) throw new Error(`the training split has ${data.train.count} images, fewer than one batch of ${config.batchSize}: lower --batch-size`);
  const schedule = scheduleFor(config, data.train.count);
  const optimizer = createAdamW({ weightDecay: config.weightDecay });
  const rng = new Rng(config.seed);
  const logs: EpochLog[] = [];
  let step = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const started = Date.now();
    let lossSum = 0;
    const shuffle = rng.fork(`epoch ${epoch}`);
    for (const { x, y } of batches(data.train, { batchSize: config.batchSize, rng: shuffle, augment: config.augment, mean: data.mean, std: data.std, dropLast: true })) {
      const lr = learningRate(schedule, step);
      const loss = trainStep({ params, arch, optimizer, x, y, lr, config, rng });
      const value = (await loss.data())[0];
      tf.dispose([x, y, loss]);
      if (!Number.isFinite(value)) throw new Error(`training diverged at epoch ${epoch} step ${step}: loss ${value} (lower --lr)`);
      lossSum += value;
      step++;
      hooks.onStep?.({ epoch, step, stepsPerEpoch: perEpoch, loss: value });
    }
    const log: EpochLog = { epoch, step, lr: learningRate(schedule, step), trainLoss: lossSum / perEpoch, val: await evaluate(params, arch, data.val, data), seconds: (Date.now() - started) / 1000 };
    logs.push(log);
    hooks.onEpoch?.(log);
  }
  disposeAdamW(optimizer);
  return logs;
}

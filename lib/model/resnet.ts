// A ResNet of basic blocks (ResNet-18/34 style), the convolutional baseline of the paper's Table 3 at proxy scale:
// stem conv-BN-ReLU, stages of blocks relu(BN(conv3x3(relu(BN(conv3x3(x))))) + shortcut(x)), the shortcut the identity
// or, where the stage downsamples (stride 2) or widens, a 1x1 conv and BN; then global average pooling and a linear
// head. Parameters are plain records of tf.Variables named as torchvision's ResNet (conv1, bn1, layer1.0.conv1, ...,
// layerN.0.downsample.{0,1}, fc), so its state dict loads in PyTorch. There is no max pool after the stem.
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/random';
import type { TensorToWrite } from '../io/safetensors';
import type { Trainable } from '../train/train';
import type { Cost } from './flops';
import { addBatchNorm } from './model';
import {
  batchNorm,
  conv2d,
  dropPath,
  initBatchNorm,
  normalVariable,
  uniformVariable,
  type BatchNorm,
  type ForwardContext,
  type Linear,
} from './layers';

export interface ResnetConfig {
  name: string;
  imageSize: number;
  inChannels: number;
  numClasses: number;
  /** The stem conv: width, kernel and stride (3, 1 for small images; torchvision's 7, 2 for 224 px, without max pool). */
  stem: { width: number; kernelSize: number; stride: number };
  /** Per stage: its width and number of blocks. Every stage but the first starts with a stride-2 block. */
  stages: { width: number; blocks: number }[];
}

/** Conv weights [k, k, in, out]: PyTorch's [out, in, k, k] with the axes moved (torchStateDict moves them back). */
export interface BasicBlock {
  conv1: tf.Variable;
  bn1: BatchNorm;
  conv2: tf.Variable;
  bn2: BatchNorm;
  downsample?: { conv: tf.Variable; bn: BatchNorm };
}

export interface ResnetParams {
  conv1: tf.Variable;
  bn1: BatchNorm;
  layers: BasicBlock[][];
  fc: Linear;
}

/** The blocks in order, with the input width and stride of each. */
function blockPlan(config: ResnetConfig) {
  let inWidth = config.stem.width;
  return config.stages.map((stage, s) =>
    Array.from({ length: stage.blocks }, (_, b) => {
      const plan = { inWidth, width: stage.width, stride: s > 0 && b === 0 ? 2 : 1 };
      inWidth = stage.width;
      return plan;
    }),
  );
}

const needsDownsample = (p: { inWidth: number; width: number; stride: number }) =>
  p.stride !== 1 || p.inWidth !== p.width;

export function checkResnetConfig(config: ResnetConfig, source = 'ResNet config'): ResnetConfig {
  const positive = (value: number, field: string) => {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${source}: ${field} must be a positive integer, not ${value}`);
  };
  positive(config.imageSize, 'imageSize');
  positive(config.inChannels, 'inChannels');
  positive(config.numClasses, 'numClasses');
  positive(config.stem.width, 'stem.width');
  positive(config.stem.stride, 'stem.stride');
  if (config.stem.kernelSize % 2 !== 1)
    throw new Error(`${source}: stem.kernelSize must be odd, not ${config.stem.kernelSize}`);
  if (config.stages.length === 0) throw new Error(`${source}: stages is empty: give at least one {width, blocks}`);
  config.stages.forEach((s, i) => {
    positive(s.width, `stages[${i}].width`);
    positive(s.blocks, `stages[${i}].blocks`);
  });
  return config;
}

/** torchvision's init: convs kaiming-normal (fan-out, ReLU gain), BatchNorm 1 and 0, fc PyTorch's default Linear. */
export function initResnet(config: ResnetConfig, seed: number): ResnetParams {
  checkResnetConfig(config);
  const rng = new Rng(seed);
  const conv = (k: number, inWidth: number, outWidth: number) =>
    normalVariable([k, k, inWidth, outWidth], Math.sqrt(2 / (k * k * outWidth)), rng);
  const { stem } = config;
  const last = config.stages[config.stages.length - 1].width;
  return {
    conv1: conv(stem.kernelSize, config.inChannels, stem.width),
    bn1: initBatchNorm(stem.width),
    layers: blockPlan(config).map((stage) =>
      stage.map((p) => ({
        conv1: conv(3, p.inWidth, p.width),
        bn1: initBatchNorm(p.width),
        conv2: conv(3, p.width, p.width),
        bn2: initBatchNorm(p.width),
        ...(needsDownsample(p)
          ? { downsample: { conv: conv(1, p.inWidth, p.width), bn: initBatchNorm(p.width) } }
          : {}),
      })),
    ),
    fc: {
      weight: uniformVariable([last, config.numClasses], last, rng),
      bias: uniformVariable([config.numClasses], last, rng),
    },
  };
}

/** BatchNorm2d on NHWC: layers.ts's BatchNorm over (batch, rows, cols). */
function batchNorm2d(p: BatchNorm, x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
  const [batch, rows, cols, channels] = x.shape;
  return tf.reshape(batchNorm(p, tf.reshape(x, [batch, rows * cols, channels]), ctx), x.shape);
}

/**
 * Logits [B, numClasses] for images [B, H, W, inChannels] (NHWC, normalised). ctx.dropPath is stochastic depth on the
 * residual branches, rising linearly to the last block's rate as in the transformer (timm's ResNet does the same).
 */
export function resnetForward(
  params: ResnetParams,
  images: tf.Tensor4D,
  config: ResnetConfig,
  ctx: ForwardContext,
): tf.Tensor2D {
  const [, height, width, channels] = images.shape;
  if (height !== config.imageSize || width !== config.imageSize || channels !== config.inChannels)
    throw new Error(
      `resnetForward: images of shape [${images.shape}] do not fit ${config.name} (expected [B, ${config.imageSize}, ${config.imageSize}, ${config.inChannels}], NHWC)`,
    );
  const plans = blockPlan(config).flat();
  const blocks = params.layers.flat();
  const rate = ctx.dropPath ?? 0;
  let x = tf.relu(batchNorm2d(params.bn1, conv2d(params.conv1, images, config.stem.stride), ctx)) as tf.Tensor4D;
  blocks.forEach((b, i) => {
    const { stride } = plans[i];
    const h = tf.relu(batchNorm2d(b.bn1, conv2d(b.conv1, x, stride), ctx)) as tf.Tensor4D;
    const branch = batchNorm2d(b.bn2, conv2d(b.conv2, h, 1), ctx);
    const shortcut = b.downsample ? batchNorm2d(b.downsample.bn, conv2d(b.downsample.conv, x, stride), ctx) : x;
    const blockRate = blocks.length > 1 ? (rate * i) / (blocks.length - 1) : rate;
    x = tf.relu(tf.add(shortcut, dropPath(branch, { ...ctx, dropPath: blockRate }))) as tf.Tensor4D;
  });
  const pooled = tf.mean(x, [1, 2]);
  return tf.add(tf.matMul(pooled, params.fc.weight), params.fc.bias) as tf.Tensor2D;
}

/** Every variable under its torchvision state-dict name, in state-dict order (running statistics included). */
export function resnetVariables(params: ResnetParams): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  out.set('conv1.weight', params.conv1);
  addBatchNorm(out, 'bn1', params.bn1);
  params.layers.forEach((stage, s) =>
    stage.forEach((b, i) => {
      const at = `layer${s + 1}.${i}`;
      out.set(`${at}.conv1.weight`, b.conv1);
      addBatchNorm(out, `${at}.bn1`, b.bn1);
      out.set(`${at}.conv2.weight`, b.conv2);
      addBatchNorm(out, `${at}.bn2`, b.bn2);
      if (b.downsample) {
        out.set(`${at}.downsample.0.weight`, b.downsample.conv);
        addBatchNorm(out, `${at}.downsample.1`, b.downsample.bn);
      }
    }),
  );
  out.set('fc.weight', params.fc.weight);
  out.set('fc.bias', params.fc.bias);
  return out;
}

export const resnetBatchNorms = (params: ResnetParams): BatchNorm[] => [
  params.bn1,
  ...params.layers.flat().flatMap((b) => [b.bn1, b.bn2, ...(b.downsample ? [b.downsample.bn] : [])]),
];

/** The ResNet as something trainLoop and evaluate can train (the transformer's is fixedModel in lib/train/train.ts). */
export const resnetModel = (params: ResnetParams, config: ResnetConfig): Trainable => ({
  variables: new Map([...resnetVariables(params)].filter(([, v]) => v.trainable)),
  logits: (x, options) => resnetForward(params, x, config, options),
});

/** A tensor of ours (a variable or its gradient) in PyTorch's layout: convs [out, in, k, k], fc [out, in]. */
export function toTorchResnetLayout(name: string, t: tf.Tensor): tf.Tensor {
  if (t.rank === 4) return tf.transpose(t, [3, 2, 0, 1]);
  return name === 'fc.weight' ? tf.transpose(t) : tf.clone(t);
}

/** A tensor in PyTorch's layout for `name` in ours: the inverse of toTorchResnetLayout. */
export function fromTorchResnetLayout(name: string, t: tf.Tensor): tf.Tensor {
  if (t.rank === 4) return tf.transpose(t, [2, 3, 1, 0]);
  return name === 'fc.weight' ? tf.transpose(t) : tf.clone(t);
}

/** The state dict as PyTorch's ResNet has it, to write as safetensors: float32 in its layouts, num_batches_tracked int64. */
export function torchStateDict(params: ResnetParams): [string, TensorToWrite][] {
  const counters = new Map(resnetBatchNorms(params).map((bn) => [bn.runningVar, bn]));
  return [...resnetVariables(params)].flatMap(([name, v]) => {
    const t = tf.tidy(() => toTorchResnetLayout(name, v));
    const entries: [string, TensorToWrite][] = [[name, { dtype: 'F32', shape: t.shape, values: t.dataSync() }]];
    t.dispose();
    const bn = counters.get(v);
    if (bn)
      entries.push([
        name.replace(/running_var$/, 'num_batches_tracked'),
        { dtype: 'I64', shape: [], values: [bn.batchesTracked] },
      ]);
    return entries;
  });
}

export function disposeResnet(params: ResnetParams): void {
  for (const v of resnetVariables(params).values()) v.dispose();
}

const outSize = (n: number, k: number, stride: number) => Math.floor((n + 2 * Math.floor(k / 2) - k) / stride) + 1;

/**
 * Parameters (trainable: convs, BatchNorm weights and biases, fc) and cost for one image. FLOPs are multiply-adds, as
 * lib/model/flops.ts counts the transformer: k*k*in*out per output pixel of a conv (padded taps included, as the official
 * count includes the 1-D conv's), in*out for the head; BatchNorm, ReLU, the residual adds and pooling are left out.
 * flops and macs are the same number here.
 */
export function resnetCost(config: ResnetConfig): Cost {
  checkResnetConfig(config);
  let size = outSize(config.imageSize, config.stem.kernelSize, config.stem.stride);
  const stemWidth = config.stem.width;
  let params = config.stem.kernelSize ** 2 * config.inChannels * stemWidth + 2 * stemWidth;
  let flops = config.stem.kernelSize ** 2 * config.inChannels * stemWidth * size * size;
  for (const p of blockPlan(config).flat()) {
    size = outSize(size, 3, p.stride);
    const convs = 9 * p.inWidth * p.width + 9 * p.width * p.width + (needsDownsample(p) ? p.inWidth * p.width : 0);
    params += convs + 2 * p.width * (needsDownsample(p) ? 3 : 2);
    flops += convs * size * size;
  }
  const last = config.stages[config.stages.length - 1].width;
  params += last * config.numClasses + config.numClasses;
  flops += last * config.numClasses;
  return { params, flops, macs: flops };
}

/**
 * The ResNet-18 layout (2 blocks in each of 4 stages, widths w, 2w, 4w, 8w, a 3x3 stride-1 stem of width w: the
 * CIFAR-style stem, since a 7x7 stride-2 stem would leave a 28-px image 14 px before the first stage) at the largest
 * integer base width w whose FLOPs (resnetCost) are at most `targetFlops`. `blocks` gives another depth (ResNet-34: 3,
 * 4, 6, 3). FLOPs grow with w, so the largest such w is found by counting up.
 */
export function resnetForFlops(
  targetFlops: number,
  imageSize: number,
  inChannels: number,
  numClasses: number,
  blocks: number[] = [2, 2, 2, 2],
): ResnetConfig {
  const layers = 2 * blocks.reduce((a, b) => a + b, 0) + 2; // two convs a block, the stem and the head: 18, 34
  const at = (w: number): ResnetConfig => ({
    name: `resnet${layers}-proxy-w${w}`,
    imageSize,
    inChannels,
    numClasses,
    stem: { width: w, kernelSize: 3, stride: 1 },
    stages: blocks.map((n, i) => ({ width: w * 2 ** i, blocks: n })),
  });
  if (resnetCost(at(1)).flops > targetFlops)
    throw new Error(
      `resnetForFlops: even base width 1 costs ${resnetCost(at(1)).flops} FLOPs, over the budget of ${targetFlops}: raise the budget`,
    );
  let w = 1;
  while (resnetCost(at(w + 1)).flops <= targetFlops) w++;
  return at(w);
}

// The whole image transformer: DeiT's stem (patch embedding, CLS token, position embedding), the GL blocks, the final
// LayerNorm and a linear classifier on the CLS token, or, without a CLS token (model.classToken false), on the average
// of the patch tokens. forward() is a function of (params, images, architecture).
import * as tf from '@tensorflow/tfjs';
import { tokenCount, type Architecture } from './arch';
import { block, initBlock, type BlockParams, type BlockWeights } from './block';
import { blockLayers, layerIn } from './block-tensors';
import {
  initLinear,
  initNorm,
  layerNorm,
  linear,
  normalVariable,
  uniformVariable,
  type Affine,
  type BatchNorm,
  type ForwardContext,
  type Linear,
  type Norm,
} from './layers';
import { Rng } from '../core/random';

/** W: the blocks' weights (see BlockParams); the stem and head are always the model's own variables. */
export interface ModelParams<W extends tf.Tensor = tf.Variable> {
  clsToken?: tf.Variable; // [1, 1, C]; absent when model.classToken is false
  posEmbed: tf.Variable; // [1, T, C]: CLS (when there is one), then the patches
  /** The patch-P stride-P conv as a linear map of flattened patches: weight [P*P*inChannels, C] in (row, col, channel) order. */
  patchEmbed: Linear;
  blocks: BlockParams<W>[];
  norm: Norm;
  head: Linear;
}

export function initModel(arch: Architecture, seed: number): ModelParams {
  const m = arch.model;
  const rng = new Rng(seed);
  const patchFanIn = m.patchSize * m.patchSize * m.inChannels;
  return {
    ...(m.classToken ? { clsToken: normalVariable([1, 1, m.width], 0.02, rng) } : {}),
    posEmbed: normalVariable([1, tokenCount(m), m.width], 0.02, rng),
    patchEmbed: {
      weight: uniformVariable([patchFanIn, m.width], patchFanIn, rng),
      bias: uniformVariable([m.width], patchFanIn, rng),
    },
    blocks: arch.blocks.map((gene) => initBlock(m, gene, rng)),
    norm: initNorm(m.width),
    head: initLinear(m.width, m.numClasses, rng), // bias 0, as DeiT
  };
}

/** Images [B, H, W, channels] -> tokens [B, H/P * W/P, C], patches in row-major order (PyTorch's flatten(2)). */
export function patchify(p: Linear, images: tf.Tensor4D, patchSize: number): tf.Tensor3D {
  const [batch, height, width, channels] = images.shape;
  const rows = height / patchSize;
  const cols = width / patchSize;
  const patches = tf.transpose(
    tf.reshape(images, [batch, rows, patchSize, cols, patchSize, channels]),
    [0, 1, 3, 2, 4, 5],
  );
  return linear(p, tf.reshape(patches, [batch, rows * cols, patchSize * patchSize * channels])) as tf.Tensor3D;
}

/** Logits [B, numClasses] for images [B, H, W, channels] (NHWC, normalised). */
export function forward(
  params: ModelParams<tf.Tensor>,
  images: tf.Tensor4D,
  arch: Architecture,
  ctx: ForwardContext,
): tf.Tensor2D {
  const m = arch.model;
  if (images.shape[1] !== m.imageSize || images.shape[2] !== m.imageSize || images.shape[3] !== m.inChannels) {
    throw new Error(
      `forward: images of shape [${images.shape}] do not fit the model (expected [B, ${m.imageSize}, ${m.imageSize}, ${m.inChannels}], NHWC)`,
    );
  }
  const batch = images.shape[0];
  const patches = patchify(params.patchEmbed, images, m.patchSize);
  const tokens = m.classToken ? tf.concat([tf.tile(params.clsToken!, [batch, 1, 1]), patches], 1) : patches;
  let x = tf.add(tokens, params.posEmbed) as tf.Tensor3D;
  const rate = ctx.dropPath ?? 0;
  arch.blocks.forEach((gene, i) => {
    const dropPath = m.depth > 1 ? (rate * i) / (m.depth - 1) : rate;
    x = block(params.blocks[i], x, m, gene, { ...ctx, dropPath });
  });
  const features = layerNorm(params.norm, x);
  const pooled = m.classToken
    ? tf.squeeze(tf.slice(features, [0, 0, 0], [batch, 1, m.width]), [1])
    : tf.mean(features, 1);
  return linear(params.head, pooled) as tf.Tensor2D;
}

/**
 * Every variable of the model under its official PyTorch state-dict name, in state-dict order. `blockPrefix` names
 * block i's variables (official: `blocks.{i}.0`; a supernet path: its candidates' names).
 */
export function namedVariables(
  params: ModelParams,
  blockPrefix = (i: number) => `blocks.${i}.0`,
): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  if (params.clsToken) out.set('cls_token', params.clsToken);
  out.set('pos_embed', params.posEmbed);
  addPair(out, 'patch_embed.proj', params.patchEmbed);
  params.blocks.forEach((b, i) => addBlockVariables(out, blockPrefix(i), b));
  addPair(out, 'norm', params.norm);
  addPair(out, 'head', params.head);
  return out;
}

/** Adds a block's variables under `at` (`${at}.attn.qkv.weight`, ...), in state-dict order. */
export function addBlockVariables(out: Map<string, tf.Variable>, at: string, b: BlockWeights): void {
  for (const layer of blockLayers(b.local?.kind)) {
    const p = layerIn<Affine | BatchNorm>(b, layer);
    if (p && layer.kind === 'batchNorm') addBatchNorm(out, `${at}.${layer.name}`, p as BatchNorm);
    else if (p) addPair(out, `${at}.${layer.name}`, p);
  }
}

export function addBatchNorm(out: Map<string, tf.Variable>, prefix: string, bn: BatchNorm): void {
  addPair(out, prefix, bn);
  out.set(`${prefix}.running_mean`, bn.runningMean);
  out.set(`${prefix}.running_var`, bn.runningVar);
}

function addPair(out: Map<string, tf.Variable>, prefix: string, p: Affine): void {
  out.set(`${prefix}.weight`, p.weight);
  out.set(`${prefix}.bias`, p.bias);
}

/** Trainable variables only (BatchNorm running statistics are not). */
export const trainableVariables = (params: ModelParams): Map<string, tf.Variable> =>
  new Map([...namedVariables(params)].filter(([, v]) => v.trainable));

export function disposeModel(params: ModelParams): void {
  for (const v of namedVariables(params).values()) v.dispose();
}

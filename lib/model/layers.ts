// The small layers the model is made of, as (params, input) functions. Parameters are plain records of tf.Variables
// in the layout tfjs computes with fastest (linear weights [in, out]); lib/io/checkpoint.ts converts to PyTorch's.
// Only ops whose gradients every backend has (wasm lacks the depthwise/conv2d filter gradients), so training runs
// on cpu, wasm, webgpu and tensorflow alike. Where the running backend has a faster version of a layer
// (lib/kernels/fast-paths.ts, chosen once by initBackend), the layer calls it instead of its plain code.
import * as tf from '@tensorflow/tfjs';
import { fastPaths } from '../kernels/fast-paths';
import type { Rng } from '../core/random';

/**
 * A weight and a bias. W is tf.Variable for weights a model owns; layers read any tf.Tensor, so a supernet that shares
 * weights by slicing (lib/search/slicing.ts) passes slices of its variables.
 */
export interface Affine<W extends tf.Tensor = tf.Variable> {
  weight: W;
  bias: W;
}

/** weight [in, out]: PyTorch's weight transposed. */
export type Linear<W extends tf.Tensor = tf.Variable> = Affine<W>;
export type Norm<W extends tf.Tensor = tf.Variable> = Affine<W>;
/** A depthwise 1-D conv over tokens, one K-tap filter per channel: weight [K, channels], PyTorch's [channels, 1, K] transposed. */
export type DepthwiseConv<W extends tf.Tensor = tf.Variable> = Affine<W>;
/** A depthwise 2-D conv on the patch grid, one k x k filter per channel: weight [k, k, channels], PyTorch's [channels, 1, k, k] with the channel axis moved last. */
export type DepthwiseConv2d<W extends tf.Tensor = tf.Variable> = Affine<W>;

/** Always variables: its running statistics are assigned during training. */
export interface BatchNorm extends Norm {
  /** Running statistics: variables so they checkpoint with the rest, but never trained. */
  runningMean: tf.Variable;
  runningVar: tf.Variable;
  /** PyTorch's num_batches_tracked, kept for checkpoints. */
  batchesTracked: number;
}

/** What a forward pass needs besides parameters and input: the model's (lib/model/model.ts), a block's, a layer's. */
export interface ForwardContext {
  training: boolean;
  /**
   * Stochastic-depth rate (0 = off). The model's is the last block's; block i gets rate * i / (depth - 1), as in DeiT,
   * and draws its masks from rng so every backend sees the same ones (rng is needed when training with a rate > 0).
   */
  dropPath?: number;
  rng?: Rng;
  /** BatchNorm's running-statistics momentum (PyTorch's 0.1); recalibration uses 1/(k+1) for a running average. */
  bnMomentum?: number;
  /** Sees each intermediate a block names, with the weights it applied (lib/notebook/block-trace.ts). */
  trace?: (part: string, step: string, t: tf.Tensor, weights?: Affine<tf.Tensor>) => void;
}

// --- initialisers (drawn in JS from our seeded Rng, so a seed gives the same weights on every backend) -------------

const variable = (values: Float32Array, shape: number[], trainable = true) =>
  tf.tidy(() => tf.variable(tf.tensor(values, shape), trainable));

export function normalVariable(shape: number[], std: number, rng: Rng): tf.Variable {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  // timm's trunc_normal_(std=0.02) truncates at +-2 absolute, i.e. in effect never: a plain normal is the same law.
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return variable(values, shape);
}

/** PyTorch's default init for conv and linear layers (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function uniformVariable(shape: number[], fanIn: number, rng: Rng): tf.Variable {
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = (rng.uniform() * 2 - 1) * bound;
  return variable(values, shape);
}

export const constantVariable = (shape: number[], value: number, trainable = true): tf.Variable =>
  variable(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape, trainable);

/** DeiT's linear init: weight ~ N(0, 0.02), bias 0. */
export const initLinear = (inFeatures: number, outFeatures: number, rng: Rng): Linear => ({
  weight: normalVariable([inFeatures, outFeatures], 0.02, rng),
  bias: constantVariable([outFeatures], 0),
});

/** PyTorch's default init of a kernel-1 Conv1d, which the conv path uses as a per-token linear layer. */
export const initPointwiseConv = (inChannels: number, outChannels: number, rng: Rng): Linear => ({
  weight: uniformVariable([inChannels, outChannels], inChannels, rng),
  bias: uniformVariable([outChannels], inChannels, rng),
});

export const initDepthwiseConv = (channels: number, kernelSize: number, rng: Rng): DepthwiseConv => ({
  weight: uniformVariable([kernelSize, channels], kernelSize, rng),
  bias: uniformVariable([channels], kernelSize, rng),
});

/** PyTorch's default Conv2d init: fan-in k*k per channel of a depthwise conv. */
export const initDepthwiseConv2d = (channels: number, kernelSize: number, rng: Rng): DepthwiseConv2d => ({
  weight: uniformVariable([kernelSize, kernelSize, channels], kernelSize * kernelSize, rng),
  bias: uniformVariable([channels], kernelSize * kernelSize, rng),
});

export const initNorm = (channels: number): Norm => ({
  weight: constantVariable([channels], 1),
  bias: constantVariable([channels], 0),
});

export const initBatchNorm = (channels: number): BatchNorm => ({
  ...initNorm(channels),
  runningMean: constantVariable([channels], 0, false),
  runningVar: constantVariable([channels], 1, false),
  batchesTracked: 0,
});

// --- layers ------------------------------------------------------------------------------------------------------

/**
 * Multi-head scaled dot-product attention: qkv [B, T, 3 * inner] laid out (q | k | v, heads, head dim) -> [B, T, inner];
 * `mask` [T, T] is added to the scores.
 */
export function attend(qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  const fast = fastPaths().attend;
  if (fast) return fast(qkv, heads, mask);
  const [batch, tokens, width] = qkv.shape;
  const inner = width / 3;
  const dim = inner / heads;
  const [q, k, v] = tf
    .split(qkv, 3, -1)
    .map((t) => tf.transpose(tf.reshape(t, [batch, tokens, heads, dim]), [0, 2, 1, 3]));
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dim));
  const weights = tf.softmax(mask ? tf.add(scores, mask) : scores);
  return tf.reshape(tf.transpose(tf.matMul(weights, v), [0, 2, 1, 3]), [batch, tokens, inner]);
}

/** x [..., in] -> [..., out]. */
export function linear(p: Linear<tf.Tensor>, x: tf.Tensor): tf.Tensor {
  const [inFeatures, outFeatures] = p.weight.shape;
  const lead = x.shape.slice(0, -1);
  const rows = tf.reshape(x, [-1, inFeatures]) as tf.Tensor2D;
  const fast = fastPaths().linear;
  const y = fast ? fast(rows, p.weight, p.bias) : tf.add(tf.matMul(rows, p.weight), p.bias);
  return tf.reshape(y, [...lead, outFeatures]);
}

/** LayerNorm over the last axis (eps 1e-6 as in DeiT). */
export function layerNorm(p: Norm<tf.Tensor>, x: tf.Tensor, eps = 1e-6): tf.Tensor {
  const fast = fastPaths().layerNorm;
  if (fast) return fast(x, p.weight, p.bias, eps);
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), p.weight), p.bias);
}

/** Exact GELU, x * Phi(x), as PyTorch's nn.GELU() (not the tanh approximation). */
export function gelu(x: tf.Tensor): tf.Tensor {
  const fast = fastPaths().gelu;
  return fast ? fast(x) : tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** Swish / SiLU: x * sigmoid(x). */
export const swish = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x));

/** GLU over the last axis: first half * sigmoid(second half). */
export function glu(x: tf.Tensor): tf.Tensor {
  const [a, b] = tf.split(x, 2, -1);
  return tf.mul(a, tf.sigmoid(b));
}

/**
 * Depthwise 1-D conv over the token axis with "same" zero padding: x [B, T, D] -> [B, T, D], as PyTorch's
 * Conv1d(D, D, K, padding=K//2, groups=D) (cross-correlation): the 2-D one below on a 1 x T grid.
 */
export function depthwiseConv1d(p: DepthwiseConv<tf.Tensor>, x: tf.Tensor3D): tf.Tensor3D {
  const [batch, tokens, channels] = x.shape;
  const [kernelSize] = p.weight.shape;
  const y = depthwiseSame(
    tf.reshape(x, [batch, 1, tokens, channels]) as tf.Tensor4D,
    tf.reshape(p.weight, [1, kernelSize, channels]) as tf.Tensor3D,
  );
  return tf.add(tf.reshape(y, [batch, tokens, channels]), p.bias) as tf.Tensor3D;
}

/**
 * Depthwise 2-D conv with "same" zero padding: x [B, H, W, C] -> [B, H, W, C], as PyTorch's
 * Conv2d(C, C, k, padding=k//2, groups=C). wasm has no gradient kernels for depthwise convs, so the gradient is
 * written with forward depthwise convs only, which every backend has, and runs fast (docs/kernel-notes.md).
 */
export function depthwiseConv2d(p: DepthwiseConv2d<tf.Tensor>, x: tf.Tensor4D): tf.Tensor4D {
  return tf.add(depthwiseSame(x, p.weight as tf.Tensor3D), p.bias) as tf.Tensor4D;
}

/** y[b, i, j, c] = sum over (u, v) of w[u, v, c] * x[b, i + u - kh//2, j + v - kw//2, c], zero outside the grid. */
function correlate(x: tf.Tensor4D, w: tf.Tensor3D): tf.Tensor4D {
  const fast = fastPaths().depthwiseCorrelate?.(x, w);
  if (fast) return fast;
  const [kh, kw, channels] = w.shape;
  const [ph, pw] = [(kh - 1) / 2, (kw - 1) / 2];
  return tf.depthwiseConv2d(x, tf.reshape(w, [kh, kw, channels, 1]) as tf.Tensor4D, 1, [
    [0, 0],
    [ph, ph],
    [pw, pw],
    [0, 0],
  ]);
}

/**
 * The filter gradient dw[u, v, c] = sum over (b, i, j) of dy[b, i, j, c] * padded[b, i + u, j + v, c], for dy
 * [B, H, W, C] and the input padded by (kh - 1, kw - 1): one valid depthwise conv, the padded images stacked
 * vertically as its input and dy stacked likewise as its filter, each sample's rows followed by kh - 1 zero rows so
 * that no tap pairs rows of two samples.
 */
function filterGradient(padded: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number): tf.Tensor3D {
  const fast = fastPaths().depthwiseFilterGradient;
  if (fast) return fast(padded, dy, kh, kw);
  const [batch, height, width, channels] = dy.shape;
  const paddedHeight = height + kh - 1;
  const image = tf.reshape(padded, [1, batch * paddedHeight, width + kw - 1, channels]) as tf.Tensor4D;
  // (A 1-row filter needs no spacing, so it skips the pad and the slice.)
  const rows = batch * paddedHeight - (kh - 1);
  const spaced =
    kh === 1
      ? dy
      : tf.slice(
          tf.reshape(
            tf.pad(dy, [
              [0, 0],
              [0, kh - 1],
              [0, 0],
              [0, 0],
            ]),
            [batch * paddedHeight, width, channels],
          ),
          0,
          rows,
        );
  const filter = tf.reshape(spaced, [rows, width, channels, 1]) as tf.Tensor4D;
  return tf.reshape(tf.depthwiseConv2d(image, filter, 1, 'valid'), [kh, kw, channels]);
}

/**
 * The depthwise correlation of x [B, H, W, C] with w [kh, kw, C], "same" zero padding and no bias, with its gradient
 * written out. (A tf.tidy of its own: tfjs runs a custom gradFunc outside the per-op tidy of its own gradients.)
 */
const depthwiseSame = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [tf.Tensor4D, tf.Tensor3D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: correlate(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor3D];
        const [kh, kw] = sw.shape;
        const [ph, pw] = [(kh - 1) / 2, (kw - 1) / 2];
        const padded = tf.pad(sx, [
          [0, 0],
          [ph, ph],
          [pw, pw],
          [0, 0],
        ]);
        return [
          correlate(dy as tf.Tensor4D, tf.reverse(sw, [0, 1])),
          filterGradient(padded, dy as tf.Tensor4D, kh, kw),
        ];
      }),
  };
}) as (x: tf.Tensor4D, w: tf.Tensor3D) => tf.Tensor4D;

/**
 * BatchNorm1d over (batch, tokens) per channel. Training normalises with the batch statistics and updates the running
 * ones as PyTorch does (momentum 0.1, unbiased variance in the running estimate); eval uses the running ones.
 */
export function batchNorm(p: BatchNorm, x: tf.Tensor3D, ctx: ForwardContext, eps = 1e-5): tf.Tensor3D {
  const momentum = ctx.bnMomentum ?? 0.1;
  const n = x.shape[0] * x.shape[1];
  const track = (mean: tf.Tensor, variance: tf.Tensor) => {
    p.runningMean.assign(tf.add(tf.mul(p.runningMean, 1 - momentum), tf.mul(mean, momentum)));
    p.runningVar.assign(
      tf.add(tf.mul(p.runningVar, 1 - momentum), tf.mul(variance, (momentum * n) / Math.max(n - 1, 1))),
    );
    p.batchesTracked += 1;
  };
  const fast = fastPaths().batchNormTraining;
  if (ctx.training && fast) return fast(x, p.weight, p.bias, eps, track);
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  if (ctx.training) {
    ({ mean, variance } = tf.moments(x, [0, 1]));
    track(mean, variance);
  } else {
    mean = p.runningMean;
    variance = p.runningVar;
  }
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), p.weight), p.bias) as tf.Tensor3D;
}

/** Stochastic depth on a residual branch [B, ...]: drops whole samples with probability `rate`, rescales the rest. */
export function dropPath(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  const rate = ctx.dropPath ?? 0;
  if (!ctx.training || rate <= 0) return x;
  if (!ctx.rng) throw new Error('dropPath needs ctx.rng in training mode');
  const keep = 1 - rate;
  const mask = new Float32Array(x.shape[0]);
  for (let i = 0; i < mask.length; i++) mask[i] = ctx.rng.uniform() < keep ? 1 / keep : 0;
  return tf.mul(x, tf.tensor(mask, [x.shape[0], ...x.shape.slice(1).map(() => 1)]));
}

/**
 * A bias-free 2-D conv (ResNet's) with zero padding k//2: x [B, H, W, Cin], weight [k, k, Cin, Cout] -> [B, Ho, Wo,
 * Cout], as PyTorch's Conv2d(Cin, Cout, k, stride, padding=k//2, bias=False). Written as im2col (slices, then one
 * matmul) because wasm has no Conv2DBackpropFilter; the stride comes from viewing the padded rows as [H'/s, s], so
 * tap u of output row i is padded row s * (i + floor(u / s)) + u % s, a plain slice.
 */
export function conv2d(weight: tf.Tensor, x: tf.Tensor4D, stride: number): tf.Tensor4D {
  const [k, , inChannels, outChannels] = weight.shape;
  const [batch, height, width] = x.shape;
  const pad = Math.floor(k / 2);
  const [rows, cols] = [height, width].map((n) => Math.floor((n + 2 * pad - k) / stride) + 1);
  // Padded sizes: every tap's rows, rounded up to a multiple of the stride (rows past the last tap are never read).
  const [paddedRows, paddedCols] = [rows, cols].map((n) => stride * Math.ceil((stride * (n - 1) + k) / stride));
  const cropped = tf.slice(
    x,
    [0, 0, 0, 0],
    [batch, Math.min(height, paddedRows - pad), Math.min(width, paddedCols - pad), -1],
  );
  const padded = tf.pad(cropped, [
    [0, 0],
    [pad, paddedRows - pad - cropped.shape[1]],
    [pad, paddedCols - pad - cropped.shape[2]],
    [0, 0],
  ]);
  const strided = tf.reshape(padded, [batch, paddedRows / stride, stride, paddedCols / stride, stride, inChannels]);
  const taps: tf.Tensor[] = [];
  for (let u = 0; u < k; u++)
    for (let v = 0; v < k; v++)
      taps.push(
        tf.slice(
          strided,
          [0, Math.floor(u / stride), u % stride, Math.floor(v / stride), v % stride, 0],
          [batch, rows, 1, cols, 1, inChannels],
        ),
      );
  const patches = tf.reshape(taps.length === 1 ? taps[0] : tf.concat(taps, -1), [-1, k * k * inChannels]);
  const y = tf.matMul(patches as tf.Tensor2D, tf.reshape(weight, [k * k * inChannels, outChannels]) as tf.Tensor2D);
  return tf.reshape(y, [batch, rows, cols, outChannels]);
}

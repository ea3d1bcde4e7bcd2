// The small layers the model is made of, as (params, input) functions. Parameters are plain records of tf.Variables
// in the layout tfjs computes with fastest (linear weights [in, out]); lib/io/checkpoint.ts converts to PyTorch's.
// Only ops whose gradients every backend has (wasm lacks the depthwise/conv2d filter gradients), so training runs
// on cpu, wasm, webgpu and tensorflow alike.
import * as tf from '@tensorflow/tfjs';
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

const variable = (values: Float32Array, shape: number[], trainable = true) => tf.tidy(() => tf.variable(tf.tensor(values, shape), trainable));

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

export const initNorm = (channels: number): Norm => ({ weight: constantVariable([channels], 1), bias: constantVariable([channels], 0) });

export const initBatchNorm = (channels: number): BatchNorm => ({
  ...initNorm(channels),
  runningMean: constantVariable([channels], 0, false),
  runningVar: constantVariable([channels], 1, false),
  batchesTracked: 0,
});

// --- layers ------------------------------------------------------------------------------------------------------

// On wasm tfjs runs a BatchMatMul through XNNPACK's GEMM only for a single pair of plain (untransposed) matrices; a
// transposed operand or a batch of pairs falls back to a scalar loop. Measured: a 1600x96x384 product 53 ms
// transposed vs 6 ms plain (an explicit Transpose costs 0.4 ms); the attention products [192, 50, 32] x [192, 32, 50]
// 15 ms as a batch vs 4 ms as one depthwise conv (below), transposes included.

/**
 * g products at once on wasm, as one grouped GEMM: out[i, p, j] = sum over l of image[i, l, p] * filter[l, p, j], for
 * image [m, k, g] and filter [k, g, n] -> [m, g, n]. Product p is channel p of a depthwise conv with channel multiplier
 * n, its left matrix the channel's m x k image, its right matrix a 1 x k filter with n outputs.
 */
function groupedProduct(image: tf.Tensor, filter: tf.Tensor): tf.Tensor {
  const [m, k, g] = image.shape as [number, number, number];
  const n = filter.shape[2] as number;
  const out = tf.depthwiseConv2d(tf.reshape(image, [1, m, k, g]) as tf.Tensor4D, tf.reshape(filter, [1, k, g, n]) as tf.Tensor4D, 1, 'valid');
  return tf.reshape(out, [m, g, n]);
}

// tfjs runs a custom gradFunc outside the per-op tidy its own gradients get: whatever it makes would live until the
// whole backward pass ends (~90 MB more at the peak of a deit-proxy step). So each gradFunc in this file is a tf.tidy.

/** [T, g, D] -> [D, g, T] in two steps: the one-step reversal reads with a stride of g * D floats, 3x slower. */
const keysLast = (t: tf.Tensor): tf.Tensor => tf.transpose(tf.transpose(t, [1, 0, 2]), [2, 0, 1]);

// Attention on wasm, forward and backward, as grouped products over the B*H (batch, head) pairs in token-major layouts:
// q, k and v as [T, B*H, D] are already the right matrices of the products over tokens, so forward and backward need
// 14 transposes, 12 of them three-axis, where autodiff of the batched form needed 26, most of them four-axis.
const wasmAttention = (heads: number, mask?: tf.Tensor2D) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qkv, save] = args as [tf.Tensor3D, tf.GradSaveFunc];
    const [batch, tokens, width] = qkv.shape;
    const inner = width / 3;
    const dim = inner / heads;
    const pairs = batch * heads;
    const scale = 1 / Math.sqrt(dim);
    const [q, k, v] = tf.unstack(tf.transpose(tf.reshape(qkv, [batch, tokens, 3, inner]), [2, 1, 0, 3])).map((t) => tf.reshape(t, [tokens, pairs, dim]));
    const weights = tf.tidy(() => {
      const scores = tf.mul(groupedProduct(tf.transpose(q, [0, 2, 1]), keysLast(k)), scale); // [query, pair, key]
      return tf.softmax(mask ? tf.add(scores, tf.reshape(mask, [tokens, 1, tokens])) : scores);
    });
    save([q, k, v, weights]);
    const mixed = groupedProduct(tf.transpose(weights, [0, 2, 1]), v); // [query, pair, D]
    return {
      value: tf.transpose(tf.reshape(mixed, [tokens, batch, inner]), [1, 0, 2]),
      gradFunc: (dy: tf.Tensor, [sq, sk, sv, sw]: tf.Tensor[]) =>
        tf.tidy(() => {
          const dMixed = tf.reshape(tf.transpose(dy, [1, 0, 2]), [tokens, pairs, dim]);
          const dWeights = groupedProduct(tf.transpose(dMixed, [0, 2, 1]), keysLast(sv));
          const dv = groupedProduct(tf.transpose(sw, [2, 0, 1]), dMixed);
          const dScores = tf.mul(tf.mul(sw, tf.sub(dWeights, tf.sum(tf.mul(dWeights, sw), -1, true))), scale);
          const dq = groupedProduct(tf.transpose(dScores, [0, 2, 1]), sk);
          const dk = groupedProduct(tf.transpose(dScores, [2, 0, 1]), sq);
          return tf.reshape(tf.transpose(tf.reshape(tf.stack([dq, dk, dv]), [3, tokens, batch, inner]), [2, 1, 0, 3]), qkv.shape);
        }),
    };
  }) as (qkv: tf.Tensor) => tf.Tensor;

/**
 * Multi-head scaled dot-product attention: qkv [B, T, 3 * inner] laid out (q | k | v, heads, head dim) -> [B, T, inner];
 * `mask` [T, T] is added to the scores.
 */
export function attend(qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  if (tf.getBackend() === 'wasm') return wasmAttention(heads, mask)(qkv) as tf.Tensor3D;
  const [batch, tokens, width] = qkv.shape;
  const inner = width / 3;
  const dim = inner / heads;
  const [q, k, v] = tf.split(qkv, 3, -1).map((t) => tf.transpose(tf.reshape(t, [batch, tokens, heads, dim]), [0, 2, 1, 3]));
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dim));
  const weights = tf.softmax(mask ? tf.add(scores, mask) : scores);
  return tf.reshape(tf.transpose(tf.matMul(weights, v), [0, 2, 1, 3]), [batch, tokens, inner]);
}

// tfjs-wasm reduces a leading axis by first transposing it to the end: 0.6 ms for the column sums of [3200, 96], 2.6 ms
// of [3200, 384]. XNNPACK's average pooling over a rows x 1 window reduces the rows in place, vectorized across the
// columns, in 0.1-0.2 ms, as accurately (measured against float64 sums).

/** The mean of each column of x [rows, cols] -> [cols], on wasm. */
function columnMeans(x: tf.Tensor): tf.Tensor {
  const [rows, cols] = x.shape;
  return tf.reshape(tf.avgPool(tf.reshape(x, [1, rows, 1, cols]) as tf.Tensor4D, [rows, 1], [rows, 1], 'valid'), [cols]);
}

const columnSums = (x: tf.Tensor): tf.Tensor => tf.mul(columnMeans(x), x.shape[0]);

// XNNPACK packs a product's right matrix (its "weights") on every call with a new right matrix, at ~6 ns a float: a
// [3200, 384] right matrix costs ~7 ms to pack, about as much as the product itself. So the weight gradient packs the
// smaller of input and output gradient (for [3200, 96] -> [3200, 384]: 12 ms against 16 ms for xᵀ dy).
const wasmLinear = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dx = tf.matMul(dy as tf.Tensor2D, tf.transpose(sw));
        const dw = sw.shape[1] > sw.shape[0] ? tf.transpose(tf.matMul(tf.transpose(dy) as tf.Tensor2D, sx)) : tf.matMul(tf.transpose(sx), dy as tf.Tensor2D);
        return [dx, dw, columnSums(dy)];
      }),
  };
}) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x [..., in] -> [..., out]. */
export function linear(p: Linear<tf.Tensor>, x: tf.Tensor): tf.Tensor {
  const [inFeatures, outFeatures] = p.weight.shape;
  const lead = x.shape.slice(0, -1);
  const rows = tf.reshape(x, [-1, inFeatures]);
  const y = tf.getBackend() === 'wasm' ? wasmLinear(rows, p.weight, p.bias) : tf.add(tf.matMul(rows, p.weight), p.bias);
  return tf.reshape(y, [...lead, outFeatures]);
}

// LayerNorm and training-mode BatchNorm on wasm, written out: autodiff of tf.moments and the normalisation runs ~80
// kernels for a LayerNorm's forward and backward on wasm (float32 casts, full-size ones for the means' gradients,
// broadcast reductions); written out, ~35: on [64, 50, 96] 14.7 -> 8.1 ms. x is [rows, columns] with w and b per
// column; `mean` averages over the normalised axis and broadcasts back (LayerNorm: each row; BatchNorm: each column,
// by columnMeans). `track` gets the statistics (BatchNorm's running ones).
const wasmNormalise = (mean: (t: tf.Tensor) => tf.Tensor, eps: number, track?: (mean: tf.Tensor, variance: tf.Tensor) => void) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const [normed, rstd] = tf.tidy(() => {
      const average = mean(x);
      const centred = tf.sub(x, average);
      const variance = mean(tf.square(centred));
      track?.(average, variance);
      const rstd = tf.div(1, tf.sqrt(tf.add(variance, eps)));
      return [tf.mul(centred, rstd), rstd];
    });
    save([normed, rstd, w]);
    return {
      value: tf.add(tf.mul(normed, w), b),
      gradFunc: (dy: tf.Tensor, [sn, sr, sw]: tf.Tensor[]) =>
        tf.tidy(() => {
          const dn = tf.mul(dy, sw);
          const dx = tf.mul(sr, tf.sub(tf.sub(dn, mean(dn)), tf.mul(sn, mean(tf.mul(dn, sn)))));
          return [dx, columnSums(tf.mul(dy, sn)), columnSums(dy)];
        }),
    };
  }) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** LayerNorm over the last axis (eps 1e-6 as in DeiT). */
export function layerNorm(p: Norm<tf.Tensor>, x: tf.Tensor, eps = 1e-6): tf.Tensor {
  if (tf.getBackend() === 'wasm') {
    const channels = x.shape[x.rank - 1];
    return tf.reshape(wasmNormalise((t) => tf.mean(t, -1, true), eps)(tf.reshape(x, [-1, channels]), p.weight, p.bias), x.shape);
  }
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), p.weight), p.bias);
}

// tfjs-wasm's Erf and Exp (which Erf's gradient uses) are scalar loops, 6-18 and 9 ms on [64, 50, 384], while its
// elementwise arithmetic, Step and Elu run vectorized in 0.2-1.3 ms. So wasm's GELU computes the normal tail
// Phi(-|x|) with Abramowitz & Stegun's 7.1.26 (|error| < 1.5e-7, what tfjs's Erf computes too), exp(-x^2 / 2) as
// elu(-x^2 / 2) + 1, and saves its own gradient Phi(x) + x phi(x): forward and backward on [64, 50, 384] of normal
// values 41 -> 26 ms.
const TAIL_P = 0.3275911 * Math.SQRT1_2;
const TAIL_A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429].map((a) => a / 2);

const wasmGelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  // One tidy per statement: a full-size intermediate freed at once lets the next one reuse its still-cached memory
  // (forward on [64, 50, 384] 12.1 -> 9.3 ms against one tidy around all).
  const absolute = tf.abs(x);
  const t = tf.tidy(() => tf.div(1, tf.add(tf.mul(absolute, TAIL_P), 1)));
  let poly = tf.mul(t, TAIL_A[4]);
  for (let i = 3; i >= 0; i--) {
    const previous = poly;
    poly = tf.tidy(() => tf.mul(tf.add(previous, TAIL_A[i]), t));
    previous.dispose();
  }
  const gauss = tf.tidy(() => tf.add(tf.elu(tf.mul(tf.square(x), -0.5)), 1));
  const tail = tf.mul(poly, gauss); // Phi(-|x|)
  tf.dispose([absolute, t, poly]);
  // Phi(x): 1 - tail for x > 0, tail for x <= 0.
  const cdf = tf.tidy(() => {
    const positive = tf.step(x);
    return tf.add(positive, tf.mul(tail, tf.sub(1, tf.mul(positive, 2))));
  });
  tail.dispose();
  const slope = tf.tidy(() => tf.add(cdf, tf.mul(x, tf.mul(gauss, 1 / Math.sqrt(2 * Math.PI)))));
  gauss.dispose();
  save([slope]);
  return { value: tf.mul(x, cdf), gradFunc: (dy: tf.Tensor, [ss]: tf.Tensor[]) => tf.mul(dy, ss) };
}) as (x: tf.Tensor) => tf.Tensor;

/** Exact GELU, x * Phi(x), as PyTorch's nn.GELU() (not the tanh approximation). */
export const gelu = (x: tf.Tensor): tf.Tensor =>
  tf.getBackend() === 'wasm' ? wasmGelu(x) : tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

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
  const taps = gridTaps(tf.reshape(x, [batch, 1, tokens, channels]) as tf.Tensor4D, tf.reshape(p.weight, [1, kernelSize, channels]) as tf.Tensor3D);
  return tf.add(tf.reshape(taps, [batch, tokens, channels]), p.bias) as tf.Tensor3D;
}

/**
 * Depthwise 2-D conv with "same" zero padding: x [B, H, W, C] -> [B, H, W, C], as PyTorch's
 * Conv2d(C, C, k, padding=k//2, groups=C). wasm has no gradient kernels for depthwise convs, so the gradient is
 * written with forward depthwise convs only, which every backend has (and which are fast: for the 1-D conv on wasm 4x
 * faster than K shifted slices, on cpu 100x; measured at B 64, T 50, D 256, K 17).
 */
export function depthwiseConv2d(p: DepthwiseConv2d<tf.Tensor>, x: tf.Tensor4D): tf.Tensor4D {
  return tf.add(gridTaps(x, p.weight as tf.Tensor3D), p.bias) as tf.Tensor4D;
}

// tfjs-wasm's depthwise conv runs XNNPACK's fast kernels only for filters of 1, 3, 4, 9 or 25 taps; any other count
// takes a generic path ~3x slower per tap (on [64, 1, 50, 256]: 17 taps 17.7 ms, 25 taps 6.0 ms). So on wasm a 1 x K
// filter is zero-padded on the right to the next such count, or cut into pieces of at most 25 taps above 25.
const FAST_TAPS = [1, 3, 4, 9, 25];

/** Tap offsets and padded lengths of the pieces a 1 x K filter runs as on wasm. */
function tapPieces(kw: number): { start: number; taps: number }[] {
  const pieces: { start: number; taps: number }[] = [];
  let start = 0;
  for (; kw - start > 25; start += 25) pieces.push({ start, taps: 25 });
  pieces.push({ start, taps: FAST_TAPS.find((n) => n >= kw - start)! });
  return pieces;
}

/** y[b, i, j, c] = sum over (u, v) of w[u, v, c] * x[b, i + u - kh//2, j + v - kw//2, c], zero outside the grid. */
function correlateGrid(x: tf.Tensor4D, w: tf.Tensor3D): tf.Tensor4D {
  const [kh, kw, channels] = w.shape;
  const [ph, pw] = [(kh - 1) / 2, (kw - 1) / 2];
  const conv = (input: tf.Tensor4D, filter: tf.Tensor3D, pad: 'valid' | [[number, number], [number, number], [number, number], [number, number]]) =>
    tf.depthwiseConv2d(input, tf.reshape(filter, [filter.shape[0], filter.shape[1], channels, 1]) as tf.Tensor4D, 1, pad);
  if (tf.getBackend() !== 'wasm' || kh !== 1 || FAST_TAPS.includes(kw)) return conv(x, w, [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
  const pieces = tapPieces(kw);
  const last = pieces[pieces.length - 1];
  const extra = last.start + last.taps - kw; // zero taps appended to the filter, and zero columns to the input
  const padded = tf.pad(w, [[0, 0], [0, extra], [0, 0]]) as tf.Tensor3D;
  if (pieces.length === 1) return conv(x, padded, [[0, 0], [0, 0], [pw, pw + extra], [0, 0]]);
  const [batch, , width] = x.shape;
  const input = tf.pad(x, [[0, 0], [0, 0], [pw, pw + extra], [0, 0]]);
  return pieces
    .map(({ start, taps }) =>
      conv(tf.slice(input, [0, 0, start, 0], [batch, 1, width + taps - 1, channels]) as tf.Tensor4D, tf.slice(padded, [0, start, 0], [1, taps, channels]) as tf.Tensor3D, 'valid'),
    )
    .reduce((a, b) => tf.add(a, b)) as tf.Tensor4D;
}

/**
 * The filter gradient dw[u, v, c] = sum over (b, i, j) of dy[b, i, j, c] * padded[b, i + u, j + v, c], for dy
 * [B, H, W, C] and the input padded by (kh - 1, kw - 1). Off wasm, one valid depthwise conv: the padded images stacked
 * vertically as its input and dy stacked likewise as its filter, each sample's rows followed by kh - 1 zero rows so
 * that no tap pairs rows of two samples.
 */
function filterGradient(padded: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number): tf.Tensor3D {
  const [batch, height, width, channels] = dy.shape;
  if (tf.getBackend() === 'wasm') return tapSums(padded, dy, kh, kw);
  const paddedHeight = height + kh - 1;
  const image = tf.reshape(padded, [1, batch * paddedHeight, width + kw - 1, channels]) as tf.Tensor4D;
  // (A 1-row filter needs no spacing, so it skips the pad and the slice.)
  const rows = batch * paddedHeight - (kh - 1);
  const spaced = kh === 1 ? dy : tf.slice(tf.reshape(tf.pad(dy, [[0, 0], [0, kh - 1], [0, 0], [0, 0]]), [batch * paddedHeight, width, channels]), 0, rows);
  const filter = tf.reshape(spaced, [rows, width, channels, 1]) as tf.Tensor4D;
  return tf.reshape(tf.depthwiseConv2d(image, filter, 1, 'valid'), [kh, kw, channels]);
}

// XNNPACK runs that conv, with its thousands of filter taps and a handful of outputs, at ~0.5 GFLOP/s. On wasm one
// product and column sum per tap is 1.3-3.6x faster (e.g. 64x50 tokens, 256 channels, 17 taps: 18.3 -> 8.1 ms).
function tapSums(padded: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number): tf.Tensor3D {
  const [batch, height, width, channels] = dy.shape;
  const taps: tf.Tensor[] = [];
  for (let u = 0; u < kh; u++) {
    for (let v = 0; v < kw; v++) {
      taps.push(tf.tidy(() => columnSums(tf.reshape(tf.mul(tf.slice(padded, [0, u, v, 0], [batch, height, width, channels]), dy), [-1, channels]))));
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, channels]);
}

const gridTaps = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [tf.Tensor4D, tf.Tensor3D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: correlateGrid(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor3D];
        const [kh, kw] = sw.shape;
        const [ph, pw] = [(kh - 1) / 2, (kw - 1) / 2];
        const padded = tf.pad(sx, [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
        return [correlateGrid(dy as tf.Tensor4D, tf.reverse(sw, [0, 1])), filterGradient(padded, dy as tf.Tensor4D, kh, kw)];
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
    p.runningVar.assign(tf.add(tf.mul(p.runningVar, 1 - momentum), tf.mul(variance, (momentum * n) / Math.max(n - 1, 1))));
    p.batchesTracked += 1;
  };
  if (ctx.training && tf.getBackend() === 'wasm') {
    return tf.reshape(wasmNormalise(columnMeans, eps, track)(tf.reshape(x, [n, -1]), p.weight, p.bias), x.shape);
  }
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

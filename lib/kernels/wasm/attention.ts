// Attention on wasm, forward and backward, with its own gradient, in the layout that suits the GEMM that runs. On
// XNNPACK: grouped products over the B*H (batch, head) pairs in token-major layouts, since tfjs-wasm's BatchMatMul
// reaches XNNPACK's GEMM only for one plain matrix pair, and q, k and v as [T, B*H, D] are already the right operands
// of one grouped GEMM. On OpenBLAS: batched products of [B*H, T, D] matrices, transposes as flags (docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';
import { blasActive } from './blas-matmul';

/**
 * g products at once, as one grouped GEMM: out[i, p, j] = sum over l of image[i, l, p] * filter[l, p, j], for image
 * [m, k, g] and filter [k, g, n] -> [m, g, n]. Product p is channel p of a depthwise conv with channel multiplier n,
 * its left matrix the channel's m x k image, its right matrix a 1 x k filter with n outputs.
 */
function groupedProduct(image: tf.Tensor, filter: tf.Tensor): tf.Tensor {
  const [m, k, g] = image.shape as [number, number, number];
  const n = filter.shape[2] as number;
  const out = tf.depthwiseConv2d(
    tf.reshape(image, [1, m, k, g]) as tf.Tensor4D,
    tf.reshape(filter, [1, k, g, n]) as tf.Tensor4D,
    1,
    'valid',
  );
  return tf.reshape(out, [m, g, n]);
}

/** The gradient of the scaled scores from the softmax weights (keys last) and their gradient. */
const scoresGradient = (weights: tf.Tensor, dWeights: tf.Tensor, scale: number): tf.Tensor =>
  tf.mul(tf.mul(weights, tf.sub(dWeights, tf.sum(tf.mul(dWeights, weights), -1, true))), scale);

/** [T, g, D] -> [D, g, T] in two steps: the one-step reversal reads with a stride of g * D floats, slower. */
const keysLast = (t: tf.Tensor): tf.Tensor => tf.transpose(tf.transpose(t, [1, 0, 2]), [2, 0, 1]);

/** The sizes both layouts work with, from qkv [batch, tokens, 3 * inner]: `pairs` (batch, head) pairs of `dim` each. */
interface Sizes {
  batch: number;
  tokens: number;
  inner: number;
  dim: number;
  pairs: number;
  scale: number;
}

type AttentionBody = (
  qkv: tf.Tensor3D,
  save: tf.GradSaveFunc,
  sizes: Sizes,
) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor };

/** Attention with its own gradient: `body` gives the value and the gradient function for one layout. */
const withGradient = (heads: number, body: AttentionBody) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qkv, save] = args as [tf.Tensor3D, tf.GradSaveFunc];
    const [batch, tokens, width] = qkv.shape;
    const inner = width / 3;
    const dim = inner / heads;
    return body(qkv, save, { batch, tokens, inner, dim, pairs: batch * heads, scale: 1 / Math.sqrt(dim) });
  }) as (qkv: tf.Tensor) => tf.Tensor;

const groupedAttention = (heads: number, mask?: tf.Tensor2D) =>
  withGradient(heads, (qkv, save, { batch, tokens, inner, dim, pairs, scale }) => {
    const [q, k, v] = tf
      .unstack(tf.transpose(tf.reshape(qkv, [batch, tokens, 3, inner]), [2, 1, 0, 3]))
      .map((t) => tf.reshape(t, [tokens, pairs, dim]));
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
          const dScores = scoresGradient(sw, dWeights, scale);
          const dq = groupedProduct(tf.transpose(dScores, [0, 2, 1]), sk);
          const dk = groupedProduct(tf.transpose(dScores, [2, 0, 1]), sq);
          return tf.reshape(
            tf.transpose(tf.reshape(tf.stack([dq, dk, dv]), [3, tokens, batch, inner]), [2, 1, 0, 3]),
            qkv.shape,
          );
        }),
    };
  });

/** The same on OpenBLAS: q, k and v as [B*H, T, D], each product one batched sgemm with its transposes as flags. */
const batchedAttention = (heads: number, mask?: tf.Tensor2D) =>
  withGradient(heads, (qkv, save, { batch, tokens, inner, dim, pairs, scale }) => {
    // Four-axis transposes only: tfjs-wasm's five-axis one was ~15x slower on [64, 50, 3, 3, 32].
    const [q, k, v] = tf
      .split(tf.transpose(tf.reshape(qkv, [batch, tokens, 3 * heads, dim]), [0, 2, 1, 3]), 3, 1)
      .map((t) => tf.reshape(t, [pairs, tokens, dim]));
    const weights = tf.tidy(() => {
      const scores = tf.mul(tf.matMul(q, k, false, true), scale); // [pair, query, key]
      return tf.softmax(mask ? tf.add(scores, mask) : scores);
    });
    save([q, k, v, weights]);
    const mixed = tf.reshape(tf.matMul(weights, v), [batch, heads, tokens, dim]);
    return {
      value: tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [batch, tokens, inner]),
      gradFunc: (dy: tf.Tensor, [sq, sk, sv, sw]: tf.Tensor[]) =>
        tf.tidy(() => {
          const heads4 = tf.transpose(tf.reshape(dy, [batch, tokens, heads, dim]), [0, 2, 1, 3]);
          const dMixed = tf.reshape(heads4, [pairs, tokens, dim]);
          const dScores = scoresGradient(sw, tf.matMul(dMixed, sv, false, true), scale);
          const dv = tf.matMul(sw, dMixed, true, false);
          const dq = tf.matMul(dScores, sk);
          const dk = tf.matMul(dScores, sq, true, false);
          const joined = tf.concat(
            [dq, dk, dv].map((t) => tf.reshape(t, [batch, heads, tokens, dim])),
            1,
          );
          return tf.reshape(tf.transpose(joined, [0, 2, 1, 3]), qkv.shape);
        }),
    };
  });

/** lib/model/layers.ts's attend on wasm. */
export const wasmAttend = (qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D =>
  (blasActive() ? batchedAttention : groupedAttention)(heads, mask)(qkv) as tf.Tensor3D;

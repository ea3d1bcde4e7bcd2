// Attention on wasm, forward and backward, as grouped products over the B*H (batch, head) pairs in token-major layouts:
// tfjs-wasm's BatchMatMul reaches XNNPACK's GEMM only for one plain matrix pair, and q, k and v as [T, B*H, D] are
// already the right operands of one grouped GEMM (docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';

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

/** [T, g, D] -> [D, g, T] in two steps: the one-step reversal reads with a stride of g * D floats, slower. */
const keysLast = (t: tf.Tensor): tf.Tensor => tf.transpose(tf.transpose(t, [1, 0, 2]), [2, 0, 1]);

const attention = (heads: number, mask?: tf.Tensor2D) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qkv, save] = args as [tf.Tensor3D, tf.GradSaveFunc];
    const [batch, tokens, width] = qkv.shape;
    const inner = width / 3;
    const dim = inner / heads;
    const pairs = batch * heads;
    const scale = 1 / Math.sqrt(dim);
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
          const dScores = tf.mul(tf.mul(sw, tf.sub(dWeights, tf.sum(tf.mul(dWeights, sw), -1, true))), scale);
          const dq = groupedProduct(tf.transpose(dScores, [0, 2, 1]), sk);
          const dk = groupedProduct(tf.transpose(dScores, [2, 0, 1]), sq);
          return tf.reshape(
            tf.transpose(tf.reshape(tf.stack([dq, dk, dv]), [3, tokens, batch, inner]), [2, 1, 0, 3]),
            qkv.shape,
          );
        }),
    };
  }) as (qkv: tf.Tensor) => tf.Tensor;

/** lib/model/layers.ts's attend on wasm. */
export const wasmAttend = (qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D =>
  attention(heads, mask)(qkv) as tf.Tensor3D;

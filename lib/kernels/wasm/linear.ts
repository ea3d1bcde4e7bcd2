// A linear layer on wasm: the bias fused into XNNPACK's GEMM, and a gradient that makes XNNPACK pack the smaller
// operand: it packs a product's right matrix anew on every call, about as costly as the product (docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';
import { columnSums } from './column-sums';

/** rows [N, in] x weight [in, out] + bias [out] -> [N, out]. */
export const wasmLinear = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dx = tf.matMul(dy as tf.Tensor2D, tf.transpose(sw));
        const dw =
          sw.shape[1] > sw.shape[0]
            ? tf.transpose(tf.matMul(tf.transpose(dy) as tf.Tensor2D, sx))
            : tf.matMul(tf.transpose(sx), dy as tf.Tensor2D);
        return [dx, dw, columnSums(dy)];
      }),
  };
}) as (rows: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor;

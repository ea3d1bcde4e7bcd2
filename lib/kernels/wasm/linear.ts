// A linear layer on wasm: the bias fused into the GEMM, and a gradient shaped for the GEMM that runs. OpenBLAS takes
// transposes as flags; XNNPACK runs only plain products fast and packs a product's right matrix anew on every call,
// about as costly as the product, so there the gradient transposes explicitly and packs the smaller operand
// (docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';
import { blasActive } from './blas-matmul';
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
        const d = dy as tf.Tensor2D;
        if (blasActive()) return [tf.matMul(d, sw, false, true), tf.matMul(sx, d, true, false), columnSums(d)];
        const dx = tf.matMul(d, tf.transpose(sw));
        const dw =
          sw.shape[1] > sw.shape[0]
            ? tf.transpose(tf.matMul(tf.transpose(d) as tf.Tensor2D, sx))
            : tf.matMul(tf.transpose(sx), d);
        return [dx, dw, columnSums(d)];
      }),
  };
}) as (rows: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor;

// LayerNorm and training-mode BatchNorm on wasm, written out with their gradient: autodiff of tf.moments and the
// normalisation runs about twice as many kernels (float32 casts, broadcast reductions; docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';
import { columnMeans, columnSums } from './column-sums';

/** Receives a batch's statistics (BatchNorm's running ones). */
export type TrackStatistics = (mean: tf.Tensor, variance: tf.Tensor) => void;

/**
 * (x - mean) / sqrt(variance + eps) * w + b for x [rows, columns] and w, b per column; `mean` averages over the
 * normalised axis and broadcasts back (LayerNorm: each row; BatchNorm: each column).
 */
const normalise = (mean: (t: tf.Tensor) => tf.Tensor, eps: number, track?: TrackStatistics) =>
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

/** lib/model/layers.ts's layerNorm on wasm. */
export function wasmLayerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const channels = x.shape[x.rank - 1];
  return tf.reshape(normalise((t) => tf.mean(t, -1, true), eps)(tf.reshape(x, [-1, channels]), weight, bias), x.shape);
}

/** lib/model/layers.ts's batchNorm in training mode on wasm: x [B, T, C] normalised per channel. */
export function wasmBatchNormTraining(
  x: tf.Tensor3D,
  weight: tf.Tensor,
  bias: tf.Tensor,
  eps: number,
  track: TrackStatistics,
): tf.Tensor3D {
  const rows = tf.reshape(x, [x.shape[0] * x.shape[1], -1]);
  return tf.reshape(normalise(columnMeans, eps, track)(rows, weight, bias), x.shape) as tf.Tensor3D;
}

// Reductions over the rows of a [rows, cols] matrix on wasm: tfjs-wasm transposes a leading axis to the end before
// reducing it; XNNPACK's average pooling over a rows x 1 window reduces in place, as accurately (docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';

/** The mean of each column of x [rows, cols] -> [cols]. */
export function columnMeans(x: tf.Tensor): tf.Tensor {
  const [rows, cols] = x.shape;
  return tf.reshape(tf.avgPool(tf.reshape(x, [1, rows, 1, cols]) as tf.Tensor4D, [rows, 1], [rows, 1], 'valid'), [
    cols,
  ]);
}

/** The sum of each column of x [rows, cols] -> [cols]. */
export const columnSums = (x: tf.Tensor): tf.Tensor => tf.mul(columnMeans(x), x.shape[0]);

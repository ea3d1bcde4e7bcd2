// Exact GELU on wasm from vectorized kernels only: tfjs-wasm's Erf and Exp are scalar loops, its arithmetic, Step and
// Elu are not (docs/kernel-notes.md). The normal tail Phi(-|x|) comes from Abramowitz & Stegun's 7.1.26 (|error| <
// 1.5e-7, what tfjs's Erf computes too), exp(-x^2 / 2) as elu(-x^2 / 2) + 1; the forward saves the gradient
// Phi(x) + x phi(x).
import * as tf from '@tensorflow/tfjs';

const TAIL_P = 0.3275911 * Math.SQRT1_2;
const TAIL_A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429].map((a) => a / 2);

export const wasmGelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  // One tidy per statement: a full-size intermediate freed at once lets the next one reuse its still-cached memory.
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

// Where a model looks: input x gradient of a class's logit, summed over each patch's pixels and channels, one value
// per cell of the patch grid. Gradient-based, not attention rollout, because GLiT's local heads are 1-D convolutions
// with no attention matrix to roll out: the gradient passes through attention and convolution heads alike, so DeiT and
// GLiT are mapped by the same rule. A patch's value is the first-order change of the logit when that patch's
// (normalised) pixels are scaled towards 0, the dataset's mean image: d/dt logit(x + t * x * patchMask) at t = 0.
import * as tf from '@tensorflow/tfjs';
import { gridSize, type Architecture } from './arch';
import { forward, type ModelParams } from './model';

export interface PatchSaliency {
  /** Per image, |attribution| / its largest |attribution|: grid * grid values in [0, 1], row-major (row 0 at the top). */
  maps: Float32Array[];
  /** Per image, the signed attribution of each patch to the class's logit (before the absolute value and scaling). */
  attributions: Float32Array[];
  /** Per image, the class the model predicts (argmax of its logits). */
  predicted: number[];
  /** Per image, the class whose logit was attributed: `classes` when given, else the predicted one. */
  classes: number[];
  /** Patches per side. */
  grid: number;
}

/**
 * Patch-grid saliency of `images` ([B, H, W, channels], normalised as for training) in eval mode, for `classes` (one
 * per image; default: each image's predicted class). Images are independent: eval-mode BatchNorm uses its running
 * statistics, so one gradient of the summed logits gives every image's own.
 */
export async function patchSaliency(
  params: ModelParams<tf.Tensor>,
  arch: Architecture,
  images: tf.Tensor4D,
  classes?: number[],
): Promise<PatchSaliency> {
  const m = arch.model;
  const batch = images.shape[0];
  const grid = gridSize(m);
  const logits = tf.tidy(() => forward(params, images, arch, { training: false }));
  const predicted = Array.from(await tf.argMax(logits, -1).data());
  logits.dispose();
  const target = classes ?? predicted;
  if (target.length !== batch)
    throw new Error(`patchSaliency: ${target.length} classes given for ${batch} images; give one per image`);
  const bad = target.find((c) => !(Number.isInteger(c) && c >= 0 && c < m.numClasses));
  if (bad !== undefined)
    throw new Error(`patchSaliency: class ${bad} is not one of the model's classes 0..${m.numClasses - 1}`);
  const perPatch = tf.tidy(() => {
    const pick = tf.oneHot(tf.tensor1d(target, 'int32'), m.numClasses);
    const logitOf = (x: tf.Tensor) =>
      tf.sum(tf.mul(forward(params, x as tf.Tensor4D, arch, { training: false }), pick));
    const contribution = tf.sum(tf.mul(images, tf.grad(logitOf)(images)), -1);
    return tf.sum(tf.reshape(contribution, [batch, grid, m.patchSize, grid, m.patchSize]), [2, 4]);
  });
  const values = (await perPatch.data()) as Float32Array;
  perPatch.dispose();
  const cells = grid * grid;
  const attributions = Array.from({ length: batch }, (_, i) => values.slice(i * cells, (i + 1) * cells));
  const maps = attributions.map((a) => {
    const peak = a.reduce((p, v) => Math.max(p, Math.abs(v)), 0);
    return a.map((v) => (peak > 0 ? Math.abs(v) / peak : 0));
  });
  return { maps, attributions, predicted, classes: target, grid };
}

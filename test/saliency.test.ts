// Patch saliency (lib/model/saliency.ts): each patch's attribution is the logit's derivative along that patch's own
// pixels (checked by central differences on a model with attention, mixed and conv-only blocks), and the maps are the
// attributions' magnitudes scaled to a peak of 1.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Architecture } from '../lib/model/arch';
import { disposeModel, forward, initModel, type ModelParams } from '../lib/model/model';
import { patchSaliency } from '../lib/model/saliency';
import { saliencyGridFigure } from '../lib/notebook/figures';
import { objectFractions, objectShare } from '../lib/notebook/saliency-run';
import { seededBatch, tinyArchitecture } from './helpers';

before(async () => {
  await tf.setBackend('cpu');
});

/** The tiny model (initialised with `seed`) and a seeded batch of `batch` 8x8 images, disposed after `body`. */
async function withTinyModel(
  seed: number,
  batch: number,
  body: (params: ModelParams, arch: Architecture, x: tf.Tensor4D) => Promise<void>,
): Promise<void> {
  const arch = tinyArchitecture();
  const params = initModel(arch, seed);
  const { x, y } = seededBatch(batch, 8, 1, 4);
  try {
    await body(params, arch, x);
  } finally {
    tf.dispose([x, y]);
    disposeModel(params);
  }
}

/** Central difference of image `i`'s logit for `cls` along x * mask(patch row, col): the attribution's definition. */
function finiteDifference(
  x: tf.Tensor4D,
  i: number,
  cls: number,
  row: number,
  col: number,
  logitOf: (x: tf.Tensor4D) => tf.Tensor2D,
): number {
  const [, size, , channels] = x.shape;
  const patch = 2;
  const mask = tf.buffer([1, size, size, channels]);
  for (let y = row * patch; y < (row + 1) * patch; y++)
    for (let c = col * patch; c < (col + 1) * patch; c++)
      for (let ch = 0; ch < channels; ch++) mask.set(1, 0, y, c, ch);
  const eps = 3e-2;
  return tf.tidy(() => {
    const image = tf.slice(x, [i, 0, 0, 0], [1, size, size, channels]);
    const step = tf.mul(tf.mul(image, mask.toTensor()), eps);
    const up = logitOf(tf.add(image, step) as tf.Tensor4D).arraySync()[0][cls];
    const down = logitOf(tf.sub(image, step) as tf.Tensor4D).arraySync()[0][cls];
    return (up - down) / (2 * eps);
  });
}

test("each patch's attribution is the logit's derivative along that patch's pixels, for the predicted or a given class", () =>
  withTinyModel(3, 3, async (params, arch, x) => {
    // DeiT's head starts near zero; scaled up, the logits (and the differences checked) are well above rounding.
    params.head.weight.assign(tf.mul(params.head.weight, 100));
    const logitOf = (images: tf.Tensor4D) => forward(params, images, arch, { training: false });
    const predicted = Array.from(tf.tidy(() => tf.argMax(logitOf(x), -1)).dataSync());
    const given = [1, 3, 0];
    for (const classes of [undefined, given]) {
      const s = await patchSaliency(params, arch, x, classes);
      assert.equal(s.grid, 4);
      assert.deepEqual(s.predicted, predicted);
      assert.deepEqual(s.classes, classes ?? predicted);
      for (const [i, row, col] of [
        [0, 0, 0],
        [1, 2, 3],
        [2, 3, 1],
      ]) {
        const expected = finiteDifference(x, i, s.classes[i], row, col, logitOf);
        const got = s.attributions[i][row * 4 + col];
        assert.ok(
          Math.abs(got - expected) <= 3e-4 + 1e-2 * Math.abs(expected),
          `image ${i} patch (${row}, ${col}): ${got} vs ${expected}`,
        );
      }
    }
  }));

test('the attributions of all patches add up to the input x gradient of the whole image', () =>
  withTinyModel(4, 2, async (params, arch, x) => {
    const s = await patchSaliency(params, arch, x, [2, 2]);
    const whole = tf.tidy(() => {
      const pick = tf.oneHot(tf.tensor1d([2, 2], 'int32'), 4);
      const grad = tf.grad((v: tf.Tensor) =>
        tf.sum(tf.mul(forward(params, v as tf.Tensor4D, arch, { training: false }), pick)),
      )(x);
      return tf.sum(tf.mul(x, grad), [1, 2, 3]).arraySync() as number[];
    });
    s.attributions.forEach((a, i) => {
      const total = a.reduce((sum, v) => sum + v, 0);
      assert.ok(Math.abs(total - whole[i]) < 1e-4 * (1 + Math.abs(whole[i])), `image ${i}: ${total} vs ${whole[i]}`);
    });
  }));

test('the maps are the attributions’ magnitudes over the largest: in [0, 1] with a peak of exactly 1', () =>
  withTinyModel(5, 4, async (params, arch, x) => {
    const s = await patchSaliency(params, arch, x);
    assert.equal(s.maps.length, 4);
    s.maps.forEach((map, i) => {
      const a = s.attributions[i];
      const peak = Math.max(...Array.from(a, Math.abs));
      assert.equal(map.length, 16);
      assert.equal(Math.max(...map), 1);
      assert.ok(Math.min(...map) >= 0);
      map.forEach((v, k) => assert.ok(Math.abs(v - Math.abs(a[k]) / peak) < 1e-6));
    });
  }));

test('classes that do not fit the images or the model are refused with what to give', () =>
  withTinyModel(6, 2, async (params, arch, x) => {
    await assert.rejects(patchSaliency(params, arch, x, [1]), /1 classes given for 2 images; give one per image/);
    await assert.rejects(patchSaliency(params, arch, x, [1, 4]), /class 4 is not one of the model's classes 0\.\.3/);
  }));

test("the share of a map on the object counts each patch's object pixels; the figure captions each prediction", () => {
  // A 4x4 grey image on a 2x2 patch grid: only the top-left patch is (half) object.
  const set = {
    images: Uint8Array.from([255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    labels: Int32Array.from([1]),
    count: 1,
    height: 4,
    width: 4,
    channels: 1,
  };
  const objects = objectFractions(set, 0, 2);
  assert.deepEqual(Array.from(objects), [0.5, 0, 0, 0]);
  assert.equal(objectShare([1, 1, 0, 0], objects), 0.25);
  const figure = saliencyGridFigure(set, [0], ['a', 'b'], [{ name: 'M', maps: [[1, 0, 0, 0]], predicted: [0] }]);
  assert.deepEqual(
    figure.data.map((t) => t.type),
    ['image', 'image', 'heatmap'],
  );
  const texts = (figure.layout!.annotations as { text: string }[]).map((a) => a.text);
  assert.deepEqual(texts, ['image', 'b', 'a ✗', 'M']);
});

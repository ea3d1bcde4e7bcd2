// Batches: shapes and dtypes, normalisation, seeded shuffling, pad-and-crop and flip augmentation checked against the
// source image, and no tensor leaks across an epoch.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { batchCount, batches } from '../lib/data/batches';
import { emptySet } from '../lib/data/image-set';
import { Rng } from '../lib/core/random';

before(async () => {
  await tf.setBackend('cpu');
});

/** `count` images of h x w x c whose bytes are all different within an image; image i has label i % 10. */
function numbered(count: number, h = 5, w = 6, c = 2) {
  const set = emptySet(h, w, c, count);
  set.images.forEach((_, i) => (set.images[i] = 1 + ((i * 7) % 251)));
  set.labels.forEach((_, i) => (set.labels[i] = i % 10));
  return set;
}

const plain = (channels: number) => ({ mean: new Array(channels).fill(0), std: new Array(channels).fill(1 / 255) }); // x = pixel

test('batches are float32 NHWC and int32 labels, in order without an rng; the last batch is smaller unless dropped', () => {
  const set = numbered(10);
  const sizes: number[] = [];
  let seen: number[] = [];
  for (const { x, y } of batches(set, { batchSize: 4, ...plain(2) })) {
    assert.equal(x.dtype, 'float32');
    assert.equal(y.dtype, 'int32');
    assert.deepEqual(x.shape.slice(1), [5, 6, 2]);
    const start = seen.length * 60;
    assert.deepEqual(
      Array.from(x.dataSync()).map(Math.round),
      Array.from(set.images.subarray(start, start + x.shape[0] * 60)),
    );
    sizes.push(x.shape[0]);
    seen = seen.concat(Array.from(y.dataSync()));
    tf.dispose([x, y]);
  }
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual(seen, Array.from(set.labels));
  assert.equal(batchCount(10, 4), 3);
  assert.equal(batchCount(10, 4, true), 2);
  const dropped = [...batches(set, { batchSize: 4, dropLast: true, ...plain(2) })];
  assert.deepEqual(
    dropped.map((b) => b.x.shape[0]),
    [4, 4],
  );
  dropped.forEach((b) => tf.dispose([b.x, b.y]));
});

test('normalisation is (pixel / 255 - mean) / std, per channel', () => {
  const set = numbered(3, 2, 2, 3);
  const mean = [0.1, 0.5, 0.9];
  const std = [0.2, 0.25, 0.5];
  const [{ x, y }] = [...batches(set, { batchSize: 3, mean, std })];
  const values = x.dataSync();
  set.images.forEach((p, i) =>
    assert.ok(Math.abs(values[i] - (p / 255 - mean[i % 3]) / std[i % 3]) < 1e-5, `value ${i}`),
  );
  tf.dispose([x, y]);
});

test('shuffling visits every image once per epoch, the same order for the same seed', () => {
  const set = numbered(23, 2, 2, 1);
  set.labels.forEach((_, i) => (set.labels[i] = i)); // label = index, to follow the images
  const epoch = (rng: Rng) => {
    const order: number[] = [];
    for (const { x, y } of batches(set, { batchSize: 5, rng, ...plain(1) })) {
      const labels = y.dataSync();
      const pixels = x.dataSync();
      labels.forEach((l, k) => assert.equal(pixels[4 * k], set.images[4 * l], 'images travel with their labels'));
      order.push(...labels);
      tf.dispose([x, y]);
    }
    return order;
  };
  const a = epoch(new Rng(4));
  assert.deepEqual(
    [...a].sort((p, q) => p - q),
    Array.from({ length: 23 }, (_, i) => i),
  );
  assert.notDeepEqual(
    a,
    Array.from({ length: 23 }, (_, i) => i),
  );
  assert.deepEqual(epoch(new Rng(4)), a);
  const rng = new Rng(4);
  epoch(rng);
  assert.notDeepEqual(epoch(rng), a, 'the next epoch of the same rng is another order');
});

/** The source image shifted by (dy, dx), optionally mirrored, with black (0) where the shift leaves the image. */
function shifted(src: Uint8Array, h: number, w: number, c: number, dy: number, dx: number, mirror: boolean): number[] {
  const out: number[] = [];
  for (let oy = 0; oy < h; oy++) {
    for (let ox = 0; ox < w; ox++) {
      const sy = oy + dy;
      const sx = (mirror ? w - 1 - ox : ox) + dx;
      for (let k = 0; k < c; k++) out.push(sy >= 0 && sy < h && sx >= 0 && sx < w ? src[(sy * w + sx) * c + k] : 0);
    }
  }
  return out;
}

/** Which (dy, dx, mirror) within `pad` turns the source image into `got`; fails when none does. */
function matchTransform(src: Uint8Array, got: number[], pad: number, h: number, w: number, c: number): string {
  const matches: string[] = [];
  for (let dy = -pad; dy <= pad; dy++) {
    for (let dx = -pad; dx <= pad; dx++) {
      for (const mirror of [false, true]) {
        if (shifted(src, h, w, c, dy, dx, mirror).every((v, i) => v === got[i])) matches.push(`${dy},${dx},${mirror}`);
      }
    }
  }
  assert.equal(matches.length, 1, `exactly one crop/flip explains the output, found [${matches}]`);
  return matches[0];
}

test('pad-and-crop shifts the image by up to padCrop pixels with black borders; flip mirrors it half the time', () => {
  const [h, w, c, pad] = [5, 6, 2, 2];
  const set = numbered(1, h, w, c);
  const rng = new Rng(11);
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    for (const { x, y } of batches(set, { batchSize: 1, rng, augment: { padCrop: pad, flip: true }, ...plain(c) })) {
      seen.add(matchTransform(set.images, Array.from(x.dataSync()).map(Math.round), pad, h, w, c));
      tf.dispose([x, y]);
    }
  }
  assert.equal(seen.size, (2 * pad + 1) ** 2 * 2, `every shift and both orientations occur: ${[...seen].sort()}`);

  const many = numbered(40, h, w, c);
  many.labels.forEach((_, i) => (many.labels[i] = i)); // label = index, to find each output's source
  const size = h * w * c;
  const noFlip = new Set<string>();
  for (const { x, y } of batches(many, { batchSize: 40, rng, augment: { padCrop: 1 }, ...plain(c) })) {
    const values = Array.from(x.dataSync()).map(Math.round);
    y.dataSync().forEach((i, k) => {
      const source = many.images.subarray(i * size, (i + 1) * size);
      noFlip.add(matchTransform(source, values.slice(k * size, (k + 1) * size), 1, h, w, c).split(',')[2]);
    });
    tf.dispose([x, y]);
  }
  assert.deepEqual([...noFlip], ['false'], 'no flip unless asked for');
});

test('a padded pixel is black before normalisation', () => {
  const set = numbered(1, 3, 3, 1);
  const mean = [0.5];
  const std = [0.25];
  const rng = new Rng(2);
  let borders = 0;
  for (let i = 0; i < 20; i++) {
    for (const { x, y } of batches(set, { batchSize: 1, rng, augment: { padCrop: 1 }, mean, std })) {
      borders += Array.from(x.dataSync()).filter((v) => Math.abs(v - (0 - 0.5) / 0.25) < 1e-6).length;
      tf.dispose([x, y]);
    }
  }
  assert.ok(borders > 0);
});

test('bad options are rejected: augmentation without an rng, mean/std of the wrong length, a bad batch size', () => {
  const set = numbered(4);
  assert.throws(
    () => [...batches(set, { batchSize: 2, augment: { flip: true }, ...plain(2) })],
    /augmentation is random: pass options.rng/,
  );
  assert.throws(
    () => [...batches(set, { batchSize: 2, ...plain(3) })],
    /mean and std need one value per channel \(2\), got 3 and 3/,
  );
  assert.throws(() => [...batches(set, { batchSize: 0, ...plain(2) })], /batchSize must be a positive integer, got 0/);
  assert.throws(
    () => [...batches(set, { batchSize: 2, rng: new Rng(1), augment: { padCrop: -1 }, ...plain(2) })],
    /padCrop must be a whole number of pixels, got -1/,
  );
});

test('an epoch of batches leaves no tensors behind when each batch is disposed', () => {
  const set = numbered(50, 8, 8, 3);
  const rng = new Rng(1);
  const before = tf.memory().numTensors;
  for (let epoch = 0; epoch < 2; epoch++) {
    for (const { x, y } of batches(set, { batchSize: 8, rng, augment: { padCrop: 2, flip: true }, ...plain(3) })) {
      assert.equal(tf.memory().numTensors, before + 2, 'one image tensor and one label tensor per batch');
      tf.tidy(() => {
        x.mean().add(y.sum());
      });
      tf.dispose([x, y]);
    }
    assert.equal(tf.memory().numTensors, before);
  }
});

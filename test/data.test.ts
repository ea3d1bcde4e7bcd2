// The data module: dataset specs, the train / val / test splits (sizes, disjointness, seeds, limits), normalisation
// statistics, CIFAR-10 binary batches, the cache, the real embedded datasets, and `glit data`.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import {
  channelStats,
  DataError,
  labelCounts,
  loadDataset,
  parseDatasetSpec,
  formatDatasetSpec,
  parseLimit,
  type ImageSet,
} from '../lib/data/datasets';
import { cachedSplits } from '../lib/data/cache';
import { CIFAR10_CLASSES, CIFAR10_TRAIN_FILES } from '../lib/data/cifar10';
import { FASHION_MNIST_CACHE } from '../lib/data/fashion-mnist';
import { emptySet } from '../lib/data/image-set';
import { runGlit } from './helpers';

const quiet = { onProgress: () => {} };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'glit-data-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Throws-check: the error is a DataError about `file` whose message says `problem`. */
async function rejectsAbout(fn: () => unknown, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (e: unknown) => {
      assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
      assert.equal(e.file, file);
      assert.ok(e.message.startsWith(file), `message should start with the file: ${e.message}`);
      assert.match(e.message, problem);
      return true;
    },
  );
}

// --- CIFAR-10 fixtures: record r of a file has id = first + r in its first pixel (red = id % 256, green = id >> 8) ---

const RECORD = 3073;

function cifarBatch(first: number, count: number, label: (id: number) => number): Buffer {
  const buf = Buffer.alloc(count * RECORD);
  for (let r = 0; r < count; r++) {
    const id = first + r;
    const at = r * RECORD;
    buf[at] = label(id);
    for (let p = 0; p < 1024; p++) {
      buf[at + 1 + p] = p === 0 ? id % 256 : (id + p) % 251; // red plane
      buf[at + 1 + 1024 + p] = p === 0 ? id >> 8 : (3 * p) % 256; // green plane
      buf[at + 1 + 2048 + p] = (7 * p + id) % 256; // blue plane
    }
  }
  return buf;
}

/** 5 train batches of `perBatch` records (ids 0..) and a test batch (ids from 1000), labels id % 10. */
function writeCifar(dir: string, perBatch = 20, testCount = 30, meta = true): void {
  fs.mkdirSync(dir, { recursive: true });
  CIFAR10_TRAIN_FILES.forEach((f, i) =>
    fs.writeFileSync(
      path.join(dir, f),
      cifarBatch(i * perBatch, perBatch, (id) => id % 10),
    ),
  );
  fs.writeFileSync(
    path.join(dir, 'test_batch.bin'),
    cifarBatch(1000, testCount, (id) => id % 10),
  );
  if (meta)
    fs.writeFileSync(
      path.join(dir, 'batches.meta.txt'),
      CIFAR10_CLASSES.map((c) => c.toUpperCase()).join('\n') + '\n\n',
    );
}

const ids = (set: ImageSet): number[] =>
  Array.from({ length: set.count }, (_, i) => set.images[i * 3072] + 256 * set.images[i * 3072 + 1]);

const cifarDir = path.join(tmp, 'cifar');
writeCifar(cifarDir);

// --- specs and limits --------------------------------------------------------------------------------------------

test('dataset specs parse into kinds and absolute paths, and print back', () => {
  assert.deepEqual(parseDatasetSpec('fashion-mnist'), { kind: 'fashion-mnist' });
  assert.deepEqual(parseDatasetSpec(' mnist '), { kind: 'mnist' });
  assert.deepEqual(parseDatasetSpec('cifar10:/data/cifar-10-batches-bin'), {
    kind: 'cifar10',
    path: '/data/cifar-10-batches-bin',
  });
  assert.deepEqual(parseDatasetSpec('folder:rel/dir'), { kind: 'folder', path: path.resolve('rel/dir') });
  assert.deepEqual(parseDatasetSpec('folder:~/imgs'), { kind: 'folder', path: path.join(os.homedir(), 'imgs') });
  for (const s of ['mnist', 'cifar10:/a/b', 'folder:/c']) assert.equal(formatDatasetSpec(parseDatasetSpec(s)), s);
  assert.throws(
    () => parseDatasetSpec('cifar100:/x'),
    /unknown dataset 'cifar100:\/x': use fashion-mnist \| mnist \| cifar10:/,
  );
  assert.throws(() => parseDatasetSpec('cifar10'), /cifar10 needs a path, e.g. cifar10:/);
  assert.throws(() => parseDatasetSpec('folder:'), /folder needs a path/);
  assert.throws(() => parseDatasetSpec('mnist:/x'), /mnist is built in and takes no path/);
});

test('limits parse from one number or per split, and reject anything else', () => {
  assert.deepEqual(parseLimit('500'), { train: 500, val: 500, test: 500 });
  assert.deepEqual(parseLimit('train=300, test=50'), { train: 300, test: 50 });
  assert.throws(() => parseLimit('0'), /must be a positive whole number of images, got '0'/);
  assert.throws(() => parseLimit('train=1.5'), /train must be a positive whole number/);
  assert.throws(() => parseLimit('dev=3'), /'dev' is not a split; use train=N,val=N,test=N/);
});

// --- splits ------------------------------------------------------------------------------------------------------

test('val is carved from train: sizes follow valFraction, val and train are disjoint and cover the training images', async () => {
  const d = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, valFraction: 0.25 });
  assert.equal(d.name, 'cifar10');
  assert.equal(d.source, `cifar10:${cifarDir}`);
  assert.deepEqual(
    d.classes,
    CIFAR10_CLASSES.map((c) => c.toUpperCase()),
  );
  assert.deepEqual([d.train.count, d.val.count, d.test.count], [75, 25, 30]);
  const train = ids(d.train);
  const val = ids(d.val);
  assert.equal(new Set([...train, ...val]).size, 100, 'no image in both train and val');
  assert.deepEqual(
    [...train, ...val].sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.deepEqual(
    ids(d.test),
    Array.from({ length: 30 }, (_, i) => 1000 + i),
    'test is the test batch, whole and in order',
  );
  for (const set of [d.train, d.val, d.test]) ids(set).forEach((id, i) => assert.equal(set.labels[i], id % 10));
});

test('splits are deterministic by seed, and the test split does not depend on it', async () => {
  const a = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, seed: 1 });
  const b = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, seed: 1 });
  const c = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, seed: 2 });
  assert.deepEqual(ids(a.val), ids(b.val));
  assert.deepEqual(a.train.images, b.train.images);
  assert.notDeepEqual(ids(a.val), ids(c.val));
  assert.deepEqual(ids(a.test), ids(c.test));
});

test('limits take seeded subsets of each split: the limited val lies inside the full val, never in train', async () => {
  const full = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, seed: 3 });
  const small = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, seed: 3, limit: { train: 12, val: 4, test: 5 } });
  const again = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, seed: 3, limit: { train: 12, val: 4, test: 5 } });
  assert.deepEqual([small.train.count, small.val.count, small.test.count], [12, 4, 5]);
  assert.deepEqual(ids(small.train), ids(again.train));
  assert.deepEqual(ids(small.test), ids(again.test));
  const fullVal = new Set(ids(full.val));
  const fullTrain = new Set(ids(full.train));
  ids(small.val).forEach((id) => assert.ok(fullVal.has(id)));
  ids(small.train).forEach((id) => assert.ok(fullTrain.has(id)));
  ids(small.test).forEach((id) => assert.ok(id >= 1000));
  const onlyTrain = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, seed: 3, limit: { train: 12 } });
  assert.deepEqual([onlyTrain.train.count, onlyTrain.val.count, onlyTrain.test.count], [12, 10, 30]);
  assert.deepEqual(ids(onlyTrain.val), ids(full.val), 'a train limit leaves val alone');
});

test('bad options are rejected with the option and the value', async () => {
  const spec = `cifar10:${cifarDir}`;
  await assert.rejects(
    loadDataset(spec, { ...quiet, valFraction: 1 }),
    /valFraction must be between 0 and 1 \(exclusive\), got 1/,
  );
  await assert.rejects(
    loadDataset(spec, { ...quiet, valFraction: 0.001 }),
    /valFraction 0.001 of 100 training images leaves 0 for val/,
  );
  await assert.rejects(
    loadDataset(spec, { ...quiet, limit: { val: 0 } }),
    /limit.val must be a positive integer, got 0/,
  );
  await assert.rejects(
    loadDataset(spec, { ...quiet, imageSize: 2.5 }),
    /imageSize must be a positive integer, got 2.5/,
  );
  await assert.rejects(loadDataset(spec, { ...quiet, seed: 0.5 }), /seed must be an integer, got 0.5/);
});

test('imageSize resizes a dataset that has another size', async () => {
  const d = await loadDataset(`cifar10:${cifarDir}`, { ...quiet, imageSize: 16, limit: { train: 6, val: 2, test: 3 } });
  for (const set of [d.train, d.val, d.test]) {
    assert.deepEqual([set.height, set.width, set.channels], [16, 16, 3]);
    assert.equal(set.images.length, set.count * 16 * 16 * 3);
  }
});

// --- statistics --------------------------------------------------------------------------------------------------

test('mean and std are per channel, on the 0-1 scale, from the train split', async () => {
  const d = await loadDataset(`cifar10:${cifarDir}`, quiet);
  for (let c = 0; c < 3; c++) {
    const values: number[] = [];
    for (let i = c; i < d.train.images.length; i += 3) values.push(d.train.images[i] / 255);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    assert.ok(Math.abs(d.mean[c] - mean) < 1e-9, `mean[${c}] ${d.mean[c]} vs ${mean}`);
    assert.ok(Math.abs(d.std[c] - std) < 1e-9, `std[${c}] ${d.std[c]} vs ${std}`);
  }
  const grey = emptySet(2, 2, 1, 3);
  grey.images.fill(51);
  assert.deepEqual(channelStats(grey), { mean: [0.2], std: [1 / 255] }, 'a constant channel gets std 1/255, not 0');
});

// --- CIFAR-10 ----------------------------------------------------------------------------------------------------

test('CIFAR-10 records are reordered from CHW planes to HWC pixels', async () => {
  const { test: set } = await loadDataset(`cifar10:${cifarDir}`, quiet);
  const id = 1007;
  const i = ids(set).indexOf(id);
  const pixel = (p: number) => Array.from(set.images.subarray(i * 3072 + 3 * p, i * 3072 + 3 * p + 3));
  assert.deepEqual(pixel(0), [id % 256, id >> 8, id % 256]);
  assert.deepEqual(pixel(33), [(id + 33) % 251, 99, (7 * 33 + id) % 256]); // row 1, column 1
});

test('CIFAR-10 without batches.meta.txt uses the standard class names', async () => {
  const dir = path.join(tmp, 'cifar-no-meta');
  writeCifar(dir, 4, 4, false);
  const d = await loadDataset(`cifar10:${dir}`, quiet);
  assert.deepEqual(d.classes, CIFAR10_CLASSES);
});

test('bad CIFAR-10 folders give errors that name the file and the problem', async () => {
  const dir = (name: string) => {
    const d = path.join(tmp, name);
    writeCifar(d, 4, 4);
    return d;
  };
  const missing = path.join(tmp, 'no-such-folder');
  await rejectsAbout(
    () => loadDataset(`cifar10:${missing}`, quiet),
    missing,
    /is not a folder\n  fix: point cifar10:<folder> at the extracted cifar-10-batches-bin/,
  );

  const noBatch = dir('cifar-missing-batch');
  fs.rmSync(path.join(noBatch, 'data_batch_3.bin'));
  await rejectsAbout(
    () => loadDataset(`cifar10:${noBatch}`, quiet),
    path.join(noBatch, 'data_batch_3.bin'),
    /: not found/,
  );

  const truncated = dir('cifar-truncated');
  const file = path.join(truncated, 'test_batch.bin');
  fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 3 * RECORD + 100));
  await rejectsAbout(
    () => loadDataset(`cifar10:${truncated}`, quiet),
    file,
    /has 9319 bytes, not a whole number of 3073-byte records .*: truncated, or not a CIFAR-10 binary batch/,
  );

  // Cut on a record boundary: whole records, one fewer than the other batches hold.
  const short = dir('cifar-short-batch');
  const cut = path.join(short, 'data_batch_4.bin');
  fs.writeFileSync(cut, fs.readFileSync(cut).subarray(0, 3 * RECORD));
  await rejectsAbout(
    () => loadDataset(`cifar10:${short}`, quiet),
    cut,
    /holds 3 records where data_batch_1\.bin holds 4 \(CIFAR-10's batches hold 10000 each\): cut short\?/,
  );

  const badLabel = dir('cifar-bad-label');
  const batch = path.join(badLabel, 'data_batch_2.bin');
  const bytes = fs.readFileSync(batch);
  bytes[2 * RECORD] = 37;
  fs.writeFileSync(batch, bytes);
  await rejectsAbout(
    () => loadDataset(`cifar10:${badLabel}`, quiet),
    batch,
    /label 37 at index 2 is outside 0..9 \(10 classes\)/,
  );
});

// --- the cache ---------------------------------------------------------------------------------------------------

test('the cache is built once, written whole (no temporary folder left), and read back the same', async () => {
  const dir = path.join(tmp, 'cache');
  let builds = 0;
  const build = () => {
    builds++;
    const train = emptySet(3, 3, 1, 4);
    train.images.forEach((_, i) => (train.images[i] = i));
    train.labels.set([0, 1, 1, 0]);
    return { classes: ['a', 'b'], train, test: emptySet(3, 3, 1, 2), note: 'a test' };
  };
  const first = await cachedSplits(dir, 'toy-v1', build);
  const second = await cachedSplits(dir, 'toy-v1', build);
  assert.equal(builds, 1);
  assert.deepEqual(fs.readdirSync(dir), ['toy-v1']);
  assert.equal(second.location, path.join(dir, 'toy-v1'));
  assert.deepEqual(second.classes, ['a', 'b']);
  assert.deepEqual(Array.from(second.train.images), Array.from(first.train.images));
  assert.deepEqual(Array.from(second.train.labels), [0, 1, 1, 0]);
  assert.equal(second.test.count, 2);

  const labels = path.join(dir, 'toy-v1', 'train-labels-idx-ubyte');
  fs.writeFileSync(labels, fs.readFileSync(labels).subarray(0, 10));
  await rejectsAbout(
    () => cachedSplits(dir, 'toy-v1', build),
    labels,
    /is truncated: its header describes 4 labels \(12 bytes\) but the file has 10 bytes\n  fix: delete .*toy-v1 and it is rebuilt/,
  );
});

// --- the embedded datasets ---------------------------------------------------------------------------------------

test('Fashion-MNIST: built into the cache once, 60,000 train / 9,945 test, 10 classes, labels 0..9', async () => {
  const cacheDir = path.join(tmp, 'embedded-cache');
  let reports = 0;
  const cold = await loadDataset('fashion-mnist', { cacheDir, onProgress: () => reports++ });
  assert.ok(reports > 0, 'building the cache reports progress');
  assert.deepEqual(fs.readdirSync(cacheDir), [FASHION_MNIST_CACHE]);
  const meta = JSON.parse(fs.readFileSync(path.join(cacheDir, FASHION_MNIST_CACHE, 'meta.json'), 'utf8'));
  assert.match(
    meta.note,
    /70002 records; dropped 2 empty, 53 exact repeats .* and 2 copies of images found under two labels; the remaining 69945 split per class/,
  );
  assert.deepEqual([cold.train.count + cold.val.count, cold.test.count], [60000, 9945]);
  assert.deepEqual([cold.train.count, cold.val.count], [54000, 6000]);
  assert.equal(cold.classes.length, 10);
  assert.equal(cold.classes[9], 'Ankle boot');
  assert.deepEqual([cold.train.height, cold.train.width, cold.train.channels], [28, 28, 1]);
  for (const set of [cold.train, cold.val, cold.test]) assert.ok(set.labels.every((l) => l >= 0 && l <= 9));
  const perClass = (d: typeof cold) => labelCounts(d.train, 10).map((n, c) => n + labelCounts(d.val, 10)[c]);
  assert.deepEqual(perClass(cold), new Array(10).fill(6000), 'train + val: 6,000 per class');
  labelCounts(cold.test, 10).forEach((n) =>
    assert.ok(n >= 987 && n <= 1000, `test per class ${labelCounts(cold.test, 10)}`),
  );
  assert.ok(
    Math.abs(cold.mean[0] - 0.286) < 0.002 && Math.abs(cold.std[0] - 0.353) < 0.002,
    `Fashion-MNIST stats ${cold.mean} ${cold.std}`,
  );

  reports = 0;
  const warm = await loadDataset('fashion-mnist', { cacheDir, onProgress: () => reports++ });
  assert.equal(reports, 0, 'a warm load builds nothing');
  assert.deepEqual(warm.val.labels, cold.val.labels);
  assert.deepEqual(warm.test.images, cold.test.images);
});

test('MNIST: the canonical 60,000 / 10,000 split, labels 0..9', async () => {
  const d = await loadDataset('mnist', quiet);
  assert.deepEqual([d.train.count + d.val.count, d.test.count], [60000, 10000]);
  assert.deepEqual(d.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.ok(d.test.labels.every((l) => l >= 0 && l <= 9));
  assert.equal(d.test.labels[0], 7, 'the first MNIST test digit is a 7');
  assert.ok(Math.abs(d.mean[0] - 0.1307) < 0.002, `MNIST mean ${d.mean}`);
});

// --- the CLI -----------------------------------------------------------------------------------------------------

test('`glit data info --json` reports counts, classes, shape and stats; bad specs are usage errors', () => {
  const r = runGlit(['data', 'info', '--dataset', `cifar10:${cifarDir}`, '--limit', 'train=10,val=5', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.deepEqual(info.counts, { train: 10, val: 5, test: 30 });
  assert.deepEqual(info.imageShape, [32, 32, 3]);
  assert.equal(info.classes.length, 10);
  assert.equal(info.mean.length, 3);
  assert.equal(
    info.labelCounts.test.reduce((a: number, b: number) => a + b, 0),
    30,
  );

  const bad = runGlit(['data', 'info', '--dataset', 'imagenet']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown dataset 'imagenet'/);
  const missing = runGlit(['data', 'prepare', '--dataset', `cifar10:${path.join(tmp, 'nothing-here')}`]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nothing-here: is not a folder/);
});

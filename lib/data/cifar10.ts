// CIFAR-10 in its binary format (the cifar-10-batches-bin folder): data_batch_1.bin .. data_batch_5.bin (train) and
// test_batch.bin (test), each a run of 3073-byte records: 1 label byte, then a 32x32 colour image as 1024 red, 1024
// green and 1024 blue bytes (CHW), which we reorder to HWC. Class names come from batches.meta.txt when it is there.
import * as path from 'node:path';
import { DataError, isFile, isFolder, readDataFile } from './errors';
import { checkLabels, emptySet, type ImageSet, type SourceSplits } from './image-set';

export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_META_FILE = 'batches.meta.txt';
/** The names batches.meta.txt lists, used when it is missing. */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const SIDE = 32;
const PIXELS = SIDE * SIDE;
const RECORD = 1 + 3 * PIXELS;
/** Records in each of CIFAR-10's six batch files. */
export const CIFAR10_BATCH_RECORDS = 10_000;
const FIX = 'point cifar10:<folder> at the extracted cifar-10-batches-bin folder of the binary version (cifar-10-binary.tar.gz)';

export function loadCifar10(dir: string): SourceSplits {
  if (!isFolder(dir)) throw new DataError(dir, 'is not a folder', FIX);
  const meta = path.join(dir, CIFAR10_META_FILE);
  const classes = isFile(meta) ? readDataFile(meta).toString('utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0) : CIFAR10_CLASSES;
  if (classes.length === 0) throw new DataError(meta, 'lists no class names', `delete it to use the standard CIFAR-10 names`);
  return {
    classes,
    ...wholeBatches(
      readBatches(CIFAR10_TRAIN_FILES.map((f) => path.join(dir, f)), classes.length),
      readBatches([path.join(dir, CIFAR10_TEST_FILE)], classes.length),
      dir,
    ),
    location: dir,
  };
}

/**
 * A batch cut on a record boundary still parses: so every train batch must hold as many records as the first (all
 * six hold 10,000 in CIFAR-10; smaller copies made for tests keep equal train batches), and where the train batches
 * are CIFAR-10's, the test batch must be too.
 */
type Batches = ReturnType<typeof readBatches>;

function wholeBatches(train: Batches, test: Batches, dir: string): { train: ImageSet; test: ImageSet } {
  const expected = train.perFile[0];
  const files = [...CIFAR10_TRAIN_FILES, ...(expected === CIFAR10_BATCH_RECORDS ? [CIFAR10_TEST_FILE] : [])];
  const counts = [...train.perFile, test.perFile[0]];
  files.forEach((f, i) => {
    if (counts[i] !== expected) {
      throw new DataError(path.join(dir, f), `holds ${counts[i]} records where ${CIFAR10_TRAIN_FILES[0]} holds ${expected} (CIFAR-10's batches hold ${CIFAR10_BATCH_RECORDS} each): cut short?`, FIX);
    }
  });
  return { train: train.set, test: test.set };
}

/** The records of several batch files, in file order, as one HWC set (and how many came from each file). */
function readBatches(files: string[], numClasses: number): { set: ImageSet; perFile: number[] } {
  const buffers = files.map((file) => {
    const buf = readDataFile(file, FIX);
    if (buf.length === 0 || buf.length % RECORD !== 0) {
      throw new DataError(file, `has ${buf.length} bytes, not a whole number of ${RECORD}-byte records (1 label byte + 3072 pixel bytes): truncated, or not a CIFAR-10 binary batch`, FIX);
    }
    return buf;
  });
  const set = emptySet(SIDE, SIDE, 3, buffers.reduce((n, b) => n + b.length / RECORD, 0));
  let i = 0;
  buffers.forEach((buf, f) => {
    const first = i;
    for (let r = 0; r < buf.length; r += RECORD, i++) {
      set.labels[i] = buf[r];
      const out = i * 3 * PIXELS;
      for (let p = 0; p < PIXELS; p++) {
        set.images[out + 3 * p] = buf[r + 1 + p];
        set.images[out + 3 * p + 1] = buf[r + 1 + PIXELS + p];
        set.images[out + 3 * p + 2] = buf[r + 1 + 2 * PIXELS + p];
      }
    }
    checkLabels(set.labels.subarray(first, i), numClasses, files[f]);
  });
  return { set, perFile: buffers.map((b) => b.length / RECORD) };
}

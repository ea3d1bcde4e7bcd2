// The on-disk cache of converted datasets: <cacheDir>/<name>/ holds the train and test splits as IDX files and
// meta.json with the class names and a note on how the data was made. It is written to a temporary folder and renamed
// into place, so a crash or a concurrent run never leaves a half-written cache. Delete the folder to rebuild it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, isFolder, readDataFile } from './errors';
import { readIdxSet, writeIdxSet } from './idx';
import type { SourceSplits } from './image-set';

/** data/cache in the project (git-ignored). realpath: notebooks reach lib/ through a symlink. */
export function defaultCacheDir(): string {
  return path.resolve(fs.realpathSync(__dirname), '..', '..', 'data', 'cache');
}

export type BuiltSplits = Omit<SourceSplits, 'location'> & { note: string };

const FILES = {
  trainImages: 'train-images-idx-ubyte',
  trainLabels: 'train-labels-idx-ubyte',
  testImages: 'test-images-idx-ubyte',
  testLabels: 'test-labels-idx-ubyte',
  meta: 'meta.json',
};

/** The cached splits called `name`, built by `build` and stored first when the cache does not have them. */
export async function cachedSplits(cacheDir: string, name: string, build: () => BuiltSplits | Promise<BuiltSplits>): Promise<SourceSplits> {
  const dir = path.join(cacheDir, name);
  if (isFolder(dir)) return readCache(dir);
  const built = await build();
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheDir, `${name}.tmp-`));
  try {
    const at = (f: string) => path.join(tmp, f);
    writeIdxSet(built.train, at(FILES.trainImages), at(FILES.trainLabels));
    writeIdxSet(built.test, at(FILES.testImages), at(FILES.testLabels));
    fs.writeFileSync(at(FILES.meta), JSON.stringify({ classes: built.classes, train: built.train.count, test: built.test.count, note: built.note }, null, 2) + '\n');
    fs.chmodSync(tmp, 0o755); // mkdtemp makes it private
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // Another process renamed its copy into place first: it holds the same data.
    if (!isFolder(dir)) throw e;
  }
  return { classes: built.classes, train: built.train, test: built.test, location: dir };
}

function readCache(dir: string): SourceSplits {
  const fix = `delete ${dir} and it is rebuilt on the next load`;
  const at = (f: string) => path.join(dir, f);
  try {
    let classes: unknown;
    try {
      classes = JSON.parse(readDataFile(at(FILES.meta)).toString('utf8')).classes;
    } catch (e) {
      if (e instanceof DataError) throw e;
      throw new DataError(at(FILES.meta), `is not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string')) {
      throw new DataError(at(FILES.meta), '"classes" is not a non-empty list of names');
    }
    const train = readIdxSet(at(FILES.trainImages), at(FILES.trainLabels), classes.length);
    const test = readIdxSet(at(FILES.testImages), at(FILES.testLabels), classes.length);
    return { classes, train, test, location: dir };
  } catch (e) {
    if (e instanceof DataError) throw new DataError(e.file, e.problem, fix);
    throw e;
  }
}

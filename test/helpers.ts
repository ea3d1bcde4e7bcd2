// Small shared pieces for tests: a tiny architecture with every block type, a seeded batch, the CLI runner.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { validateArchitecture, type Architecture } from '../lib/model/arch';
import { Rng } from '../lib/core/random';

export const ROOT = path.resolve(__dirname, '..');

/** 8x8 images, patch 2 (16 patches + CLS), width 12, 3 heads: an all-attention, a mixed and an all-conv block. */
export function tinyArchitecture(overrides: Partial<Architecture['model']> = {}): Architecture {
  return validateArchitecture({
    name: 'tiny-every-block',
    model: { imageSize: 8, inChannels: 1, patchSize: 2, width: 12, heads: 3, depth: 3, numClasses: 4, ...overrides },
    blocks: [
      { globalHeads: 3, qkvRatio: 1, ffnRatio: 2 },
      { globalHeads: 1, qkvRatio: 2, convExpansion: 2, kernelSize: 3, ffnRatio: 2 },
      { globalHeads: 0, convExpansion: 1, kernelSize: 5, ffnRatio: 1 },
    ],
  });
}

/** For the 28x28 grey datasets: patch 7 (16 patches + CLS), width 12, 3 heads, 2 attention blocks (search tests). */
export function tinyBaseline(): Architecture {
  return validateArchitecture({
    name: 'tiny-baseline',
    model: { imageSize: 28, inChannels: 1, patchSize: 7, width: 12, heads: 3, depth: 2, numClasses: 10 },
    blocks: [
      { globalHeads: 3, qkvRatio: 1, ffnRatio: 2 },
      { globalHeads: 3, qkvRatio: 1, ffnRatio: 2 },
    ],
  });
}

/** A batch of normal noise images [n, size, size, channels] with labels 0..classes-1 in turn. */
export function seededBatch(
  n: number,
  size: number,
  channels: number,
  classes: number,
  seed = 5,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rng = new Rng(seed);
  const values = Float32Array.from({ length: n * size * size * channels }, () => rng.normal());
  return {
    x: tf.tensor4d(values, [n, size, size, channels]),
    y: tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % classes),
      'int32',
    ),
  };
}

/** Runs `node bin/glit.js ...args` and returns its exit code and output. */
export function runGlit(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 120_000) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/glit.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Receptive fields of the conv heads (lib/notebook/receptive-field.ts): measured reach of depthwise 1-D convs over the token
// sequence, its layout on the patch grid (wrapping across rows), and that a whole randomly initialised conv head
// reaches exactly the tokens its kernel does.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { validateArchitecture } from '../lib/model/arch';
import { initBlock, localHeads } from '../lib/model/block';
import {
  centrePatch,
  centreReach,
  kernelReach,
  onPatchGrid,
  patchToken,
  reachedTokens as reached,
  tokenSensitivity,
} from '../lib/notebook/receptive-field';
import { Rng } from '../lib/core/random';

before(async () => {
  await tf.setBackend('cpu');
});

test('one K-tap layer reaches the K//2 tokens either side, with weight 1 each', () => {
  const reach = kernelReach([5], 20, 10);
  assert.deepEqual(Array.from(reach.slice(8, 13)), [1, 1, 1, 1, 1]);
  assert.deepEqual(reached(reach), [8, 9, 10, 11, 12]);
});

test('near the start of the sequence the kernel reaches CLS and runs into the zero padding', () => {
  assert.deepEqual(reached(kernelReach([5], 20, 1)), [0, 1, 2, 3]);
});

test('two stacked layers reach K1//2 + K2//2 tokens either side, counting paths (a triangle for 3 + 3)', () => {
  const reach = kernelReach([3, 3], 11, 5);
  assert.deepEqual(Array.from(reach), [0, 0, 0, 1, 2, 3, 2, 1, 0, 0, 0]);
  assert.deepEqual(reached(kernelReach([5, 3], 30, 15)), [12, 13, 14, 15, 16, 17, 18]);
});

test('on the 14x14 grid a 17-tap kernel at the centre patch wraps to the neighbouring rows', () => {
  const grid = 14;
  assert.equal(patchToken(...centrePatch(grid), grid), 1 + 7 * 14 + 7);
  const { cls, patches, centre } = centreReach([17], grid);
  assert.deepEqual(centre, [7, 7]);
  assert.equal(cls, 0);
  assert.deepEqual(
    reached(patches[7]),
    Array.from({ length: 14 }, (_, c) => c),
    'its own row entirely',
  );
  assert.deepEqual(reached(patches[6]), [13], 'the last patch of the row above');
  assert.deepEqual(reached(patches[8]), [0, 1], 'the first two patches of the row below');
  assert.equal(patches.flat().filter((v) => v !== 0).length, 17);
});

test('onPatchGrid puts CLS apart and the patches row-major', () => {
  const values = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(onPatchGrid(values, 3), {
    cls: 0,
    patches: [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ],
  });
  assert.throws(() => onPatchGrid(new Float32Array(50), 8), /do not fit a 8x8 grid/);
});

test('a random conv head (eval mode) reaches exactly the tokens of its kernel, and nothing leaks', () => {
  const arch = validateArchitecture({
    model: { imageSize: 16, inChannels: 1, patchSize: 2, width: 12, heads: 3, depth: 1, numClasses: 2 },
    blocks: [{ globalHeads: 0, convExpansion: 2, kernelSize: 7, ffnRatio: 1 }],
  });
  const params = initBlock(arch.model, arch.blocks[0], new Rng(3));
  const tokens = 65;
  const x = tf.randomNormal([2, tokens, 12], 0, 1, 'float32', 1) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  const head = tokenSensitivity(
    (input) => localHeads(params.local!, input, arch.model, arch.blocks[0], { training: false }),
    x,
    30,
  );
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(reached(head), reached(kernelReach([7], tokens, 30)));
  assert.deepEqual(reached(head), [27, 28, 29, 30, 31, 32, 33]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => tokenSensitivity((input) => input, x, tokens), /not in 0\.\.64/);
});

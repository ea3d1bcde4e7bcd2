// The step-by-step block (lib/notebook/block-trace.ts): same output as block() for an all-attention, a mixed and an
// all-local block with each local module, the shapes of its steps, and its parameters adding up to
// lib/model/flops.ts's count.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { block, initBlock } from '../lib/model/block';
import { traceBlock } from '../lib/notebook/block-trace';
import { modelCost } from '../lib/model/flops';
import { Rng } from '../lib/core/random';
import { validateArchitecture, type Architecture } from '../lib/model/arch';
import { tinyArchitecture } from './helpers';

before(async () => {
  await tf.setBackend('cpu');
});

/** The tiny model with each local module (Table 6): window attention over 5 tokens, 3x3 conv2d without CLS. */
const variants = (): Architecture[] => {
  const tiny = tinyArchitecture();
  return [
    tiny,
    validateArchitecture({
      ...tiny,
      name: 'tiny-window',
      model: { ...tiny.model, localModule: 'window-attention', localWindow: 5 },
    }),
    validateArchitecture({
      name: 'tiny-conv2d',
      model: { ...tiny.model, localModule: 'conv2d', classToken: false },
      blocks: tiny.blocks.map((b) => (b.kernelSize === null ? b : { ...b, kernelSize: 3 })),
    }),
  ];
};

test('the traced block computes what block() computes, for every kind of block and local module, and frees its intermediates', () => {
  for (const arch of variants()) {
    const cost = modelCost(arch);
    const tokens = arch.model.classToken ? 17 : 16;
    arch.blocks.forEach((gene, i) => {
      const what = `${arch.name} block ${i}`;
      const params = initBlock(arch.model, gene, new Rng(i));
      const x = tf.randomNormal([2, tokens, 12], 0, 1, 'float32', i) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      const { steps, output } = traceBlock(params, x, arch.model, gene, { training: false });
      assert.equal(tf.memory().numTensors, before + 1, `${what}: only the output stays`);
      const expected = block(params, x, arch.model, gene, { training: false });
      assert.ok(
        tf.max(tf.abs(tf.sub(output, expected))).dataSync()[0] < 1e-5,
        `${what}: traced output differs from block()`,
      );
      assert.equal(
        steps.reduce((n, s) => n + s.params, 0),
        cost.blocks[i].params,
        `${what}: parameters`,
      );
      assert.deepEqual(steps[steps.length - 1].shape, [2, tokens, 12]);
      assert.equal(
        steps.some((s) => s.part === 'global'),
        gene.globalHeads > 0,
      );
      assert.equal(
        steps.some((s) => s.part === 'local'),
        gene.globalHeads < arch.model.heads,
      );
      assert.equal(
        steps.some((s) => s.part === 'local' && s.step === 'attention weights (softmax)'),
        arch.model.localModule === 'window-attention' && gene.globalHeads < arch.model.heads,
        what,
      );
    });
  }
});

test('the mixed block splits channels 4 | 8 and shows the attention weights and the conv stages', () => {
  const arch = tinyArchitecture();
  const gene = arch.blocks[1]; // G = 1 (head dim 4, ev 2), E = 2, K = 3, r = 2
  const params = initBlock(arch.model, gene, new Rng(0));
  const x = tf.randomNormal([2, 17, 12], 0, 1, 'float32', 0) as tf.Tensor3D;
  const { steps } = traceBlock(params, x, arch.model, gene, { training: false });
  const shape = (step: string) => steps.find((s) => s.step === step)?.shape;
  assert.deepEqual(shape('channel split: first Cg'), [2, 17, 4]);
  assert.deepEqual(shape('channel split: last Cl'), [2, 17, 8]);
  assert.deepEqual(shape('qkv linear'), [2, 17, 24]);
  assert.deepEqual(shape('split q | k | v and heads'), [3, 2, 1, 17, 8]);
  assert.deepEqual(shape('attention weights (softmax)'), [2, 1, 17, 17]);
  assert.deepEqual(shape('GLU'), [2, 17, 16]);
  assert.deepEqual(shape('depthwise conv, K = 3'), [2, 17, 16]);
  assert.deepEqual(shape('concat [attention, conv]'), [2, 17, 12]);
  assert.deepEqual(shape('fc1'), [2, 17, 24]);
});

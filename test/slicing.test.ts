// Weight sharing by slicing: a path's gradient reaches only its slices, paths share the weights they overlap on, a
// path computes what a plain model with its slices computes, and a killed sliced supernet resumes exactly.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { globalChannels, localChannels, localKernel, type Architecture, type BlockGene } from '../lib/model/arch';
import type { ConvParams } from '../lib/model/block';
import { initBackend } from '../lib/kernels/backend';
import { loadDataset } from '../lib/data/datasets';
import { forward, initModel } from '../lib/model/model';
import { SCALE_CONFIGS } from '../lib/config/scales';
import { trainSupernet } from '../lib/search/stages';
import { fullSpace, type SearchSpace } from '../lib/search/space';
import {
  createSupernet,
  disposeSupernet,
  pathModel,
  pathParams,
  scorePath,
  supernetVariables,
} from '../lib/search/supernet';
import { smoothedCrossEntropy } from '../lib/train/train';
import { seededBatch, tinyBaseline } from './helpers';

const MODEL = tinyBaseline().model; // width 12, 3 heads of 4 channels, a 4 x 4 patch grid
const SPACE = fullSpace(MODEL);
const [K5, K9, K13] = [17, 31, 45].map((k) => localKernel(MODEL, k));

function gene(space: SearchSpace, wanted: Partial<BlockGene>): BlockGene {
  const found = space.choices[0].find((g) => Object.entries(wanted).every(([k, v]) => g[k as keyof BlockGene] === v));
  assert.ok(found, `no choice ${JSON.stringify(wanted)}`);
  return found;
}

/** Assigns every tensor of `source` to the variable at the same place in `target` (same structure). */
function copyInto(target: object, source: object): void {
  for (const [key, value] of Object.entries(target)) {
    const from = (source as Record<string, unknown>)[key];
    if (value instanceof tf.Variable) value.assign(from as tf.Tensor);
    else if (typeof value === 'object' && value !== null) copyInto(value, from as object);
  }
}

/** Per element of `variable`, whether the path's gradient is non-zero there. */
function gradientMask(
  net: ReturnType<typeof createSupernet>,
  arch: Architecture,
  name: string,
): { shape: number[]; nonzero: boolean[] } {
  const model = pathModel(net, arch);
  const { x, y } = seededBatch(8, 28, 1, 10);
  const v = model.variables.get(name)!;
  const { grads } = tf.variableGrads(() => smoothedCrossEntropy(model.logits(x, { training: true }), y, 0), [v]);
  const g = grads[v.name];
  const nonzero = [...g.dataSync()].map((value) => value !== 0);
  tf.dispose([x, y, g]);
  return { shape: v.shape, nonzero };
}

/** Elements of a [rows, columns] matrix inside the row range and a run of `width` columns from one of `starts`. */
const inside = (shape: number[], rows: [number, number], starts: number[], width: number) => (i: number) => {
  const [r, c] = [Math.floor(i / shape[1]), i % shape[1]];
  return r >= rows[0] && r < rows[1] && starts.some((a) => c >= a && c < a + width);
};

function assertOnly(mask: { shape: number[]; nonzero: boolean[] }, region: (i: number) => boolean, what: string) {
  const outside = mask.nonzero.filter((nz, i) => nz && !region(i)).length;
  const inRegion = mask.nonzero.filter((_, i) => region(i));
  assert.equal(outside, 0, `${what}: ${outside} gradients outside the slice`);
  assert.ok(inRegion.filter(Boolean).length > inRegion.length / 2, `${what}: most of the slice should get gradient`);
}

test('a sliced path trains only its slices: first attention channels, last conv channels, centre taps, first FFN columns', async () => {
  await initBackend({ backend: 'cpu' });
  const net = createSupernet(SPACE, 3, 'sliced');
  // The largest weights of block 0: attention over up to 12 channels with ev up to 2 (inner 24 per q, k, v), the conv
  // path over up to 12 channels with E up to 4 (48) and 13 taps, the FFN hidden up to 6 * 12.
  const g = gene(SPACE, { globalHeads: 1, qkvRatio: 0.5, convExpansion: 2, kernelSize: K5, ffnRatio: 2 });
  const arch = { model: MODEL, blocks: [g, g] };
  const [cg, cl] = [globalChannels(MODEL, g), localChannels(MODEL, g)]; // 4 and 8
  const qkv = gradientMask(net, arch, 'blocks.0.attn.qkv.weight');
  assert.deepEqual(qkv.shape, [12, 72]);
  assertOnly(qkv, inside(qkv.shape, [0, cg], [0, 24, 48], 2), 'qkv');
  const expand = gradientMask(net, arch, 'blocks.0.attn.net.1.weight');
  assert.deepEqual(expand.shape, [12, 96]);
  assertOnly(expand, inside(expand.shape, [12 - cl, 12], [0, 48], 16), 'expand');
  const depthwise = gradientMask(net, arch, 'blocks.0.attn.net.3.conv.weight');
  assert.deepEqual(depthwise.shape, [K13, 48]);
  const offset = (K13 - K5) / 2;
  assertOnly(depthwise, inside(depthwise.shape, [offset, offset + K5], [0], 16), 'depthwise taps');
  const project = gradientMask(net, arch, 'blocks.0.attn.net.6.weight');
  assertOnly(project, inside(project.shape, [0, 16], [12 - cl], cl), 'project');
  const fc1 = gradientMask(net, arch, 'blocks.0.mlp.fc1.weight');
  assert.deepEqual(fc1.shape, [12, 72]);
  assertOnly(fc1, inside(fc1.shape, [0, 12], [0], 24), 'fc1');
  // The conv shape's own BatchNorm (8 * 2 channels), created for this path.
  assert.deepEqual(pathModel(net, arch).variables.get(`blocks.0.attn.net.4.g1e2k${K5}.weight`)?.shape, [16]);
  disposeSupernet(net);
});

test('sliced paths share what they overlap on, and compute what a plain model with their slices computes', async () => {
  await initBackend({ backend: 'cpu' });
  const net = createSupernet(SPACE, 4, 'sliced');
  const small = gene(SPACE, { globalHeads: 1, qkvRatio: 1, convExpansion: 1, kernelSize: K5, ffnRatio: 2 });
  const large = gene(SPACE, { globalHeads: 1, qkvRatio: 1, convExpansion: 1, kernelSize: K9, ffnRatio: 4 });
  const weightsOf = (g: BlockGene) =>
    tf.tidy(() => {
      const b = pathParams(net, { model: MODEL, blocks: [g, g] }).blocks[0];
      return {
        taps: (b.local as ConvParams<tf.Tensor>).depthwise.weight.arraySync() as number[][],
        fc1: b.mlp.fc1.weight.arraySync() as number[][],
      };
    });
  const [a, b] = [weightsOf(small), weightsOf(large)];
  const offset = (K9 - K5) / 2;
  assert.deepEqual(a.taps, b.taps.slice(offset, offset + K5), 'the small kernel is the centre of the large one');
  assert.deepEqual(
    a.fc1,
    b.fc1.map((row) => row.slice(0, 24)),
    'r = 2 is the first half of r = 4',
  );

  // Copy one path's slices into an ordinary model of the same architecture: same logits, train and eval mode.
  const arch: Architecture = {
    model: MODEL,
    blocks: [large, gene(SPACE, { globalHeads: 2, qkvRatio: 2, convExpansion: 4, kernelSize: K13, ffnRatio: 6 })],
  };
  const plain = initModel(arch, 9);
  copyInto(plain, pathParams(net, arch));
  const { x } = seededBatch(4, 28, 1, 10);
  for (const training of [true, false]) {
    const [got, want] = tf.tidy(() => [
      forward(pathParams(net, arch), x, arch, { training }).arraySync(),
      forward(plain, x, arch, { training }).arraySync(),
    ]);
    assert.deepEqual(got, want, `training=${training}`);
  }
  disposeSupernet(net);
});

test(
  'a sliced supernet killed mid-epoch resumes to the same weights as an uninterrupted run; memory stays flat',
  { timeout: 120_000 },
  async () => {
    await initBackend({ backend: 'cpu' });
    const data = await loadDataset('fashion-mnist', { seed: 0, limit: { train: 96, val: 32, test: 32 } });
    const smoke = SCALE_CONFIGS.smoke.search;
    const config = {
      ...smoke,
      weightSharing: 'sliced' as const,
      supernet: { ...smoke.supernet, epochs: 3, batchSize: 32 },
    };
    const budget = {};
    const quiet = () => {};
    const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'glit-sliced-')));

    const before = tf.memory().numTensors;
    const whole = await trainSupernet(dirs[0], SPACE, data, config, budget, quiet);
    const wholeValues = new Map([...supernetVariables(whole)].map(([k, v]) => [k, v.dataSync().slice()]));
    assert.ok(
      [...wholeValues.keys()].some((k) => /^blocks\.0\.attn\.net\.4\.g\d+e/.test(k)),
      'conv-shape BatchNorms are saved',
    );
    // Nothing but the supernet's variables stays allocated (the optimizer's moments are disposed with it).
    assert.equal(tf.memory().numTensors - before, wholeValues.size);
    const score = await scorePath(whole, { model: MODEL, blocks: [SPACE.choices[0][0], SPACE.choices[1][0]] }, data, {
      recalibrationBatches: 1,
      batchSize: 32,
    });
    assert.ok(score >= 0 && score <= 1);
    disposeSupernet(whole);

    // Killed in epoch 2: the progress callback throws after epoch 1's state was saved.
    await assert.rejects(
      trainSupernet(dirs[1], SPACE, data, config, budget, quiet, (p) => {
        if (p.task.includes('epoch 2/') && p.done === 2) throw new Error('killed');
      }),
      /killed/,
    );
    const resumed = await trainSupernet(dirs[1], SPACE, data, config, budget, quiet);
    const got = supernetVariables(resumed);
    assert.deepEqual([...got.keys()].sort(), [...wholeValues.keys()].sort());
    for (const [name, v] of got) assert.deepEqual(v.dataSync(), wholeValues.get(name), name);
    disposeSupernet(resumed);

    // A separate-weights run refuses the sliced state rather than loading it wrongly.
    await assert.rejects(
      trainSupernet(dirs[1], SPACE, data, { ...config, weightSharing: 'separate' }, budget, quiet),
      /sliced/,
    );
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  },
);

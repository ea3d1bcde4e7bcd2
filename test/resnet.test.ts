// The ResNet-proxy (lib/model/resnet.ts, lib/experiments/resnet-proxy.ts): parity with an independent PyTorch ResNet
// (test/reference/resnet_torch.py, float64) on logits, loss, gradients and BatchNorm statistics in train and eval mode;
// params and FLOPs counted by hand; resnetForFlops within the budget; a resumed training equal to an uninterrupted one.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, releaseBackend, type BackendName } from '../lib/kernels/backend';
import { loadDataset, type DatasetSplits } from '../lib/data/datasets';
import { readNpy, writeNpy } from '../lib/io/npy';
import { readSafetensors, toFloat32, writeSafetensors } from '../lib/io/safetensors';
import { Rng } from '../lib/core/random';
import { presetArchitecture } from '../lib/model/arch';
import { modelCost } from '../lib/model/flops';
import {
  disposeResnet,
  fromTorchResnetLayout,
  initResnet,
  resnetCost,
  resnetForFlops,
  resnetModel,
  resnetVariables,
  toTorchResnetLayout,
  torchStateDict,
  type ResnetConfig,
  type ResnetParams,
} from '../lib/model/resnet';
import { trainResnetProxy } from '../lib/experiments/resnet-proxy';
import { SCALE_CONFIGS } from '../lib/config/scales';
import { ROOT, assertSameRunFiles, tempFolder } from './helpers';
import {
  assertModes,
  checkReferencePython,
  compareModes,
  nhwc,
  noiseImages,
  runReference,
  SMOOTHING,
  type ModelUnderTest,
} from './reference-compare';

const DRIVER = path.join(ROOT, 'test/reference/resnet_torch.py');
const folder = tempFolder('glit-resnet-');

/** A config for these tests: images, classes, the stem as [width, kernel size, stride], each stage as [width, blocks]. */
function testResnet(
  name: string,
  [imageSize, inChannels, numClasses]: [number, number, number],
  [width, kernelSize, stride]: [number, number, number],
  ...stages: [number, number][]
): ResnetConfig {
  const blocks = stages.map(([w, b]) => ({ width: w, blocks: b }));
  return { name, imageSize, inChannels, numClasses, stem: { width, kernelSize, stride }, stages: blocks };
}

/** 8-px images of 2 channels, 3 classes: an identity block, a stride-2 block with a 1x1 downsample, an identity block. */
const TINY = testResnet('tiny-resnet', [8, 2, 3], [4, 3, 1], [4, 1], [6, 2]);

/** A 5x5 stride-2 stem on odd-sized images (9 -> 5 -> 3 px), 3 channels, 2 classes: the strided conv's padding. */
const ODD = testResnet('odd-resnet', [9, 3, 2], [3, 5, 2], [3, 1], [5, 1]);

after(() => releaseBackend());

/** Trained-looking values: BatchNorm weights and running variances around 1, non-zero biases and running means. */
function randomize(params: ResnetParams, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, v] of resnetVariables(params)) {
    const fanIn = v.rank > 1 ? v.size / (v.shape as number[])[v.rank - 1] : 0; // weights are [..., out] here
    const scale = fanIn > 0 ? Math.sqrt(3 / fanIn) : 0.5;
    const offset = /(bn\d|downsample\.1)\.weight$|running_var$/.test(name) ? 1 : 0;
    v.assign(
      tf.tensor(
        Float32Array.from({ length: v.size }, () => offset + scale * (2 * rng.uniform() - 1)),
        v.shape,
      ),
    );
  }
}

for (const config of [TINY, ODD]) {
  describe(`parity with PyTorch: ${config.name}`, () => {
    const batch = 4;
    const labels = Array.from({ length: batch }, (_, i) => (2 * i + 1) % config.numClasses);
    const w = (f: string) => folder(`${config.name}-${f}`);
    let ref: ReturnType<typeof readSafetensors>;
    let checkpoint: ReturnType<typeof readSafetensors>;

    before(async () => {
      checkReferencePython();
      await initBackend({ backend: 'wasm' });
      const params = initResnet(config, 1);
      randomize(params, 1);
      writeSafetensors(w('model.safetensors'), torchStateDict(params));
      disposeResnet(params);
      writeNpy(w('x.npy'), noiseImages([batch, config.inChannels, config.imageSize, config.imageSize], 3));
      fs.writeFileSync(w('config.json'), JSON.stringify(config));
      runReference(DRIVER, [
        ...['--config', w('config.json'), '--checkpoint', w('model.safetensors'), '--input', w('x.npy')],
        ...['--labels', labels.join(','), '--smoothing', String(SMOOTHING), '--out', w('ref.safetensors')],
      ]);
      ref = readSafetensors(w('ref.safetensors'));
      checkpoint = readSafetensors(w('model.safetensors'));
    });

    for (const backend of ['cpu', 'wasm'] as BackendName[]) {
      test(`${backend}: logits, loss, gradients and running statistics match in train and eval mode`, async (t) => {
        await initBackend({ backend });
        const params = initResnet(config, 2);
        const stored = readSafetensors(w('model.safetensors'));
        for (const [name, v] of resnetVariables(params)) {
          const s = stored.tensors.get(name)!;
          v.assign(tf.tidy(() => fromTorchResnetLayout(name, tf.tensor(toFloat32(s), s.shape))));
        }
        const x = nhwc(readNpy(w('x.npy')));
        const y = tf.tensor1d(labels, 'int32');
        const model: ModelUnderTest = {
          ...resnetModel(params, config),
          torchLayout: toTorchResnetLayout,
          buffers: async () => new Map(torchStateDict(params).map(([n, e]) => [n, Float32Array.from(e.values)])),
        };
        const modes = await compareModes(model, x, y, ref, checkpoint);
        tf.dispose([x, y]);
        disposeResnet(params);
        assertModes(t, `${config.name} on ${backend}`, modes);
      });
    }
  });
}

test('params and FLOPs of a tiny ResNet, counted by hand', () => {
  // stem 3x3, 2 -> 4 on 8x8: 72 weights + BN 8, 72 * 64 MACs. layer1.0 (4 -> 4, 8x8): 2 * 144 + BN 16, 288 * 64.
  // layer2.0 (4 -> 6, stride 2, 4x4): 216 + 324 + 1x1 24 + 3 BNs 36, 564 * 16. layer2.1 (6 -> 6): 648 + BN 24,
  // 648 * 16. fc 6 -> 3: 18 + 3, 18 MACs.
  const cost = resnetCost(TINY);
  assert.equal(cost.params, 80 + 304 + 600 + 672 + 21);
  assert.equal(cost.flops, 72 * 64 + 288 * 64 + 564 * 16 + 648 * 16 + 18);
  assert.equal(cost.macs, cost.flops);
  const params = initResnet(TINY, 0);
  const trainable = [...resnetModel(params, TINY).variables.values()].reduce((n, v) => n + v.size, 0);
  disposeResnet(params);
  assert.equal(trainable, cost.params, 'the count should be the trainable variables of the built model');
  assert.throws(() => initResnet({ ...TINY, stages: [] }, 0), /ResNet config: stages is empty/);
  assert.throws(() => resnetCost({ ...TINY, stem: { ...TINY.stem, kernelSize: 2 } }), /stem.kernelSize must be odd/);
  // ODD: the 5x5 stride-2 stem makes 9 px 5 px, layer2's stride 2 makes 5 px 3 px.
  assert.equal(resnetCost(ODD).flops, 25 * 3 * 3 * 25 + (9 * 9 + 9 * 9) * 25 + (9 * 15 + 9 * 25 + 15) * 9 + 5 * 2);
});

test('resnetForFlops: the widest ResNet-18 layout within the budget of the deit-proxy baseline', () => {
  const budget = modelCost(presetArchitecture('deit-proxy')).flops;
  const config = resnetForFlops(budget, 28, 1, 10);
  const w = config.stem.width;
  assert.deepEqual(
    config.stages.map((s) => [s.width, s.blocks]),
    [
      [w, 2],
      [2 * w, 2],
      [4 * w, 2],
      [8 * w, 2],
    ],
  );
  assert.ok(resnetCost(config).flops <= budget, 'within the budget');
  assert.ok(resnetCost(resnetForFlops(1.02 * budget, 28, 1, 10)).flops >= resnetCost(config).flops);
  const wider = {
    ...config,
    stem: { ...config.stem, width: w + 1 },
    stages: config.stages.map((s, i) => ({ ...s, width: (w + 1) * 2 ** i })),
  };
  assert.ok(resnetCost(wider).flops > budget, 'one more base channel would be over the budget');
  assert.throws(() => resnetForFlops(100, 28, 1, 10), /even base width 1 costs \d+ FLOPs, over the budget of 100/);
});

describe('trainResnetProxy', () => {
  const config: ResnetConfig = { ...TINY, name: 'resume-resnet', imageSize: 28, inChannels: 1, numClasses: 10 };
  const trainConfig = { ...SCALE_CONFIGS.smoke.train, epochs: 2, batchSize: 16, dropPath: 0.1 };
  let data: DatasetSplits;
  before(async () => {
    await initBackend({ backend: 'wasm' });
    data = await loadDataset('fashion-mnist', { seed: 0, limit: { train: 48, val: 16, test: 16 } });
  });

  test('a run stopped after epoch 1 and called again ends exactly as an uninterrupted one', async () => {
    const tensors = tf.memory().numTensors;
    const whole = await trainResnetProxy(folder('whole'), config, data, trainConfig, () => {});
    assert.equal(tf.memory().numTensors, tensors, 'a run should leave no tensors behind');
    assert.equal(whole.params, resnetCost(config).params);
    assert.equal(whole.name, 'resume-resnet');
    const stop = (line: string) => {
      if (line.includes('epoch 1/2')) throw new Error('stopped after epoch 1');
    };
    await assert.rejects(trainResnetProxy(folder('resumed'), config, data, trainConfig, stop), /stopped after epoch 1/);
    assert.equal(tf.memory().numTensors, tensors, 'a stopped run should leave no tensors behind');
    assert.ok(fs.existsSync(folder('resumed/train.safetensors')), 'the state after epoch 1 should be saved');
    const lines: string[] = [];
    const resumed = await trainResnetProxy(folder('resumed'), config, data, trainConfig, (l) => lines.push(l));
    assert.match(lines[0], /resuming resume-resnet after epoch 1\/2/);
    assert.deepEqual({ ...resumed, seconds: 0 }, { ...whole, seconds: 0 });
    assertSameRunFiles(folder('whole'), folder('resumed'));
    const again = await trainResnetProxy(folder('whole'), config, data, trainConfig, () => assert.fail('no training'));
    assert.deepEqual(again, whole, 'a finished run is read back');
  });
});

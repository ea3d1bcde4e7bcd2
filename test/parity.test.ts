// Parity with PyTorch as the oracle: an independent reference (test/reference/glit_torch.py, run in float64) loads a
// checkpoint written from our model (seeded, trained-looking values) and computes logits, loss, gradients and the
// BatchNorm running statistics in train and eval mode; ours must agree to 1e-4 relative on every tensor. Then a
// checkpoint written by PyTorch (its own init: small activations, the other regime) runs through `glit predict`.
//
// Backends: the tiny every-block model, and its Table 6 variants (window-attention and conv2d local heads, the latter
// without a CLS token), on cpu, wasm (on both GEMMs: OpenBLAS and XNNPACK) and webgpu (Dawn on Mesa's OpenGL ES); the
// 224-px DeiT-Tiny and GLiT-Tiny on wasm only: one forward and backward at batch 2 takes ~50 s on the cpu backend here, 5-7 s on wasm.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { architectureToJson, presetArchitecture, validateArchitecture, type Architecture } from '../lib/model/arch';
import { initBackend, releaseBackend, type BackendName } from '../lib/kernels/backend';
import type { BlasMode } from '../lib/kernels/wasm/blas-matmul';
import { loadCheckpoint, saveCheckpoint, toTorchLayout } from '../lib/io/checkpoint';
import { disposeModel, initModel, namedVariables, type ModelParams } from '../lib/model/model';
import { readNpy, writeNpy, type NpyArray } from '../lib/io/npy';
import { Rng } from '../lib/core/random';
import { readSafetensors, type Safetensors } from '../lib/io/safetensors';
import { fixedModel } from '../lib/train/train';
import { ROOT, runGlit, tinyArchitecture } from './helpers';
import {
  assertModes,
  checkReferencePython,
  compareModes,
  group,
  nhwc,
  noiseImages,
  relativeError,
  runReference,
  SMOOTHING,
  TOLERANCE,
  type ModelUnderTest,
} from './reference-compare';

const DRIVER = path.join(ROOT, 'test/reference/parity.py');

let dir: string;
before(() => {
  checkReferencePython();
  dir = mkdtempSync(path.join(os.tmpdir(), 'glit-parity-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  releaseBackend();
});

const reference = (args: string[]) => runReference(DRIVER, args);

/** Seeded normal images, NCHW as PyTorch takes them. */
const images = (arch: Architecture, batch: number, seed: number): NpyArray =>
  noiseImages([batch, arch.model.inChannels, arch.model.imageSize, arch.model.imageSize], seed);

/**
 * Trained-looking values for every tensor: unit-variance activations, norms that are not the identity, non-zero biases
 * and running statistics. At init biases are 0, norms the identity and pre-activations small, so slips such as
 * swapping a norm's weight and bias, or GELU's tanh approximation, would go unseen.
 */
function randomize(params: ModelParams, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, v] of namedVariables(params)) {
    const scale = v.shape.length === 2 ? Math.sqrt(3 / v.shape[0]) : 0.5; // 2-D variables are [fan-in, ...] here
    const offset = /(norm[12]?|net\.4)\.weight$|running_var$/.test(name) ? 1 : 0;
    v.assign(
      tf.tensor(
        Float32Array.from({ length: v.size }, () => offset + scale * (2 * rng.uniform() - 1)),
        v.shape,
      ),
    );
  }
}

interface Case {
  arch: Architecture;
  batch: number;
  backends: BackendName[];
}

/** The tiny model's three blocks with another local module (Table 6): every kind of block, one tiny model per variant. */
function tinyVariant(name: string, model: Partial<Architecture['model']>, kernelSize?: number): Architecture {
  const tiny = tinyArchitecture();
  const blocks = tiny.blocks.map((b) => (b.kernelSize === null || kernelSize === undefined ? b : { ...b, kernelSize }));
  return validateArchitecture({ name, model: { ...tiny.model, ...model }, blocks });
}

/** wasm runs on each GEMM (OpenBLAS, XNNPACK), whatever GLIT_BLAS says: their layers differ (lib/kernels/wasm/). */
const withGemms = (backend: BackendName): { backend: BackendName; blas?: BlasMode; label: string }[] =>
  backend === 'wasm'
    ? [
        { backend, blas: 'on', label: 'wasm (OpenBLAS)' },
        { backend, blas: 'off', label: 'wasm (XNNPACK)' },
      ]
    : [{ backend, label: backend }];

const CASES: Case[] = [
  { arch: tinyArchitecture(), batch: 4, backends: ['cpu', 'wasm', 'webgpu'] },
  // 17 tokens, window 5: CLS and the first patches see the sequence's edge, the others a full window.
  {
    arch: tinyVariant('tiny-window-attention', { localModule: 'window-attention', localWindow: 5 }),
    batch: 4,
    backends: ['cpu', 'wasm', 'webgpu'],
  },
  // A 4x4 grid with 3x3 kernels: edges padded in both directions; no CLS token, the head pools the patch tokens.
  {
    arch: tinyVariant('tiny-conv2d', { localModule: 'conv2d', classToken: false }, 3),
    batch: 4,
    backends: ['cpu', 'wasm', 'webgpu'],
  },
  { arch: presetArchitecture('deit-tiny'), batch: 2, backends: ['wasm'] },
  { arch: presetArchitecture('glit-tiny'), batch: 2, backends: ['wasm'] },
];

for (const { arch, batch, backends } of CASES) {
  describe(`parity with PyTorch: ${arch.name}`, () => {
    let work: string;
    let ref: Safetensors;
    let checkpoint: Safetensors; // what both sides load
    let input: NpyArray;
    const labels = Array.from({ length: batch }, (_, i) => (7 * i + 3) % arch.model.numClasses);

    before(async () => {
      work = path.join(dir, arch.name!);
      mkdirSync(work);
      await initBackend({ backend: 'wasm' });
      const params = initModel(arch, 1);
      randomize(params, 1);
      await saveCheckpoint(path.join(work, 'model.safetensors'), params, arch);
      disposeModel(params);
      input = images(arch, batch, 3);
      writeNpy(path.join(work, 'x.npy'), input);
      writeFileSync(path.join(work, 'arch.json'), architectureToJson(arch));
      const w = (f: string) => path.join(work, f);
      reference([
        'check',
        '--arch',
        w('arch.json'),
        '--checkpoint',
        w('model.safetensors'),
        '--input',
        w('x.npy'),
        '--labels',
        labels.join(','),
        '--smoothing',
        String(SMOOTHING),
        '--out',
        w('ref.safetensors'),
      ]);
      ref = readSafetensors(w('ref.safetensors'));
      checkpoint = readSafetensors(w('model.safetensors'));
    });

    for (const { backend, blas, label } of backends.flatMap(withGemms)) {
      test(`${label}: logits, loss, gradients and running statistics match in train and eval mode`, async (t) => {
        await initBackend({ backend, webgpuAdapter: 'opengles', ...(blas && { blas }) });
        const params = initModel(arch, 2); // a different init: everything must come from the checkpoint
        loadCheckpoint(params, arch, path.join(work, 'model.safetensors'));
        const x = nhwc(input);
        const y = tf.tensor1d(labels, 'int32');
        const after = path.join(work, `after-${label}.safetensors`);
        const model: ModelUnderTest = {
          ...fixedModel(params, arch),
          torchLayout: (name, gradient) => toTorchLayout(name, gradient, arch.model),
          buffers: async () => {
            await saveCheckpoint(after, params, arch);
            return group(readSafetensors(after), '');
          },
        };
        const modes = await compareModes(model, x, y, ref, checkpoint);
        tf.dispose([x, y]);
        disposeModel(params);
        assertModes(t, `${arch.name} on ${label}`, modes);
      });
    }
  });
}

describe('a checkpoint written by PyTorch', () => {
  const arch = tinyArchitecture();
  const w = (f: string) => path.join(dir, 'torch', f);
  let torchLogits: NpyArray;

  before(() => {
    mkdirSync(path.join(dir, 'torch'));
    writeNpy(w('x.npy'), images(arch, 3, 11));
    writeFileSync(w('arch.json'), architectureToJson(arch));
    reference([
      'export',
      '--arch',
      w('arch.json'),
      '--seed',
      '4',
      '--input',
      w('x.npy'),
      '--out',
      w('torch.safetensors'),
      '--logits',
      w('logits.npy'),
    ]);
    torchLogits = readNpy(w('logits.npy'));
  });

  test("glit predict --json gives PyTorch's logits (architecture from the checkpoint metadata)", () => {
    const r = runGlit(['predict', '--checkpoint', w('torch.safetensors'), '--input', w('x.npy'), '--json'], {
      GLIT_BACKEND: 'wasm',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /backend wasm on /);
    const logits = Float32Array.from((JSON.parse(r.stdout).logits as number[][]).flat());
    assert.equal(logits.length, torchLogits.data.length);
    const error = relativeError(logits, torchLogits.data, 1e-6);
    assert.ok(error <= TOLERANCE, `glit predict differs from PyTorch by ${error} relative`);
  });

  test('glit predict --arch prints the top class per image', () => {
    const r = runGlit(
      ['predict', '--arch', w('arch.json'), '--checkpoint', w('torch.safetensors'), '--input', w('x.npy')],
      { GLIT_BACKEND: 'cpu' },
    );
    assert.equal(r.status, 0, r.stderr);
    const classes = r.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => Number(line.trim().split(/\s+/)[1]));
    const [batch, numClasses] = torchLogits.shape;
    const expected = Array.from({ length: batch }, (_, i) => {
      const row = Array.from(torchLogits.data.subarray(i * numClasses, (i + 1) * numClasses));
      return row.indexOf(Math.max(...row));
    });
    assert.deepEqual(classes, expected, r.stdout);
  });
});

// The paper's ablation variants: uniform head distributions (Table 1) and the local modules of Table 6
// (lib/model/local-modules.ts): their JSON fields and validation, kernels and windows at other grids, params and FLOPs by hand,
// checkpoint names, the locality of each module checked through gradients, and the 2-D depthwise conv's hand-written
// gradient against tfjs's own. Parity with PyTorch for the variants is in test/parity.test.ts.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  architectureToJson,
  conv2dKernel,
  localKernel,
  parseArchitecture,
  presetArchitecture,
  PRESETS,
  scaleKernel,
  validateArchitecture,
  withLocalModule,
  type Architecture,
  type ModelConfig,
} from '../lib/model/arch';
import { initBackend } from '../lib/kernels/backend';
import { block, initBlock } from '../lib/model/block';
import { loadCheckpoint, readCheckpoint, saveCheckpoint } from '../lib/io/checkpoint';
import { modelCost, parameterShapes } from '../lib/model/flops';
import { depthwiseConv2d } from '../lib/model/layers';
import { PAPER_WINDOWS } from '../lib/model/local-modules';
import { disposeModel, forward, initModel, namedVariables } from '../lib/model/model';
import { Rng } from '../lib/core/random';
import { encode, fullSpace, stage1Space, stage2Space, uniformArchitecture } from '../lib/search/space';
import { HAND_COUNTED_MODEL, seededBatch, tempFolder, tinyArchitecture } from './helpers';

before(() => initBackend({ backend: 'cpu' }));
const temp = tempFolder('glit-variants-');

const PROXY = presetArchitecture('deit-proxy').model;
const tiny = tinyArchitecture();
/** The tiny model (17 tokens, 4x4 grid) with window-attention local heads, w = 5. */
const windowTiny = validateArchitecture({
  ...tiny,
  name: 'tiny-window',
  model: { ...tiny.model, localModule: 'window-attention', localWindow: 5 },
});
/** The tiny model with 3x3 conv2d local heads, no CLS token. */
const conv2dTiny = validateArchitecture({
  name: 'tiny-conv2d',
  model: { ...tiny.model, localModule: 'conv2d', classToken: false },
  blocks: tiny.blocks.map((b) => (b.kernelSize === null ? b : { ...b, kernelSize: 3 })),
});

// --- the JSON fields ---------------------------------------------------------------------------------------------------

test("existing architecture JSON keeps its meaning: the new model fields default to the paper's model", () => {
  for (const name of Object.keys(PRESETS)) {
    const json = JSON.parse(architectureToJson(presetArchitecture(name)));
    assert.deepEqual(
      [json.model.localModule, json.model.localWindow, json.model.classToken],
      ['conv1d', null, true],
      name,
    );
    delete json.model.localModule;
    delete json.model.localWindow;
    delete json.model.classToken;
    assert.deepEqual(validateArchitecture(json), presetArchitecture(name), name);
  }
  assert.deepEqual(parseArchitecture(architectureToJson(windowTiny)), windowTiny);
  assert.deepEqual(parseArchitecture(architectureToJson(conv2dTiny)), conv2dTiny);
});

test('window attention has no conv choices: E and K are dropped from every gene', () => {
  assert.deepEqual(
    windowTiny.blocks.map((b) => [b.globalHeads, b.qkvRatio, b.convExpansion, b.kernelSize]),
    [
      [3, 1, null, null],
      [1, 2, null, null],
      [0, null, null, null],
    ],
  );
  const noConvFields = {
    ...windowTiny,
    blocks: windowTiny.blocks.map(({ globalHeads, qkvRatio, ffnRatio }) => ({ globalHeads, qkvRatio, ffnRatio })),
  };
  assert.deepEqual(validateArchitecture(noConvFields), windowTiny, 'and they are not required');
});

test('validation names the field and the fix for each bad variant', () => {
  const model = (fields: Partial<Record<keyof ModelConfig, unknown>>) => ({
    ...tiny,
    model: { ...tiny.model, ...fields },
  });
  const cases: [unknown, RegExp][] = [
    [
      model({ localModule: 'conv3d' }),
      /^v\.json: model\.localModule: must be one of "conv1d", "window-attention", "conv2d", got "conv3d"$/,
    ],
    [
      model({ localModule: 'window-attention' }),
      /model\.localWindow: window attention needs an odd window w \(centred on each token\) of at most the 17 tokens, got null/,
    ],
    [
      model({ localModule: 'window-attention', localWindow: 4 }),
      /model\.localWindow: window attention needs an odd window .* got 4/,
    ],
    [
      model({ localModule: 'window-attention', localWindow: 19 }),
      /model\.localWindow: .*at most the 17 tokens, got 19/,
    ],
    [
      model({ localModule: 'window-attention', localWindow: 17, classToken: false }),
      /model\.localWindow: .*at most the 16 tokens, got 17/,
    ],
    [
      model({ localWindow: 5 }),
      /model\.localWindow: only applies to localModule "window-attention" \(this model's is "conv1d"\): remove it/,
    ],
    [
      model({ localModule: 'conv2d' }),
      /model\.classToken: localModule "conv2d" convolves the patch grid, which has no place for a CLS token: set classToken to false/,
    ],
    [model({ classToken: 'no' }), /model\.classToken: must be true or false, got "no"/],
    // tiny's last block has K = 5, more than the 4x4 grid
    [
      model({ localModule: 'conv2d', classToken: false }),
      /blocks\[2\]\.kernelSize: with localModule "conv2d" K is the side of a k x k kernel and must be at most the 4x4 patch grid, got 5/,
    ],
  ];
  for (const [value, message] of cases)
    assert.throws(() => validateArchitecture(value, 'v.json'), { name: 'ArchitectureError', message }, String(message));
  // a CLS-less model with the other local modules is valid (e.g. to separate the head's effect from the conv's)
  assert.equal(validateArchitecture(model({ classToken: false })).model.classToken, false);
});

// --- kernels, windows, variants of an architecture ----------------------------------------------------------------

test('2-D kernels reach as many rows as the 1-D ones: 17, 31, 45 -> 3, 3, 5 at 14x14 and at 7x7, clipped to the grid', () => {
  assert.deepEqual(
    [17, 31, 45].map((k) => conv2dKernel(k, 14)),
    [3, 3, 5],
  );
  const conv2dProxy = { ...PROXY, localModule: 'conv2d' as const, classToken: false };
  assert.deepEqual(
    [17, 31, 45].map((k) => localKernel(conv2dProxy, k)),
    [3, 3, 5],
  );
  assert.deepEqual(
    [17, 31, 45].map((k) => localKernel(PROXY, k)),
    [9, 17, 23],
    'conv1d: scaleKernel',
  );
  assert.equal(conv2dKernel(45, 4), 3, 'at most the largest odd side that fits a 4x4 grid');
});

test("Table 6's windows scale like the kernels (odd, centred): 15, 29, 49 at 14x14, 7, 15, 25 at 7x7", () => {
  assert.deepEqual(
    PAPER_WINDOWS.map((w) => scaleKernel(w, 14)),
    [15, 29, 49],
  );
  assert.deepEqual(
    PAPER_WINDOWS.map((w) => scaleKernel(w, 7)),
    [7, 15, 25],
  );
  assert.ok(
    scaleKernel(28, 7) < scaleKernel(31, 7) && scaleKernel(31, 7) < scaleKernel(49, 7),
    'the conv kernel stays between the 2nd and 3rd window',
  );
});

test('withLocalModule turns a conv1d architecture into each Table 6 variant', () => {
  const glit = presetArchitecture('glit-proxy');
  const conv2d = withLocalModule(glit, 'conv2d');
  assert.equal(conv2d.name, 'glit-proxy-conv2d');
  assert.deepEqual(
    [conv2d.model.localModule, conv2d.model.classToken, conv2d.model.localWindow],
    ['conv2d', false, null],
  );
  assert.deepEqual(
    conv2d.blocks.map((b) => b.kernelSize),
    [null, 3, 3, null, 5, 3],
    'from 17, 17, 23 at 7x7',
  );
  assert.deepEqual(
    conv2d.blocks.map((b) => [b.globalHeads, b.qkvRatio, b.convExpansion, b.ffnRatio]),
    glit.blocks.map((b) => [b.globalHeads, b.qkvRatio, b.convExpansion, b.ffnRatio]),
  );
  const window = withLocalModule(glit, 'window-attention', 15);
  assert.equal(window.name, 'glit-proxy-window-attention-15');
  assert.deepEqual([window.model.localWindow, window.model.classToken], [15, true]);
  assert.ok(window.blocks.every((b) => b.kernelSize === null && b.convExpansion === null));
  assert.deepEqual(withLocalModule(glit, 'conv1d'), { ...glit, name: 'glit-proxy-conv1d' });
  assert.throws(
    () => withLocalModule(conv2d, 'window-attention', 15),
    /model\.localModule is "conv2d": convert from a "conv1d" architecture/,
  );
  assert.throws(() => withLocalModule(glit, 'window-attention'), /model\.localWindow: window attention needs/);
});

test("uniformArchitecture: the same (G, L) in every block with stage 1's low-level choices (Table 1)", () => {
  assert.deepEqual(
    uniformArchitecture(PROXY, 3).blocks,
    presetArchitecture('deit-proxy').blocks,
    '(3,0) is the DeiT-style baseline',
  );
  const mixed = uniformArchitecture(PROXY, 1);
  assert.equal(mixed.name, 'uniform-1-2');
  assert.ok(
    mixed.blocks.every(
      (b) =>
        JSON.stringify(b) ===
        JSON.stringify({ globalHeads: 1, qkvRatio: 1, convExpansion: 2, kernelSize: 17, ffnRatio: 4 }),
    ),
  );
  assert.deepEqual(
    uniformArchitecture(PROXY, 0, { qkvRatio: 2, convExpansion: 4, kernelSize: 45, ffnRatio: 2 }).blocks[0],
    { globalHeads: 0, qkvRatio: null, convExpansion: 4, kernelSize: 23, ffnRatio: 2 },
  );
  assert.equal(uniformArchitecture({ ...PROXY, localModule: 'conv2d', classToken: false }, 0).blocks[0].kernelSize, 3);
  assert.throws(
    () => uniformArchitecture(PROXY, 4),
    /uniformArchitecture\(G = 4\): blocks\[0\]\.globalHeads: G must be an integer in 0\.\.3/,
  );
});

test('the search spaces build for each local module, and encode tells the modules apart', () => {
  const conv2dProxy = { ...PROXY, localModule: 'conv2d' as const, classToken: false };
  assert.deepEqual(
    stage1Space(conv2dProxy).choices[0].map((g) => g.kernelSize),
    [3, 3, 3, null],
  );
  assert.deepEqual([...new Set(fullSpace(conv2dProxy).choices[0].map((g) => g.kernelSize))], [3, 5, null]);
  const windowProxy = { ...PROXY, localModule: 'window-attention' as const, localWindow: 15 };
  // the official stage-2 grid of an all-local block only varies E and K, which window attention does not have
  assert.equal(stage2Space(windowProxy, [0, 1, 3, 0, 1, 3]).choices[0].length, 1);
  assert.throws(
    () => encode(stage1Space(windowProxy), uniformArchitecture(PROXY, 1)),
    /model\.localModule is conv1d, the space's is window-attention/,
  );
});

// --- params and FLOPs by hand ------------------------------------------------------------------------------------------

test('window attention: hand-counted params, official-style FLOPs (w keys per query) and true MACs (all T keys)', () => {
  // 8x8, patch 4: 4 patches + CLS = 5 tokens, width 6, 3 heads of 2 channels, w = 3
  const arch = validateArchitecture({
    model: { ...HAND_COUNTED_MODEL, depth: 2, localModule: 'window-attention', localWindow: 3 },
    blocks: [
      { globalHeads: 0, ffnRatio: 1 },
      { globalHeads: 1, qkvRatio: 1, ffnRatio: 2 },
    ],
  });
  const cost = modelCost(arch);
  const [local, mixed] = cost.blocks;
  // Cl = 6: qkv 6*18 + 18, proj 6*6 + 6; qkv and proj 4*T*Cl^2 = 720; q.k and attn.v: 2*T*w*Cl = 180, true 2*T*T*Cl = 300
  assert.deepEqual(local.conv, { params: 126 + 42, flops: 720 + 180, macs: 720 + 300 });
  assert.deepEqual(local.attention, { params: 0, flops: 0, macs: 0 });
  // G = 1: the global head as in the paper (Cg = 2: 24 params, 3*5*4 + 2*25*2 + 5*4 = 180); Cl = 4: 4*12+12, 4*4+4;
  // 4*5*16 = 320, + 2*5*3*4 = 120, true + 2*25*4 = 200
  assert.deepEqual(mixed.attention, { params: 24, flops: 180, macs: 180 });
  assert.deepEqual(mixed.conv, { params: 60 + 20, flops: 320 + 120, macs: 320 + 200 });
  assert.deepEqual(cost.stem, { params: 6 + 30 + 96 + 6, flops: 384, macs: 384 });
  assert.deepEqual(
    parameterShapes(arch)
      .filter((t) => t.name.startsWith('blocks.1.0.attn.'))
      .map((t) => `${t.name} ${t.shape.join('x')}`),
    [
      'blocks.1.0.attn.qkv.weight 6x2',
      'blocks.1.0.attn.qkv.bias 6',
      'blocks.1.0.attn.proj.weight 2x2',
      'blocks.1.0.attn.proj.bias 2',
      'blocks.1.0.attn.local.qkv.weight 12x4',
      'blocks.1.0.attn.local.qkv.bias 12',
      'blocks.1.0.attn.local.proj.weight 4x4',
      'blocks.1.0.attn.local.proj.bias 4',
    ],
  );
});

test('conv2d: hand-counted params (no cls_token, pos_embed over the patches), k*k taps in FLOPs and MACs', () => {
  // 12x12, patch 4: a 3x3 grid, T = 9 tokens, no CLS; width 6, k = 3
  const arch = validateArchitecture({
    model: { ...HAND_COUNTED_MODEL, imageSize: 12, depth: 1, localModule: 'conv2d', classToken: false },
    blocks: [{ globalHeads: 0, convExpansion: 2, kernelSize: 3, ffnRatio: 1 }],
  });
  const cost = modelCost(arch);
  assert.equal(cost.tokens, 9);
  // pos 9*6, patch conv 6*16 + 6; the patch embedding runs on the 9 patches
  assert.deepEqual(cost.stem, { params: 54 + 102, flops: 6 * 16 * 9, macs: 864 });
  // Cl = 6, E = 2 (12 channels): pointwise 24*6+24, depthwise 12*9+12, BN 12+12, pointwise 6*12+6
  // official 9*6*12 + 9*12*9 + 9*12*6 = 648 + 972 + 648; true counts the GLU's doubled pointwise conv: + 648
  assert.deepEqual(cost.blocks[0].conv, { params: 168 + 120 + 24 + 78, flops: 2268, macs: 2916 });
  assert.deepEqual(cost.head, { params: 12 + 14, flops: 12, macs: 12 });
  const shapes = parameterShapes(arch);
  assert.deepEqual(
    shapes.slice(0, 2).map((t) => `${t.name} ${t.shape.join('x')}`),
    ['pos_embed 1x9x6', 'patch_embed.proj.weight 6x1x4x4'],
  );
  assert.deepEqual(shapes.find((t) => t.name === 'blocks.0.0.attn.net.3.conv.weight')!.shape, [12, 1, 3, 3]);
});

// --- the model: checkpoints, forward without CLS ------------------------------------------------------------------

for (const arch of [windowTiny, conv2dTiny]) {
  test(`${arch.name}: the checkpoint has lib/model/flops.ts's names, order and PyTorch shapes, and round-trips`, async () => {
    const params = initModel(arch, 1);
    const { x } = seededBatch(2, 8, 1, 4);
    tf.dispose(forward(params, x, arch, { training: true }));
    const file = temp(`${arch.name}.safetensors`);
    await saveCheckpoint(file, params, arch);
    const saved = readCheckpoint(file);
    const expected = parameterShapes(arch);
    assert.deepEqual(
      [...saved.tensors.keys()],
      expected.map((t) => t.name),
    );
    for (const t of expected) assert.deepEqual(saved.tensors.get(t.name)!.shape, t.shape, t.name);
    assert.deepEqual(saved.architecture, arch);
    const loaded = initModel(arch, 2);
    loadCheckpoint(loaded, arch, file);
    const snapshot = (p: typeof params) => [...namedVariables(p)].map(([n, v]) => [n, Array.from(v.dataSync())]);
    assert.deepEqual(snapshot(loaded), snapshot(params));
    const [a, b] = [forward(params, x, arch, { training: false }), forward(loaded, x, arch, { training: false })];
    assert.deepEqual(a.arraySync(), b.arraySync());
    tf.dispose([x, a, b]);
    disposeModel(params);
    disposeModel(loaded);
  });
}

test('without a CLS token there is no cls_token variable and the head reads the mean of the normed patch tokens', () => {
  const params = initModel(conv2dTiny, 1);
  assert.equal(namedVariables(params).has('cls_token'), false);
  assert.deepEqual(params.posEmbed.shape, [1, 16, 12]);
  const { x } = seededBatch(3, 8, 1, 4);
  const logits = forward(params, x, conv2dTiny, { training: false });
  assert.deepEqual(logits.shape, [3, 4]);
  // a head that ignored some tokens would not see them: every patch token moves the logits
  const grads = tf.grad((input) => forward(params, input as tf.Tensor4D, conv2dTiny, { training: false }).sum())(x);
  const perPatch = tf.tidy(() => tf.abs(grads).reshape([3, 4, 2, 4, 2]).sum([0, 2, 4]).arraySync() as number[][]);
  assert.ok(
    perPatch.flat().every((v) => v > 0),
    JSON.stringify(perPatch),
  );
  tf.dispose([x, logits, grads]);
  disposeModel(params);
});

// --- locality, through gradients ----------------------------------------------------------------------------------------

const variablesOf = (o: object): tf.Variable[] =>
  Object.values(o).flatMap((v) =>
    v instanceof tf.Variable ? [v] : typeof v === 'object' && v !== null ? variablesOf(v) : [],
  );

/** Which input tokens the output token `query` of an all-local block depends on (eval mode: BatchNorm is per token). */
function dependsOn(arch: Architecture, query: number): number[] {
  const gene = arch.blocks[2]; // all local
  const params = initBlock(arch.model, gene, new Rng(4));
  const tokens = arch.model.classToken ? 17 : 16;
  const x = tf.randomNormal([2, tokens, arch.model.width], 0, 1, 'float32', 7) as tf.Tensor3D;
  const g = tf.grad((input) =>
    tf
      .slice(block(params, input as tf.Tensor3D, arch.model, gene, { training: false }), [0, query, 0], [2, 1, -1])
      .sum(),
  )(x);
  const perToken = tf.tidy(() => tf.abs(g).sum([0, 2]).arraySync() as number[]);
  tf.dispose([x, g, ...variablesOf(params)]);
  return perToken.flatMap((v, j) => (v > 0 ? [j] : []));
}

test("window attention: a token's output depends exactly on the w tokens around it in the sequence (CLS is token 0)", () => {
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  assert.deepEqual(dependsOn(windowTiny, 0), [0, 1, 2], 'CLS sees the first (w - 1) / 2 patches');
  assert.deepEqual(dependsOn(windowTiny, 1), [0, 1, 2, 3]);
  assert.deepEqual(dependsOn(windowTiny, 8), range(6, 10));
  assert.deepEqual(dependsOn(windowTiny, 16), [14, 15, 16]);
});

test("conv2d: a patch's output depends exactly on its k x k neighbours on the grid (row-major tokens)", () => {
  // 4x4 grid, k = 3: patch (1, 2) = token 6 sees rows 0-2, columns 1-3; corner (3, 3) = token 15 sees rows 2-3, columns 2-3
  assert.deepEqual(dependsOn(conv2dTiny, 6), [1, 2, 3, 5, 6, 7, 9, 10, 11]);
  assert.deepEqual(dependsOn(conv2dTiny, 15), [10, 11, 14, 15]);
  assert.deepEqual(dependsOn(conv2dTiny, 0), [0, 1, 4, 5]);
});

// --- the 2-D depthwise conv ---------------------------------------------------------------------------------------------

test("depthwiseConv2d's hand-written gradient equals tfjs's own (cpu has the backprop kernels), non-square kernel", () => {
  const rng = new Rng(9);
  const normal = (shape: number[]) =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()),
      shape,
    );
  const [x, w, bias, dyWeights] = [normal([3, 4, 5, 2]), normal([3, 5, 2]), normal([2]), normal([3, 4, 5, 2])];
  const ours = (xi: tf.Tensor, wi: tf.Tensor) =>
    depthwiseConv2d({ weight: wi as tf.Variable, bias: bias as tf.Variable }, xi as tf.Tensor4D)
      .mul(dyWeights)
      .sum();
  const native = (xi: tf.Tensor, wi: tf.Tensor) =>
    tf
      .depthwiseConv2d(xi as tf.Tensor4D, wi.reshape([3, 5, 2, 1]) as tf.Tensor4D, 1, [
        [0, 0],
        [1, 1],
        [2, 2],
        [0, 0],
      ])
      .add(bias)
      .mul(dyWeights)
      .sum();
  const [value, expectedValue] = [ours(x, w), native(x, w)];
  const [dx, dw] = tf.grads(ours)([x, w]);
  const [edx, edw] = tf.grads(native)([x, w]);
  const close = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  assert.ok(close(value, expectedValue) < 1e-4);
  assert.ok(close(dx, edx) < 1e-4, `dx differs by ${close(dx, edx)}`);
  assert.ok(close(dw, edw) < 1e-4, `dw differs by ${close(dw, edw)}`);
  tf.dispose([x, w, bias, dyWeights, value, expectedValue, dx, dw, edx, edw]);
});

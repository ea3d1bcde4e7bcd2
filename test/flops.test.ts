// Parameter counts and FLOPs (lib/model/flops.ts), the `glit summary` command, and architecture validation (lib/model/arch.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  architectureToJson,
  ArchitectureError,
  canonicalGene,
  parseArchitecture,
  presetArchitecture,
  PRESETS,
  scaleKernel,
  validateArchitecture,
  type Architecture,
} from '../lib/model/arch';
import { countParams, modelCost, parameterShapes, type Cost } from '../lib/model/flops';
import { HAND_COUNTED_MODEL } from './helpers';

const repoRoot = join(__dirname, '..');

/** One block of each kind on the hand-counted model. */
const TINY_BY_HAND: Architecture = {
  name: 'by-hand',
  model: HAND_COUNTED_MODEL,
  blocks: [
    { globalHeads: 0, qkvRatio: null, convExpansion: 2, kernelSize: 3, ffnRatio: 1 },
    { globalHeads: 1, qkvRatio: 1, convExpansion: 1, kernelSize: 3, ffnRatio: 2 },
    { globalHeads: 3, qkvRatio: 0.5, convExpansion: null, kernelSize: null, ffnRatio: 1 },
  ],
};

test('DeiT-Tiny: 5,717,416 parameters (timm) and 1.3G FLOPs', () => {
  const cost = modelCost(presetArchitecture('deit-tiny'));
  assert.equal(cost.params, 5_717_416);
  assert.equal((cost.flops / 1e9).toFixed(1), '1.3');
  assert.equal(cost.macs, cost.flops, 'no conv heads, so the official count is exact');
});

test('GLiT-Tiny: 7.2-7.3M parameters and the official 1.33G FLOPs', () => {
  const cost = modelCost(presetArchitecture('glit-tiny'));
  assert.equal(cost.params, 7_264_456);
  // What the official count_mixit_flops + embed + head print for this model (run from glit_models.py): 1332.470592M.
  assert.equal(cost.flops, 1_332_470_592);
  assert.equal(cost.macs, 1_472_873_280);
});

test('hand-counted parameters of a G = 0, a mixed and a G = N block', () => {
  const cost = modelCost(TINY_BY_HAND);
  // stem: cls 6 + pos 5*6 + patch conv 6*1*4*4 + 6
  assert.equal(cost.stem.params, 6 + 30 + 96 + 6);
  const [conv, mixed, attention] = cost.blocks;
  // G=0, Cl=6, E=2, K=3: pointwise 24*6+24, depthwise 12*3+12, BN 12+12, pointwise 6*12+6
  assert.equal(conv.conv.params, 168 + 48 + 24 + 78);
  assert.equal(conv.attention.params, 0);
  assert.equal(conv.ffn.params, 6 * 6 + 6 + 6 * 6 + 6);
  assert.equal(conv.params, 426);
  // G=1: Cg=2, ev=1: qkv 6*2+6, proj 2*2+2; Cl=4, E=1: 8*4+8, 4*3+4, 4+4, 4*4+4; FFN r=2: 12*6+12, 6*12+6
  assert.equal(mixed.attention.params, 18 + 6);
  assert.equal(mixed.conv.params, 40 + 16 + 8 + 20);
  assert.equal(mixed.ffn.params, 84 + 78);
  assert.equal(mixed.params, 24 + 84 + 162 + 24);
  // G=3, ev=0.5: Cg*ev = 3: qkv 9*6+9, proj 6*3+6
  assert.equal(attention.attention.params, 63 + 24);
  assert.equal(attention.conv.params, 0);
  assert.equal(attention.params, 87 + 84 + 24);
  // head: norm 6+6, classifier 2*6+2
  assert.equal(cost.head.params, 26);
  assert.equal(cost.params, 138 + 426 + 294 + 195 + 26);
});

test('hand-counted official FLOPs and true MACs of the same blocks', () => {
  const cost = modelCost(TINY_BY_HAND);
  assert.deepEqual(cost.stem, { params: 138, flops: 1 * 6 * 16 * 4, macs: 384 });
  assert.deepEqual(cost.head, { params: 26, flops: 6 * 2, macs: 12 });
  const [conv, mixed, attention] = cost.blocks;
  // conv, T=5, Cl=6, E=2, K=3: official 5*36*2 + 5*6*2*3 + 5*36*2; true counts the 2E-wide pointwise conv: +5*36*2
  assert.deepEqual(conv.conv, { params: 318, flops: 360 + 180 + 360, macs: 720 + 180 + 360 });
  assert.deepEqual(conv.ffn, { params: 84, flops: 2 * 5 * 1 * 36, macs: 360 });
  // attention, Cg=2, ev=1: qkv 3*5*4, q·k and attn·v 2*25*2, proj 5*4
  assert.deepEqual(mixed.attention, { params: 24, flops: 60 + 100 + 20, macs: 180 });
  // conv, Cl=4, E=1, K=3: 5*16 + 5*4*3 + 5*16, true +5*16
  assert.deepEqual(mixed.conv, { params: 84, flops: 220, macs: 300 });
  assert.deepEqual(mixed.ffn, { params: 162, flops: 2 * 5 * 2 * 36, macs: 720 });
  // Cg=6, ev=0.5: 3*5*36*0.5 + 2*25*6*0.5 + 5*36*0.5
  assert.deepEqual(attention.attention, { params: 87, flops: 270 + 150 + 90, macs: 510 });
  assert.equal(attention.flops, 510 + 360);
  assert.equal(cost.flops, 384 + 1260 + 1120 + 870 + 12);
  assert.equal(cost.macs, 384 + 1620 + 1200 + 870 + 12);
});

test('totals are the sums of their parts, and parameterShapes agrees with the counts', () => {
  const sum = (parts: Cost[], key: keyof Cost) => parts.reduce((n, p) => n + p[key], 0);
  for (const name of Object.keys(PRESETS)) {
    const arch = presetArchitecture(name);
    const cost = modelCost(arch);
    for (const key of ['params', 'flops', 'macs'] as const) {
      assert.equal(sum([cost.stem, ...cost.blocks, cost.head], key), cost[key], `${name} ${key}`);
      for (const b of cost.blocks)
        assert.equal(sum([b.attention, b.conv, b.ffn, b.norms], key), b[key], `${name} block ${b.index} ${key}`);
    }
    const shapes = parameterShapes(arch);
    assert.equal(countParams(shapes), cost.params, name);
    assert.equal(new Set(shapes.map((t) => t.name)).size, shapes.length, `${name}: tensor names are unique`);
    assert.ok(Number.isInteger(cost.params) && Number.isInteger(cost.flops) && Number.isInteger(cost.macs), name);
  }
});

test('parameterShapes: official names, PyTorch shapes, state-dict order, BatchNorm buffers', () => {
  const shapes = parameterShapes(presetArchitecture('glit-tiny'));
  assert.deepEqual(shapes.slice(0, 4), [
    { name: 'cls_token', shape: [1, 1, 192], kind: 'param' },
    { name: 'pos_embed', shape: [1, 197, 192], kind: 'param' },
    { name: 'patch_embed.proj.weight', shape: [192, 3, 16, 16], kind: 'param' },
    { name: 'patch_embed.proj.bias', shape: [192], kind: 'param' },
  ]);
  // Block 2 is mixed: G=1 (Cg=64, ev=1), L=2 (Cl=128, E=4, K=31), r=6.
  const block2 = shapes
    .filter((t) => t.name.startsWith('blocks.2.'))
    .map((t) => `${t.name} ${t.shape.join('x')} ${t.kind}`);
  assert.deepEqual(block2, [
    'blocks.2.0.norm1.weight 192 param',
    'blocks.2.0.norm1.bias 192 param',
    'blocks.2.0.attn.qkv.weight 192x64 param',
    'blocks.2.0.attn.qkv.bias 192 param',
    'blocks.2.0.attn.proj.weight 64x64 param',
    'blocks.2.0.attn.proj.bias 64 param',
    'blocks.2.0.attn.net.1.weight 1024x128x1 param',
    'blocks.2.0.attn.net.1.bias 1024 param',
    'blocks.2.0.attn.net.3.conv.weight 512x1x31 param',
    'blocks.2.0.attn.net.3.conv.bias 512 param',
    'blocks.2.0.attn.net.4.weight 512 param',
    'blocks.2.0.attn.net.4.bias 512 param',
    'blocks.2.0.attn.net.4.running_mean 512 buffer',
    'blocks.2.0.attn.net.4.running_var 512 buffer',
    'blocks.2.0.attn.net.4.num_batches_tracked  buffer',
    'blocks.2.0.attn.net.6.weight 128x512x1 param',
    'blocks.2.0.attn.net.6.bias 128 param',
    'blocks.2.0.norm2.weight 192 param',
    'blocks.2.0.norm2.bias 192 param',
    'blocks.2.0.mlp.fc1.weight 1152x192 param',
    'blocks.2.0.mlp.fc1.bias 1152 param',
    'blocks.2.0.mlp.fc2.weight 192x1152 param',
    'blocks.2.0.mlp.fc2.bias 192 param',
  ]);
  assert.deepEqual(
    shapes.slice(-4).map((t) => `${t.name} ${t.shape.join('x')}`),
    ['norm.weight 192', 'norm.bias 192', 'head.weight 1000x192', 'head.bias 1000'],
  );
  // Block 0 is all attention with ev = 0.5: qkv 192 -> 3*96, proj 96 -> 192, and no conv tensors.
  const block0 = shapes.filter((t) => t.name.startsWith('blocks.0.0.attn.'));
  assert.deepEqual(
    block0.map((t) => `${t.name} ${t.shape.join('x')}`),
    [
      'blocks.0.0.attn.qkv.weight 288x192',
      'blocks.0.0.attn.qkv.bias 288',
      'blocks.0.0.attn.proj.weight 192x96',
      'blocks.0.0.attn.proj.bias 192',
    ],
  );
});

// --- the CLI ---------------------------------------------------------------------------------------------------------

const glit = (...args: string[]) =>
  spawnSync(process.execPath, [join(repoRoot, 'bin/glit.js'), ...args], { cwd: repoRoot, encoding: 'utf8' });

test('glit summary --json prints the counts as one object', () => {
  const out = glit('summary', 'glit-tiny', '--json');
  assert.equal(out.status, 0, out.stderr);
  const summary = JSON.parse(out.stdout);
  assert.equal(summary.params, 7_264_456);
  assert.equal(summary.flops, 1_332_470_592);
  assert.equal(summary.macs, 1_472_873_280);
  assert.equal(summary.blocks.length, 12);
  assert.deepEqual(summary.blocks[1].gene, {
    globalHeads: 0,
    qkvRatio: null,
    convExpansion: 2,
    kernelSize: 31,
    ffnRatio: 4,
  });
});

test('glit summary prints a table with totals', () => {
  const out = glit('summary', 'deit-tiny');
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout, /^total\s+5\.717M\s+1\.254G\s+1\.254G$/m);
  assert.match(out.stdout, /^11\s+3\/0\s+1\s+-\s+-\s+4\s/m);
});

test('glit summary rejects bad architectures with the validation message and a non-zero exit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glit-summary-'));
  const good = JSON.parse(architectureToJson(presetArchitecture('glit-tiny')));
  const cases: [string, (a: any) => unknown, RegExp][] = [
    [
      'even-kernel',
      (a) => {
        a.blocks[4].kernelSize = 30;
        return a;
      },
      /blocks\[4\]\.kernelSize: K must be odd/,
    ],
    [
      'too-many-global-heads',
      (a) => {
        a.blocks[7].globalHeads = 4;
        return a;
      },
      /blocks\[7\]\.globalHeads: G must be an integer in 0\.\.3, got 4/,
    ],
    [
      'width-not-divisible',
      (a) => {
        a.model.width = 200;
        return a;
      },
      /model\.width: 200 is not divisible by heads 3/,
    ],
    [
      'wrong-block-count',
      (a) => {
        a.blocks.pop();
        return a;
      },
      /blocks: has 11 genes but model\.depth is 12/,
    ],
    [
      'missing-kernel',
      (a) => {
        delete a.blocks[1].kernelSize;
        return a;
      },
      /blocks\[1\]\.kernelSize: K is needed/,
    ],
  ];
  for (const [name, edit, message] of cases) {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(edit(structuredClone(good))));
    const out = glit('summary', path);
    assert.equal(out.status, 1, name);
    assert.match(out.stderr, message, name);
    assert.ok(out.stderr.includes(path), `${name}: the message names the file`);
  }
  const notJson = join(dir, 'not-json.json');
  writeFileSync(notJson, '{"model": ');
  const out = glit('summary', notJson);
  assert.equal(out.status, 1);
  assert.match(out.stderr, /not valid JSON/);
  const unknown = glit('summary', 'glit-huge');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /'glit-huge' is neither an architecture preset \(deit-tiny, glit-tiny/);
});

// --- lib/model/arch.ts -------------------------------------------------------------------------------------------------------

test('architectureToJson -> parseArchitecture round-trips every preset', () => {
  for (const name of Object.keys(PRESETS)) {
    const arch = presetArchitecture(name);
    assert.deepEqual(parseArchitecture(architectureToJson(arch)), arch, name);
  }
});

test('canonicalGene nulls the fields a head distribution does not use', () => {
  const model = presetArchitecture('glit-tiny').model;
  const full = { qkvRatio: 2, convExpansion: 4, kernelSize: 31, ffnRatio: 4 };
  assert.deepEqual(canonicalGene(model, { globalHeads: 3, ...full }), {
    globalHeads: 3,
    qkvRatio: 2,
    convExpansion: null,
    kernelSize: null,
    ffnRatio: 4,
  });
  assert.deepEqual(canonicalGene(model, { globalHeads: 0, ...full }), {
    globalHeads: 0,
    qkvRatio: null,
    convExpansion: 4,
    kernelSize: 31,
    ffnRatio: 4,
  });
  assert.deepEqual(canonicalGene(model, { globalHeads: 2, ...full }), { globalHeads: 2, ...full });
});

test('validateArchitecture canonicalizes genes, defaults the activation and the Table 6 fields, and names the bad field', () => {
  const { model, blocks } = TINY_BY_HAND;
  const { ffnActivation: _, localModule: __, localWindow: ___, classToken: ____, ...withoutDefaults } = model;
  const loose = {
    model: withoutDefaults,
    blocks: [{ ...blocks[0], qkvRatio: 1 }, blocks[1], { ...blocks[2], kernelSize: 9 }],
  };
  assert.deepEqual(validateArchitecture(loose), { model, blocks });
  assert.throws(
    () =>
      validateArchitecture({ ...loose, blocks: [blocks[0], { ...blocks[1], qkvRatio: null }, blocks[2]] }, 'x.json'),
    {
      name: 'ArchitectureError',
      message: /^x\.json: blocks\[1\]\.qkvRatio: ev is needed/,
    },
  );
  assert.throws(
    () => validateArchitecture({ model: { ...model, patchSize: 3 }, blocks }),
    /model\.patchSize: 3 does not divide imageSize 8/,
  );
  assert.throws(
    () => validateArchitecture({ model, blocks: [blocks[0], blocks[1], { ...blocks[2], ffnRatio: 0.1 }] }),
    /blocks\[2\]\.ffnRatio/,
  );
  assert.throws(() => presetArchitecture('nope'), ArchitectureError);
});

test('scaleKernel keeps kernels odd and scales them with the token grid', () => {
  assert.equal(scaleKernel(31, 14), 31);
  assert.equal(scaleKernel(45, 14), 45);
  assert.equal(scaleKernel(45, 7), 23);
  assert.equal(scaleKernel(31, 7), 17); // 15.5 rounds to 16, then up to odd
  assert.equal(scaleKernel(17, 1), 1);
});

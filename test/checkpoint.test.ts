// Checkpoints: the safetensors format (all readable dtypes, malformed files), PyTorch layouts and names (checked against
// lib/model/flops.ts), round trips, and loads that do not fit the model. Parity with PyTorch itself is test/parity.test.ts.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { presetArchitecture, validateArchitecture, type Architecture } from '../lib/model/arch';
import { initBackend } from '../lib/kernels/backend';
import {
  CheckpointError,
  fromTorchLayout,
  loadCheckpoint,
  readCheckpoint,
  saveCheckpoint,
  toTorchLayout,
  type LoadReport,
} from '../lib/io/checkpoint';
import { parameterShapes } from '../lib/model/flops';
import { blockBatchNorms } from '../lib/model/block';
import { disposeModel, forward, initModel, namedVariables, type ModelParams } from '../lib/model/model';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  scalarValue,
  SafetensorsError,
  toFloat32,
  writeSafetensors,
  type Safetensors,
  type TensorToWrite,
} from '../lib/io/safetensors';
import { seededBatch, tempFolder, tinyArchitecture } from './helpers';

const file = tempFolder('glit-checkpoint-');
before(() => initBackend({ backend: 'cpu' }));

/** A safetensors file built by hand from a header object and a data section, independently of the encoder. */
function rawSafetensors(header: object, data: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A saved file's tensors as writable ones, to edit and write back. */
const editable = (f: Safetensors): Map<string, TensorToWrite> =>
  new Map(
    [...f.tensors].map(([name, t]) => [
      name,
      t.dtype === 'I64'
        ? { dtype: 'I64', shape: t.shape, values: [scalarValue(t, name)] }
        : { dtype: 'F32', shape: t.shape, values: toFloat32(t) },
    ]),
  );

async function savedModel(arch: Architecture, name: string, seed = 1): Promise<string> {
  const params = initModel(arch, seed);
  await saveCheckpoint(file(name), params, arch);
  disposeModel(params);
  return file(name);
}

const snapshot = (params: ModelParams) =>
  new Map([...namedVariables(params)].map(([n, v]) => [n, Array.from(v.dataSync())]));

test('safetensors reads F32, F16, BF16, F64 and I64 little-endian data', () => {
  const data = new Uint8Array(4 + 12 + 4 + 8 + 16);
  const v = new DataView(data.buffer);
  v.setFloat32(0, -1.25, true);
  [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00].forEach((h, i) => v.setUint16(4 + 2 * i, h, true)); // 1, -2, 0.5, 65504, 2^-24, inf
  [0x3fc0, 0xc040].forEach((h, i) => v.setUint16(16 + 2 * i, h, true)); // bfloat16 1.5, -3
  v.setFloat64(20, 0.1, true);
  v.setBigInt64(28, -7n, true);
  v.setBigInt64(36, 2n ** 40n, true);
  const f = decodeSafetensors(
    rawSafetensors(
      {
        __metadata__: { note: 'hand-made' },
        a: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
        h: { dtype: 'F16', shape: [2, 3], data_offsets: [4, 16] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [16, 20] },
        d: { dtype: 'F64', shape: [1], data_offsets: [20, 28] },
        i: { dtype: 'I64', shape: [2], data_offsets: [28, 44] },
      },
      data,
    ),
  );
  assert.deepEqual(f.metadata, { note: 'hand-made' });
  assert.deepEqual([...f.tensors.keys()], ['a', 'h', 'b', 'd', 'i']);
  assert.deepEqual(f.tensors.get('h')!.shape, [2, 3]);
  assert.deepEqual(Array.from(toFloat32(f.tensors.get('a')!)), [-1.25]);
  assert.deepEqual(Array.from(toFloat32(f.tensors.get('h')!)), [1, -2, 0.5, 65504, 2 ** -24, Infinity]);
  assert.deepEqual(Array.from(toFloat32(f.tensors.get('b')!)), [1.5, -3]);
  assert.deepEqual(Array.from(toFloat32(f.tensors.get('d')!)), [Math.fround(0.1)]);
  assert.deepEqual(Array.from(toFloat32(f.tensors.get('i')!)), [-7, 2 ** 40]);
  assert.throws(() => scalarValue(f.tensors.get('i')!, 'i'), /tensor 'i' should hold one value but has shape \[2\]/);
});

test('safetensors encoding: aligned header, metadata, F32 and I64, and back', () => {
  const bytes = encodeSafetensors(
    [
      ['w', { dtype: 'F32', shape: [2, 2], values: [1, 2, 3, 4.5] }],
      ['n', { dtype: 'I64', shape: [], values: [12345678901] }],
    ],
    { k: 'v' },
  );
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0, 'the data section starts 8-aligned');
  const f = decodeSafetensors(bytes);
  assert.deepEqual(f.metadata, { k: 'v' });
  assert.deepEqual(Array.from(toFloat32(f.tensors.get('w')!)), [1, 2, 3, 4.5]);
  assert.equal(f.tensors.get('n')!.dtype, 'I64');
  assert.equal(scalarValue(f.tensors.get('n')!, 'n'), 12345678901);
  assert.throws(
    () => encodeSafetensors([['x', { dtype: 'F32', shape: [3], values: [1, 2] }]]),
    /2 values do not fill shape \[3\]/,
  );
  assert.throws(() => encodeSafetensors([['x', { dtype: 'I64', shape: [], values: [0.5] }]]), /is I64 but holds 0.5/);
});

test('files that are not safetensors, truncated or malformed fail with what is wrong', () => {
  const good = encodeSafetensors([['w', { dtype: 'F32', shape: [4], values: [1, 2, 3, 4] }]]);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'short',
      new Uint8Array([1, 2, 3]),
      /is not a safetensors file: it has 3 bytes, fewer than the 8-byte header length/,
    ],
    [
      'text',
      Buffer.from('hello, this is certainly not a tensor file\n'),
      /is not a safetensors file: its first 8 bytes give a header of \d+ bytes, but the file has \d+ bytes after them/,
    ],
    [
      'zip',
      Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200)]),
      /looks like a PyTorch \.pth\/\.pt file \(a zip archive\): convert it to safetensors first/,
    ],
    [
      'truncated',
      good.subarray(0, good.length - 3),
      /the file is truncated: tensor 'w' ends at byte 16 of the data section, which has only 13 bytes/,
    ],
    ['not json', rawSafetensors({}, new Uint8Array()).fill(0x7b, 8), /its header is not UTF-8 JSON/],
    [
      'dtype',
      rawSafetensors({ w: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      /tensor 'w' has dtype "U8"; readable dtypes are F32, F16, BF16, F64, I64/,
    ],
    [
      'span',
      rawSafetensors({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(8)),
      /tensor 'w' spans 4 bytes, but F32 \[2\] needs 8/,
    ],
    [
      'overlap',
      rawSafetensors(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        new Uint8Array(8),
      ),
      /tensors 'a' and 'b' overlap/,
    ],
    [
      'metadata',
      rawSafetensors({ __metadata__: { epoch: 3 } }, new Uint8Array()),
      /__metadata__\.epoch must be a string, got 3/,
    ],
  ];
  for (const [name, bytes, message] of cases) {
    writeFileSync(file(`${name}.safetensors`), bytes);
    assert.throws(
      () => readSafetensors(file(`${name}.safetensors`)),
      (e: Error) => {
        assert.ok(e instanceof SafetensorsError, `${name}: ${e}`);
        assert.match(e.message, message, name);
        assert.ok(e.message.includes(file(`${name}.safetensors`)), `${name}: the error names the file`);
        return true;
      },
    );
  }
});

test('writes are atomic: the file is replaced whole, no temporary file is left', () => {
  writeSafetensors(file('atomic.safetensors'), [['w', { dtype: 'F32', shape: [1], values: [1] }]]);
  writeSafetensors(file('atomic.safetensors'), [['w', { dtype: 'F32', shape: [2], values: [2, 3] }]]);
  assert.deepEqual(Array.from(toFloat32(readSafetensors(file('atomic.safetensors')).tensors.get('w')!)), [2, 3]);
  assert.deepEqual(
    readdirSync(file()).filter((f) => f.includes('.tmp')),
    [],
  );
});

test("the patch embedding is laid out as PyTorch's Conv2d [C, inC, P, P] from ours [P*P*inC, C] in (row, col, channel) order", () => {
  const model = { ...tinyArchitecture().model, inChannels: 2, patchSize: 3, width: 4 };
  const [p, inC, c] = [3, 2, 4];
  const ours = tf.tensor2d(
    Float32Array.from({ length: p * p * inC * c }, (_, i) => i),
    [p * p * inC, c],
  );
  const torch = toTorchLayout('patch_embed.proj.weight', ours, model);
  assert.deepEqual(torch.shape, [c, inC, p, p]);
  const t = torch.arraySync() as number[][][][];
  const o = ours.arraySync() as number[][];
  for (let out = 0; out < c; out++)
    for (let ch = 0; ch < inC; ch++)
      for (let r = 0; r < p; r++)
        for (let col = 0; col < p; col++) {
          assert.equal(t[out][ch][r][col], o[(r * p + col) * inC + ch][out]);
        }
  assert.deepEqual(fromTorchLayout('patch_embed.proj.weight', torch, ours.shape, model).arraySync(), o);
  tf.dispose([ours, torch]);
});

for (const arch of [tinyArchitecture(), presetArchitecture('deit-tiny'), presetArchitecture('glit-tiny')]) {
  test(`${arch.name}: a saved checkpoint has the official state dict: names, order, PyTorch shapes, dtypes (lib/model/flops.ts)`, async () => {
    const saved = readCheckpoint(await savedModel(arch, `${arch.name}.safetensors`));
    const expected = parameterShapes(arch);
    assert.deepEqual(
      [...saved.tensors.keys()],
      expected.map((t) => t.name),
    );
    for (const t of expected) {
      const stored = saved.tensors.get(t.name)!;
      assert.deepEqual(stored.shape, t.shape, t.name);
      assert.equal(stored.dtype, t.name.endsWith('num_batches_tracked') ? 'I64' : 'F32', t.name);
    }
    assert.deepEqual(saved.architecture, arch, 'the metadata carries the architecture');
    assert.equal(saved.metadata.format, 'pt');
  });
}

test('round trip: save then load gives identical variables, running statistics and num_batches_tracked', async () => {
  const arch = tinyArchitecture();
  const params = initModel(arch, 1);
  const { x } = seededBatch(4, 8, 1, 4);
  tf.dispose(forward(params, x, arch, { training: true })); // moves the BatchNorm running statistics
  blockBatchNorms(params.blocks[2])[0].batchesTracked = 1234;
  const loaded = initModel(arch, 2);
  const tensors = tf.memory().numTensors;
  await saveCheckpoint(file('roundtrip.safetensors'), params, arch, { epoch: '7' });
  const report = loadCheckpoint(loaded, arch, file('roundtrip.safetensors'));
  assert.equal(tf.memory().numTensors, tensors, 'save and load leave no tensors behind');
  assert.deepEqual(snapshot(loaded), snapshot(params));
  assert.deepEqual(
    loaded.blocks.map((b) => blockBatchNorms(b)[0]?.batchesTracked),
    [undefined, 1, 1234],
  );
  assert.equal(report.loaded.length, parameterShapes(arch).length);
  assert.deepEqual([report.missing, report.unexpected, report.mismatched], [[], [], []]);
  assert.equal(readCheckpoint(file('roundtrip.safetensors')).metadata.epoch, '7');
  tf.dispose(x);
  disposeModel(params);
  disposeModel(loaded);
});

/** Loads and expects a CheckpointError; checks that the model was left untouched. */
function loadFails(arch: Architecture, source: string, message: RegExp): LoadReport {
  const params = initModel(arch, 3);
  const before = snapshot(params);
  let report: LoadReport | undefined;
  assert.throws(
    () => loadCheckpoint(params, arch, source),
    (e: Error) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, message);
      report = e.report;
      return true;
    },
  );
  assert.deepEqual(snapshot(params), before, 'a failed load changes nothing');
  disposeModel(params);
  return report!;
}

test('wrongly shaped tensors are listed by name with both shapes', async () => {
  const arch = tinyArchitecture();
  const source = await savedModel(arch, 'shapes.safetensors');
  const wider = validateArchitecture({
    ...arch,
    name: 'wider-kernel',
    blocks: arch.blocks.map((b, i) => (i === 2 ? { ...b, kernelSize: 7 } : b)),
  });
  const report = loadFails(
    wider,
    source,
    /does not fit architecture 'wider-kernel' \(the file was saved for architecture 'tiny-every-block'\):\n  1 wrongly shaped \(file vs model, PyTorch layout\): blocks\.2\.0\.attn\.net\.3\.conv\.weight \[12,1,5\] vs \[12,1,7\]/,
  );
  assert.deepEqual(report.mismatched, [
    { name: 'blocks.2.0.attn.net.3.conv.weight', expected: [12, 1, 7], found: [12, 1, 5] },
  ]);
});

test('missing and unexpected tensors are listed by name, and can be allowed', async () => {
  const arch = tinyArchitecture();
  const saved = readSafetensors(await savedModel(arch, 'full.safetensors'));
  const tensors = editable(saved);
  tensors.delete('head.bias');
  tensors.delete('blocks.1.0.attn.net.4.num_batches_tracked');
  tensors.set('dist_token', { dtype: 'F32', shape: [1, 1, 12], values: new Float32Array(12) });
  writeSafetensors(file('edited.safetensors'), tensors, saved.metadata);
  const report = loadFails(
    arch,
    file('edited.safetensors'),
    /2 missing \(in the model, not in the file\): blocks\.1\.0\.attn\.net\.4\.num_batches_tracked, head\.bias\n  1 unexpected \(in the file, not in the model\): dist_token\n  fix: /,
  );
  assert.deepEqual(
    [report.missing, report.unexpected],
    [['blocks.1.0.attn.net.4.num_batches_tracked', 'head.bias'], ['dist_token']],
  );

  const params = initModel(arch, 3);
  const headBias = Array.from(params.head.bias.dataSync());
  const allowed = loadCheckpoint(params, arch, file('edited.safetensors'), {
    allowMissing: true,
    allowUnexpected: true,
  });
  assert.deepEqual(allowed.missing, ['blocks.1.0.attn.net.4.num_batches_tracked', 'head.bias']);
  assert.deepEqual(Array.from(params.head.bias.dataSync()), headBias, 'a missing tensor keeps its value');
  assert.deepEqual(
    params.blocks[2].norm2.bias.dataSync(),
    toFloat32(saved.tensors.get('blocks.2.0.norm2.bias')!),
    'the rest is loaded',
  );
  disposeModel(params);
});

test('a different classifier: exclude /^head\\./ loads the rest (fine-tuning)', async () => {
  const arch = tinyArchitecture();
  const source = await savedModel(arch, 'pretrained.safetensors');
  const sevenClasses = tinyArchitecture({ numClasses: 7 });
  loadFails(sevenClasses, source, /2 wrongly shaped .*head\.weight \[4,12\] vs \[7,12\], head\.bias \[4\] vs \[7\]/);
  const params = initModel(sevenClasses, 3);
  const report = loadCheckpoint(params, sevenClasses, source, { exclude: /^head\./ });
  assert.equal(report.loaded.length, parameterShapes(arch).length - 2);
  disposeModel(params);
});

test("DeiT's own names (blocks.{i}.norm1 ...) get a hint at the conversion", async () => {
  const arch = tinyArchitecture();
  const saved = readSafetensors(await savedModel(arch, 'glit-names.safetensors'));
  const renamed = new Map([...editable(saved)].map(([n, t]) => [n.replace(/^blocks\.(\d+)\.0\./, 'blocks.$1.'), t]));
  writeSafetensors(file('deit-names.safetensors'), renamed);
  loadFails(
    arch,
    file('deit-names.safetensors'),
    /hint: names look like DeiT's 'blocks\.\{i\}\.norm1\.\.\.': GLiT's are 'blocks\.\{i\}\.0\.norm1\.\.\.'/,
  );
});

test('a checkpoint whose metadata architecture is invalid says so', () => {
  writeSafetensors(file('bad-arch.safetensors'), [], { architecture: '{"model": {}}' });
  assert.throws(
    () => readCheckpoint(file('bad-arch.safetensors')),
    /bad-arch\.safetensors metadata 'architecture': model\.imageSize: must be a positive integer.*pass the architecture yourself/,
  );
});

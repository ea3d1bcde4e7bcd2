// lib/kernels/wasm/: the wasm Slice, SplitV, Unpack and Concat that copy inside the heap give the cpu backend's results
// bit for bit, on random shapes, begins and sizes of ranks 1-5 (zero-size and whole slices included), in float32, int32
// and bool, and tf.split's gradient; they no longer read their input out of the heap; Identity shares. The layers' fast
// paths (lib/kernels/fast-paths.ts) are those of the backend initBackend started.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, releaseBackend, type BackendName } from '../lib/kernels/backend';
import { fastPaths } from '../lib/kernels/fast-paths';
import { Rng } from '../lib/core/random';

after(releaseBackend);

const DTYPES = ['float32', 'int32', 'bool'] as const;
type Dtype = (typeof DTYPES)[number];

/** Values with the float32 edge cases mixed in (-0, infinities, NaN, a subnormal), so a conversion would show. */
function values(rng: Rng, n: number, dtype: Dtype): Float32Array | Int32Array | Uint8Array {
  if (dtype === 'bool') return Uint8Array.from({ length: n }, () => rng.int(2));
  if (dtype === 'int32') return Int32Array.from({ length: n }, () => rng.int(2 ** 32) - 2 ** 31);
  const special = [-0, Infinity, -Infinity, NaN, 1e-40];
  return Float32Array.from({ length: n }, () => (rng.uniform() < 0.1 ? rng.pick(special) : rng.normal() * 100));
}

interface SliceCase {
  shape: number[];
  dtype: Dtype;
  data: Float32Array | Int32Array | Uint8Array;
  begin: number[];
  size: number[];
}

function sliceCases(count: number): SliceCase[] {
  const rng = new Rng(17);
  return Array.from({ length: count }, (_, i) => {
    const rank = 1 + (i % 5);
    const shape = Array.from({ length: rank }, () => (rng.uniform() < 0.05 ? 0 : 1 + rng.int(rank > 3 ? 5 : 9)));
    const whole = i % 7 === 0;
    const begin = shape.map((d) => (whole ? 0 : rng.int(d + 1)));
    // -1: to the end of the axis, as tf.slice allows.
    const size = shape.map((d, a) => (whole ? d : rng.uniform() < 0.15 ? -1 : rng.int(d - begin[a] + 1)));
    const dtype = DTYPES[i % DTYPES.length];
    return {
      shape,
      dtype,
      data: values(
        rng,
        shape.reduce((p, d) => p * d, 1),
        dtype,
      ),
      begin,
      size,
    };
  });
}

/** The bytes of each output of `f`, run on `backend`. */
async function bytesOn(
  backend: BackendName,
  f: () => tf.Tensor | tf.Tensor[],
): Promise<{ shape: number[]; bytes: Uint8Array }[]> {
  await initBackend({ backend });
  const before = tf.memory().numTensors;
  const outs = tf.tidy(f);
  const list = Array.isArray(outs) ? outs : [outs];
  const result = [];
  for (const t of list) {
    const data = (await t.data()) as Float32Array | Int32Array | Uint8Array;
    result.push({ shape: t.shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() });
  }
  tf.dispose(list);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return result;
}

async function assertSameOnWasm(name: string, f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const cpu = await bytesOn('cpu', f);
  const wasm = await bytesOn('wasm', f);
  assert.equal(wasm.length, cpu.length, `${name}: number of outputs`);
  wasm.forEach((w, i) => {
    assert.deepEqual(w.shape, cpu[i].shape, `${name} output ${i}: shape`);
    assert.ok(Buffer.from(w.bytes).equals(Buffer.from(cpu[i].bytes)), `${name} output ${i}: wasm differs from cpu`);
  });
}

const tensor = (c: { shape: number[]; dtype: Dtype; data: Float32Array | Int32Array | Uint8Array }) =>
  tf.tensor(c.data, c.shape, c.dtype);

test('Slice on wasm equals cpu bit for bit: 300 random slices of ranks 1-5', async () => {
  const cases = sliceCases(300);
  assert.ok(
    cases.some((c) => c.size.includes(0)) && cases.some((c) => c.shape.includes(0)),
    'zero-size slices and inputs are drawn',
  );
  await assertSameOnWasm('slices', () => cases.map((c) => tf.slice(tensor(c), c.begin, c.size)));
});

test('tf.split and tf.unstack on wasm equal cpu bit for bit', async () => {
  const rng = new Rng(3);
  const splits: { shape: number[]; split: number | number[]; axis: number }[] = [
    { shape: [64, 50, 288], split: 3, axis: -1 }, // the attention's q, k, v
    { shape: [64, 50, 512], split: 2, axis: -1 }, // GLU
    { shape: [64, 50, 192], split: [64, 128], axis: -1 }, // the global/local channel split
    { shape: [7], split: [2, 0, 5], axis: 0 },
    { shape: [3, 8, 5], split: 4, axis: 1 },
    { shape: [2, 3, 4, 5, 6], split: [1, -1, 2], axis: 3 },
    { shape: [6, 1, 4], split: [3, 3], axis: 0 },
  ];
  const cases = splits.flatMap((s, i) => {
    const dtype = DTYPES[i % DTYPES.length];
    return [
      {
        ...s,
        dtype,
        data: values(
          rng,
          s.shape.reduce((p, d) => p * d, 1),
          dtype,
        ),
      },
    ];
  });
  await assertSameOnWasm('splits', () => cases.flatMap((c) => tf.split(tensor(c), c.split, c.axis)));
  await assertSameOnWasm('unstacks', () =>
    cases.flatMap((c) => [0, c.shape.length - 1].flatMap((axis) => tf.unstack(tensor(c), axis))),
  );
});

test('tf.concat on wasm equals cpu bit for bit: every axis of ranks 1-4, zero-size inputs included', async () => {
  const rng = new Rng(5);
  const cases = Array.from({ length: 60 }, (_, i) => {
    const rank = 1 + (i % 4);
    const axis = rng.int(rank);
    const base = Array.from({ length: rank }, () => 1 + rng.int(5));
    const dtype = DTYPES[i % DTYPES.length];
    return Array.from({ length: 1 + rng.int(3) }, () => {
      const shape = base.map((d, a) => (a === axis ? rng.int(4) : d));
      return {
        shape,
        dtype,
        axis,
        data: values(
          rng,
          shape.reduce((p, d) => p * d, 1),
          dtype,
        ),
      };
    });
  });
  assert.ok(
    cases.some((c) => c.some((t) => t.shape.includes(0))),
    'zero-size inputs are drawn',
  );
  await assertSameOnWasm('concats', () => cases.map((c) => tf.concat(c.map(tensor), c[0].axis)));
});

test("gradients through tf.split on wasm equal cpu's", async () => {
  const rng = new Rng(11);
  const shape = [4, 6, 24];
  const x = (values(rng, 4 * 6 * 24, 'float32') as Float32Array).map((v) => (Number.isFinite(v) ? v : 1));
  const weights = [8, 4, 12].map((width) =>
    (values(rng, 4 * 6 * width, 'float32') as Float32Array).map((v) => (Number.isFinite(v) ? v : 2)),
  );
  await assertSameOnWasm('split gradient', () => {
    const pieces = (input: tf.Tensor) => tf.split(input, [8, 4, 12], -1);
    const loss = (input: tf.Tensor) =>
      tf.addN(pieces(input).map((p, i) => tf.sum(tf.mul(p, tf.tensor(weights[i], p.shape)))));
    return [
      tf.grad(loss)(tf.tensor(x, shape)),
      ...pieces(tf.grad((input: tf.Tensor) => tf.sum(tf.square(pieces(input)[1])))(tf.tensor(x, shape))),
    ];
  });
});

test('the wasm kernels copy inside the heap: no read of their input into JavaScript', async () => {
  await initBackend({ backend: 'wasm' });
  const backend = tf.backend();
  const readSync = backend.readSync;
  let reads = 0;
  backend.readSync = (dataId: object) => {
    reads++;
    return readSync.call(backend, dataId);
  };
  try {
    tf.tidy(() => {
      const x = tf.ones([8, 5, 12]);
      tf.split(x, 3, -1);
      tf.slice(x, [1, 2, 3], [4, 2, 5]);
      tf.unstack(x, 1);
    });
  } finally {
    backend.readSync = readSync;
  }
  assert.equal(reads, 0);
});

test('Identity on wasm shares the buffer: a clone outlives its source, and the memory goes with the last of them', async () => {
  await initBackend({ backend: 'wasm' });
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const ids = backend.numDataIds();
  const x = tf.tensor([1.5, -2, 3], [3]);
  const y = tf.clone(x);
  assert.equal(backend.numDataIds(), ids + 1, 'the clone holds no buffer of its own');
  x.dispose();
  assert.deepEqual(Array.from(await y.data()), [1.5, -2, 3]);
  y.dispose();
  assert.equal(backend.numDataIds(), ids, 'the buffer is freed with the last reference');
  // A gradient saves its inputs by cloning them; the result must not change.
  const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.square(t), tf.sin(t)));
  const grad = tf.tidy(() =>
    Array.from(
      tf
        .grad(f)(tf.tensor([0.5, -1, 2]))
        .dataSync(),
    ),
  );
  await initBackend({ backend: 'cpu' });
  const expected = tf.tidy(() =>
    Array.from(
      tf
        .grad(f)(tf.tensor([0.5, -1, 2]))
        .dataSync(),
    ),
  );
  grad.forEach((g, i) => assert.ok(Math.abs(g - expected[i]) < 1e-6, `gradient ${i}: ${g} vs ${expected[i]}`));
});

test('the fast paths are those of the backend initBackend started, also after a tf.setBackend of its own', async () => {
  await initBackend({ backend: 'cpu' });
  assert.deepEqual(Object.keys(fastPaths()), [], 'cpu runs the plain layers');
  await initBackend({ backend: 'wasm' });
  const wasm = Object.keys(fastPaths());
  assert.ok(wasm.includes('attend') && wasm.includes('linear'), `wasm's fast paths: ${wasm}`);
  await tf.setBackend('cpu');
  assert.equal((await initBackend({ backend: 'wasm' })).backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm', 'initBackend starts wasm again after tf.setBackend switched away');
  assert.deepEqual(Object.keys(fastPaths()), wasm);
  await initBackend({ backend: 'cpu' });
  assert.deepEqual(Object.keys(fastPaths()), []);
});

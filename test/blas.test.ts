// lib/kernels/wasm/blas-matmul.ts: wasm's products through OpenBLAS agree with XNNPACK's (tfjs-wasm's stock kernels) on
// random shapes, every transpose, batched and broadcast batches, fused with a bias, values and gradients; a tiny
// model trains to the same losses on both to a few ulp. GLIT_BLAS=off runs the stock kernels, =on without the library
// fails saying what to install, =auto without it falls back and says why. Each test names the mode it runs in, so
// the file checks both paths whatever GLIT_BLAS the suite runs under.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BackendUnavailableError, initBackend, optionsFromEnv, releaseBackend } from '../lib/kernels/backend';
import type { BlasMode } from '../lib/kernels/wasm/blas-matmul';
import { Rng } from '../lib/core/random';
import { runGlit, tinyTrainingLosses } from './helpers';

after(releaseBackend);

const MISSING = 'libopenblas-missing.so.0';

/** The values of each output of `f` (arrays of plain numbers from its tensors), run on wasm in `blas` mode. */
async function valuesWith(blas: BlasMode, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  const info = await initBackend({ backend: 'wasm', blas });
  assert.match(info.gemm!, blas === 'off' ? /^GEMM XNNPACK \(GLIT_BLAS=off\)$/ : /^GEMM OpenBLAS \w+/);
  const before = tf.memory().numTensors;
  const outs = tf.tidy(f);
  const values = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  return values;
}

/** |got - expected| <= 2e-6 of the largest |expected| of that output: the two GEMMs add in different orders. */
function assertClose(got: Float32Array[], expected: Float32Array[], what: string): void {
  assert.equal(got.length, expected.length);
  got.forEach((g, o) => {
    const e = expected[o];
    assert.equal(g.length, e.length, `${what}, output ${o}: length`);
    const scale = e.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    const worst = g.reduce((w, v, i) => Math.max(w, Math.abs(v - e[i])), 0);
    assert.ok(worst <= 2e-6 * scale, `${what}, output ${o}: differs by ${worst} (largest value ${scale})`);
  });
}

interface Case {
  name: string;
  aShape: number[];
  bShape: number[];
  transposeA: boolean;
  transposeB: boolean;
}

/** Random sizes 1-40 (some 1), batches of rank 0-2 that are equal or broadcast from a single matrix on either side. */
function randomCases(count: number): Case[] {
  const rng = new Rng(3);
  const size = () => (rng.uniform() < 0.1 ? 1 : 1 + rng.int(40));
  return Array.from({ length: count }, (_, i) => {
    const [m, k, n] = [size(), size(), size()];
    const transposeA = i % 2 === 1;
    const transposeB = i % 4 >= 2;
    const batch = [[], [1 + rng.int(4)], [2, 1 + rng.int(3)]][i % 3];
    const single = batch.map(() => 1);
    const [batchA, batchB] = i % 5 === 0 ? [single, batch] : i % 5 === 1 ? [batch, single] : [batch, batch];
    const aShape = [...batchA, ...(transposeA ? [k, m] : [m, k])];
    const bShape = [...batchB, ...(transposeB ? [n, k] : [k, n])];
    return { name: `[${aShape}] x [${bShape}] (${transposeA}, ${transposeB})`, aShape, bShape, transposeA, transposeB };
  });
}

/** Whether the batch dimensions broadcast: tfjs's BatchMatMul gradient does not sum them back (on any backend). */
const broadcasts = (c: Case): boolean => c.aShape.slice(0, -2).join() !== c.bShape.slice(0, -2).join();

/** The product and, where the batches do not broadcast, its gradients for a random upstream gradient. */
function productAndGradients(c: Case, seed: number): tf.Tensor[] {
  const { aShape, bShape, transposeA, transposeB } = c;
  const a = tf.randomNormal(aShape, 0, 1, 'float32', seed);
  const b = tf.randomNormal(bShape, 0, 1, 'float32', seed + 1);
  const out = tf.matMul(a, b, transposeA, transposeB);
  if (broadcasts(c)) return [out];
  const dy = tf.randomNormal(out.shape, 0, 1, 'float32', seed + 2);
  const product = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, transposeA, transposeB), dy));
  return [out, ...tf.grads(product)([a, b])];
}

test('OpenBLAS products and their gradients match XNNPACK on random shapes, transposes and batches', async () => {
  const cases = randomCases(60);
  assert.ok(cases.filter(broadcasts).length >= 10 && cases.filter((c) => !broadcasts(c)).length >= 30);
  // Seeds from 1: tfjs draws an unseeded tensor for seed 0.
  const all = () => cases.flatMap((c, i) => productAndGradients(c, 10 * i + 1));
  const stock = await valuesWith('off', all);
  const blas = await valuesWith('on', all);
  let at = 0;
  for (const c of cases) {
    const count = broadcasts(c) ? 1 : 3;
    assertClose(blas.slice(at, at + count), stock.slice(at, at + count), c.name);
    at += count;
  }
  assert.equal(at, stock.length);
});

test('the fused product with a bias matches XNNPACK with every transpose, and its gradients too', async () => {
  const cases = randomCases(24).map((c) => ({ ...c, aShape: c.aShape.slice(-2), bShape: c.bShape.slice(-2) }));
  // tfjs-wasm's own fused kernel adds the bias wrongly when an operand is transposed: there the stock side adds it
  // apart; untransposed, both sides run the fused kernel.
  const run = (fusedTransposed: boolean) => () =>
    cases.flatMap((c, i) => {
      const { transposeA, transposeB } = c;
      const n = c.bShape[transposeB ? 0 : 1];
      const [a, b, bias] = [c.aShape, c.bShape, [n]].map((s, j) => tf.randomNormal(s, 0, 1, 'float32', 10 * i + j + 1));
      const fused = fusedTransposed || (!transposeA && !transposeB);
      const f = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        fused
          ? tf.fused.matMul({ a: x, b: y, bias: z, transposeA, transposeB })
          : tf.add(tf.matMul(x, y, transposeA, transposeB), z);
      const out = f(a, b, bias);
      const dy = tf.randomNormal(out.shape, 0, 1, 'float32', 10 * i + 4);
      return [
        out,
        ...tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(f(x, y, z), dy)))([a, b, bias]),
      ];
    });
  const stock = await valuesWith('off', run(false));
  const blas = await valuesWith('on', run(true));
  cases.forEach((c, i) => assertClose(blas.slice(4 * i, 4 * i + 4), stock.slice(4 * i, 4 * i + 4), `${c.name} + bias`));
});

async function lossesWith(blas: BlasMode, steps: number): Promise<number[]> {
  await initBackend({ backend: 'wasm', blas });
  return tinyTrainingLosses(steps);
}

test('a tiny model trains to the same losses with OpenBLAS and with XNNPACK, to 1e-5 relative', async (t) => {
  const stock = await lossesWith('off', 6);
  const blas = await lossesWith('on', 6);
  t.diagnostic(`losses ${stock.join(' ')}; OpenBLAS - XNNPACK: ${blas.map((l, i) => l - stock[i]).join(' ')}`);
  blas.forEach((l, i) => assert.ok(Math.abs(l - stock[i]) <= 1e-5 * stock[i], `step ${i}: ${l} vs ${stock[i]}`));
});

test('GLIT_BLAS=off runs another GEMM than OpenBLAS: the one a machine without OpenBLAS runs', async () => {
  const product = () => [
    tf.matMul(tf.randomNormal([64, 96], 0, 1, 'float32', 1), tf.randomNormal([96, 80], 0, 1, 'float32', 2)),
  ];
  const [off] = await valuesWith('off', product);
  const [on] = await valuesWith('on', product);
  assert.ok(
    off.some((v, i) => v !== on[i]),
    'OpenBLAS and XNNPACK gave the same bits everywhere: the modes cannot be told apart',
  );
  const info = await initBackend({ backend: 'wasm', blas: 'auto', blasLibrary: MISSING });
  assert.match(
    info.gemm!,
    new RegExp(
      `^GEMM XNNPACK: OpenBLAS not used because ${MISSING} did not load .*apt-get install libopenblas0-pthread`,
    ),
  );
  assert.match(info.device, /; GEMM XNNPACK: OpenBLAS not used because/);
  const without = tf.tidy(() => product()[0].dataSync() as Float32Array);
  assert.deepEqual(without, off);
});

test('GLIT_BLAS=on without the library fails naming it and the package to install, never falling back', async () => {
  for (const backend of ['wasm', 'auto'] as const) {
    await assert.rejects(initBackend({ backend, blas: 'on', blasLibrary: MISSING }), (e: Error) => {
      assert.ok(!(e instanceof BackendUnavailableError), `${backend}: ${e.message}`);
      assert.match(
        e.message,
        new RegExp(`GLIT_BLAS=on .*${MISSING} did not load.*\\n  fix: apt-get install libopenblas0-pthread`),
      );
      return true;
    });
  }
  const r = runGlit(['backend'], { GLIT_BACKEND: 'wasm', GLIT_BLAS: 'on', GLIT_BLAS_LIBRARY: MISSING });
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /GLIT_BLAS=on but OpenBLAS cannot run .*did not load/);
  const off = runGlit(['backend', '--json'], { GLIT_BACKEND: 'wasm', GLIT_BLAS: 'off', GLIT_BLAS_LIBRARY: MISSING });
  assert.equal(off.status, 0, off.stderr);
  assert.equal(JSON.parse(off.stdout).gemm, 'GEMM XNNPACK (GLIT_BLAS=off)');
});

test('GLIT_BLAS values are checked, and name the library', () => {
  assert.deepEqual(optionsFromEnv({ GLIT_BLAS: 'off' }).blas, 'off');
  assert.deepEqual(optionsFromEnv({}).blas, 'auto');
  assert.equal(optionsFromEnv({}).blasLibrary, 'libopenblas.so.0');
  assert.equal(optionsFromEnv({ GLIT_BLAS_LIBRARY: '/opt/lib/libopenblas.so' }).blasLibrary, '/opt/lib/libopenblas.so');
  assert.throws(() => optionsFromEnv({ GLIT_BLAS: 'yes' }), /GLIT_BLAS='yes' is not a mode: use one of auto, on, off/);
});

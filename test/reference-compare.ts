// What the PyTorch parity tests share (test/parity.test.ts, test/resnet.test.ts): running a reference script of
// test/reference, seeded inputs in its NCHW layout, comparing tensors relative to their scale, and the train- and
// eval-mode checks of a model against what test/reference/train_eval.py wrote.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../lib/core/random';
import type { NpyArray } from '../lib/io/npy';
import { toFloat32, type Safetensors } from '../lib/io/safetensors';
import { smoothedCrossEntropy, type Trainable } from '../lib/train/train';

export const PYTHON = process.env.GLIT_REFERENCE_PYTHON ?? '/usr/bin/python3';
/** How far ours may be from the reference, relative (relativeError), on every tensor. */
export const TOLERANCE = 1e-4;
/** Train mode's label smoothing; eval mode uses plain cross-entropy (both sides alike). */
export const SMOOTHING = 0.1;

/** Fails with the fix when the reference's Python lacks torch or numpy. */
export function checkReferencePython(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  assert.equal(
    probe.status,
    0,
    `the PyTorch reference needs ${PYTHON} with torch and numpy (npm run setup installs python3-torch; or set GLIT_REFERENCE_PYTHON): ${probe.stderr ?? probe.error}`,
  );
}

export function runReference(script: string, args: string[]): void {
  // One OpenMP thread: two made the reference 3-9x slower on this 2-core machine. No __pycache__ in the tree.
  const r = spawnSync(PYTHON, [script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  assert.equal(r.status, 0, `reference failed: ${PYTHON} ${script} ${args.join(' ')}\n${r.stderr}`);
}

/** Seeded normal images of `shape` [B, C, H, W], NCHW as PyTorch takes them. */
export function noiseImages(shape: number[], seed: number): NpyArray {
  const rng = new Rng(seed);
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()) };
}

export const nhwc = (a: NpyArray): tf.Tensor4D =>
  tf.tidy(() => tf.transpose(tf.tensor4d(a.data, a.shape as [number, number, number, number]), [0, 2, 3, 1]));

/**
 * max |ours - ref| / max(max |ref|, floor): relative to the tensor's own scale. The floor keeps tensors that are zero
 * in exact arithmetic (the depthwise conv bias's gradient under train-mode BatchNorm, which subtracts the batch mean)
 * from turning float32 rounding into huge ratios.
 */
export function relativeError(ours: Float32Array, ref: Float32Array, floor: number): number {
  assert.equal(ours.length, ref.length);
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

export interface Comparison {
  name: string;
  error: number;
}

/** The floor of relativeError, as a share of the largest reference value in a group (e.g. all gradients). */
const FLOOR_FRACTION = 1e-2;

/** Compares named tensors to the reference's, each relative to its own scale or the group's floor. */
function compareGroup(ours: Map<string, Float32Array>, refs: Map<string, Float32Array>): Comparison[] {
  assert.deepEqual(
    [...ours.keys()].sort(),
    [...refs.keys()].sort(),
    'ours and the reference should have the same tensors',
  );
  const largest = Math.max(...[...refs.values()].map((r) => r.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  return [...ours].map(([name, values]) => ({
    name,
    error: relativeError(values, refs.get(name)!, FLOOR_FRACTION * largest),
  }));
}

/** A file's tensors under `prefix`, keyed by the rest of the name. */
export function group(file: Safetensors, prefix: string): Map<string, Float32Array> {
  return new Map(
    [...file.tensors].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), toFloat32(t)]),
  );
}

function worst(comparisons: Comparison[]): Comparison {
  return comparisons.reduce((a, b) => (b.error > a.error ? b : a));
}

/** A model as the parity checks see it: its variables and logits, its gradients in PyTorch's layout, its buffers. */
export interface ModelUnderTest extends Trainable {
  torchLayout(name: string, gradient: tf.Tensor): tf.Tensor;
  /** The buffers (running statistics, num_batches_tracked) by PyTorch name, as ours saves them. */
  buffers(): Promise<Map<string, Float32Array>>;
}

/** Logits, loss and gradients (PyTorch layout) of one mode, compared to the reference's. */
async function checkMode(
  model: ModelUnderTest,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  mode: 'train' | 'eval',
  smoothing: number,
  ref: Safetensors,
): Promise<Comparison[]> {
  let logits: tf.Tensor2D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    logits = tf.keep(model.logits(x, { training: mode === 'train' }));
    return smoothedCrossEntropy(logits, y, smoothing);
  }, [...model.variables.values()]);
  const gradients = new Map<string, Float32Array>();
  for (const [name, v] of model.variables) {
    const g = grads[v.name];
    assert.ok(g, `${mode}: no gradient reached ${name}`);
    const torch = model.torchLayout(name, g);
    gradients.set(name, (await torch.data()) as Float32Array);
    torch.dispose();
  }
  const outputs = new Map([
    ['logits', (await logits!.data()) as Float32Array],
    ['loss', (await value.data()) as Float32Array],
  ]);
  tf.dispose([logits!, value, ...Object.values(grads)]);
  return [
    ...compareGroup(outputs, new Map([...group(ref, `${mode}/`)].filter(([n]) => !n.includes('/')))),
    ...compareGroup(gradients, group(ref, `${mode}/grad/`)).map((c) => ({ ...c, name: `grad ${c.name}` })),
  ].map((c) => ({ ...c, name: `${mode} ${c.name}` }));
}

/**
 * Train mode (label smoothing SMOOTHING), what it did to the buffers, then eval mode (plain cross-entropy), each
 * against the reference's `ref`; `checkpoint` is what both sides loaded. The buffers are compared by their change, not
 * their new value, so a small slip (biased variance) is not hidden under the unchanged 90%.
 */
export async function compareModes(
  model: ModelUnderTest,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  ref: Safetensors,
  checkpoint: Safetensors,
): Promise<[string, Comparison[]][]> {
  const train = await checkMode(model, x, y, 'train', SMOOTHING, ref);
  const after = await model.buffers();
  const initial = group(checkpoint, '');
  const change = (values: Float32Array, name: string) => values.map((v, i) => v - initial.get(name)![i]);
  const refChanges = new Map([...group(ref, 'train/state/')].map(([n, v]) => [n, change(v, n)]));
  const ourChanges = new Map([...refChanges.keys()].map((n) => [n, change(after.get(n)!, n)]));
  const state = compareGroup(ourChanges, refChanges).map((c) => ({ ...c, name: `train state change ${c.name}` }));
  return [
    ['train', [...train, ...state]],
    ['eval', await checkMode(model, x, y, 'eval', 0, ref)],
  ];
}

/** Asserts that each mode's worst error is within TOLERANCE, and notes it as a diagnostic of `what` (model, backend). */
export function assertModes(t: TestContext, what: string, modes: [string, Comparison[]][]): void {
  for (const [mode, comparisons] of modes) {
    const w = worst(comparisons);
    t.diagnostic(
      `${what} ${mode}: worst relative error ${w.error.toExponential(2)} (${w.name}), ${comparisons.length} tensors`,
    );
    assert.ok(
      w.error <= TOLERANCE,
      `${what}, ${mode} mode: ${w.name} differs from PyTorch by ${w.error.toExponential(3)} relative (tolerance ${TOLERANCE})`,
    );
  }
}

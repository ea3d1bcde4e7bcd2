// tfjs-wasm's BatchMatMul and _FusedMatMul through OpenBLAS's cblas_sgemm, called with koffi on views of the wasm heap:
// operands and output stay where they are, transposes are flags, a bias pre-fills the output (beta = 1). Wasm SIMD
// has 4 lanes and no FMA, so XNNPACK's GEMM runs at a fraction of the native one (docs/kernel-notes.md).
// GLIT_BLAS=auto|on|off chooses (lib/kernels/backend.ts); the stock kernels stay registered underneath for what this
// one leaves to them: other dtypes, fused activations, a bias that is not one value per output column, and batch
// dimensions that broadcast other than one side being a single matrix.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { Rng } from '../../core/random';
import type { StockKernel } from './heap';

export const BLAS_MODES = ['auto', 'on', 'off'] as const;
export type BlasMode = (typeof BLAS_MODES)[number];

/** The library koffi loads unless GLIT_BLAS_LIBRARY names another (a file name the dynamic loader finds, or a path). */
export const OPENBLAS_LIBRARY = 'libopenblas.so.0';

/** GLIT_BLAS=on and OpenBLAS cannot run: what failed and how to fix it. */
export class BlasUnavailableError extends Error {
  constructor(
    readonly reason: string,
    readonly fix: string,
  ) {
    super(`GLIT_BLAS=on but OpenBLAS cannot run tfjs-wasm's products: ${reason}\n  fix: ${fix}`);
    this.name = 'BlasUnavailableError';
  }
}

type Sgemm = (
  order: number,
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

interface OpenBlas {
  sgemm: Sgemm;
  corename: string;
}

/** The libraries loaded so far, by file; and the one the kernels call while `active`. */
const loaded = new Map<string, OpenBlas>();
let library: OpenBlas | undefined;
/** Whether the kernels below call OpenBLAS (else the stock ones run). */
let active = false;

/** Whether wasm's products run on OpenBLAS now: the layers then pass transposes as flags instead of transposing. */
export const blasActive = (): boolean => active;

/** Loads an OpenBLAS library and sets it to one thread (threads slowed a training step on a busy 2-core machine). */
function loadOpenBlas(file: string): OpenBlas {
  let koffi: typeof import('koffi');
  try {
    koffi = require('koffi') as typeof import('koffi');
  } catch (e) {
    throw new BlasUnavailableError(
      `the npm package koffi did not load (${firstLine(e)})`,
      'npm ci (koffi ships prebuilt binaries)',
    );
  }
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(file);
  } catch (e) {
    throw new BlasUnavailableError(
      `${file} did not load (${firstLine(e)})`,
      'apt-get install libopenblas0-pthread (Debian/Ubuntu), or set GLIT_BLAS_LIBRARY to an OpenBLAS library file',
    );
  }
  try {
    const sgemm = lib.func(
      'void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int)',
    ) as Sgemm;
    lib.func('void openblas_set_num_threads(int)')(1);
    const corename = String(lib.func('const char *openblas_get_corename(void)')());
    return { sgemm, corename };
  } catch (e) {
    throw new BlasUnavailableError(
      `${file} is not OpenBLAS with the CBLAS interface (${firstLine(e)})`,
      'point GLIT_BLAS_LIBRARY at libopenblas.so.0 (apt-get install libopenblas0-pthread)',
    );
  }
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

interface Product {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * out = a x b (+ bias per column) with sgemm, one call per matrix of the batch; null where the stock kernel must run
 * (not active, a dtype other than float32, or batch dimensions that broadcast both ways).
 */
function gemm(
  backend: BackendWasm,
  { a, b, transposeA, transposeB }: Product,
  bias?: tf.TensorInfo,
): tf.TensorInfo | null {
  if (!active || !library || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const [ra, rb] = [a.shape.length, b.shape.length];
  const m = a.shape[transposeA ? ra - 1 : ra - 2];
  const k = a.shape[transposeA ? ra - 2 : ra - 1];
  const n = b.shape[transposeB ? rb - 2 : rb - 1];
  if (k !== b.shape[transposeB ? rb - 1 : rb - 2]) return null; // the stock kernel's error message
  const batchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = tf.util.sizeFromShape(batchShape);
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  if (bias && (bias.dtype !== 'float32' || tf.util.sizeFromShape(bias.shape) !== n)) return null;
  const out = backend.makeOutput([...batchShape, m, n], 'float32');
  if (batch * m * n === 0) return out;
  // After makeOutput: its malloc may have grown the heap and so replaced the buffer.
  const heap = (backend.wasm as unknown as { HEAPF32: Float32Array }).HEAPF32;
  const [offA, offB, offC] = [a, b, out].map((t) => backend.getMemoryOffset(t.dataId) / 4);
  const size = batch * m * n;
  if (bias) {
    // One row of bias, then doubling copies: log2(rows) memmoves instead of one per row.
    const from = backend.getMemoryOffset(bias.dataId) / 4;
    heap.copyWithin(offC, from, from + n);
    for (let filled = n; filled < size; filled *= 2)
      heap.copyWithin(offC + filled, offC, offC + Math.min(filled, size - filled));
  } else if (k === 0) heap.fill(0, offC, offC + size);
  if (k === 0) return out; // sgemm rejects a leading dimension of 0
  const [strideA, strideB] = [batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n];
  for (let i = 0; i < batch; i++) {
    const pa = offA + i * strideA;
    const pb = offB + i * strideB;
    const pc = offC + i * m * n;
    library.sgemm(
      ROW_MAJOR,
      transposeA ? TRANS : NO_TRANS,
      transposeB ? TRANS : NO_TRANS,
      m,
      n,
      k,
      1,
      heap.subarray(pa, pa + m * k),
      transposeA ? m : k,
      heap.subarray(pb, pb + k * n),
      transposeB ? k : n,
      bias ? 1 : 0,
      heap.subarray(pc, pc + m * n),
      n,
    );
  }
  return out;
}

interface BatchMatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  attrs: { transposeA: boolean; transposeB: boolean };
  backend: BackendWasm;
}

interface FusedMatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  attrs: { transposeA: boolean; transposeB: boolean; activation: string };
  backend: BackendWasm;
}

export const batchMatMul = (stock: StockKernel) => (args: BatchMatMulArgs) =>
  gemm(args.backend, { ...args.inputs, ...args.attrs }) ?? stock(args);

export const fusedMatMul = (stock: StockKernel) => (args: FusedMatMulArgs) => {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const plain = (args.attrs.activation ?? 'linear') === 'linear' && !preluActivationWeights;
  return (plain && gemm(args.backend, { a, b, ...args.attrs }, bias)) || stock(args);
};

interface Operand {
  data: Float32Array;
  shape: number[];
}

interface CheckProduct {
  name: string;
  a: Operand;
  b: Operand;
  transposeA: boolean;
  transposeB: boolean;
  bias?: Operand;
}

/** Integer values in [-4, 4]: every product and sum is exact in float32, whatever the order of the additions. */
const integers = (rng: Rng, shape: number[]): Operand => ({
  data: Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => rng.int(9) - 4),
  shape,
});

/** The start-up check's products: each transpose pair plain, with a bias, batched, and broadcast from one matrix. */
function checkProducts(rng: Rng): CheckProduct[] {
  const products: CheckProduct[] = [];
  for (const [transposeA, transposeB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    const left = (batch: number[]) => integers(rng, [...batch, ...(transposeA ? [6, 5] : [5, 6])]);
    const right = (batch: number[]) => integers(rng, [...batch, ...(transposeB ? [4, 6] : [6, 4])]);
    const flags = { transposeA, transposeB };
    const name = (a: Operand, b: Operand, bias = '') =>
      `[${a.shape.join(', ')}] x [${b.shape.join(', ')}]${bias}, transposeA ${transposeA}, transposeB ${transposeB}`;
    const [a, b] = [left([]), right([])];
    products.push({ name: name(a, b), a, b, ...flags });
    products.push({ name: name(a, b, ' + bias'), a, b, ...flags, bias: integers(rng, [4]) });
    const [batchedA, batchedB] = [left([3]), right([3])];
    products.push({ name: name(batchedA, batchedB), a: batchedA, b: batchedB, ...flags });
    const one = left([1]);
    products.push({ name: name(one, batchedB), a: one, b: batchedB, ...flags });
  }
  return products;
}

/** The exact product, in plain loops: batched, the single-matrix side broadcast, the bias added to every row. */
function exactProduct({ a, b, transposeA, transposeB, bias }: CheckProduct): Float32Array {
  const [ra, rb] = [a.shape.length, b.shape.length];
  const [m, k] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const n = b.shape[transposeB ? rb - 2 : rb - 1];
  const [batchA, batchB] = [a.data.length / (m * k), b.data.length / (k * n)];
  const batch = Math.max(batchA, batchB);
  const out = new Float32Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const [pa, pb] = [(batchA === 1 ? 0 : p) * m * k, (batchB === 1 ? 0 : p) * k * n];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = bias ? bias.data[j] : 0;
        for (let l = 0; l < k; l++)
          sum += a.data[pa + (transposeA ? l * m + i : i * k + l)] * b.data[pb + (transposeB ? j * k + l : l * n + j)];
        out[(p * m + i) * n + j] = sum;
      }
    }
  }
  return out;
}

/** The product through tf.matMul or tf.fused.matMul, on whichever GEMM is active. */
function tfProduct({ a, b, transposeA, transposeB, bias }: CheckProduct): Float32Array {
  return tf.tidy(() => {
    const [ta, tb] = [tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape)];
    const out = bias
      ? tf.fused.matMul({ a: ta, b: tb, bias: tf.tensor(bias.data, bias.shape), transposeA, transposeB })
      : tf.matMul(ta, tb, transposeA, transposeB);
    return out.dataSync() as Float32Array;
  });
}

/** Where two results differ by more than `tolerance`, in words; undefined where they agree. */
function difference(got: Float32Array, expected: Float32Array, tolerance: number): string | undefined {
  if (got.length !== expected.length) return `${got.length} values instead of ${expected.length}`;
  const i = got.findIndex((v, j) => !(Math.abs(v - expected[j]) <= tolerance));
  return i < 0 ? undefined : `element ${i} is ${got[i]}, not ${expected[i]}`;
}

/**
 * The first check OpenBLAS fails, in words; undefined when it passes. Integer-valued products (each transpose pair,
 * bias, batches) must equal the exact result bit for bit, so a wrong layout, stride or flag shows; a product of
 * random floats must agree with XNNPACK's to 1e-5 of its largest value (~100 ulp; the two add in different orders),
 * so a core computing badly shows. (tfjs-wasm's own fused product with a bias is wrong with either operand
 * transposed, so the integer cases are checked against plain loops rather than against it.)
 */
function selfCheck(): string | undefined {
  const run = (on: boolean, product: CheckProduct): Float32Array => {
    active = on;
    try {
      return tfProduct(product);
    } finally {
      active = false;
    }
  };
  const rng = new Rng(1);
  for (const product of checkProducts(rng)) {
    const failed = difference(run(true, product), exactProduct(product), 0);
    if (failed) return `its product ${product.name} is wrong: ${failed}`;
  }
  const normal = (shape: number[]): Operand => ({
    data: Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => rng.normal()),
    shape,
  });
  const floats = {
    name: 'of random floats',
    a: normal([64, 96]),
    b: normal([96, 80]),
    transposeA: false,
    transposeB: false,
  };
  const stock = run(false, floats);
  const scale = stock.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
  const failed = difference(run(true, floats), stock, 1e-5 * scale);
  return failed && `its [64, 96] x [96, 80] product of random floats differs from XNNPACK's: ${failed}`;
}

/**
 * Chooses the GEMM of the wasm kernels (after registerWasmKernels) and says which runs, in words. auto: OpenBLAS when
 * it loads and passes the start-up check, else XNNPACK with the reason; on: the same, but a failure throws
 * BlasUnavailableError; off: XNNPACK.
 */
export function selectGemm(mode: BlasMode, file = OPENBLAS_LIBRARY): string {
  active = false;
  if (mode === 'off') return 'GEMM XNNPACK (GLIT_BLAS=off)';
  try {
    library = loaded.get(file) ?? loadOpenBlas(file);
    loaded.set(file, library);
    const failed = selfCheck();
    if (failed)
      throw new BlasUnavailableError(
        `OpenBLAS ${library.corename} failed the start-up check: ${failed}`,
        'GLIT_BLAS=off, and report the machine (OPENBLAS_CORETYPE forces another core)',
      );
    active = true;
    return `GEMM OpenBLAS ${library.corename}, 1 thread`;
  } catch (e) {
    if (mode === 'on' || !(e instanceof BlasUnavailableError)) throw e;
    return `GEMM XNNPACK: OpenBLAS not used because ${e.reason} (fix: ${e.fix})`;
  }
}

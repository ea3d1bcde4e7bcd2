// Registers this folder's tfjs-wasm kernels in place of the stock Slice, SplitV, Unpack, Concat and Identity, and the
// products that call OpenBLAS once selectGemm (blas-matmul.ts) turns it on.
import * as tf from '@tensorflow/tfjs';
import { batchMatMul, fusedMatMul } from './blas-matmul';
import { concat } from './concat';
import type { StockKernel } from './heap';
import { identity } from './identity';
import { slice, splitV, unpack } from './slice';

let registered = false;

/** Replaces tfjs-wasm's Slice, SplitV, Unpack, Concat, Identity and product kernels; once, after wasm registered. */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  const stock = (name: string): StockKernel => {
    const config = tf.getKernel(name, 'wasm');
    if (!config) throw new Error(`tfjs-wasm has no ${name} kernel to replace`);
    tf.unregisterKernel(name, 'wasm');
    return config.kernelFunc as unknown as StockKernel;
  };
  const register = (kernelName: string, kernelFunc: (args: never) => tf.TensorInfo | tf.TensorInfo[]) =>
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  register(tf.Slice, slice(stock(tf.Slice)));
  register(tf.SplitV, splitV(stock(tf.SplitV)));
  register(tf.Unpack, unpack(stock(tf.Unpack)));
  register(tf.Concat, concat(stock(tf.Concat)));
  register(tf.BatchMatMul, batchMatMul(stock(tf.BatchMatMul)));
  register(tf._FusedMatMul, fusedMatMul(stock(tf._FusedMatMul)));
  stock(tf.Identity); // replaced for every dtype: the stock one is never needed
  register(tf.Identity, identity);
}

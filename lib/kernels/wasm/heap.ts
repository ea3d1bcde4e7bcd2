// What the kernels that copy inside tfjs-wasm's heap share: the dtypes they copy and a view of the heap.
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Bytes per element of the dtypes copied in the heap; the stock kernels handle the others (string). */
export const ELEMENT_BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

/**
 * The whole wasm heap in elements of `bytes` bytes. Call it after makeOutput: its malloc may have grown (and so
 * replaced) the heap's buffer.
 */
export function heapView(backend: BackendWasm, out: tf.TensorInfo, bytes: number): Int32Array | Uint8Array {
  const buffer = backend.typedArrayFromHeap(out).buffer;
  return bytes === 4 ? new Int32Array(buffer) : new Uint8Array(buffer);
}

/** A stock tfjs-wasm kernel, kept for the dtypes a replacement leaves to it. */
export type StockKernel = (args: object) => tf.TensorInfo | tf.TensorInfo[];

// Concat for tfjs-wasm with the stock kernel's copies, but each run copied with copyWithin inside the heap rather than
// through a fresh subarray (docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ELEMENT_BYTES, heapView, type StockKernel } from './heap';

interface ConcatArgs {
  inputs: tf.TensorInfo[];
  attrs: { axis: number | number[] };
  backend: BackendWasm;
}

/** The inputs joined along `axis` as a new tensor on the heap: per index of the axes before it, one run from each. */
function concatInHeap(backend: BackendWasm, inputs: tf.TensorInfo[], axis: number, bytes: number): tf.TensorInfo {
  const outShape = tf.backend_util.computeOutShape(
    inputs.map((t) => t.shape),
    axis,
  );
  const out = backend.makeOutput(outShape, inputs[0].dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const heap = heapView(backend, out, bytes);
  const outer = tf.util.sizeFromShape(outShape.slice(0, axis));
  const row = tf.util.sizeFromShape(outShape.slice(axis));
  let column = backend.getMemoryOffset(out.dataId) / bytes;
  for (const t of inputs) {
    const run = tf.util.sizeFromShape(t.shape.slice(axis));
    let from = backend.getMemoryOffset(t.dataId) / bytes;
    for (let i = 0, to = column; i < outer; i++, from += run, to += row) heap.copyWithin(to, from, from + run);
    column += run;
  }
  return out;
}

export const concat = (stock: StockKernel) => (args: ConcatArgs) => {
  const { inputs, attrs, backend } = args;
  const bytes = ELEMENT_BYTES[inputs[0].dtype];
  if (bytes === undefined) return stock(args);
  return concatInHeap(backend, inputs, tf.util.parseAxisParam(attrs.axis, inputs[0].shape)[0], bytes);
};

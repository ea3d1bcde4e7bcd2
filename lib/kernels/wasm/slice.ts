// Slice, SplitV and Unpack for tfjs-wasm that copy each contiguous run of a slice inside the heap with
// TypedArray.prototype.copyWithin (a native memmove): the same bytes, so bitwise equal. The stock Slice reads its whole
// input out of the heap into JavaScript for every piece; the stock SplitV and Unpack call it directly, not through the
// kernel registry, so they are replaced too (docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ELEMENT_BYTES, heapView, type StockKernel } from './heap';

interface SliceArgs {
  inputs: { x: tf.TensorInfo };
  attrs: { begin: number | number[]; size: number | number[] };
  backend: BackendWasm;
}

interface SplitArgs {
  inputs: { x: tf.TensorInfo };
  attrs: { numOrSizeSplits: number | number[]; axis: number | number[] };
  backend: BackendWasm;
}

interface UnpackArgs {
  inputs: { value: tf.TensorInfo };
  attrs: { axis: number };
  backend: BackendWasm;
}

/** x[begin : begin + size] as a new tensor on the heap; null for a dtype left to the stock kernel. */
function sliceInHeap(
  backend: BackendWasm,
  x: tf.TensorInfo,
  beginIn: number | number[],
  sizeIn: number | number[],
): tf.TensorInfo | null {
  const bytes = ELEMENT_BYTES[x.dtype];
  if (bytes === undefined) return null;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, beginIn, sizeIn);
  const out = backend.makeOutput(size, x.dtype);
  const total = tf.util.sizeFromShape(size);
  if (total === 0) return out;
  const heap = heapView(backend, out, bytes);
  let to = backend.getMemoryOffset(out.dataId) / bytes;
  const rank = x.shape.length;
  const strides = new Array<number>(rank);
  let from = backend.getMemoryOffset(x.dataId) / bytes;
  for (let a = rank - 1, stride = 1; a >= 0; stride *= x.shape[a--]) {
    strides[a] = stride;
    from += begin[a] * stride;
  }
  // Axes after the last one cut short are whole: from there on each run is contiguous in x.
  let inner = rank - 1;
  while (inner >= 0 && size[inner] === x.shape[inner]) inner--;
  if (inner < 0) {
    heap.copyWithin(to, from, from + total);
    return out;
  }
  const run = size[inner] * strides[inner];
  const index = new Array<number>(inner).fill(0);
  for (let copied = 0; copied < total; copied += run) {
    heap.copyWithin(to, from, from + run);
    to += run;
    // Next run: odometer over the axes before `inner`.
    for (let a = inner - 1; a >= 0; a--) {
      from += strides[a];
      if (++index[a] < size[a]) break;
      from -= size[a] * strides[a];
      index[a] = 0;
    }
  }
  return out;
}

export const slice = (stock: StockKernel) => (args: SliceArgs) =>
  sliceInHeap(args.backend, args.inputs.x, args.attrs.begin, args.attrs.size) ?? stock(args);

export const splitV = (stock: StockKernel) => (args: SplitArgs) => {
  const {
    inputs: { x },
    attrs: { numOrSizeSplits, axis },
    backend,
  } = args;
  if (ELEMENT_BYTES[x.dtype] === undefined) return stock(args);
  const at = tf.util.parseAxisParam(axis, x.shape)[0];
  const begin = x.shape.map(() => 0);
  return tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, at).map((length) => {
    const piece = sliceInHeap(
      backend,
      x,
      begin,
      x.shape.map((d, a) => (a === at ? length : d)),
    )!;
    begin[at] += length;
    return piece;
  });
};

export const unpack = (stock: StockKernel) => (args: UnpackArgs) => {
  const {
    inputs: { value },
    attrs,
    backend,
  } = args;
  if (ELEMENT_BYTES[value.dtype] === undefined) return stock(args);
  const axis = attrs.axis < 0 ? attrs.axis + value.shape.length : attrs.axis;
  const shape = value.shape.filter((_, a) => a !== axis);
  return Array.from({ length: value.shape[axis] }, (_, i) => {
    const piece = sliceInHeap(
      backend,
      value,
      value.shape.map((_, a) => (a === axis ? i : 0)),
      value.shape.map((d, a) => (a === axis ? 1 : d)),
    )!;
    return { ...piece, shape };
  });
};

// Faster Slice, SplitV, Unpack, Concat and Identity kernels for tfjs-wasm. Its stock Slice reads its whole input out of
// the wasm heap into a JavaScript copy (readSync) for every piece, then copies row by row: ~4 ms for a [41, 64, 256]
// slice a clone does in 0.3 ms, 8-14 ms for each q/k/v split of [64, 50, 288] in an attention step. These copy each
// contiguous run of the slice inside the heap with TypedArray.prototype.copyWithin (a native memmove): the same bytes,
// so bitwise equal.
// Its SplitV and Unpack call that Slice function directly, not through the kernel registry, so they are replaced too.
// Its Concat copies each run through a fresh subarray (~2.5 ms a call inside a glit-proxy step; 0.35 ms alone for
// [64, 50, 64|128]); here, the same copies with copyWithin (0.20 ms alone).
// Its Identity copies the whole tensor, and tfjs runs Identity for every tensor a gradient saves (engine.clone): ~280
// copies, 20 ms of a deit-proxy training step. Identity here shares the buffer, counting one more reference, as
// tfjs-wasm's Reshape and the cpu backend's Identity do; no tfjs kernel writes into its input, so sharing is safe.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

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

/** Bytes per element of the dtypes copied here; the stock kernels handle the others (string). */
const ELEMENT_BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

/** The whole wasm heap in elements of `bytes` bytes. Call it after makeOutput: its malloc may have grown (and so
 * replaced) the heap's buffer. */
function heapView(backend: BackendWasm, out: tf.TensorInfo, bytes: number): Int32Array | Uint8Array {
  const buffer = backend.typedArrayFromHeap(out).buffer;
  return bytes === 4 ? new Int32Array(buffer) : new Uint8Array(buffer);
}

/** x[begin : begin + size] as a new tensor on the heap; null for a dtype left to the stock kernel. */
function sliceInHeap(backend: BackendWasm, x: tf.TensorInfo, beginIn: number | number[], sizeIn: number | number[]): tf.TensorInfo | null {
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

/** The inputs joined along `axis` as a new tensor on the heap: per index of the axes before it, one run from each. */
function concatInHeap(backend: BackendWasm, inputs: tf.TensorInfo[], axis: number, bytes: number): tf.TensorInfo {
  const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis);
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

let registered = false;

/** Replaces tfjs-wasm's Slice, SplitV, Unpack, Concat and Identity kernels (once; call after the wasm backend is registered). */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  const stock = (name: string) => {
    const config = tf.getKernel(name, 'wasm');
    if (!config) throw new Error(`tfjs-wasm has no ${name} kernel to replace`);
    tf.unregisterKernel(name, 'wasm');
    return config.kernelFunc as unknown as (args: object) => tf.TensorInfo | tf.TensorInfo[];
  };
  const stockSlice = stock(tf.Slice);
  const stockSplit = stock(tf.SplitV);
  const stockUnpack = stock(tf.Unpack);
  const stockConcat = stock(tf.Concat);
  stock(tf.Identity); // replaced for every dtype: the stock one is never needed
  const register = (kernelName: string, kernelFunc: (args: never) => tf.TensorInfo | tf.TensorInfo[]) =>
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });

  register(tf.Slice, (args: SliceArgs) => sliceInHeap(args.backend, args.inputs.x, args.attrs.begin, args.attrs.size) ?? stockSlice(args));

  register(tf.SplitV, (args: SplitArgs) => {
    const { inputs: { x }, attrs: { numOrSizeSplits, axis }, backend } = args;
    if (ELEMENT_BYTES[x.dtype] === undefined) return stockSplit(args);
    const at = tf.util.parseAxisParam(axis, x.shape)[0];
    const begin = x.shape.map(() => 0);
    return tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, at).map((length) => {
      const piece = sliceInHeap(backend, x, begin, x.shape.map((d, a) => (a === at ? length : d)))!;
      begin[at] += length;
      return piece;
    });
  });

  register(tf.Concat, (args: { inputs: tf.TensorInfo[]; attrs: { axis: number | number[] }; backend: BackendWasm }) => {
    const { inputs, attrs, backend } = args;
    const bytes = ELEMENT_BYTES[inputs[0].dtype];
    if (bytes === undefined) return stockConcat(args);
    return concatInHeap(backend, inputs, tf.util.parseAxisParam(attrs.axis, inputs[0].shape)[0], bytes);
  });

  register(tf.Identity, (args: { inputs: { x: tf.TensorInfo }; backend: BackendWasm }) => {
    const { inputs: { x }, backend } = args;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });

  register(tf.Unpack, (args: UnpackArgs) => {
    const { inputs: { value }, attrs, backend } = args;
    if (ELEMENT_BYTES[value.dtype] === undefined) return stockUnpack(args);
    const axis = attrs.axis < 0 ? attrs.axis + value.shape.length : attrs.axis;
    const shape = value.shape.filter((_, a) => a !== axis);
    return Array.from({ length: value.shape[axis] }, (_, i) => {
      const piece = sliceInHeap(backend, value, value.shape.map((_, a) => (a === axis ? i : 0)), value.shape.map((d, a) => (a === axis ? 1 : d)))!;
      return { ...piece, shape };
    });
  });
}

// Identity for tfjs-wasm that shares its input's buffer, counting one more reference, as tfjs-wasm's Reshape and the
// cpu backend's Identity do: the stock one copies, and tfjs runs Identity for every tensor a gradient saves
// (docs/kernel-notes.md). No tfjs kernel writes into its input, so sharing is safe.
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export function identity(args: { inputs: { x: tf.TensorInfo }; backend: BackendWasm }): tf.TensorInfo {
  const {
    inputs: { x },
    backend,
  } = args;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

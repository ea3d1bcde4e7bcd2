// Faster versions of some of lib/model/layers.ts's layers for one backend, chosen once, when initBackend starts that
// backend: a layer calls the entry when the running backend has one, its own plain code otherwise. So switch backends
// with initBackend: tf.setBackend alone leaves the table as it was (plain until initBackend first runs).
// Each hand-written gradient is a tf.tidy of its own: tfjs runs a custom gradFunc outside the per-op tidy of its own
// gradients, so its intermediates would live to the backward's end.
import type * as tf from '@tensorflow/tfjs';
import { wasmAttend } from './wasm/attention';
import { wasmDepthwiseCorrelate, wasmDepthwiseFilterGradient } from './wasm/depthwise-conv';
import { wasmGelu } from './wasm/gelu';
import { wasmLinear } from './wasm/linear';
import { wasmBatchNormTraining, wasmLayerNorm, type TrackStatistics } from './wasm/normalisation';

export interface FastPaths {
  /** attend: qkv [B, T, 3 * inner] -> [B, T, inner]. */
  attend?: (qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor2D) => tf.Tensor3D;
  /** rows [N, in] x weight [in, out] + bias [out]. */
  linear?: (rows: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor) => tf.Tensor;
  /** LayerNorm over the last axis. */
  layerNorm?: (x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number) => tf.Tensor;
  /** Training-mode BatchNorm of x [B, T, C] with the batch statistics, which go to `track`. */
  batchNormTraining?: (
    x: tf.Tensor3D,
    weight: tf.Tensor,
    bias: tf.Tensor,
    eps: number,
    track: TrackStatistics,
  ) => tf.Tensor3D;
  gelu?: (x: tf.Tensor) => tf.Tensor;
  /** The "same" depthwise correlation of x [B, H, W, C] with w [kh, kw, C]; undefined where the plain one is fast. */
  depthwiseCorrelate?: (x: tf.Tensor4D, w: tf.Tensor3D) => tf.Tensor4D | undefined;
  /** Its filter gradient, from dy and the input padded by (kh - 1, kw - 1). */
  depthwiseFilterGradient?: (padded: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number) => tf.Tensor3D;
}

const BY_BACKEND: Partial<Record<string, FastPaths>> = {
  wasm: {
    attend: wasmAttend,
    linear: wasmLinear,
    layerNorm: wasmLayerNorm,
    batchNormTraining: wasmBatchNormTraining,
    gelu: wasmGelu,
    depthwiseCorrelate: wasmDepthwiseCorrelate,
    depthwiseFilterGradient: wasmDepthwiseFilterGradient,
  },
};

const PLAIN: FastPaths = {};
let active = PLAIN;

/** The fast paths of the backend initBackend started last; none before it ran. */
export const fastPaths = (): FastPaths => active;

/** Chooses the fast paths of `backend`; initBackend calls it once the backend runs. */
export function selectFastPaths(backend: string): void {
  active = BY_BACKEND[backend] ?? PLAIN;
}

// Weight sharing by slicing (AutoFormer's weight entanglement), the supernet's alternative to separate weights per
// candidate: each block index owns one set of the largest weights any of its candidates needs, and a candidate's
// weights are slices of them. Slices are taken inside the gradient closure, so a step's gradient reaches only the
// sliced region. Which region a candidate gets follows the channels it reads and writes (each layer's extents in
// lib/model/block-tensors.ts): attention the first Cg block channels, the local heads (conv or window attention) the
// last Cl; every inner width its first part (Cg*ev of each of q, k, v; E*Cl of each GLU half; r*C); the depthwise taps
// centre-cropped to K (k x k for 'conv2d'); LayerNorms whole.
// BatchNorm is not sliced: as in slimmable networks, each conv shape (G, E, K) has its own, whose statistics describe
// that shape alone. The optimizer steps a sliced tensor whole, as PyTorch's AdamW does for AutoFormer: outside the
// slice the gradient is zero, but weight decay and the Adam moments still move those weights.
import * as tf from '@tensorflow/tfjs';
import { localChannels, type BlockGene, type ModelConfig } from '../model/arch';
import type { BlockParams, BlockWeights } from '../model/block';
import {
  assembleBlock,
  blockDims,
  initLayers,
  largestDims,
  layerIn,
  presentLayers,
  type BlockDims,
  type BlockLayer,
} from '../model/block-tensors';
import { initBatchNorm, type Affine, type BatchNorm } from '../model/layers';
import type { Rng } from '../core/random';

/** One block index's largest weights; its conv module's BatchNorms are `norms`, by convShapeKey. */
export interface SlicedBlock {
  weights: BlockWeights;
  norms: Map<string, BatchNorm>;
}

/** Names the BatchNorm of a conv shape: `g{G}e{E}k{K}`. */
export const convShapeKey = (gene: BlockGene): string =>
  `g${gene.globalHeads}e${gene.convExpansion}k${gene.kernelSize}`;

/** The largest weights the genes of one block need (every gene with the model's local module and width). */
export function initSlicedBlock(model: ModelConfig, genes: BlockGene[], rng: Rng): SlicedBlock {
  const dims = largestDims(genes.map((g) => blockDims(model, g)));
  return {
    weights: initLayers(model.localModule, dims, rng, (l) => l.kind === 'batchNorm') as BlockWeights,
    norms: new Map(),
  };
}

/** The BatchNorm of the gene's conv shape, created on first use (E * Cl channels); undefined without a conv module. */
export function convNorm(block: SlicedBlock, model: ModelConfig, gene: BlockGene): BatchNorm | undefined {
  const local = block.weights.local;
  if (!local || local.kind === 'window-attention' || localChannels(model, gene) === 0) return undefined;
  const key = convShapeKey(gene);
  let norm = block.norms.get(key);
  if (!norm) {
    norm = initBatchNorm(blockDims(model, gene).convWidth);
    block.norms.set(key, norm);
  }
  return norm;
}

/** [start, size) of a layer's axis of `length` (per section) for a block of `dims`: its first or its last part. */
const range = (extent: NonNullable<BlockLayer['in']>, dims: BlockDims, length: number): [number, number] => {
  const size = dims[extent.size];
  return [extent.at === 'first' ? 0 : length - size, size];
};

/** Along `axis`, [start, start + length) of each of `count` equal sections (3 for q, k, v; 2 for GLU halves). */
function sections(t: tf.Tensor, axis: number, count: number, [start, length]: [number, number]): tf.Tensor {
  const size = t.shape[axis] / count;
  const parts = Array.from({ length: count }, (_, s) => {
    const begin = t.shape.map((_, a) => (a === axis ? s * size + start : 0));
    return tf.slice(
      t,
      begin,
      t.shape.map((d, a) => (a === axis ? length : d)),
    );
  });
  return parts.length === 1 ? parts[0] : tf.concat(parts, axis);
}

/**
 * The slice of a layer's largest weights that a block of `dims` uses: rows and (per section) columns of a linear by
 * its extents; the centre K taps (per spatial axis) and first channels of a depthwise conv; LayerNorms whole.
 */
function sliceLayer(layer: BlockLayer, p: Affine, dims: BlockDims): Affine<tf.Tensor> {
  const count = layer.sections ?? 1;
  const out = range(layer.out, dims, p.bias.shape[0] / count);
  const bias = sections(p.bias, 0, count, out);
  switch (layer.kind) {
    case 'linear':
    case 'pointwise': {
      const [start, size] = range(layer.in!, dims, p.weight.shape[0]);
      return { weight: sections(tf.slice(p.weight, [start, 0], [size, -1]), 1, count, out), bias };
    }
    case 'depthwise1d':
    case 'depthwise2d': {
      const taps = (n: number) => Array(layer.kind === 'depthwise1d' ? 1 : 2).fill(n);
      const offset = (p.weight.shape[0] - dims.kernel) / 2;
      return { weight: tf.slice(p.weight, [...taps(offset), out[0]], [...taps(dims.kernel), out[1]]), bias };
    }
    case 'layerNorm':
    case 'batchNorm':
      return p;
  }
}

/** The gene's weights as slices of the block's (call inside tf.tidy or a gradient closure: the slices are new tensors). */
export function sliceBlock(block: SlicedBlock, model: ModelConfig, gene: BlockGene): BlockParams<tf.Tensor> {
  const dims = blockDims(model, gene);
  const slice = (l: BlockLayer) =>
    l.kind === 'batchNorm' ? convNorm(block, model, gene) : sliceLayer(l, layerIn<Affine>(block.weights, l)!, dims);
  return assembleBlock(model.localModule, presentLayers(model.localModule, dims), slice) as BlockParams<tf.Tensor>;
}

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
import type * as tf from '@tensorflow/tfjs';
import { localChannels, type BlockGene, type ModelConfig } from '../model/arch';
import type { BlockParams, BlockWeights } from '../model/block';
import {
  assembleBlock, blockDims, initLayers, largestDims, layerIn, presentLayers, sliceLayer, type BlockLayer,
} from '../model/block-tensors';
import { initBatchNorm, type Affine, type BatchNorm } from '../model/layers';
import type { Rng } from '../core/random';

/** One block index's largest weights; its conv module's BatchNorms are `norms`, by convShapeKey. */
export interface SlicedBlock {
  weights: BlockWeights;
  norms: Map<string, BatchNorm>;
}

/** Names the BatchNorm of a conv shape: `g{G}e{E}k{K}`. */
export const convShapeKey = (gene: BlockGene): string => `g${gene.globalHeads}e${gene.convExpansion}k${gene.kernelSize}`;

/** The largest weights the genes of one block need (every gene with the model's local module and width). */
export function initSlicedBlock(model: ModelConfig, genes: BlockGene[], rng: Rng): SlicedBlock {
  const dims = largestDims(genes.map((g) => blockDims(model, g)));
  return { weights: initLayers(model.localModule, dims, rng, (l) => l.kind === 'batchNorm') as BlockWeights, norms: new Map() };
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

/** The gene's weights as slices of the block's (call inside tf.tidy or a gradient closure: the slices are new tensors). */
export function sliceBlock(block: SlicedBlock, model: ModelConfig, gene: BlockGene): BlockParams<tf.Tensor> {
  const dims = blockDims(model, gene);
  const slice = (l: BlockLayer) =>
    l.kind === 'batchNorm' ? convNorm(block, model, gene) : sliceLayer(l, layerIn<Affine>(block.weights, l)!, dims);
  return assembleBlock(model.localModule, presentLayers(model.localModule, dims), slice) as BlockParams<tf.Tensor>;
}

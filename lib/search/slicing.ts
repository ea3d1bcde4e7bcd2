// Weight sharing by slicing (AutoFormer's weight entanglement), the supernet's alternative to separate weights per
// candidate: each block index owns one set of the largest weights any of its candidates needs, and a candidate's
// weights are slices of them. Slices are taken inside the gradient closure, so a step's gradient reaches only the
// sliced region. Which region a candidate gets follows the channels it reads and writes:
//   attention (G global heads)  block channels [0, Cg): first rows of qkv, first Cg*ev columns of each of q, k, v;
//                               proj's first Cg*ev rows and first Cg columns
//   conv path (L local heads)   block channels [C - Cl, C): last rows of expand, first E*Cl columns of each GLU half;
//                               depthwise taps centre-cropped to K (k x k for 'conv2d'), first E*Cl channels;
//                               project's first E*Cl rows and last Cl columns
//   window attention            the last Cl rows/columns of its qkv sections and proj
//   FFN                         fc1's first r*C columns, fc2's first r*C rows; LayerNorms whole
// BatchNorm is not sliced: as in slimmable networks, each conv shape (G, E, K) has its own, whose statistics describe
// that shape alone. The optimizer steps a sliced tensor whole, as PyTorch's AdamW does for AutoFormer: outside the
// slice the gradient is zero, but weight decay and the Adam moments still move those weights.
import * as tf from '@tensorflow/tfjs';
import { globalChannels, localChannels, type BlockGene, type ModelConfig } from '../model/arch';
import type { BlockParams } from '../model/block';
import {
  initBatchNorm, initDepthwiseConv, initDepthwiseConv2d, initLinear, initNorm, initPointwiseConv, type BatchNorm, type DepthwiseConv,
  type DepthwiseConv2d, type Linear,
} from '../model/layers';
import type { BlockWeights } from '../model/model';
import type { Rng } from '../core/random';

/** One block index's largest weights; its conv path's BatchNorms are `norms`, by convShapeKey. */
export interface SlicedBlock {
  weights: BlockWeights;
  norms: Map<string, BatchNorm>;
}

/** Names the BatchNorm of a conv shape: `g{G}e{E}k{K}`. */
export const convShapeKey = (gene: BlockGene): string => `g${gene.globalHeads}e${gene.convExpansion}k${gene.kernelSize}`;

const largest = (values: number[]): number => Math.max(0, ...values);

/** The largest weights the genes of one block need (every gene with the model's local module and width). */
export function initSlicedBlock(model: ModelConfig, genes: BlockGene[], rng: Rng): SlicedBlock {
  const width = model.width;
  const withAttention = genes.filter((g) => globalChannels(model, g) > 0);
  const withLocal = genes.filter((g) => localChannels(model, g) > 0);
  const hidden = largest(genes.map((g) => Math.round(g.ffnRatio * width)));
  const weights: BlockWeights = { norm1: initNorm(width), norm2: initNorm(width), mlp: { fc1: initLinear(width, hidden, rng), fc2: initLinear(hidden, width, rng) } };
  if (withAttention.length > 0) {
    const cg = largest(withAttention.map((g) => globalChannels(model, g)));
    const inner = largest(withAttention.map((g) => globalChannels(model, g) * g.qkvRatio!));
    weights.attention = { qkv: initLinear(cg, 3 * inner, rng), proj: initLinear(inner, cg, rng) };
  }
  const cl = largest(withLocal.map((g) => localChannels(model, g)));
  if (withLocal.length > 0 && model.localModule === 'window-attention') {
    weights.localAttention = { qkv: initLinear(cl, 3 * cl, rng), proj: initLinear(cl, cl, rng) };
  } else if (withLocal.length > 0) {
    const inner = largest(withLocal.map((g) => localChannels(model, g) * g.convExpansion!));
    const kernel = largest(withLocal.map((g) => g.kernelSize!));
    const initDepthwise = model.localModule === 'conv2d' ? initDepthwiseConv2d : initDepthwiseConv;
    weights.conv = { expand: initPointwiseConv(cl, 2 * inner, rng), depthwise: initDepthwise(inner, kernel, rng), project: initPointwiseConv(inner, cl, rng) };
  }
  return { weights, norms: new Map() };
}

/** The BatchNorm of the gene's conv shape, created on first use (E * Cl channels); undefined when it has no conv path. */
export function convNorm(block: SlicedBlock, model: ModelConfig, gene: BlockGene): BatchNorm | undefined {
  if (!block.weights.conv || localChannels(model, gene) === 0) return undefined;
  const key = convShapeKey(gene);
  let norm = block.norms.get(key);
  if (!norm) {
    norm = initBatchNorm(localChannels(model, gene) * gene.convExpansion!);
    block.norms.set(key, norm);
  }
  return norm;
}

/** Along `axis`, [start, start + length) of each of `sections` equal sections (3 for q, k, v; 2 for GLU halves). */
function sections(t: tf.Tensor, axis: number, count: number, start: number, length: number): tf.Tensor {
  const size = t.shape[axis] / count;
  const parts = Array.from({ length: count }, (_, s) => {
    const begin = t.shape.map((_, a) => (a === axis ? s * size + start : 0));
    return tf.slice(t, begin, t.shape.map((d, a) => (a === axis ? length : d)));
  });
  return parts.length === 1 ? parts[0] : tf.concat(parts, axis);
}

/** A linear map's block: rows [r0, r0 + rows) of the input, columns [c0, c0 + columns) of each of `count` output sections. */
function sliceLinear(p: Linear, rows: [number, number], columns: [number, number], count = 1): Linear<tf.Tensor> {
  return {
    weight: sections(tf.slice(p.weight, [rows[0], 0], [rows[1], -1]), 1, count, columns[0], columns[1]),
    bias: sections(p.bias, 0, count, columns[0], columns[1]),
  };
}

/** The centre `kernel` taps (per spatial axis) of the first `channels` filters. */
function sliceDepthwise(p: DepthwiseConv | DepthwiseConv2d, kernel: number, channels: number): DepthwiseConv<tf.Tensor> | DepthwiseConv2d<tf.Tensor> {
  const spatial = p.weight.rank - 1;
  const offset = (p.weight.shape[0] - kernel) / 2;
  return {
    weight: tf.slice(p.weight, [...Array(spatial).fill(offset), 0], [...Array(spatial).fill(kernel), channels]),
    bias: tf.slice(p.bias, [0], [channels]),
  };
}

/** The gene's weights as slices of the block's (call inside tf.tidy or a gradient closure: the slices are new tensors). */
export function sliceBlock(block: SlicedBlock, model: ModelConfig, gene: BlockGene): BlockParams<tf.Tensor> {
  const w = block.weights;
  const width = model.width;
  const hidden = Math.round(gene.ffnRatio * width);
  const out: BlockParams<tf.Tensor> = {
    norm1: w.norm1,
    norm2: w.norm2,
    mlp: { fc1: sliceLinear(w.mlp.fc1, [0, width], [0, hidden]), fc2: sliceLinear(w.mlp.fc2, [0, hidden], [0, width]) },
  };
  const cg = globalChannels(model, gene);
  const cl = localChannels(model, gene);
  if (cg > 0) {
    const inner = cg * gene.qkvRatio!;
    out.attention = { qkv: sliceLinear(w.attention!.qkv, [0, cg], [0, inner], 3), proj: sliceLinear(w.attention!.proj, [0, inner], [0, cg]) };
  }
  const local = w.localAttention;
  const conv = w.conv;
  if (cl > 0 && local) {
    const from = local.proj.weight.shape.at(-1)! - cl;
    out.localAttention = { qkv: sliceLinear(local.qkv, [from, cl], [from, cl], 3), proj: sliceLinear(local.proj, [from, cl], [from, cl]) };
  } else if (cl > 0 && conv) {
    const inner = cl * gene.convExpansion!;
    const from = conv.project.weight.shape.at(-1)! - cl;
    out.conv = {
      expand: sliceLinear(conv.expand, [from, cl], [0, inner], 2),
      depthwise: sliceDepthwise(conv.depthwise, gene.kernelSize!, inner),
      norm: convNorm(block, model, gene)!,
      project: sliceLinear(conv.project, [0, inner], [from, cl]),
    };
  }
  return out;
}

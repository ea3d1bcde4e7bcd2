// Parameter shapes, parameter counts and FLOPs of an architecture, from its config alone (no tensors).
// The state dict's names and PyTorch shapes are the official code's (github.com/bychen515/GLiT: glit_models.py,
// mix_attention.py, timm 0.3.2), so that converted official weights load; a block's come from its description in
// lib/model/block-tensors.ts, the stem's and head's are below. The FLOPs are the official formula (count_mixit_flops),
// extended to the Table 6 local modules (lib/model/local-modules.ts), which have no official code (blockCost).
import {
  globalChannels,
  localChannels,
  patchCount,
  tokenCount,
  type Architecture,
  type BlockGene,
  type ModelConfig,
} from './arch';
import { blockDims, layerTensors, presentLayers, type BlockPart, type TensorShape } from './block-tensors';

/** One block's tensors by sub-module. Empty groups are the paths its head distribution does not have. */
export interface BlockTensors {
  norm1: TensorShape[];
  /** The G global heads: qkv and proj linears. */
  attention: TensorShape[];
  /**
   * The L local heads: pointwise conv (doubled for the GLU), depthwise conv (1-D, or 2-D with 'conv2d'), BatchNorm,
   * pointwise conv; with 'window-attention', its qkv and proj linears.
   */
  conv: TensorShape[];
  norm2: TensorShape[];
  ffn: TensorShape[];
}

const GROUPS: Record<BlockPart, keyof BlockTensors> = {
  norm1: 'norm1',
  attention: 'attention',
  local: 'conv',
  norm2: 'norm2',
  mlp: 'ffn',
};

/** The tensors of block `index`, named as in the official state dict (`blocks.{i}.0.` — each block is a 1-long ModuleList). */
export function blockTensors(model: ModelConfig, gene: BlockGene, index: number): BlockTensors {
  const dims = blockDims(model, gene);
  const out: BlockTensors = { norm1: [], attention: [], conv: [], norm2: [], ffn: [] };
  for (const layer of presentLayers(model.localModule, dims))
    out[GROUPS[layer.part]].push(...layerTensors(`blocks.${index}.0`, layer, dims));
  return out;
}

const param = (name: string, ...shape: number[]): TensorShape => ({ name, shape, kind: 'param' });
const weightAndBias = (name: string, weight: number[], out: number): TensorShape[] => [
  param(`${name}.weight`, ...weight),
  param(`${name}.bias`, out),
];
const linear = (name: string, inputs: number, outputs: number) => weightAndBias(name, [outputs, inputs], outputs);
const layerNorm = (name: string, width: number) => weightAndBias(name, [width], width);

/** Patch embedding, CLS token (when the model has one) and position embedding. */
function stemTensors(model: ModelConfig): TensorShape[] {
  const c = model.width;
  return [
    ...(model.classToken ? [param('cls_token', 1, 1, c)] : []),
    param('pos_embed', 1, tokenCount(model), c),
    ...weightAndBias('patch_embed.proj', [c, model.inChannels, model.patchSize, model.patchSize], c),
  ];
}

/** Final LayerNorm and classifier (global average pooling, when there is no CLS token, has no parameters). */
function headTensors(model: ModelConfig): TensorShape[] {
  return [...layerNorm('norm', model.width), ...linear('head', model.width, model.numClasses)];
}

/**
 * Every tensor of the model in PyTorch state-dict order: a module's own parameters come before its children's, so
 * cls_token and pos_embed precede patch_embed; then blocks, norm, head. Within a block: norm1, attn (qkv, proj, net),
 * norm2, mlp.
 */
export function parameterShapes(arch: Architecture): TensorShape[] {
  return [
    ...stemTensors(arch.model),
    ...arch.blocks.flatMap((gene, i) => {
      const t = blockTensors(arch.model, gene, i);
      return [...t.norm1, ...t.attention, ...t.conv, ...t.norm2, ...t.ffn];
    }),
    ...headTensors(arch.model),
  ];
}

const elements = (shape: number[]): number => shape.reduce((n, d) => n * d, 1);
/** Trainable parameters among `tensors` (BatchNorm buffers excluded, as `model.parameters()` excludes them). */
export const countParams = (tensors: TensorShape[]): number =>
  tensors.reduce((n, t) => n + (t.kind === 'param' ? elements(t.shape) : 0), 0);

/**
 * Size and cost of one part of the model for one image.
 * flops: the official code's figure (count_mixit_flops in glit_models.py), which the paper's FLOPs column reports.
 * macs: the multiply-accumulates the forward pass really performs. Both count matmuls and convolutions only: biases,
 * norms, softmax, activations, the GLU gate, residual adds and average pooling are left out.
 */
export interface Cost {
  params: number;
  flops: number;
  macs: number;
}

export interface BlockCost extends Cost {
  index: number;
  gene: BlockGene;
  attention: Cost;
  conv: Cost;
  ffn: Cost;
  /** norm1 and norm2: parameters only. */
  norms: Cost;
}

export interface ModelCost extends Cost {
  /** T: tokens per image, CLS included when the model has one. */
  tokens: number;
  /** Patch embedding, CLS token, position embedding. */
  stem: Cost;
  blocks: BlockCost[];
  /** Final LayerNorm and classifier (on the CLS token only, or on the pooled patch tokens). */
  head: Cost;
}

const total = (parts: Cost[]): Cost => ({
  params: parts.reduce((n, p) => n + p.params, 0),
  flops: parts.reduce((n, p) => n + p.flops, 0),
  macs: parts.reduce((n, p) => n + p.macs, 0),
});

// The official counter hard-codes 197 tokens and N = 3 heads; here T and N come from the config (same numbers for Tiny).
function blockCost(model: ModelConfig, gene: BlockGene, index: number): BlockCost {
  const t = blockTensors(model, gene, index);
  const tokens = tokenCount(model);
  const cg = globalChannels(model, gene);
  const cl = localChannels(model, gene);

  const qkvWidth = cg * (gene.qkvRatio ?? 0); // Cg*ev
  // qkv and proj linears, plus q·kᵀ and attn·v over all tokens; the official formula is the exact count.
  const attentionMacs = tokens * cg * 3 * qkvWidth + 2 * tokens * tokens * qkvWidth + tokens * qkvWidth * cg;

  const convWidth = cl * (gene.convExpansion ?? 0); // E*Cl
  const pointwiseIn = tokens * cl * convWidth; // official: Cl -> E*Cl, though the layer is Cl -> 2*E*Cl (GLU halves it)
  // K taps per output (k*k in 2-D): the official code zero-pads before the convolution, so the padded taps are computed too.
  const taps = (gene.kernelSize ?? 0) ** (model.localModule === 'conv2d' ? 2 : 1);
  const depthwise = tokens * convWidth * taps;
  const pointwiseOut = tokens * convWidth * cl;
  const convCost = { flops: pointwiseIn + depthwise + pointwiseOut, macs: 2 * pointwiseIn + depthwise + pointwiseOut };

  // Window attention over Cl channels (head dim C/N, so qkv Cl -> 3*Cl): the official attention formula with w keys per
  // query instead of T, as the conv count takes K taps per token; the masked full attention computes all T keys.
  const windowLinears = 4 * tokens * cl * cl;
  const windowCost = {
    flops: windowLinears + 2 * tokens * (model.localWindow ?? 0) * cl,
    macs: windowLinears + 2 * tokens * tokens * cl,
  };

  const ffnMacs = 2 * tokens * model.width * (model.width * gene.ffnRatio);

  const attention = { params: countParams(t.attention), flops: attentionMacs, macs: attentionMacs };
  const conv = {
    params: countParams(t.conv),
    ...(cl > 0 && model.localModule === 'window-attention' ? windowCost : convCost),
  };
  const ffn = { params: countParams(t.ffn), flops: ffnMacs, macs: ffnMacs };
  const norms = { params: countParams([...t.norm1, ...t.norm2]), flops: 0, macs: 0 };
  return { index, gene, ...total([attention, conv, ffn, norms]), attention, conv, ffn, norms };
}

/** Parameters, official FLOPs and true MACs of the whole model, per block and for the stem and head. */
export function modelCost(arch: Architecture): ModelCost {
  const { model } = arch;
  const tokens = tokenCount(model);
  const patchEmbedMacs = model.inChannels * model.width * model.patchSize ** 2 * patchCount(model);
  const stem = { params: countParams(stemTensors(model)), flops: patchEmbedMacs, macs: patchEmbedMacs };
  const classifierMacs = model.width * model.numClasses;
  const head = { params: countParams(headTensors(model)), flops: classifierMacs, macs: classifierMacs };
  const blocks = arch.blocks.map((gene, i) => blockCost(model, gene, i));
  return { ...total([stem, ...blocks, head]), tokens, stem, blocks, head };
}

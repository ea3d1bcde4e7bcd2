// The global-local (GL) block, as the official GLiT code builds it (paper, Section 3):
//   x = x + DropPath(GLModule(LN1(x)));  x = x + DropPath(FFN(LN2(x)))
// GLModule splits its input by channel: the first Cg = (C/N)*G channels go to self-attention (the G global heads),
// the last Cl = C - Cg to the local heads' module (the L local heads: the 1-D conv module, or one of Table 6's
// alternatives by model.localModule, lib/model/local-modules.ts); the outputs are concatenated [attention, local].
// The block's tensors are described in lib/model/block-tensors.ts; ctx.trace sees the named steps of the forward.
import * as tf from '@tensorflow/tfjs';
import { globalChannels, localChannels, type BlockGene, type ModelConfig } from './arch';
import { blockDims, blockLayers, initLayers, layerIn } from './block-tensors';
import {
  attend,
  batchNorm,
  depthwiseConv1d,
  dropPath,
  gelu,
  glu,
  layerNorm,
  linear,
  swish,
  type Affine,
  type BatchNorm,
  type DepthwiseConv,
  type DepthwiseConv2d,
  type ForwardContext,
  type Linear,
  type Norm,
} from './layers';
import { gridDepthwise, windowMask } from './local-modules';
import type { Rng } from '../core/random';

/** Self-attention: G heads over all tokens, head dim (C/N)*ev; or the window attention of the local heads. */
export interface AttentionParams<W extends tf.Tensor = tf.Variable> {
  qkv: Linear<W>; // Cg -> 3 * Cg * ev, laid out (3, heads, headDim): all q, then all k, then all v
  proj: Linear<W>; // Cg * ev -> Cg
}

/** Local heads 'conv1d' and 'conv2d': pointwise -> GLU -> depthwise K -> BatchNorm -> Swish -> pointwise. */
export interface ConvParams<W extends tf.Tensor = tf.Variable> {
  kind: 'conv1d' | 'conv2d';
  expand: Linear<W>; // Cl -> 2 * E * Cl
  depthwise: DepthwiseConv<W> | DepthwiseConv2d<W>; // E * Cl channels, K taps along the tokens, or k x k on the grid
  norm: BatchNorm;
  project: Linear<W>; // E * Cl -> Cl
}

/** Local heads 'window-attention': Cl -> 3 * Cl, Cl -> Cl (head dim C/N). */
export interface WindowAttentionParams<W extends tf.Tensor = tf.Variable> extends AttentionParams<W> {
  kind: 'window-attention';
}

/** The L local heads' weights; `kind` is the model's localModule. */
export type LocalParams<W extends tf.Tensor = tf.Variable> = ConvParams<W> | WindowAttentionParams<W>;

export interface FfnParams<W extends tf.Tensor = tf.Variable> {
  fc1: Linear<W>; // C -> r * C
  fc2: Linear<W>; // r * C -> C
}

/** W: see lib/model/layers.ts (tf.Tensor: a path's slices of a weight-sharing supernet). */
export interface BlockParams<W extends tf.Tensor = tf.Variable> {
  norm1: Norm<W>;
  attention?: AttentionParams<W>; // present when G > 0
  local?: LocalParams<W>; // present when L > 0
  norm2: Norm<W>;
  mlp: FfnParams<W>;
}

/** A block's weights, whose conv module may lack its BatchNorm (a slicing supernet keeps those per conv shape). */
export type BlockWeights = Omit<BlockParams, 'local'> & {
  local?: WindowAttentionParams | (Omit<ConvParams, 'norm'> & { norm?: BatchNorm });
};

export const initBlock = (model: ModelConfig, gene: BlockGene, rng: Rng): BlockParams =>
  initLayers(model.localModule, blockDims(model, gene), rng) as BlockParams;

/** The block's BatchNorms (its conv module's, when it has one). */
export const blockBatchNorms = (b: BlockWeights | BlockParams<tf.Tensor>): BatchNorm[] =>
  blockLayers(b.local?.kind).flatMap((l) => (l.kind === 'batchNorm' ? (layerIn<BatchNorm>(b, l) ?? []) : []));

/** Where in the block a traced step is: the input, the GL module's two paths, their merge, or the FFN half. */
export type TracePart = 'input' | 'global' | 'local' | 'merge' | 'ffn';

/** see(part, step, output, weights applied) shows a step to ctx.trace, if there is one, and returns its output. */
const tracer =
  (ctx: ForwardContext) =>
  <T extends tf.Tensor>(part: TracePart, step: string, t: T, weights?: Affine<tf.Tensor>): T => {
    ctx.trace?.(part, step, t, weights);
    return t;
  };

/** Self-attention with `heads` heads: x [B, T, C'] -> [B, T, C']; `mask` [T, T] is added to the scores. */
export function attention(
  p: AttentionParams<tf.Tensor>,
  x: tf.Tensor3D,
  heads: number,
  ctx: ForwardContext,
  part: TracePart,
  mask?: tf.Tensor2D,
): tf.Tensor3D {
  const see = tracer(ctx);
  const qkv = see(part, 'qkv linear', linear(p.qkv, x) as tf.Tensor3D, p.qkv);
  const merged = see(part, 'merge heads', attend(qkv, heads, mask));
  return see(part, 'proj linear', linear(p.proj, merged) as tf.Tensor3D, p.proj);
}

/**
 * The conv heads, on tokens (CLS first, then patches row-major) as a 1-D sequence: x [B, T, Cl] -> [B, T, Cl].
 * The 'conv2d' module convolves the tokens as the patch grid, in 2-D.
 */
export function convModule(p: ConvParams<tf.Tensor>, x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
  const see = tracer(ctx);
  const expanded = see('local', 'expand', linear(p.expand, x), p.expand);
  const gated = see('local', 'GLU', glu(expanded) as tf.Tensor3D);
  const convolved = p.kind === 'conv2d' ? gridDepthwise(p.depthwise, gated) : depthwiseConv1d(p.depthwise, gated);
  const mixed = see('local', 'depthwise conv', convolved, p.depthwise);
  const activated = see('local', 'Swish', swish(see('local', 'BatchNorm', batchNorm(p.norm, mixed, ctx), p.norm)));
  return see('local', 'project', linear(p.project, activated) as tf.Tensor3D, p.project);
}

/** The L local heads, by their module: x [B, T, Cl] -> [B, T, Cl]. */
export function localHeads(
  p: LocalParams<tf.Tensor>,
  x: tf.Tensor3D,
  model: ModelConfig,
  gene: BlockGene,
  ctx: ForwardContext,
): tf.Tensor3D {
  const input = tracer(ctx)('local', 'channels', x);
  if (p.kind !== 'window-attention') return convModule(p, input, ctx);
  return attention(p, input, model.heads - gene.globalHeads, ctx, 'local', windowMask(x.shape[1], model.localWindow!));
}

/** The G global heads: self-attention over all tokens, x [B, T, Cg] -> [B, T, Cg]. */
const globalHeads = (
  p: AttentionParams<tf.Tensor>,
  x: tf.Tensor3D,
  gene: BlockGene,
  ctx: ForwardContext,
): tf.Tensor3D => attention(p, tracer(ctx)('global', 'channels', x), gene.globalHeads, ctx, 'global');

/** A forward over one block's tokens, x [B, T, C] -> [B, T, C], given its params, model config and gene. */
type BlockForward = (
  p: BlockParams<tf.Tensor>,
  x: tf.Tensor3D,
  model: ModelConfig,
  gene: BlockGene,
  ctx: ForwardContext,
) => tf.Tensor3D;

/** The GL module: the first Cg channels to the global heads, the other Cl to the local ones, concatenated back. */
export const globalLocalModule: BlockForward = (p, x, model, gene, ctx) => {
  const cg = globalChannels(model, gene);
  const cl = localChannels(model, gene);
  if (cl === 0) return globalHeads(p.attention!, x, gene, ctx);
  if (cg === 0) return localHeads(p.local!, x, model, gene, ctx);
  const [xg, xl] = tf.split(x, [cg, cl], -1) as tf.Tensor3D[];
  return tf.concat([globalHeads(p.attention!, xg, gene, ctx), localHeads(p.local!, xl, model, gene, ctx)], -1);
};

export function ffn(
  p: FfnParams<tf.Tensor>,
  x: tf.Tensor,
  activation: ModelConfig['ffnActivation'],
  ctx: ForwardContext,
): tf.Tensor {
  const see = tracer(ctx);
  const hidden = see('ffn', 'fc1', linear(p.fc1, x), p.fc1);
  const activated = see('ffn', activation, activation === 'gelu' ? gelu(hidden) : swish(hidden));
  return see('ffn', 'fc2', linear(p.fc2, activated), p.fc2);
}

/** One pre-norm GL block: x [B, T, C] -> [B, T, C]. */
export const block: BlockForward = (p, x, model, gene, ctx) => {
  const see = tracer(ctx);
  const normed = see('input', 'LayerNorm 1', layerNorm(p.norm1, see('input', 'x', x)) as tf.Tensor3D, p.norm1);
  const module = see('merge', 'GL module', globalLocalModule(p, normed, model, gene, ctx));
  const h = see('merge', 'residual', tf.add(x, dropPath(module, ctx)) as tf.Tensor3D);
  const hidden = ffn(p.mlp, see('ffn', 'LayerNorm 2', layerNorm(p.norm2, h), p.norm2), model.ffnActivation, ctx);
  return see('ffn', 'residual', tf.add(h, dropPath(hidden, ctx)) as tf.Tensor3D);
};

// The global-local (GL) block, as the official GLiT code builds it (spec section 1):
//   x = x + DropPath(GLModule(LN1(x)));  x = x + DropPath(FFN(LN2(x)))
// GLModule splits its input by channel: the first Cg = (C/N)*G channels go to self-attention (the G global heads),
// the last Cl = C - Cg to the 1-D conv module (the L local heads); the outputs are concatenated [attention, conv].
// model.localModule swaps the local heads' module for Table 6's alternatives (lib/model/local-modules.ts).
import * as tf from '@tensorflow/tfjs';
import { globalChannels, localChannels, type BlockGene, type ModelConfig } from './arch';
import {
  attend, batchNorm, depthwiseConv1d, dropPath, gelu, glu, initBatchNorm, initDepthwiseConv, initDepthwiseConv2d, initLinear, initNorm,
  initPointwiseConv, layerNorm, linear, swish, type BatchNorm, type DepthwiseConv, type DepthwiseConv2d, type ForwardContext,
  type Linear, type Norm,
} from './layers';
import { gridDepthwise, windowMask } from './local-modules';
import type { Rng } from '../core/random';

/** Global sub-module: G heads of self-attention over all tokens, head dim (C/N)*ev. */
export interface AttentionParams<W extends tf.Tensor = tf.Variable> {
  qkv: Linear<W>; // Cg -> 3 * Cg * ev, laid out (3, heads, headDim): all q, then all k, then all v
  proj: Linear<W>; // Cg * ev -> Cg
}

/** Local sub-module: pointwise -> GLU -> depthwise K -> BatchNorm -> Swish -> pointwise, along the token sequence. */
export interface ConvParams<W extends tf.Tensor = tf.Variable> {
  expand: Linear<W>; // Cl -> 2 * E * Cl (official: attn.net.1)
  depthwise: DepthwiseConv<W> | DepthwiseConv2d<W>; // E * Cl channels, kernel K, or k x k with 'conv2d' (attn.net.3.conv)
  norm: BatchNorm; // attn.net.4
  project: Linear<W>; // E * Cl -> Cl (attn.net.6)
}

export interface FfnParams<W extends tf.Tensor = tf.Variable> {
  fc1: Linear<W>; // C -> r * C
  fc2: Linear<W>; // r * C -> C
}

/** W: see lib/model/layers.ts (tf.Tensor: a path's slices of a weight-sharing supernet). */
export interface BlockParams<W extends tf.Tensor = tf.Variable> {
  norm1: Norm<W>;
  attention?: AttentionParams<W>; // present when G > 0
  conv?: ConvParams<W>; // present when L > 0 and the local module is a conv
  localAttention?: AttentionParams<W>; // present when L > 0 and model.localModule is 'window-attention': Cl -> 3 * Cl, Cl -> Cl
  norm2: Norm<W>;
  mlp: FfnParams<W>;
}

export function initBlock(model: ModelConfig, gene: BlockGene, rng: Rng): BlockParams {
  const width = model.width;
  const cg = globalChannels(model, gene);
  const cl = localChannels(model, gene);
  const hidden = Math.round(gene.ffnRatio * width);
  const params: BlockParams = { norm1: initNorm(width), norm2: initNorm(width), mlp: { fc1: initLinear(width, hidden, rng), fc2: initLinear(hidden, width, rng) } };
  if (cg > 0) {
    const inner = cg * gene.qkvRatio!;
    params.attention = { qkv: initLinear(cg, 3 * inner, rng), proj: initLinear(inner, cg, rng) };
  }
  if (cl > 0 && model.localModule === 'window-attention') {
    params.localAttention = { qkv: initLinear(cl, 3 * cl, rng), proj: initLinear(cl, cl, rng) };
  } else if (cl > 0) {
    const inner = cl * gene.convExpansion!;
    const initDepthwise = model.localModule === 'conv2d' ? initDepthwiseConv2d : initDepthwiseConv;
    params.conv = {
      expand: initPointwiseConv(cl, 2 * inner, rng),
      depthwise: initDepthwise(inner, gene.kernelSize!, rng),
      norm: initBatchNorm(inner),
      project: initPointwiseConv(inner, cl, rng),
    };
  }
  return params;
}

/** Self-attention with `heads` heads: x [B, T, Cg] -> [B, T, Cg]; `mask` [T, T] is added to the scores (lib/model/local-modules.ts). */
export function attention(p: AttentionParams<tf.Tensor>, x: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  return linear(p.proj, attend(linear(p.qkv, x) as tf.Tensor3D, heads, mask)) as tf.Tensor3D;
}

/**
 * The conv heads, treating tokens (CLS first, then patches row-major) as a 1-D sequence: x [B, T, Cl] -> [B, T, Cl].
 * A [k, k, C] depthwise weight is the 'conv2d' module: the tokens are then the patch grid, convolved in 2-D.
 */
export function convModule(p: ConvParams<tf.Tensor>, x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
  const gated = glu(linear(p.expand, x)) as tf.Tensor3D;
  const mixed = p.depthwise.weight.rank === 3 ? gridDepthwise(p.depthwise, gated) : depthwiseConv1d(p.depthwise, gated);
  return linear(p.project, swish(batchNorm(p.norm, mixed, ctx))) as tf.Tensor3D;
}

/** The L local heads, by model.localModule: x [B, T, Cl] -> [B, T, Cl]. */
function localModule(p: BlockParams<tf.Tensor>, x: tf.Tensor3D, model: ModelConfig, gene: BlockGene, ctx: ForwardContext): tf.Tensor3D {
  if (!p.localAttention) return convModule(p.conv!, x, ctx);
  return attention(p.localAttention, x, model.heads - gene.globalHeads, windowMask(x.shape[1], model.localWindow!));
}

export function globalLocalModule(p: BlockParams<tf.Tensor>, x: tf.Tensor3D, model: ModelConfig, gene: BlockGene, ctx: ForwardContext): tf.Tensor3D {
  const cg = globalChannels(model, gene);
  const cl = localChannels(model, gene);
  if (cl === 0) return attention(p.attention!, x, gene.globalHeads);
  if (cg === 0) return localModule(p, x, model, gene, ctx);
  const [xg, xl] = tf.split(x, [cg, cl], -1) as tf.Tensor3D[];
  return tf.concat([attention(p.attention!, xg, gene.globalHeads), localModule(p, xl, model, gene, ctx)], -1);
}

export function ffn(p: FfnParams<tf.Tensor>, x: tf.Tensor, activation: ModelConfig['ffnActivation']): tf.Tensor {
  const hidden = linear(p.fc1, x);
  return linear(p.fc2, activation === 'gelu' ? gelu(hidden) : swish(hidden));
}

/** One pre-norm GL block: x [B, T, C] -> [B, T, C]. */
export function block(p: BlockParams<tf.Tensor>, x: tf.Tensor3D, model: ModelConfig, gene: BlockGene, ctx: ForwardContext): tf.Tensor3D {
  const h = tf.add(x, dropPath(globalLocalModule(p, layerNorm(p.norm1, x) as tf.Tensor3D, model, gene, ctx), ctx));
  return tf.add(h, dropPath(ffn(p.mlp, layerNorm(p.norm2, h), model.ffnActivation), ctx)) as tf.Tensor3D;
}

// The global-local (GL) block, as the official GLiT code builds it (spec section 1):
//   x = x + DropPath(GLModule(LN1(x)));  x = x + DropPath(FFN(LN2(x)))
// GLModule splits its input by channel: the first Cg = (C/N)*G channels go to self-attention (the G global heads),
// the last Cl = C - Cg to the 1-D conv module (the L local heads); the outputs are concatenated [attention, conv].
import * as tf from '@tensorflow/tfjs';
import { globalChannels, localChannels, type BlockGene, type ModelConfig } from './arch';
import {
  batchNorm, depthwiseConv1d, dropPath, gelu, glu, initBatchNorm, initDepthwiseConv, initLinear, initNorm, initPointwiseConv,
  layerNorm, linear, matMul, swish, type BatchNorm, type DepthwiseConv, type ForwardContext, type Linear, type Norm,
} from './layers';
import type { Rng } from './random';

/** Global sub-module: G heads of self-attention over all tokens, head dim (C/N)*ev. */
export interface AttentionParams {
  qkv: Linear; // Cg -> 3 * Cg * ev, laid out (3, heads, headDim): all q, then all k, then all v
  proj: Linear; // Cg * ev -> Cg
}

/** Local sub-module: pointwise -> GLU -> depthwise K -> BatchNorm -> Swish -> pointwise, along the token sequence. */
export interface ConvParams {
  expand: Linear; // Cl -> 2 * E * Cl (official: attn.net.1)
  depthwise: DepthwiseConv; // E * Cl channels, kernel K (attn.net.3.conv)
  norm: BatchNorm; // attn.net.4
  project: Linear; // E * Cl -> Cl (attn.net.6)
}

export interface FfnParams {
  fc1: Linear; // C -> r * C
  fc2: Linear; // r * C -> C
}

export interface BlockParams {
  norm1: Norm;
  attention?: AttentionParams; // present when G > 0
  conv?: ConvParams; // present when L > 0
  norm2: Norm;
  mlp: FfnParams;
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
  if (cl > 0) {
    const inner = cl * gene.convExpansion!;
    params.conv = {
      expand: initPointwiseConv(cl, 2 * inner, rng),
      depthwise: initDepthwiseConv(inner, gene.kernelSize!, rng),
      norm: initBatchNorm(inner),
      project: initPointwiseConv(inner, cl, rng),
    };
  }
  return params;
}

/** Self-attention with `heads` heads: x [B, T, Cg] -> [B, T, Cg]. */
export function attention(p: AttentionParams, x: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [batch, tokens] = x.shape;
  const inner = p.proj.weight.shape[0];
  const dim = inner / heads;
  // Split q, k, v before moving heads forward: a 5-D transpose is ~50x slower than three 4-D ones on wasm.
  const [q, k, v] = tf.split(linear(p.qkv, x), 3, -1).map((t) => tf.transpose(tf.reshape(t, [batch, tokens, heads, dim]), [0, 2, 1, 3]));
  const weights = tf.softmax(tf.mul(matMul(q, k, false, true), 1 / Math.sqrt(dim)));
  const mixed = tf.reshape(tf.transpose(matMul(weights, v), [0, 2, 1, 3]), [batch, tokens, inner]);
  return linear(p.proj, mixed) as tf.Tensor3D;
}

/** The conv heads, treating tokens (CLS first, then patches row-major) as a 1-D sequence: x [B, T, Cl] -> [B, T, Cl]. */
export function convModule(p: ConvParams, x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
  const gated = glu(linear(p.expand, x)) as tf.Tensor3D;
  const local = batchNorm(p.norm, depthwiseConv1d(p.depthwise, gated), ctx);
  return linear(p.project, swish(local)) as tf.Tensor3D;
}

export function globalLocalModule(p: BlockParams, x: tf.Tensor3D, model: ModelConfig, gene: BlockGene, ctx: ForwardContext): tf.Tensor3D {
  const cg = globalChannels(model, gene);
  const cl = localChannels(model, gene);
  if (cl === 0) return attention(p.attention!, x, gene.globalHeads);
  if (cg === 0) return convModule(p.conv!, x, ctx);
  const [xg, xl] = tf.split(x, [cg, cl], -1) as tf.Tensor3D[];
  return tf.concat([attention(p.attention!, xg, gene.globalHeads), convModule(p.conv!, xl, ctx)], -1);
}

export function ffn(p: FfnParams, x: tf.Tensor, activation: ModelConfig['ffnActivation']): tf.Tensor {
  const hidden = linear(p.fc1, x);
  return linear(p.fc2, activation === 'gelu' ? gelu(hidden) : swish(hidden));
}

/** One pre-norm GL block: x [B, T, C] -> [B, T, C]. */
export function block(p: BlockParams, x: tf.Tensor3D, model: ModelConfig, gene: BlockGene, ctx: ForwardContext): tf.Tensor3D {
  const h = tf.add(x, dropPath(globalLocalModule(p, layerNorm(p.norm1, x) as tf.Tensor3D, model, gene, ctx), ctx));
  return tf.add(h, dropPath(ffn(p.mlp, layerNorm(p.norm2, h), model.ffnActivation), ctx)) as tf.Tensor3D;
}

// One global-local block taken apart: the same computation as lib/model/block.ts's block(), step by step with lib's layers,
// recording the shape of every intermediate tensor (the attention's q, k, v and weights, each stage of the conv path).
// block() itself exposes no intermediates, so the steps are spelled out again here; the notebook checks that the traced
// output equals block()'s, so the walk-through cannot drift from the model.
import * as tf from '@tensorflow/tfjs';
import { globalChannels, localChannels, type BlockGene, type ModelConfig } from '../model/arch';
import type { BlockParams } from '../model/block';
import { batchNorm, depthwiseConv1d, gelu, glu, layerNorm, linear, swish, type ForwardContext } from '../model/layers';

/** Where in the block a step is: the module input, the GL module's two paths, their merge, or the FFN half. */
export type TracePart = 'input' | 'global' | 'local' | 'merge' | 'ffn';

export interface TraceStep {
  part: TracePart;
  step: string;
  /** The shape of the step's output. */
  shape: number[];
  /** Trainable parameters the step applies (0 for reshapes, activations, matmuls of activations). */
  params: number;
  /** What the axes are, or what the step does to them. */
  note: string;
}

export interface BlockTrace {
  steps: TraceStep[];
  /** The block's output [B, T, C]: equal to block(p, x, model, gene, ctx) without drop path. */
  output: tf.Tensor3D;
}

const size = (...tensors: tf.Tensor[]): number => tensors.reduce((n, t) => n + t.size, 0);
const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** Runs the block on x [B, T, C] (drop path off) and records every step. */
export function traceBlock(p: BlockParams, x: tf.Tensor3D, model: ModelConfig, gene: BlockGene, ctx: ForwardContext): BlockTrace {
  const steps: TraceStep[] = [];
  const record = <T extends tf.Tensor>(part: TracePart, step: string, t: T, note: string, params = 0): T => {
    steps.push({ part, step, shape: t.shape, params, note });
    return t;
  };
  const [batch, tokens, width] = x.shape;
  const cg = globalChannels(model, gene);
  const cl = localChannels(model, gene);

  const output = tf.tidy(() => {
    record('input', 'x', x, `B images x T tokens (CLS + patches) x C = ${width} channels`);
    const normed = record('input', 'LayerNorm 1', layerNorm(p.norm1, x), 'per token, over channels', size(p.norm1.weight, p.norm1.bias));
    const [xg, xl] = cg === 0 ? [undefined, normed] : cl === 0 ? [normed, undefined] : (tf.split(normed, [cg, cl], -1) as tf.Tensor3D[]);
    const paths: tf.Tensor3D[] = [];

    if (xg && p.attention) {
      const a = p.attention;
      const heads = gene.globalHeads;
      const inner = a.proj.weight.shape[0];
      const dim = inner / heads;
      record('global', cl === 0 ? 'all channels' : 'channel split: first Cg', xg, `Cg = ${cg}: the channels of ${plural(heads, 'global head')}`);
      const qkv = record('global', 'qkv linear', linear(a.qkv, xg), `Cg -> 3 x heads x head dim (ev = ${gene.qkvRatio})`, size(a.qkv.weight, a.qkv.bias));
      const split = record('global', 'split q | k | v and heads', tf.transpose(tf.reshape(qkv, [batch, tokens, 3, heads, dim]), [2, 0, 3, 1, 4]), '(q|k|v, B, heads, T, head dim)');
      const [q, k, v] = tf.unstack(split) as tf.Tensor4D[];
      record('global', 'q (k, v alike)', q, 'B x heads x T x head dim');
      const scores = record('global', 'q kᵀ / sqrt(head dim)', tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dim)), 'every token against every token');
      const weights = record('global', 'attention weights (softmax)', tf.softmax(scores), 'each row sums to 1 over the T keys');
      const attended = record('global', 'weights · v', tf.matMul(weights, v), 'B x heads x T x head dim');
      const merged = record('global', 'merge heads', tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [batch, tokens, inner]), 'heads side by side: Cg x ev');
      paths.push(record('global', 'proj linear', linear(a.proj, merged) as tf.Tensor3D, 'back to Cg channels', size(a.proj.weight, a.proj.bias)));
    }

    if (xl && p.conv) {
      const c = p.conv;
      const e = gene.convExpansion;
      record('local', cg === 0 ? 'all channels' : 'channel split: last Cl', xl, `Cl = ${cl}: the channels of ${plural(model.heads - gene.globalHeads, 'local head')}`);
      const expanded = record('local', 'pointwise conv', linear(c.expand, xl), `Cl -> 2 x E x Cl (E = ${e}), per token`, size(c.expand.weight, c.expand.bias));
      const gated = record('local', 'GLU', glu(expanded) as tf.Tensor3D, 'first half x sigmoid(second half): E x Cl');
      const mixed = record('local', `depthwise conv, K = ${gene.kernelSize}`, depthwiseConv1d(c.depthwise, gated), `each channel over the ${gene.kernelSize} nearest tokens in sequence order`, size(c.depthwise.weight, c.depthwise.bias));
      const normalised = record('local', 'BatchNorm', batchNorm(c.norm, mixed, ctx), `per channel over (B, T), ${ctx.training ? 'batch' : 'running'} statistics`, size(c.norm.weight, c.norm.bias));
      const activated = record('local', 'Swish', swish(normalised), 'x · sigmoid(x)');
      paths.push(record('local', 'pointwise conv', linear(c.project, activated) as tf.Tensor3D, 'E x Cl -> Cl, per token', size(c.project.weight, c.project.bias)));
    }

    const module =
      paths.length === 1
        ? record('merge', 'GL module output (one path)', paths[0], `G = ${gene.globalHeads}: no split, no concat`)
        : record('merge', 'concat [attention, conv]', tf.concat(paths, -1), 'Cg + Cl = C channels: no mixing projection');
    const h = record('merge', 'residual: x + GL(LN1(x))', tf.add(x, module), 'B x T x C');
    const normed2 = record('ffn', 'LayerNorm 2', layerNorm(p.norm2, h), 'per token, over channels', size(p.norm2.weight, p.norm2.bias));
    const hidden = record('ffn', 'fc1', linear(p.mlp.fc1, normed2), `C -> r x C (r = ${gene.ffnRatio})`, size(p.mlp.fc1.weight, p.mlp.fc1.bias));
    const activated = record('ffn', model.ffnActivation === 'gelu' ? 'GELU' : 'Swish', model.ffnActivation === 'gelu' ? gelu(hidden) : swish(hidden), 'element-wise');
    const out = record('ffn', 'fc2', linear(p.mlp.fc2, activated), 'r x C -> C', size(p.mlp.fc2.weight, p.mlp.fc2.bias));
    return record('ffn', 'residual: h + FFN(LN2(h))', tf.add(h, out) as tf.Tensor3D, 'the block output, same shape as its input');
  });
  return { steps, output };
}

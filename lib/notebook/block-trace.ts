// One global-local block taken apart: lib/model/block.ts's block() run with a trace hook (ForwardContext.trace) that
// records the shape of every step it names and the parameters the step applies, for any local module. attend() is
// one op (fused on some backends), so the shapes of the attention's q, k, v and weights are worked out from its qkv.
import * as tf from '@tensorflow/tfjs';
import { globalChannels, localChannels, type BlockGene, type ModelConfig } from '../model/arch';
import { block, type BlockParams, type TracePart } from '../model/block';
import type { Affine, ForwardContext } from '../model/layers';

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
  /** The block's output [B, T, C]: block(p, x, model, gene, ctx) without drop path. */
  output: tf.Tensor3D;
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** The label and note of each step that block() names, by `${part} ${step}`. */
function labels(model: ModelConfig, gene: BlockGene, ctx: ForwardContext): Record<string, [string, string]> {
  const [cg, cl] = [globalChannels(model, gene), localChannels(model, gene)];
  const both = cg > 0 && cl > 0;
  const k = gene.kernelSize;
  const localHeads = plural(model.heads - gene.globalHeads, 'local head');
  const window = `Cl -> 3 x heads x head dim (C/N): window attention over ${model.localWindow} tokens`;
  const merged = `concat [attention, ${model.localModule === 'window-attention' ? 'window attention' : 'conv'}]`;
  return {
    'input x': [
      'x',
      `B images x T tokens (${model.classToken ? 'CLS + patches' : 'patches'}) x C = ${model.width} channels`,
    ],
    'input LayerNorm 1': ['LayerNorm 1', 'per token, over channels'],
    'global channels': [
      both ? 'channel split: first Cg' : 'all channels',
      `Cg = ${cg}: the channels of ${plural(gene.globalHeads, 'global head')}`,
    ],
    'global qkv linear': ['qkv linear', `Cg -> 3 x heads x head dim (ev = ${gene.qkvRatio})`],
    'global merge heads': ['weights · v, heads merged', 'heads side by side: Cg x ev'],
    'global proj linear': ['proj linear', 'back to Cg channels'],
    'local channels': [both ? 'channel split: last Cl' : 'all channels', `Cl = ${cl}: the channels of ${localHeads}`],
    'local qkv linear': ['qkv linear', window],
    'local merge heads': ['weights · v, heads merged', 'heads side by side: Cl'],
    'local proj linear': ['proj linear', 'back to Cl channels'],
    'local expand': ['pointwise conv', `Cl -> 2 x E x Cl (E = ${gene.convExpansion}), per token`],
    'local GLU': ['GLU', 'first half x sigmoid(second half): E x Cl'],
    'local depthwise conv':
      model.localModule === 'conv2d'
        ? [`depthwise conv, ${k} x ${k}`, `each channel over the ${k} x ${k} nearest patches on the grid`]
        : [`depthwise conv, K = ${k}`, `each channel over the ${k} nearest tokens in sequence order`],
    'local BatchNorm': ['BatchNorm', `per channel over (B, T), ${ctx.training ? 'batch' : 'running'} statistics`],
    'local Swish': ['Swish', 'x · sigmoid(x)'],
    'local project': ['pointwise conv', 'E x Cl -> Cl, per token'],
    'merge GL module': both
      ? [merged, 'Cg + Cl = C channels: no mixing projection']
      : ['GL module output (one path)', `G = ${gene.globalHeads}: no split, no concat`],
    'merge residual': ['residual: x + GL(LN1(x))', 'B x T x C'],
    'ffn LayerNorm 2': ['LayerNorm 2', 'per token, over channels'],
    'ffn fc1': ['fc1', `C -> r x C (r = ${gene.ffnRatio})`],
    'ffn gelu': ['GELU', 'element-wise'],
    'ffn swish': ['Swish', 'element-wise'],
    'ffn fc2': ['fc2', 'r x C -> C'],
    'ffn residual': ['residual: h + FFN(LN2(h))', 'the block output, same shape as its input'],
  };
}

/** Runs the block on x [B, T, C] (drop path off) and records every step. */
export function traceBlock(
  p: BlockParams,
  x: tf.Tensor3D,
  model: ModelConfig,
  gene: BlockGene,
  ctx: ForwardContext,
): BlockTrace {
  const steps: TraceStep[] = [];
  const named = labels(model, gene, ctx);
  const [batch, tokens] = x.shape;
  const trace = (part: string, step: string, t: tf.Tensor, weights?: Affine<tf.Tensor>) => {
    const where = part as TracePart;
    const [label, note] = named[`${part} ${step}`] ?? [step, ''];
    const params = weights ? weights.weight.size + weights.bias.size : 0;
    steps.push({ part: where, step: label, shape: t.shape, params, note });
    if (step !== 'qkv linear') return;
    // Inside attend(), from its input qkv [B, T, 3 x heads x head dim].
    const heads = part === 'global' ? gene.globalHeads : model.heads - gene.globalHeads;
    const dim = t.shape[2]! / 3 / heads;
    const inside = (name: string, shape: number[], what: string) =>
      steps.push({ part: where, step: name, shape, params: 0, note: what });
    inside('split q | k | v and heads', [3, batch, heads, tokens, dim], '(q|k|v, B, heads, T, head dim)');
    inside('q (k, v alike)', [batch, heads, tokens, dim], 'B x heads x T x head dim');
    const keys = part === 'global' ? 'every token against every token' : 'each token against the tokens of its window';
    inside('q kᵀ / sqrt(head dim)', [batch, heads, tokens, tokens], keys);
    inside('attention weights (softmax)', [batch, heads, tokens, tokens], 'each row sums to 1 over the keys');
  };
  const output = tf.tidy(() => block(p, x, model, gene, { ...ctx, dropPath: 0, trace }));
  return { steps, output };
}

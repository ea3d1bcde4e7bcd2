// The local heads' alternatives to the paper's 1-D conv module (its Table 6), chosen by model.localModule:
// - 'window-attention': the L local heads are self-attention heads of dim C/N (ev = 1: the gene's ev is the global
//   heads'), each token attending only to the w = localWindow tokens centred on it in the conv heads' 1-D sequence
//   (CLS first, then patches row-major). CLS is token 0 of that sequence, as it is for the conv heads: it sees the
//   first (w - 1) / 2 patches and they see it; it reaches the rest through the global heads. Implemented as full
//   attention plus an additive mask (-Infinity outside the window): exact, and simple on every backend.
// - 'conv2d': the conv module with its depthwise conv in 2-D, k x k on the patch grid; there is no CLS token (the
//   grid has no place for it) and the classifier reads the average of the patch tokens (lib/model/model.ts).
import * as tf from '@tensorflow/tfjs';
import { depthwiseConv2d, type DepthwiseConv2d } from './layers';

/** Table 6's attention windows, in tokens at the paper's 14x14 grid; scaleKernel gives a model's (7x7: 7, 15, 25). */
export const PAPER_WINDOWS = [14, 28, 49];

/** Additive attention mask [T, T]: 0 where |query - key| <= (window - 1) / 2, -Infinity elsewhere. */
export function windowMask(tokens: number, window: number): tf.Tensor2D {
  const reach = (window - 1) / 2;
  const values = new Float32Array(tokens * tokens);
  for (let q = 0; q < tokens; q++)
    for (let k = 0; k < tokens; k++) values[q * tokens + k] = Math.abs(q - k) <= reach ? 0 : -Infinity;
  return tf.tensor2d(values, [tokens, tokens]);
}

/** The 2-D module's depthwise conv on tokens [B, T, C] that are a square patch grid in row-major order (no CLS). */
export function gridDepthwise(p: DepthwiseConv2d<tf.Tensor>, x: tf.Tensor3D): tf.Tensor3D {
  const [batch, tokens, channels] = x.shape;
  const side = Math.round(Math.sqrt(tokens));
  if (side * side !== tokens)
    throw new Error(`gridDepthwise: ${tokens} tokens are not a square patch grid (a CLS token has no place on it)`);
  return tf.reshape(depthwiseConv2d(p, tf.reshape(x, [batch, side, side, channels]) as tf.Tensor4D), [
    batch,
    tokens,
    channels,
  ]);
}

// Which tokens a conv head mixes. The local heads run a 1-D depthwise conv over the token sequence (CLS, then the
// patches row-major), so a K-tap kernel centred on a patch reaches the K//2 tokens before and after it in that order:
// a band of the patch grid that wraps from the end of one row to the start of the next. This is measured, not drawn by
// hand: the gradient of one output token with respect to every input token, through lib's own layers.
import * as tf from '@tensorflow/tfjs';
import { constantVariable, depthwiseConv1d, type DepthwiseConv } from '../model/layers';

/** A map from tokens to tokens [B, T, D] -> [B, T, D'], e.g. a conv head or a stack of depthwise convs. */
export type TokenMixer = (x: tf.Tensor3D) => tf.Tensor3D;

/**
 * How strongly each input token drives output token `token`: sum over batch and channels of |d y[:, token, :] / d x|,
 * one value per input token. Zero exactly where the mixer cannot see (for a network whose BatchNorm is in eval mode:
 * in training mode the batch statistics connect every token to every other).
 */
export function tokenSensitivity(mix: TokenMixer, x: tf.Tensor3D, token: number): Float32Array {
  const [batch, tokens] = x.shape;
  if (!(Number.isInteger(token) && token >= 0 && token < tokens))
    throw new Error(`token ${token} is not in 0..${tokens - 1}`);
  const perToken = tf.tidy(() => {
    const outputAt = (input: tf.Tensor) => {
      const y = mix(input as tf.Tensor3D);
      return tf.sum(tf.slice(y, [0, token, 0], [batch, 1, y.shape[2]]));
    };
    return tf.sum(tf.abs(tf.grad(outputAt)(x)), [0, 2]);
  });
  const values = perToken.dataSync() as Float32Array;
  perToken.dispose();
  return values;
}

/**
 * The receptive field of a stack of depthwise 1-D convs with the given kernels (one layer per entry), over a sequence
 * of `tokens`, seen from output `token`. Every tap is 1, so a value counts the paths from that input token: 1 inside a
 * single layer's reach, a triangle for two layers.
 */
export function kernelReach(kernelSizes: number[], tokens: number, token: number): Float32Array {
  let layers: DepthwiseConv[] = [];
  // In a tidy so that the tensors the variables are made from are freed (the variables themselves outlive it).
  tf.tidy(() => {
    layers = kernelSizes.map((k) => ({ weight: constantVariable([k, 1], 1), bias: constantVariable([1], 0) }));
  });
  const x = tf.zeros([1, tokens, 1]) as tf.Tensor3D;
  try {
    return tokenSensitivity((input) => layers.reduce((h, layer) => depthwiseConv1d(layer, h), input), x, token);
  } finally {
    x.dispose();
    for (const layer of layers) {
      layer.weight.dispose();
      layer.bias.dispose();
    }
  }
}

/** The token index of the patch at (row, col) of a grid x grid patch grid: CLS is token 0, then patches row-major. */
export function patchToken(row: number, col: number, grid: number): number {
  return 1 + row * grid + col;
}

/** The patch nearest the middle of the grid, as [row, col]. */
export const centrePatch = (grid: number): [number, number] => [Math.floor(grid / 2), Math.floor(grid / 2)];

/** Per-token values laid out as the image sees them: the CLS token's value, and the patches as grid rows. */
export interface PatchGridValues {
  cls: number;
  patches: number[][];
}

export function onPatchGrid(values: ArrayLike<number>, grid: number): PatchGridValues {
  if (values.length !== grid * grid + 1)
    throw new Error(`${values.length} values do not fit a ${grid}x${grid} grid plus CLS`);
  return {
    cls: values[0],
    patches: Array.from({ length: grid }, (_, row) =>
      Array.from({ length: grid }, (_, col) => values[patchToken(row, col, grid)]),
    ),
  };
}

/** kernelReach of a stack of kernels from the centre patch of a grid x grid patch grid, laid out on the grid. */
export function centreReach(kernelSizes: number[], grid: number): PatchGridValues & { centre: [number, number] } {
  const centre = centrePatch(grid);
  return {
    ...onPatchGrid(kernelReach(kernelSizes, grid * grid + 1, patchToken(centre[0], centre[1], grid)), grid),
    centre,
  };
}

/** The indices of the tokens with a non-zero value: the support of a receptive field. */
export const reachedTokens = (values: ArrayLike<number>): number[] =>
  Array.from(values).flatMap((v, i) => (v !== 0 ? [i] : []));

// The "same" depthwise conv of lib/model/layers.ts on wasm: its forward with filters XNNPACK runs fast, its filter
// gradient as one product and column sum per tap (docs/kernel-notes.md).
import * as tf from '@tensorflow/tfjs';
import { columnSums } from './column-sums';

// tfjs-wasm's depthwise conv reaches XNNPACK's fast kernels only for filters of these tap counts; others run ~3x slower
// a tap. So a 1 x K filter is zero-padded on the right to the next such count, or cut into pieces of at most 25 taps.
const FAST_TAP_COUNTS = [1, 3, 4, 9, 25];

/** Tap offsets and padded lengths of the pieces a 1 x K filter runs as. */
function fastPieces(kw: number): { start: number; taps: number }[] {
  const pieces: { start: number; taps: number }[] = [];
  let start = 0;
  for (; kw - start > 25; start += 25) pieces.push({ start, taps: 25 });
  pieces.push({ start, taps: FAST_TAP_COUNTS.find((n) => n >= kw - start)! });
  return pieces;
}

type Padding = 'valid' | [[number, number], [number, number], [number, number], [number, number]];

const rowConv = (input: tf.Tensor4D, filter: tf.Tensor3D, pad: Padding): tf.Tensor4D =>
  tf.depthwiseConv2d(input, tf.reshape(filter, [1, filter.shape[1], filter.shape[2], 1]) as tf.Tensor4D, 1, pad);

/**
 * The correlation of x [B, H, W, C] with w [kh, kw, C], "same" zero padding, for a 1 x K filter of a slow tap count;
 * undefined for the filters tfjs-wasm already runs fast.
 */
export function wasmDepthwiseCorrelate(x: tf.Tensor4D, w: tf.Tensor3D): tf.Tensor4D | undefined {
  const [kh, kw, channels] = w.shape;
  if (kh !== 1 || FAST_TAP_COUNTS.includes(kw)) return undefined;
  const pw = (kw - 1) / 2;
  const pieces = fastPieces(kw);
  const last = pieces[pieces.length - 1];
  const extra = last.start + last.taps - kw; // zero taps appended to the filter, and zero columns to the input
  const padded = tf.pad(w, [
    [0, 0],
    [0, extra],
    [0, 0],
  ]) as tf.Tensor3D;
  if (pieces.length === 1)
    return rowConv(x, padded, [
      [0, 0],
      [0, 0],
      [pw, pw + extra],
      [0, 0],
    ]);
  const [batch, , width] = x.shape;
  const input = tf.pad(x, [
    [0, 0],
    [0, 0],
    [pw, pw + extra],
    [0, 0],
  ]);
  return pieces
    .map(({ start, taps }) =>
      rowConv(
        tf.slice(input, [0, 0, start, 0], [batch, 1, width + taps - 1, channels]) as tf.Tensor4D,
        tf.slice(padded, [0, start, 0], [1, taps, channels]) as tf.Tensor3D,
        'valid',
      ),
    )
    .reduce((a, b) => tf.add(a, b)) as tf.Tensor4D;
}

/**
 * The filter gradient dw[u, v, c] = sum over (b, i, j) of dy[b, i, j, c] * padded[b, i + u, j + v, c], one product and
 * column sum per tap: XNNPACK runs the plain path's depthwise conv with thousands of filter taps slowly.
 */
export function wasmDepthwiseFilterGradient(padded: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number): tf.Tensor3D {
  const [batch, height, width, channels] = dy.shape;
  const taps: tf.Tensor[] = [];
  for (let u = 0; u < kh; u++) {
    for (let v = 0; v < kw; v++) {
      taps.push(
        tf.tidy(() =>
          columnSums(
            tf.reshape(tf.mul(tf.slice(padded, [0, u, v, 0], [batch, height, width, channels]), dy), [-1, channels]),
          ),
        ),
      );
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, channels]);
}

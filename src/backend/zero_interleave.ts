/**
 * Zero-interleaving, the scatter step of strided gradients.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';

/**
 * `t` ([n, h, w, c]) with `sh - 1` zero rows after each row and `sw - 1` zero
 * columns after each column: [n, h·sh, w·sw, c], `t[i, j]` at `[i·sh, j·sw]`.
 * Two rank-4 pads, one per axis, rather than one pad of a rank-6 reshape:
 * tfjs-webgpu generates an invalid shader for rank-5 and rank-6 pads, and
 * the GPU then drops the whole command buffer.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { zeroInterleave } from './zero_interleave.ts';
 *
 * const t = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
 * console.log(Array.from(zeroInterleave(t, 2, 2).dataSync())); // [1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0]
 * ```
 */
export const zeroInterleave = (t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D => {
  const [n, h, w, c] = t.shape;
  const rows = sh === 1 ? t : tf.reshape<tf.Rank.R4>(tf.pad(tf.reshape(t, [n * h, 1, w, c]), [[0, 0], [0, sh - 1], [0, 0], [0, 0]]), [n, h * sh, w, c]);
  return sw === 1
    ? rows
    : tf.reshape<tf.Rank.R4>(tf.pad(tf.reshape(rows, [n * h * sh, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]), [n, h * sh, w * sw, c]);
};
